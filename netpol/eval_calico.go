package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
)

// DefaultTierOrder is the order of Calico's default tier when Objects hold
// no Tier named "default".
const DefaultTierOrder = 1_000_000

// KubernetesPolicyOrder is the order Calico gives every Kubernetes
// NetworkPolicy, in the default tier.
const KubernetesPolicyOrder = 1000

const defaultAllowProfile = "projectcalico-default-allow"

type calicoModel struct {
	tiers    []*ctier
	profiles map[string]*cprofile
	heps     map[string][]*chep // by node
	auto     bool
	failIn   []Failsafe
	failOut  []Failsafe
	overlay  []Failsafe
	e2h      string
	sets     []cset
	scan     bool       // tests: every policy of every tier, no index
	memo     *podIdents // set on a copy for one flow
}

// podIdents are the identities of a flow's pods, computed once per flow:
// every pod a flow's packets carry is its From or its To.
type podIdents struct {
	n    int
	addr [2]netip.Addr
	id   [2]ident
}

func podIdent(e Endpoint) ident {
	return ident{labels: podLabels(e), ns: e.Namespace, nsLabels: calicoNSLabels(e), sa: e.ServiceAccount}
}

type ctier struct {
	name     string
	order    *float64
	pass     bool                 // default action Pass
	policies []*cpolicy           // in order
	global   []*cpolicy           // the global ones, in order
	byNS     map[string]*cnsIndex // the namespaced ones by namespace
}

// cnsIndex holds a tier's policies of one namespace, each filed under one
// label equality its selector requires where it has one, so that a pod
// meets only the policies that may select it. Calico evaluates policies
// in order whatever the index: it only prunes.
type cnsIndex struct {
	any []*cpolicy // selectors without a required label, in order
	// byKube holds Kubernetes NetworkPolicies by one of their podSelector's
	// matchLabels, looked up in the pod's own labels; byCalico holds
	// Calico policies by a label equality their selector requires, looked
	// up in the labels Calico gives the pod.
	byKube, byCalico map[[2]string][]*cpolicy
}

func (x *cnsIndex) add(p *cpolicy) {
	if p.kube != nil {
		if k, ok := smallestLabel(p.kube.np.Spec.PodSelector.MatchLabels); ok {
			x.byKube[k] = append(x.byKube[k], p)
			return
		}
	} else if k, ok := p.sel.requiredLabel(); ok {
		x.byCalico[k] = append(x.byCalico[k], p)
		return
	}
	x.any = append(x.any, p)
}

// smallestLabel is the pair of ml with the smallest key.
func smallestLabel(ml map[string]string) ([2]string, bool) {
	var lk [2]string
	for k, v := range ml {
		if lk[0] == "" || k < lk[0] {
			lk = [2]string{k, v}
		}
	}
	return lk, len(ml) > 0
}

// candidates returns, in order, the policies of x that may select a pod
// with its own labels own and Calico's labels cal. It shares x.any when
// no indexed policy may, and allocates otherwise.
func (x *cnsIndex) candidates(own, cal map[string]string) []*cpolicy {
	if x == nil {
		return nil
	}
	out := x.any
	shared := true
	look := func(by map[[2]string][]*cpolicy, l map[string]string) {
		if len(by) == 0 {
			return
		}
		for k, v := range l {
			if ps := by[[2]string{k, v}]; len(ps) > 0 {
				if shared {
					out, shared = append(make([]*cpolicy, 0, len(out)+len(ps)), out...), false
				}
				out = append(out, ps...)
			}
		}
	}
	look(x.byKube, own)
	look(x.byCalico, cal)
	if !shared {
		slices.SortFunc(out, func(a, b *cpolicy) int { return cmp.Compare(a.rank, b.rank) })
	}
	return out
}

type cpolicy struct {
	display   string // "GlobalNetworkPolicy name"
	sortName  string
	tier      string
	order     *float64
	namespace string // "" for global
	sel       Selector
	nsSel     *Selector // GlobalNetworkPolicy namespaceSelector
	ingress   bool
	egress    bool
	in, out   []crule
	preDNAT   bool
	untracked bool
	forward   bool // applyOnForward
	kube      *kubePolicy
	rank      int // in its tier's order
}

type crule struct {
	action    calicov3.Action
	ipVersion int
	proto     *uint8
	notProto  *uint8
	icmp      *calicov3.ICMPFields
	notICMP   *calicov3.ICMPFields
	src, dst  centity
	text      string
}

type centity struct {
	nets, notNets   []netip.Prefix
	sel, notSel     *Selector
	nsSel           *Selector
	ports, notPorts []numorstring.Port
	saNames         []string
}

type cprofile struct {
	name    string
	in, out []crule
}

type chep struct {
	name     string
	node     string
	iface    string
	expected []netip.Addr
	labels   map[string]string
	profiles []string
	ports    []NamedPort
}

type cset struct {
	nets   []netip.Prefix
	labels map[string]string
	ns     string
}

