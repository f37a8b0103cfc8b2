package netpol

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/originguard/originguard/internal/kubeout"
)

// Form is how a cluster serves Calico's API, and so which apiVersion the
// Calico objects carry. It is a closed vocabulary: use the constants.
type Form string

const (
	// CalicoAPI is projectcalico.org/v3, served by calicoctl or the Calico
	// API server (an aggregated API that validates and defaults).
	CalicoAPI Form = "projectcalico.org/v3"
	// CalicoCRD is crd.projectcalico.org/v1, the CustomResourceDefinitions
	// Calico stores its data in, which operator-installed clusters without
	// the Calico API server often serve alone. Same kinds and spec; no
	// Calico validation or defaulting runs, so what is written is what
	// Felix reads (this is why every policy here sets its types).
	CalicoCRD Form = "crd.projectcalico.org/v1"
)

// Objects are Kubernetes and Calico policy objects, typed: what
// [Spec.Generate] returns (which fills GlobalNetworkSets,
// GlobalNetworkPolicies, NetworkPolicies and HostEndpoints), or what a
// cluster already holds (fill it from List calls or decoded YAML). The
// Calico objects are projectcalico.org/v3 types whatever form they are
// served in. The zero value holds nothing; Objects is a plain value, safe
// for concurrent reads.
//
// The fields are in the order the objects must reach a cluster: tiers
// before the policies in them, network sets before the policies that
// select them, the policies before the HostEndpoints, because a
// HostEndpoint without a profile denies its host's traffic (but Felix's
// failsafe ports) until a policy allows it. [Objects.YAML] and
// [Objects.Apply] keep that order.
type Objects struct {
	Tiers                 []calicov3.Tier
	GlobalNetworkSets     []calicov3.GlobalNetworkSet
	NetworkSets           []calicov3.NetworkSet // Calico's namespaced sets
	GlobalNetworkPolicies []calicov3.GlobalNetworkPolicy
	CalicoNetworkPolicies []calicov3.NetworkPolicy // Calico's namespaced policies
	NetworkPolicies       []networkingv1.NetworkPolicy
	HostEndpoints         []calicov3.HostEndpoint
}

// list returns pointers to copies of o's objects in apply order, the
// Calico ones with TypeMeta for form.
func (o Objects) list(form Form) []kubeout.Object {
	out := make([]kubeout.Object, 0, len(o.Tiers)+len(o.GlobalNetworkSets)+len(o.NetworkSets)+len(o.GlobalNetworkPolicies)+
		len(o.CalicoNetworkPolicies)+len(o.NetworkPolicies)+len(o.HostEndpoints))
	v := string(form)
	for _, x := range o.Tiers {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: v, Kind: calicov3.KindTier}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	for _, x := range o.GlobalNetworkSets {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: v, Kind: calicov3.KindGlobalNetworkSet}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	for _, x := range o.NetworkSets {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: v, Kind: calicov3.KindNetworkSet}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	for _, x := range o.GlobalNetworkPolicies {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: v, Kind: calicov3.KindGlobalNetworkPolicy}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	for _, x := range o.CalicoNetworkPolicies {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: v, Kind: calicov3.KindNetworkPolicy}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	for _, x := range o.NetworkPolicies {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	for _, x := range o.HostEndpoints {
		x.TypeMeta, x.ObjectMeta = metav1.TypeMeta{APIVersion: v, Kind: calicov3.KindHostEndpoint}, written(x.ObjectMeta)
		out = append(out, &x)
	}
	return out
}

// written is the part of m a client writes: objects read from a cluster
// also carry what the server keeps (uid, resourceVersion, managedFields,
// timestamps), which an apply request may not or should not send.
func written(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            m.Name,
		Namespace:       m.Namespace,
		Labels:          m.Labels,
		Annotations:     m.Annotations,
		OwnerReferences: m.OwnerReferences,
		Finalizers:      m.Finalizers,
	}
}

// YAML renders o as one multi-document YAML stream for kubectl apply -f,
// in the order of [Objects], with TypeMeta set (the Calico objects' in
// form) and only the metadata a client writes (name, namespace, labels,
// annotations, owner references, finalizers; not what a server adds, such
// as resourceVersion or managedFields). Equal Objects render to equal
// bytes. It fails only for an unknown form.
func (o Objects) YAML(form Form) ([]byte, error) {
	if form != CalicoAPI && form != CalicoCRD {
		return nil, fmt.Errorf("netpol: form %q: want %q or %q", form, CalicoAPI, CalicoCRD)
	}
	data, err := kubeout.YAML(o.list(form)...)
	if err != nil {
		return nil, fmt.Errorf("netpol: %w", err)
	}
	return data, nil
}

// DefaultFieldManager is the server-side apply field manager [Objects.Apply]
// uses when given none.
const DefaultFieldManager = "originguard-netpol"

// Apply writes o to a cluster with server-side apply as fieldManager (zero
// means [DefaultFieldManager]), forcing ownership of the fields it sets,
// with fieldValidation=Strict, in the order of [Objects], the Calico
// objects in form, each with the metadata [Objects.YAML] keeps. It stops at the first failure and returns it; what was
// applied before stays. Objects this manager applied earlier and o no
// longer holds are not deleted.
func (o Objects) Apply(ctx context.Context, client dynamic.Interface, form Form, fieldManager string) error {
	if form != CalicoAPI && form != CalicoCRD {
		return fmt.Errorf("netpol: form %q: want %q or %q", form, CalicoAPI, CalicoCRD)
	}
	fm, err := kubeout.CheckFieldManager(fieldManager, DefaultFieldManager)
	if err != nil {
		return fmt.Errorf("netpol: %w", err)
	}
	for _, obj := range o.list(form) {
		if _, err := kubeout.Apply(ctx, client, obj, fm); err != nil {
			return fmt.Errorf("netpol: apply %s %q: %w", obj.GetObjectKind().GroupVersionKind().Kind, nameOf(obj), err)
		}
	}
	return nil
}

func nameOf(obj kubeout.Object) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// Validate checks o as Calico and the API server would, and for the
// mistakes they let through, and reports every problem, each naming the
// object and field:
//
//   - NetworkPolicy: ipBlock cidrs and excepts that do not parse, an
//     except not strictly inside its cidr (the API server refuses it),
//     endPort without a numeric port or before it;
//   - GlobalNetworkPolicy and Calico NetworkPolicy: no types (Felix reads
//     empty types as Ingress and Egress, and nothing defaults them through
//     the CRDs); no order, or an order another policy of its tier has
//     (1000 in the default tier is the Kubernetes NetworkPolicies' order
//     when o holds any); rules with an unknown action, nets that do not
//     parse, ports without a TCP, UDP, SCTP or UDPLite protocol, ICMP
//     matches without an ICMP protocol;
//   - GlobalNetworkPolicy: a preDNAT policy that has egress, lacks
//     applyOnForward or is also doNotTrack; doNotTrack without
//     applyOnForward;
//   - GlobalNetworkSet and NetworkSet: nets that do not parse;
//   - HostEndpoint: no node, neither interface nor expected IPs, expected
//     IPs that do not parse.
//
// It does not parse Calico selectors.
func (o Objects) Validate() error {
	var p problems
	bad := p.add
	for i := range o.NetworkPolicies {
		np := &o.NetworkPolicies[i]
		at := fmt.Sprintf("NetworkPolicy %s/%s", np.Namespace, np.Name)
		for j, r := range np.Spec.Ingress {
			checkKubePeers(fmt.Sprintf("%s: spec.ingress[%d].from", at, j), r.From, bad)
			checkKubePorts(fmt.Sprintf("%s: spec.ingress[%d].ports", at, j), r.Ports, bad)
		}
		for j, r := range np.Spec.Egress {
			checkKubePeers(fmt.Sprintf("%s: spec.egress[%d].to", at, j), r.To, bad)
			checkKubePorts(fmt.Sprintf("%s: spec.egress[%d].ports", at, j), r.Ports, bad)
		}
	}
	type tierOrder struct {
		tier  string
		order float64
	}
	orders := map[tierOrder]string{}
	if len(o.NetworkPolicies) > 0 {
		// Calico puts Kubernetes NetworkPolicies in the default tier at
		// order 1000.
		orders[tierOrder{"default", 1000}] = "every Kubernetes NetworkPolicy"
	}
	policy := func(at, tier string, order *float64, types []calicov3.PolicyType, ingress, egress []calicov3.Rule) {
		if len(types) == 0 {
			bad("%s: spec.types: empty: Felix treats that as Ingress and Egress, and the crd.projectcalico.org/v1 CRDs do not default it", at)
		}
		for j, t := range types {
			if t != calicov3.PolicyTypeIngress && t != calicov3.PolicyTypeEgress {
				bad("%s: spec.types[%d]: %q: want Ingress or Egress", at, j, t)
			}
		}
		if order == nil {
			bad("%s: spec.order: not set: the policy sorts last and ties with every other unordered one", at)
		} else {
			if tier == "" {
				tier = "default"
			}
			key := tierOrder{tier, *order}
			if other, ok := orders[key]; ok {
				bad("%s: spec.order: %v, as %s has in tier %q: equal orders tie-break by name, differently across Calico versions", at, *order, other, tier)
			} else {
				orders[key] = at
			}
		}
		for j, r := range ingress {
			checkCalicoRule(fmt.Sprintf("%s: spec.ingress[%d]", at, j), r, bad)
		}
		for j, r := range egress {
			checkCalicoRule(fmt.Sprintf("%s: spec.egress[%d]", at, j), r, bad)
		}
	}
	for i := range o.GlobalNetworkPolicies {
		g := &o.GlobalNetworkPolicies[i]
		at := fmt.Sprintf("GlobalNetworkPolicy %s", g.Name)
		s := &g.Spec
		policy(at, s.Tier, s.Order, s.Types, s.Ingress, s.Egress)
		if s.PreDNAT {
			if slices.Contains(s.Types, calicov3.PolicyTypeEgress) {
				bad("%s: spec.types: a preDNAT policy applies to ingress only, not Egress", at)
			}
			if len(s.Egress) > 0 {
				bad("%s: spec.egress: a preDNAT policy may have no egress rules", at)
			}
			if !s.ApplyOnForward {
				bad("%s: spec.applyOnForward: a preDNAT policy must set it", at)
			}
			if s.DoNotTrack {
				bad("%s: spec.doNotTrack: a policy cannot be both preDNAT and doNotTrack", at)
			}
		}
		if s.DoNotTrack && !s.ApplyOnForward {
			bad("%s: spec.applyOnForward: a doNotTrack policy must set it", at)
		}
	}
	for i := range o.CalicoNetworkPolicies {
		n := &o.CalicoNetworkPolicies[i]
		policy(fmt.Sprintf("NetworkPolicy (Calico) %s/%s", n.Namespace, n.Name), n.Spec.Tier, n.Spec.Order, n.Spec.Types, n.Spec.Ingress, n.Spec.Egress)
	}
	for i := range o.NetworkSets {
		s := &o.NetworkSets[i]
		checkNets(fmt.Sprintf("NetworkSet %s/%s: spec.nets", s.Namespace, s.Name), s.Spec.Nets, bad)
	}
	for i := range o.GlobalNetworkSets {
		s := &o.GlobalNetworkSets[i]
		checkNets(fmt.Sprintf("GlobalNetworkSet %s: spec.nets", s.Name), s.Spec.Nets, bad)
	}
	for i := range o.HostEndpoints {
		h := &o.HostEndpoints[i]
		at := fmt.Sprintf("HostEndpoint %s", h.Name)
		if h.Spec.Node == "" {
			bad("%s: spec.node: empty", at)
		}
		if h.Spec.InterfaceName == "" && len(h.Spec.ExpectedIPs) == 0 {
			bad("%s: spec.interfaceName: empty, and no spec.expectedIPs to find the interface by", at)
		}
		for j, ip := range h.Spec.ExpectedIPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				bad("%s: spec.expectedIPs[%d]: %q is not an IP address", at, j, ip)
			}
		}
	}
	return p.err()
}