func compileCalico(c Network, kube map[string][]*kubePolicy, bad func(string, ...any)) *calicoModel {
	m := &calicoModel{
		profiles: map[string]*cprofile{},
		heps:     map[string][]*chep{},
		auto:     c.AutoHostEndpoints,
		failIn:   c.FailsafeInbound,
		failOut:  c.FailsafeOutbound,
		overlay:  c.Overlay,
		e2h:      c.EndpointToHost,
	}
	if m.failIn == nil {
		m.failIn = DefaultFailsafeInbound
	}
	if m.failOut == nil {
		m.failOut = DefaultFailsafeOutbound
	}
	switch m.e2h {
	case "":
		m.e2h = "Drop"
	case "Drop", "Accept", "Return":
	default:
		bad("Network.EndpointToHost %q: want Drop, Accept or Return", m.e2h)
	}
	o := &c.Objects
	tiers := map[string]*ctier{}
	for _, t := range o.Tiers {
		ct := &ctier{name: t.Name, order: t.Spec.Order}
		if a := t.Spec.DefaultAction; a != nil {
			switch *a {
			case calicov3.Pass:
				ct.pass = true
			case calicov3.Deny:
			default:
				bad("Tier %s: spec.defaultAction %q: want Deny or Pass", t.Name, *a)
			}
		}
		tiers[t.Name] = ct
	}
	tier := func(name string) *ctier {
		if name == "" {
			name = "default"
		}
		t, ok := tiers[name]
		if !ok {
			t = &ctier{name: name}
			if name == "default" {
				def := float64(DefaultTierOrder)
				t.order = &def
			}
			tiers[name] = t
		}
		return t
	}
	selector := func(at, s string) Selector {
		sel, err := parseSelector(s)
		if err != nil {
			bad("%s: %v", at, err)
		}
		return sel
	}
	optSelector := func(at, s string) *Selector {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		sel := selector(at, s)
		return &sel
	}
	rules := func(at string, rs []calicov3.Rule) []crule {
		out := make([]crule, 0, len(rs))
		for i, r := range rs {
			out = append(out, compileCalicoRule(fmt.Sprintf("%s[%d]", at, i), r, optSelector, bad))
		}
		return out
	}
	types := func(at string, ts []calicov3.PolicyType) (in, eg bool) {
		if len(ts) == 0 {
			return true, true // Felix reads empty types as both
		}
		for j, t := range ts {
			switch t {
			case calicov3.PolicyTypeIngress:
				in = true
			case calicov3.PolicyTypeEgress:
				eg = true
			default:
				bad("%s: spec.types[%d]: %q: want Ingress or Egress", at, j, t)
			}
		}
		return in, eg
	}
	for i := range o.GlobalNetworkPolicies {
		g := &o.GlobalNetworkPolicies[i]
		at := "GlobalNetworkPolicy " + g.Name
		s := &g.Spec
		p := &cpolicy{display: at, sortName: g.Name, tier: tier(s.Tier).name, order: s.Order,
			sel: selector(at+": spec.selector", s.Selector), nsSel: optSelector(at+": spec.namespaceSelector", s.NamespaceSelector),
			preDNAT: s.PreDNAT, untracked: s.DoNotTrack, forward: s.ApplyOnForward || s.PreDNAT || s.DoNotTrack}
		if s.ServiceAccountSelector != "" {
			bad("%s: spec.serviceAccountSelector: service account labels are not modelled", at)
		}
		p.ingress, p.egress = types(at, s.Types)
		if s.PreDNAT {
			p.egress = false
		}
		p.in, p.out = rules(at+": spec.ingress", s.Ingress), rules(at+": spec.egress", s.Egress)
		t := tier(s.Tier)
		t.policies = append(t.policies, p)
	}
	for i := range o.CalicoNetworkPolicies {
		n := &o.CalicoNetworkPolicies[i]
		at := fmt.Sprintf("NetworkPolicy (Calico) %s/%s", n.Namespace, n.Name)
		s := &n.Spec
		p := &cpolicy{display: at, sortName: n.Namespace + "/" + n.Name, tier: tier(s.Tier).name, order: s.Order,
			namespace: n.Namespace, sel: selector(at+": spec.selector", s.Selector)}
		if s.ServiceAccountSelector != "" {
			bad("%s: spec.serviceAccountSelector: service account labels are not modelled", at)
		}
		p.ingress, p.egress = types(at, s.Types)
		p.in, p.out = rules(at+": spec.ingress", s.Ingress), rules(at+": spec.egress", s.Egress)
		t := tier(s.Tier)
		t.policies = append(t.policies, p)
	}
	order := float64(KubernetesPolicyOrder)
	for _, ps := range kube {
		for _, kp := range ps {
			t := tier("default")
			t.policies = append(t.policies, &cpolicy{display: kp.name, sortName: "knp.default." + kp.np.Namespace + "/" + kp.np.Name,
				tier: t.name, order: &order, namespace: kp.np.Namespace, ingress: kp.ingress, egress: kp.egress, kube: kp})
		}
	}
	for _, t := range tiers {
		slices.SortFunc(t.policies, func(a, b *cpolicy) int {
			if c := cmpOrder(a.order, b.order); c != 0 {
				return c
			}
			return strings.Compare(a.sortName, b.sortName)
		})
		t.byNS = map[string]*cnsIndex{}
		for i, p := range t.policies {
			p.rank = i
			if p.namespace == "" {
				t.global = append(t.global, p)
				continue
			}
			x := t.byNS[p.namespace]
			if x == nil {
				x = &cnsIndex{byKube: map[[2]string][]*cpolicy{}, byCalico: map[[2]string][]*cpolicy{}}
				t.byNS[p.namespace] = x
			}
			x.add(p)
		}
		m.tiers = append(m.tiers, t)
	}
	slices.SortFunc(m.tiers, func(a, b *ctier) int {
		if c := cmpOrder(a.order, b.order); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for i := range c.Profiles {
		pr := &c.Profiles[i]
		at := "Profile " + pr.Name
		m.profiles[pr.Name] = &cprofile{name: pr.Name, in: rules(at+": spec.ingress", pr.Spec.Ingress), out: rules(at+": spec.egress", pr.Spec.Egress)}
	}
	for i := range o.HostEndpoints {
		h := &o.HostEndpoints[i]
		ch := &chep{name: h.Name, node: h.Spec.Node, iface: h.Spec.InterfaceName, labels: h.Labels, profiles: h.Spec.Profiles}
		for j, ip := range h.Spec.ExpectedIPs {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				bad("HostEndpoint %s: spec.expectedIPs[%d]: %q: %v", h.Name, j, ip, err)
				continue
			}
			ch.expected = append(ch.expected, a.Unmap())
		}
		for _, pt := range h.Spec.Ports {
			ch.ports = append(ch.ports, NamedPort{Name: pt.Name, Protocol: Protocol(pt.Protocol.String()), Port: pt.Port})
		}
		m.heps[h.Spec.Node] = append(m.heps[h.Spec.Node], ch)
	}
	for _, hs := range m.heps {
		slices.SortFunc(hs, func(a, b *chep) int { return strings.Compare(a.name, b.name) })
	}
	addSet := func(at string, nets []string, lbl map[string]string, ns string) {
		s := cset{labels: lbl, ns: ns}
		if ns != "" {
			s.labels = withLabel(lbl, CalicoNamespaceLabel, ns)
		}
		for j, n := range nets {
			p, err := parseNet(n)
			if err != nil {
				bad("%s: spec.nets[%d]: %q: %v", at, j, n, err)
				continue
			}
			s.nets = append(s.nets, p)
		}
		m.sets = append(m.sets, s)
	}
	for i := range o.GlobalNetworkSets {
		s := &o.GlobalNetworkSets[i]
		addSet("GlobalNetworkSet "+s.Name, s.Spec.Nets, s.Labels, "")
	}
	for i := range o.NetworkSets {
		s := &o.NetworkSets[i]
		addSet(fmt.Sprintf("NetworkSet %s/%s", s.Namespace, s.Name), s.Spec.Nets, s.Labels, s.Namespace)
	}
	return m
}

func cmpOrder(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*a, *b)
}

func withLabel(l map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(l)+1)
	for a, b := range l {
		out[a] = b
	}
	out[k] = v
	return out
}

// parseNet parses a Calico net: a CIDR or a bare address.
func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:a.b.c.d/n is the IPv4 prefix a.b.c.d/(n-96).
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR or address")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func protoNumber(p numorstring.Protocol) (uint8, bool) {
	if p.Type == numorstring.NumOrStringNum {
		return p.NumVal, true
	}
	return Protocol(p.StrVal).numberFold()
}

// numberFold is number with Calico's case-insensitive names.
func (p Protocol) numberFold() (uint8, bool) {
	for _, name := range []Protocol{TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite} {
		if strings.EqualFold(string(p), string(name)) {
			return name.number()
		}
	}
	if p == "" {
		return 0, false
	}
	return p.number()
}

func compileCalicoRule(at string, r calicov3.Rule, optSelector func(string, string) *Selector, bad func(string, ...any)) crule {
	cr := crule{action: r.Action, icmp: r.ICMP, notICMP: r.NotICMP, text: renderCalicoRule(r)}
	switch r.Action {
	case calicov3.Allow, calicov3.Deny, calicov3.Log, calicov3.Pass:
	default:
		bad("%s.action: %q: want Allow, Deny, Log or Pass", at, r.Action)
	}
	if r.IPVersion != nil {
		cr.ipVersion = *r.IPVersion
	}
	if r.Protocol != nil {
		n, ok := protoNumber(*r.Protocol)
		if !ok {
			bad("%s.protocol: %q: unknown", at, r.Protocol.String())
		}
		cr.proto = &n
	}
	if r.NotProtocol != nil {
		n, ok := protoNumber(*r.NotProtocol)
		if !ok {
			bad("%s.notProtocol: %q: unknown", at, r.NotProtocol.String())
		}
		cr.notProto = &n
	}
	if r.HTTP != nil {
		bad("%s.http: HTTP matches are enforced by an L7 proxy and not modelled", at)
	}
	entity := func(side string, e calicov3.EntityRule) centity {
		f := at + "." + side
		ce := centity{ports: e.Ports, notPorts: e.NotPorts}
		for j, n := range e.Nets {
			p, err := parseNet(n)
			if err != nil {
				bad("%s.nets[%d]: %q: %v", f, j, n, err)
				continue
			}
			ce.nets = append(ce.nets, p)
		}
		for j, n := range e.NotNets {
			p, err := parseNet(n)
			if err != nil {
				bad("%s.notNets[%d]: %q: %v", f, j, n, err)
				continue
			}
			ce.notNets = append(ce.notNets, p)
		}
		ce.sel = optSelector(f+".selector", e.Selector)
		ce.notSel = optSelector(f+".notSelector", e.NotSelector)
		ce.nsSel = optSelector(f+".namespaceSelector", e.NamespaceSelector)
		if e.Services != nil {
			bad("%s.services: Service matches are not modelled", f)
		}
		if sa := e.ServiceAccounts; sa != nil {
			if sa.Selector != "" {
				bad("%s.serviceAccounts.selector: service account labels are not modelled", f)
			}
			ce.saNames = sa.Names
		}
		if side == "source" && (len(e.Ports) > 0 || len(e.NotPorts) > 0) {
			bad("%s.ports: source ports are not modelled (a Flow has no source port)", f)
		}
		return ce
	}
	cr.src = entity("source", r.Source)
	cr.dst = entity("destination", r.Destination)
	return cr
}