func checkKubePeers(at string, peers []networkingv1.NetworkPolicyPeer, bad func(string, ...any)) {
	for i, peer := range peers {
		if peer.IPBlock == nil {
			continue
		}
		c, err := netip.ParsePrefix(peer.IPBlock.CIDR)
		if err != nil {
			bad("%s[%d].ipBlock.cidr: %q: %v", at, i, peer.IPBlock.CIDR, err)
			continue
		}
		for j, e := range peer.IPBlock.Except {
			ep, err := netip.ParsePrefix(e)
			switch {
			case err != nil:
				bad("%s[%d].ipBlock.except[%d]: %q: %v", at, i, j, e, err)
			case ep.Bits() <= c.Bits() || !c.Masked().Contains(ep.Addr()):
				bad("%s[%d].ipBlock.except[%d]: %s is not strictly inside cidr %s", at, i, j, e, c)
			}
		}
	}
}

func checkKubePorts(at string, ports []networkingv1.NetworkPolicyPort, bad func(string, ...any)) {
	for i, pt := range ports {
		if pt.EndPort == nil {
			continue
		}
		switch {
		case pt.Port == nil || pt.Port.Type != 0:
			bad("%s[%d].endPort: needs a numeric port", at, i)
		case *pt.EndPort < pt.Port.IntVal:
			bad("%s[%d].endPort: %d is before port %d", at, i, *pt.EndPort, pt.Port.IntVal)
		}
	}
}

func checkNets(at string, nets []string, bad func(string, ...any)) {
	for i, n := range nets {
		if _, err := netip.ParsePrefix(n); err != nil {
			if _, err := netip.ParseAddr(n); err != nil {
				bad("%s[%d]: %q is not a CIDR or address", at, i, n)
			}
		}
	}
}

func checkCalicoRule(at string, r calicov3.Rule, bad func(string, ...any)) {
	switch r.Action {
	case calicov3.Allow, calicov3.Deny, calicov3.Log, calicov3.Pass:
	default:
		bad("%s.action: %q: want Allow, Deny, Log or Pass", at, r.Action)
	}
	hasPorts := false
	for _, e := range []struct {
		side string
		rule calicov3.EntityRule
	}{{"source", r.Source}, {"destination", r.Destination}} {
		checkNets(at+"."+e.side+".nets", e.rule.Nets, bad)
		checkNets(at+"."+e.side+".notNets", e.rule.NotNets, bad)
		if len(e.rule.Ports) > 0 || len(e.rule.NotPorts) > 0 {
			hasPorts = true
		}
	}
	if hasPorts {
		ok := r.Protocol != nil && r.Protocol.SupportsPorts()
		if !ok {
			bad("%s.protocol: ports need TCP, UDP, SCTP or UDPLite", at)
		}
	}
	if r.ICMP != nil && (r.Protocol == nil || (r.Protocol.String() != numorstring.ProtocolICMP && r.Protocol.String() != numorstring.ProtocolICMPv6)) {
		bad("%s.icmp: needs protocol ICMP or ICMPv6", at)
	}
}