// renderCalicoRule renders r as one line: "Allow TCP from nets
// 10.0.0.0/8 to ports 10250".
func renderCalicoRule(r calicov3.Rule) string {
	var b strings.Builder
	b.WriteString(string(r.Action))
	if r.IPVersion != nil {
		fmt.Fprintf(&b, " IPv%d", *r.IPVersion)
	}
	if r.Protocol != nil {
		fmt.Fprintf(&b, " %s", r.Protocol.String())
	}
	if r.NotProtocol != nil {
		fmt.Fprintf(&b, " not %s", r.NotProtocol.String())
	}
	if r.ICMP != nil {
		b.WriteString(" icmp")
		if r.ICMP.Type != nil {
			fmt.Fprintf(&b, " type %d", *r.ICMP.Type)
		}
		if r.ICMP.Code != nil {
			fmt.Fprintf(&b, " code %d", *r.ICMP.Code)
		}
	}
	side := func(word string, e calicov3.EntityRule) {
		var parts []string
		if len(e.Nets) > 0 {
			parts = append(parts, "nets "+strings.Join(e.Nets, ","))
		}
		if len(e.NotNets) > 0 {
			parts = append(parts, "not nets "+strings.Join(e.NotNets, ","))
		}
		if e.NamespaceSelector != "" {
			parts = append(parts, "namespaces "+e.NamespaceSelector)
		}
		if e.Selector != "" {
			parts = append(parts, "selector "+e.Selector)
		}
		if e.NotSelector != "" {
			parts = append(parts, "not selector "+e.NotSelector)
		}
		if e.ServiceAccounts != nil && len(e.ServiceAccounts.Names) > 0 {
			parts = append(parts, "service accounts "+strings.Join(e.ServiceAccounts.Names, ","))
		}
		ports := func(ps []numorstring.Port) string {
			s := make([]string, len(ps))
			for i, p := range ps {
				s[i] = p.String()
			}
			return strings.Join(s, ",")
		}
		if len(e.Ports) > 0 {
			parts = append(parts, "ports "+ports(e.Ports))
		}
		if len(e.NotPorts) > 0 {
			parts = append(parts, "not ports "+ports(e.NotPorts))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, " %s %s", word, strings.Join(parts, " "))
		}
	}
	side("from", r.Source)
	side("to", r.Destination)
	return b.String()
}

// ident is one identity an address has for Calico selectors: the
// endpoint that owns it, or a network set that holds it.
type ident struct {
	labels   map[string]string
	ns       string // "" for a non-namespaced resource
	nsLabels map[string]string
	sa       string
}

// podLabels are the labels Calico gives a pod's endpoint.
func podLabels(e Endpoint) map[string]string {
	l := make(map[string]string, len(e.Labels)+3)
	for k, v := range e.Labels {
		l[k] = v
	}
	l[CalicoNamespaceLabel] = e.Namespace
	l["projectcalico.org/orchestrator"] = "k8s"
	if e.ServiceAccount != "" {
		l[CalicoServiceAccountLabel] = e.ServiceAccount
	}
	return l
}

func calicoNSLabels(e Endpoint) map[string]string {
	l := make(map[string]string, len(e.NamespaceLabels)+2)
	for k, v := range e.NamespaceLabels {
		l[k] = v
	}
	l[NamespaceNameLabel] = e.Namespace
	l[CalicoNameLabel] = e.Namespace
	return l
}

// hep returns the host endpoint of node that e's traffic uses, or nil.
func (m *calicoModel) hep(node string, e Endpoint) *chep {
	hs := m.heps[node]
	if len(hs) == 0 {
		if m.auto {
			return &chep{name: node + "-auto-hep", node: node, iface: "*", labels: e.Labels, profiles: []string{defaultAllowProfile}}
		}
		return nil
	}
	var star *chep
	for _, h := range hs {
		if h.iface == "*" {
			star = h
		}
	}
	if e.Interface != "" {
		for _, h := range hs {
			if h.iface == e.Interface {
				return h
			}
		}
		return star
	}
	if e.Host {
		for _, h := range hs {
			if slices.Contains(h.expected, e.Addr.Unmap()) {
				return h
			}
		}
	}
	if star != nil {
		return star
	}
	return hs[0]
}

// idents are the identities of e's address.
func (m *calicoModel) idents(e Endpoint) []ident {
	var out []ident
	switch {
	case e.IsPod():
		id, ok := ident{}, false
		if x := m.memo; x != nil {
			for i := range x.n {
				if x.addr[i] == e.Addr {
					id, ok = x.id[i], true
				}
			}
		}
		if !ok {
			id = podIdent(e)
		}
		out = append(out, id)
	case e.Host:
		if h := m.hep(e.Node, e); h != nil {
			out = append(out, ident{labels: h.labels})
		}
	}
	a := e.Addr.Unmap()
	for i := range m.sets {
		s := &m.sets[i]
		for _, n := range s.nets {
			if n.Contains(a) {
				out = append(out, ident{labels: s.labels, ns: s.ns})
				break
			}
		}
	}
	return out
}

// selMatch reports whether id is selected by sel (nil: any) within
// nsSel (nil: the policy's namespace ns, or anywhere for a global
// policy).
func selMatch(id ident, sel, nsSel *Selector, ns string) bool {
	switch {
	case nsSel != nil:
		if id.ns == "" {
			if !nsSel.match(nil, true) {
				return false
			}
		} else if !nsSel.match(id.nsLabels, false) {
			return false
		}
	case ns != "":
		if id.ns != ns {
			return false
		}
	}
	return sel == nil || sel.match(id.labels, id.ns == "")
}

// pkt is a packet as one enforcement point sees it.
type pkt struct {
	src, dst Endpoint
	f        Flow
	port     uint16
	srcIDs   []ident
	dstIDs   []ident
}

func (m *calicoModel) packet(f Flow, src, dst Endpoint, port uint16) *pkt {
	if dst.Host && len(dst.Ports) == 0 {
		// A host's named ports are its host endpoint's spec.ports.
		if h := m.hep(dst.Node, dst); h != nil {
			dst.Ports = h.ports
		}
	}
	return &pkt{src: src, dst: dst, f: f, port: port, srcIDs: m.idents(src), dstIDs: m.idents(dst)}
}

func (e *centity) matches(addr netip.Addr, ids []ident, ns string, ep Endpoint, proto Protocol, port uint16, dst bool) bool {
	a := addr.Unmap()
	if len(e.nets) > 0 && !slices.ContainsFunc(e.nets, func(n netip.Prefix) bool { return n.Contains(a) }) {
		return false
	}
	if slices.ContainsFunc(e.notNets, func(n netip.Prefix) bool { return n.Contains(a) }) {
		return false
	}
	if e.sel != nil || e.nsSel != nil {
		if !slices.ContainsFunc(ids, func(id ident) bool { return selMatch(id, e.sel, e.nsSel, ns) }) {
			return false
		}
	}
	if e.notSel != nil && slices.ContainsFunc(ids, func(id ident) bool { return selMatch(id, e.notSel, e.nsSel, ns) }) {
		return false
	}
	if len(e.saNames) > 0 && !(ep.IsPod() && slices.Contains(e.saNames, ep.ServiceAccount)) {
		return false
	}
	if dst {
		if len(e.ports) > 0 && !slices.ContainsFunc(e.ports, func(p numorstring.Port) bool { return portIn(p, ep, proto, port) }) {
			return false
		}
		if slices.ContainsFunc(e.notPorts, func(p numorstring.Port) bool { return portIn(p, ep, proto, port) }) {
			return false
		}
	}
	return true
}

func portIn(p numorstring.Port, ep Endpoint, proto Protocol, port uint16) bool {
	if p.PortName != "" {
		n, ok := ep.namedPort(p.PortName, proto)
		return ok && n == port
	}
	return p.MinPort <= port && port <= p.MaxPort
}

func icmpMatch(f *calicov3.ICMPFields, fl Flow) bool {
	return (f.Type == nil || *f.Type == int(fl.ICMPType)) && (f.Code == nil || *f.Code == int(fl.ICMPCode))
}

// matches reports whether r matches k, for a rule of a policy in
// namespace ns ("" for a global one or a profile).
func (r *crule) matches(k *pkt, ns string) bool {
	proto := k.f.Protocol.orTCP()
	num, _ := proto.numberFold()
	if r.ipVersion == 4 && !k.dst.Addr.Unmap().Is4() || r.ipVersion == 6 && k.dst.Addr.Unmap().Is4() {
		return false
	}
	if r.proto != nil && *r.proto != num || r.notProto != nil && *r.notProto == num {
		return false
	}
	isICMP := num == 1 || num == 58
	if r.icmp != nil && (!isICMP || !icmpMatch(r.icmp, k.f)) {
		return false
	}
	if r.notICMP != nil && isICMP && icmpMatch(r.notICMP, k.f) {
		return false
	}
	if (len(r.dst.ports) > 0 || len(r.dst.notPorts) > 0) && !proto.hasPorts() {
		return false
	}
	return r.src.matches(k.src.Addr, k.srcIDs, ns, k.src, proto, 0, false) &&
		r.dst.matches(k.dst.Addr, k.dstIDs, ns, k.dst, proto, k.port, true)
}

// applies reports whether p applies to the endpoint self (identity id,
// nil for a host endpoint with hepLabels) in direction ingress.
func (p *cpolicy) applies(self Endpoint, id *ident, hepLabels map[string]string, ingress bool) bool {
	if ingress && !p.ingress || !ingress && !p.egress {
		return false
	}
	if p.kube != nil {
		return id != nil && p.kube.selects(self, ingress)
	}
	if id == nil { // a host endpoint: global policies only
		if p.namespace != "" {
			return false
		}
		if p.nsSel != nil && !p.nsSel.match(nil, true) {
			return false
		}
		return p.sel.match(hepLabels, true)
	}
	if p.preDNAT || p.untracked {
		return false // host endpoints only
	}
	if p.namespace != "" {
		return id.ns == p.namespace && p.sel.match(id.labels, false)
	}
	if p.nsSel != nil && !p.nsSel.match(id.nsLabels, false) {
		return false
	}
	return p.sel.match(id.labels, false)
}

// chainKind selects which of a host endpoint's policies a chain runs.
type chainKind int

const (
	chainWorkload chainKind = iota
	chainUntracked
	chainPreDNAT
	chainHost    // normal policy, traffic to or from the host itself
	chainForward // normal policy with applyOnForward, forwarded traffic
)

// chain runs the tiers for one endpoint and direction. It returns the
// deciding step, or decided false when no policy applied, or when every
// applicable tier passed (or, for untracked and pre-DNAT policy, did not
// match); applied says whether any policy applied.
func (m *calicoModel) chain(point string, kind chainKind, self Endpoint, hepLabels map[string]string, k *pkt, ingress bool) (s Step, decided, applied bool) {
	s = Step{Point: point, Final: true, Rule: -1}
	var id *ident
	if kind == chainWorkload {
		// The pod's identity, which the packet already holds first.
		ids := k.srcIDs
		if ingress {
			ids = k.dstIDs
		}
		if len(ids) > 0 && ids[0].ns == self.Namespace && ids[0].nsLabels != nil {
			id = &ids[0]
		} else {
			id = &ident{labels: podLabels(self), ns: self.Namespace, nsLabels: calicoNSLabels(self)}
		}
	}
	for _, t := range m.tiers {
		tierApplied := false
		passed := false
		// The tier's global policies and those of self's namespace that
		// may select it, merged in order; host endpoints meet global
		// policies only.
		global, local := t.global, []*cpolicy(nil)
		switch {
		case m.scan:
			global = t.policies
		case kind == chainWorkload:
			local = t.byNS[self.Namespace].candidates(self.Labels, id.labels)
		}
	policies:
		for len(global) > 0 || len(local) > 0 {
			var p *cpolicy
			if len(local) == 0 || len(global) > 0 && global[0].rank < local[0].rank {
				p, global = global[0], global[1:]
			} else {
				p, local = local[0], local[1:]
			}
			switch kind {
			case chainUntracked:
				if !p.untracked {
					continue
				}
			case chainPreDNAT:
				if !p.preDNAT {
					continue
				}
			case chainHost:
				if p.untracked || p.preDNAT {
					continue
				}
			case chainForward:
				if p.untracked || p.preDNAT || !p.forward {
					continue
				}
			}
			if !p.applies(self, id, hepLabels, ingress) {
				continue
			}
			tierApplied, applied = true, true
			if p.kube != nil {
				rules := p.kube.out
				other := k.dst
				if ingress {
					rules, other = p.kube.in, k.src
				}
				for i := range rules {
					r := &rules[i]
					if r.peerMatches(p.kube.np.Namespace, other) && r.portMatches(k.f, k.f.To) {
						s.Allowed, s.Reason, s.Policy, s.Tier, s.Rule, s.RuleText = true, ReasonRule, p.display, t.name, i, r.text
						return s, true, true
					}
				}
				continue
			}
			rules := p.out
			if ingress {
				rules = p.in
			}
			for i := range rules {
				r := &rules[i]
				if !r.matches(k, p.namespace) {
					continue
				}
				switch r.action {
				case calicov3.Log:
					s.Logged = append(s.Logged, fmt.Sprintf("%s rule %d", p.display, i))
					continue
				case calicov3.Pass:
					passed = true
					s.Reason, s.Policy, s.Tier, s.Rule, s.RuleText = ReasonRule, p.display, t.name, i, r.text
					break policies
				}
				s.Allowed, s.Reason, s.Policy, s.Tier, s.Rule, s.RuleText = r.action == calicov3.Allow, ReasonRule, p.display, t.name, i, r.text
				return s, true, true
			}
		}
		if !tierApplied || passed {
			continue
		}
		if kind == chainUntracked || kind == chainPreDNAT || t.pass {
			continue // no implicit drop
		}
		s.Allowed, s.Reason, s.Tier, s.Policy, s.Rule, s.RuleText = false, ReasonEndOfTier, t.name, "", -1, ""
		return s, true, true
	}
	s.Policy, s.Tier, s.Rule, s.RuleText = "", "", -1, ""
	return s, false, applied
}

// profiles runs the endpoint's profiles.
func (m *calicoModel) profile(point string, names []string, k *pkt, ingress bool, logged []string) Step {
	s := Step{Point: point, Final: true, Rule: -1, Reason: ReasonProfile, Logged: logged}
	for _, n := range names {
		pr, ok := m.profiles[n]
		if !ok {
			switch {
			case n == defaultAllowProfile || strings.HasPrefix(n, "kns."):
				s.Allowed, s.Policy = true, "Profile "+n
				return s
			}
			continue
		}
		rules := pr.out
		if ingress {
			rules = pr.in
		}
		for i := range rules {
			r := &rules[i]
			if !r.matches(k, "") {
				continue
			}
			switch r.action {
			case calicov3.Log:
				s.Logged = append(s.Logged, fmt.Sprintf("Profile %s rule %d", n, i))
				continue
			case calicov3.Pass:
				continue
			}
			s.Allowed, s.Policy, s.Rule, s.RuleText = r.action == calicov3.Allow, "Profile "+n, i, r.text
			return s
		}
	}
	if len(names) > 0 {
		s.Policy = "Profile " + strings.Join(names, ",")
	}
	return s
}

func dirWord(ingress bool) string {
	if ingress {
		return "ingress"
	}
	return "egress"
}

// workload judges pod self's policy for k.
func (m *calicoModel) workload(self Endpoint, k *pkt, ingress bool) Step {
	point := fmt.Sprintf("%s of %s", dirWord(ingress), self)
	s, decided, _ := m.chain(point, chainWorkload, self, nil, k, ingress)
	if decided {
		return s
	}
	names := []string{"kns." + self.Namespace}
	if self.ServiceAccount != "" {
		names = append(names, "ksa."+self.Namespace+"."+self.ServiceAccount)
	}
	return m.profile(point, names, k, ingress, s.Logged)
}

func failsafeMatch(fs []Failsafe, k *pkt, peer netip.Addr) bool {
	proto := k.f.Protocol.orTCP()
	num, _ := proto.numberFold()
	for _, x := range fs {
		want, _ := x.Protocol.orTCP().numberFold()
		if want != num || (proto.hasPorts() && x.Port != 0 && x.Port != k.port) {
			continue
		}
		if x.Net.IsValid() && !x.Net.Contains(peer.Unmap()) {
			continue
		}
		return true
	}
	return false
}

// hostLocal judges traffic to (ingress) or from (egress) the host itself
// at its host endpoint h.
func (m *calicoModel) hostLocal(h *chep, self Endpoint, k *pkt, ingress bool) []Step {
	point := fmt.Sprintf("%s of host endpoint %s", dirWord(ingress), h.name)
	peer := k.dst.Addr
	fs := m.failOut
	if ingress {
		peer, fs = k.src.Addr, m.failIn
		if k.src.Host && failsafeMatch(m.overlay, k, peer) {
			return []Step{{Point: point, Final: true, Allowed: true, Reason: ReasonOverlay, Rule: -1}}
		}
	}
	if failsafeMatch(fs, k, peer) {
		return []Step{{Point: point, Final: true, Allowed: true, Reason: ReasonFailsafe, Rule: -1}}
	}
	var steps []Step
	// goesOn records an untracked or pre-DNAT chain that applied and let
	// the packet go on undecided.
	goesOn := func(s Step, applied bool) {
		if applied {
			s.Final, s.Allowed, s.Reason = false, true, ReasonNoMatch
			steps = append(steps, s)
		}
	}
	if h.iface != "*" {
		s, decided, applied := m.chain(point+" (untracked)", chainUntracked, self, h.labels, k, ingress)
		if decided {
			return append(steps, s)
		}
		goesOn(s, applied)
	}
	if ingress {
		s, decided, applied := m.chain(point+" (pre-DNAT)", chainPreDNAT, self, h.labels, k, ingress)
		if decided {
			return append(steps, s)
		}
		goesOn(s, applied)
	}
	s, decided, applied := m.chain(point, chainHost, self, h.labels, k, ingress)
	if decided {
		return append(steps, s)
	}
	if applied || len(h.profiles) > 0 {
		return append(steps, m.profile(point, h.profiles, k, ingress, s.Logged))
	}
	// Named or "*", a host endpoint without policy or profile denies.
	s.Reason, s.Allowed = ReasonHostEndpointDefault, false
	return append(steps, s)
}

// forwarded judges forwarded traffic at host endpoint h: untracked and
// pre-DNAT policy (ingress), then applyOnForward policy.
func (m *calicoModel) forwarded(h *chep, k *pkt, preDNAT *pkt, ingress bool) []Step {
	point := fmt.Sprintf("%s of host endpoint %s (forwarded)", dirWord(ingress), h.name)
	self := Endpoint{Host: true, Node: h.node, Labels: h.labels}
	var steps []Step
	if ingress {
		if preDNAT == nil {
			preDNAT = k
		}
		if h.iface != "*" {
			s, decided, applied := m.chain(point+" (untracked)", chainUntracked, self, h.labels, preDNAT, true)
			switch {
			case decided && !s.Allowed:
				return append(steps, s)
			case decided || applied:
				// An untracked allow does not carry forwarded traffic (the
				// reply finds no connection), so the packet goes on.
				s.Final, s.Allowed = false, true
				if !decided {
					s.Reason = ReasonNoMatch
				}
				steps = append(steps, s)
			}
		}
		s, decided, applied := m.chain(point+" (pre-DNAT)", chainPreDNAT, self, h.labels, preDNAT, true)
		if decided {
			return append(steps, s)
		}
		if applied {
			s.Final, s.Allowed, s.Reason = false, true, ReasonNoMatch
			steps = append(steps, s)
		}
	}
	s, decided, _ := m.chain(point, chainForward, self, h.labels, k, ingress)
	if !decided {
		s.Allowed, s.Reason = true, ReasonForwardDefault
	}
	return append(steps, s)
}

// addAll adds steps until one denies.
func addAll(add func(Step) bool, steps []Step) bool {
	for _, s := range steps {
		if !add(s) {
			return false
		}
	}
	return true
}

func sameNode(a, b Endpoint) bool {
	return (a.IsPod() || a.Host) && (b.IsPod() || b.Host) && a.Node != "" && a.Node == b.Node
}

// explain judges f under Calico, in the order a packet meets the
// enforcement points.
func (m *calicoModel) explain(f Flow, add func(Step) bool) {
	memo := podIdents{}
	if !(f.From.IsPod() && f.To.IsPod() && f.From.Addr == f.To.Addr) {
		for _, e := range []Endpoint{f.From, f.To} {
			if e.IsPod() {
				memo.addr[memo.n], memo.id[memo.n] = e.Addr, podIdent(e)
				memo.n++
			}
		}
	}
	mm := *m
	mm.memo = &memo
	mm.explainFlow(f, add)
}

func (m *calicoModel) explainFlow(f Flow, add func(Step) bool) {
	src, dst := f.From, f.To
	// What the source sees: the destination after any DNAT; a pod's own
	// node DNATs NodePort traffic before the pod's egress policy.
	if src.IsPod() {
		k := m.packet(f, src, dst, f.Port)
		if !add(m.workload(src, k, false)) {
			return
		}
	}
	arrive := dst // the first node the packet reaches from outside it
	port := f.Port
	if f.NodePort != 0 && !src.IsPod() {
		arrive, port = f.Via, f.NodePort
	}
	switch {
	case src.Host && sameNode(src, dst):
		// The host to its own pod: an all-interfaces host endpoint sees
		// it, the pod's policy does not (Felix lets a node reach its own
		// workloads, for the kubelet's probes: calico#2797, #4469).
		if h := m.hep(src.Node, src); h != nil && h.iface == "*" && dst.IsPod() {
			k := m.packet(f, src, dst, f.Port)
			for _, s := range m.hostLocal(h, src, k, false) {
				if !add(s) {
					return
				}
			}
		}
		if dst.IsPod() {
			add(Step{Point: fmt.Sprintf("ingress of %s", dst), Final: true, Allowed: true, Reason: ReasonOwnNode, Rule: -1})
			return
		}
	case src.Host:
		if h := m.hep(src.Node, src); h != nil {
			k := m.packet(f, src, arrive, port)
			for _, s := range m.hostLocal(h, src, k, false) {
				if !add(s) {
					return
				}
			}
		}
	case src.IsPod() && sameNode(src, dst) && dst.Host:
		point := fmt.Sprintf("%s to its own host", src)
		switch m.e2h {
		case "Drop":
			add(Step{Point: point, Final: true, Reason: ReasonEndpointToHost, Rule: -1})
			return
		case "Accept":
			add(Step{Point: point, Final: true, Allowed: true, Reason: ReasonEndpointToHost, Rule: -1})
			return
		}
		if h := m.hep(dst.Node, dst); h != nil && h.iface == "*" {
			k := m.packet(f, src, dst, f.Port)
			for _, s := range m.hostLocal(h, dst, k, true) {
				if !add(s) {
					return
				}
			}
		}
		return
	case src.IsPod() && !sameNode(src, arrive):
		if h := m.hep(src.Node, src); h != nil {
			if !addAll(add, m.forwarded(h, m.packet(f, src, dst, f.Port), nil, false)) {
				return
			}
		}
	}
	if !(dst.IsPod() || dst.Host) {
		return // leaves the cluster
	}
	if f.NodePort != 0 && !src.IsPod() && !sameNode(src, f.Via) {
		// Arrival at the NodePort's node, seen pre-DNAT, then forwarded.
		h := m.hep(f.Via.Node, f.Via)
		if h != nil {
			pre := m.packet(f, src, f.Via, f.NodePort)
			k := m.packet(f, src, dst, f.Port)
			if !addAll(add, m.forwarded(h, k, pre, true)) {
				return
			}
			if !sameNode(f.Via, dst) && !addAll(add, m.forwarded(h, k, nil, false)) {
				return
			}
		}
		if !sameNode(f.Via, dst) {
			if h := m.hep(dst.Node, dst); h != nil && !addAll(add, m.forwarded(h, m.packet(f, f.source(), dst, f.Port), nil, true)) {
				return
			}
		}
	} else if !sameNode(src, dst) {
		h := m.hep(dst.Node, dst)
		if h != nil {
			k := m.packet(f, src, dst, f.Port)
			if dst.Host {
				for _, s := range m.hostLocal(h, dst, k, true) {
					if !add(s) {
						return
					}
				}
			} else if !addAll(add, m.forwarded(h, k, nil, true)) {
				return
			}
		}
	}
	if dst.IsPod() {
		add(m.workload(dst, m.packet(f, f.source(), dst, f.Port), true))
	}
}
