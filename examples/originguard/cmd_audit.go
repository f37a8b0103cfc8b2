package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/ingress"
	"github.com/originguard/originguard/netpol"
)

// Severities, most serious first. High makes audit exit 1.
const (
	high   = "high"
	medium = "medium"
	info   = "info"
)

// finding is one thing audit reports.
type finding struct {
	Severity string `json:"severity"`
	// Source is which check found it: exposure, lint or ingress.
	Source  string `json:"source"`
	Check   string `json:"check"`
	Object  string `json:"object,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Rule is the rule that decided, for the findings that judge a flow.
	Rule string `json:"rule,omitempty"`

	more int // flows like this one, folded into it
}

// cluster is what audit and explain read.
type cluster struct {
	inv   netpol.Inventory
	eval  *netpol.Evaluator
	data  []byte // every document, for the ingress audit
	edge  []netip.Prefix
	own   []netip.Prefix // the cluster's own networks
	calic bool
}

// inputFlags are the flags audit and explain share.
type inputFlags struct {
	files     list
	semantics *string
	autoHEP   *bool
	edgeFile  *string
	cluster   list
	// kubeconfig and context pick a live cluster to read (read-only).
	kubeconfig *string
	context    *string
}

func (c *cli) inputFlags(f *flagSet) *inputFlags {
	in := &inputFlags{}
	f.Var(&in.files, "f", "a kubectl/calicoctl get -o yaml dump, a manifest, or a directory of them (.yaml, .yml, .json); - reads stdin; repeatable")
	in.semantics = f.String("semantics", "", "whose rules to apply: calico or kubernetes (default calico when the input holds Calico objects)")
	in.autoHEP = f.Bool("auto-host-endpoints", false, "Calico creates host endpoints automatically (projectcalico-default-allow)")
	in.edgeFile = f.String("edge-file", "", "the edge prefixes, one per line (default: Cloudflare's embedded ranges)")
	in.kubeconfig = f.String("kubeconfig", "", "read the cluster of this kubeconfig (default $KUBECONFIG, else ~/.kube/config, when no -f is given); get and list only: the ClusterRole it needs is below")
	in.context = f.String("context", "", "the kubeconfig context to read (default its current context)")
	f.more = "\nReading a cluster needs get and list on these, nothing more:\n\n" + clusterRBAC
	f.Var(&in.cluster, "cluster", "the cluster's own networks (nodes, pods), CIDR; sources inside them are not reported as outside the edge; repeatable")
	return in
}

// load reads every input and builds the evaluator.
//
// The inputs are the -f files and, when --kubeconfig or --context is given
// or no -f is, the live cluster of the kubeconfig, listed as the same List
// documents a dump holds: one path audits both.
func (c *cli) load(ctx context.Context, in *inputFlags) (*cluster, error) {
	var all bytes.Buffer
	for _, f := range in.files {
		if err := c.readInput(f, &all); err != nil {
			return nil, err
		}
	}
	rules, explicit, found := c.kubeconfig(in)
	if explicit || len(in.files) == 0 {
		if !found {
			return nil, errNoInput
		}
		cfg, err := c.restConfig(in, rules)
		if err != nil {
			return nil, err
		}
		if err := readCluster(ctx, cfg, func(b []byte) { appendDoc(&all, b) }); err != nil {
			return nil, err
		}
	}
	cl := &cluster{data: all.Bytes(), edge: allowlist.Embedded().All()}
	if *in.edgeFile != "" {
		text, err := os.ReadFile(*in.edgeFile)
		if err != nil {
			return nil, err
		}
		set, err := allowlist.Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("-edge-file %s: %w", *in.edgeFile, err)
		}
		cl.edge = set.Prefixes()
	}
	for _, c := range in.cluster {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("-cluster %q is not a CIDR prefix such as 10.244.0.0/16", c)
		}
		cl.own = append(cl.own, p.Masked())
	}
	inv, err := netpol.Load(bytes.NewReader(cl.data))
	if err != nil {
		return nil, err
	}
	cl.inv = inv
	o := inv.Objects
	cl.calic = len(o.Tiers)+len(o.GlobalNetworkSets)+len(o.NetworkSets)+len(o.GlobalNetworkPolicies)+len(o.CalicoNetworkPolicies)+len(o.HostEndpoints)+len(inv.Profiles) > 0
	sem := netpol.Kubernetes
	switch *in.semantics {
	case "":
		if cl.calic {
			sem = netpol.Calico
		}
	case "calico":
		sem = netpol.Calico
	case "kubernetes":
	default:
		return nil, fmt.Errorf("-semantics %q: want calico or kubernetes", *in.semantics)
	}
	cl.eval, err = netpol.NewEvaluator(netpol.Network{Objects: o, Semantics: sem, Profiles: inv.Profiles, AutoHostEndpoints: *in.autoHEP})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// appendDoc appends one or more YAML documents to the stream.
func appendDoc(out *bytes.Buffer, b []byte) {
	out.WriteString("\n---\n")
	out.Write(b)
	out.WriteString("\n")
}

// readInput appends a file, every manifest of a directory (sorted, so the
// result does not depend on the file system's order), or stdin, as YAML
// documents.
func (c *cli) readInput(path string, out *bytes.Buffer) error {
	add := func(b []byte) { appendDoc(out, b) }
	if path == "-" {
		b, err := readAll(c.stdin)
		if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		add(b)
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		add(b)
		return nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() && d.Name() != "kustomization.yaml" {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		add(b)
	}
	return nil
}

func (c *cli) audit(ctx context.Context, args []string) error {
	f := c.flags("audit", "[-f cluster.yaml|dir ...] [--kubeconfig FILE] [--context NAME] [-o json] [-api-server ADDR] [-semantics calico|kubernetes]")
	in := c.inputFlags(f)
	output := f.String("o", "text", "output: text or json")
	var apiServers, controllers list
	f.Var(&controllers, "controller", "the ingress controller's pods, as NAMESPACE/LABEL=VALUE (ingress-nginx/app.kubernetes.io/name=ingress-nginx): the linter checks that they answer the edge and nobody else; repeatable")
	f.Var(&apiServers, "api-server", "an address the API server calls kubelets from (default: the nodes labelled node-role.kubernetes.io/control-plane); repeatable")
	if err := parse(f, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return fmt.Errorf("audit: -o %q: want text or json", *output)
	}
	if f.NArg() > 0 {
		return fmt.Errorf("audit: unexpected argument %q (inputs are given with -f)", f.Arg(0))
	}
	cl, err := c.load(ctx, in)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	var servers []netip.Addr
	for _, a := range apiServers {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("audit: -api-server %q is not an address", a)
		}
		servers = append(servers, ip)
	}
	var sel []podSelector
	for _, c := range controllers {
		ns, kv, ok1 := strings.Cut(c, "/")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok1 || !ok2 || ns == "" || k == "" {
			return fmt.Errorf("audit: -controller %q: want NAMESPACE/LABEL=VALUE, e.g. ingress-nginx/app.kubernetes.io/name=ingress-nginx", c)
		}
		sel = append(sel, podSelector{ns, k, v})
	}
	findings, exposures, err := cl.audit(servers, sel)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if *output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if findings == nil {
			findings = []finding{}
		}
		if err := enc.Encode(struct {
			Findings  []finding `json:"findings"`
			Exposures []string  `json:"exposures"`
			Skipped   []string  `json:"skipped,omitempty"`
		}{findings, exposures, cl.inv.Skipped}); err != nil {
			return err
		}
	} else {
		c.printAudit(findings, exposures)
	}
	for _, x := range findings {
		if x.Severity == high {
			return errFindings
		}
	}
	return nil
}

func (c *cli) printAudit(findings []finding, exposures []string) {
	w := c.stdout
	n := map[string]int{}
	for _, x := range findings {
		n[x.Severity]++
	}
	fmt.Fprintf(w, "%d findings: %d high, %d medium, %d info\n", len(findings), n[high], n[medium], n[info])
	for _, x := range findings {
		fmt.Fprintf(w, "\n%-6s  %s/%s", strings.ToUpper(x.Severity), x.Source, x.Check)
		if x.Object != "" {
			fmt.Fprintf(w, "  %s", x.Object)
		}
		if x.Field != "" {
			fmt.Fprintf(w, "  %s", x.Field)
		}
		fmt.Fprintf(w, "\n        %s\n", x.Message)
		if x.Rule != "" {
			fmt.Fprintf(w, "        decided by: %s\n", x.Rule)
		}
	}
	fmt.Fprintf(w, "\nExposure surface (%d ports reachable from outside the cluster):\n", len(exposures))
	for _, e := range exposures {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// audit runs every check and returns the findings most serious first, and
// the exposure surface as lines.
func (cl *cluster) audit(apiServers []netip.Addr, controllers []podSelector) ([]finding, []string, error) {
	var out []finding
	m, err := cl.eval.Exposure(cl.inv)
	if err != nil {
		return nil, nil, err
	}
	var surface []string
	for _, x := range m.Exposures {
		surface = append(surface, x.String())
		var open, rules []string
		for _, r := range x.Reach {
			if within(r.From, cl.edge) || within(r.From, cl.own) {
				continue
			}
			open = append(open, r.String())
			if d := r.Verdict.Decider().String(); !slices.Contains(rules, d) {
				rules = append(rules, d)
			}
		}
		if len(open) > 0 {
			out = append(out, finding{
				Severity: high, Source: "exposure", Check: "open-beyond-edge", Object: x.Object,
				Message: fmt.Sprintf("%s %s/%d on %s%s is reachable from outside the edge: %s", x.Kind, x.Protocol, x.Port, x.Address, onNode(x.Node), strings.Join(open, "; ")),
				Rule:    strings.Join(rules, "; "),
			})
		}
	}
	for _, g := range m.NoDefaultDeny {
		var dirs []string
		if g.Ingress {
			dirs = append(dirs, "ingress")
		}
		if g.Egress {
			dirs = append(dirs, "egress")
		}
		out = append(out, finding{Severity: medium, Source: "exposure", Check: "no-default-deny", Object: "Namespace " + g.Namespace,
			Message: "no default deny for " + strings.Join(dirs, " and ") + ": every pod no policy selects accepts (or sends) anything"})
	}
	for _, n := range m.Notes {
		out = append(out, finding{Severity: info, Source: "exposure", Check: "note", Message: n})
	}

	lint, err := cl.eval.Lint(cl.topology(apiServers, controllers))
	if err != nil {
		return nil, nil, err
	}
	// Flows the linter probes alike (every NodePort at both ends of the
	// range, on every node) are one finding, with a count.
	same := map[string]int{}
	for _, l := range lint {
		sev := high
		if l.Check == netpol.CheckEqualOrder || l.Check == netpol.CheckLogThenDrop {
			sev = medium
		}
		x := finding{Severity: sev, Source: "lint", Check: string(l.Check), Message: l.Message}
		if l.Verdict != nil {
			x.Object = l.Flow.String()
			x.Rule = l.Verdict.Decider().String()
		}
		key := x.Check + "\x00" + x.Rule
		if i, ok := same[key]; ok && x.Rule != "" {
			out[i].more++
			continue
		}
		same[key] = len(out)
		out = append(out, x)
	}
	for i := range out {
		if out[i].more > 0 {
			out[i].Message += fmt.Sprintf(" (and %d more flows decided by the same rule)", out[i].more)
		}
	}

	ing, err := ingress.AuditYAML(cl.edge, cl.data)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range ing {
		obj := f.Kind + " " + f.Name
		if f.Namespace != "" {
			obj = f.Kind + " " + f.Namespace + "/" + f.Name
		}
		out = append(out, finding{Severity: high, Source: "ingress", Check: string(f.Need), Object: obj, Field: f.Field, Message: f.Message})
	}
	rank := map[string]int{high: 0, medium: 1, info: 2}
	slices.SortStableFunc(out, func(a, b finding) int { return rank[a.Severity] - rank[b.Severity] })
	return out, surface, nil
}

func onNode(n string) string {
	if n == "" {
		return ""
	}
	return " (node " + n + ")"
}

// within reports whether every address of p lies in one of the prefixes.
func within(p netip.Prefix, in []netip.Prefix) bool {
	for _, e := range in {
		if e.Bits() <= p.Bits() && e.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// podSelector picks pods by namespace and one label.
type podSelector struct{ namespace, key, value string }

// topology is what the linter probes, read from the inventory: the nodes,
// the API servers (given, or the control-plane nodes), the cluster DNS
// pods, one client pod per namespace, the pods' hostPorts, and the edge.
func (cl *cluster) topology(apiServers []netip.Addr, controllers []podSelector) netpol.Topology {
	t := netpol.Topology{Edge: cl.edge}
	for i := range cl.inv.Nodes {
		n := &cl.inv.Nodes[i]
		e, ok := netpol.NodeEndpoint(n, true)
		if !ok {
			continue
		}
		t.Nodes = append(t.Nodes, e)
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; cp && len(apiServers) == 0 {
			t.APIServers = append(t.APIServers, e)
		}
	}
	for _, a := range apiServers {
		t.APIServers = append(t.APIServers, netpol.Endpoint{Addr: a})
	}
	clients := map[string]bool{}
	for i := range cl.inv.Pods {
		p := &cl.inv.Pods[i]
		e, ok := netpol.PodEndpoint(p, cl.namespace(p.Namespace), true)
		if !ok {
			continue
		}
		for _, c := range controllers {
			if p.Namespace == c.namespace && p.Labels[c.key] == c.value {
				t.IngressController = append(t.IngressController, e)
			}
		}
		if p.Namespace == "kube-system" && p.Labels["k8s-app"] == "kube-dns" {
			t.DNS = append(t.DNS, e)
		} else if !clients[p.Namespace] && !p.Spec.HostNetwork {
			clients[p.Namespace] = true
			t.Clients = append(t.Clients, e)
		}
		for _, ctr := range p.Spec.Containers {
			for _, cp := range ctr.Ports {
				if cp.HostPort != 0 && !p.Spec.HostNetwork {
					t.HostPorts = append(t.HostPorts, netpol.HostPortBinding{Pod: e, Protocol: netpol.Protocol(cp.Protocol),
						HostPort: uint16(cp.HostPort), ContainerPort: uint16(cp.ContainerPort)})
				}
			}
		}
	}
	return t
}

func (cl *cluster) namespace(name string) *corev1.Namespace {
	for i := range cl.inv.Namespaces {
		if cl.inv.Namespaces[i].Name == name {
			return &cl.inv.Namespaces[i]
		}
	}
	return nil
}

func (c *cli) explain(ctx context.Context, args []string) error {
	f := c.flags("explain", "[-f cluster.yaml|dir ...] [--kubeconfig FILE] [--context NAME] --from ADDR|ns/pod|node/NAME --to ns/pod:PORT[/tcp|udp]|node/NAME:PORT[/proto] [-o json]")
	in := c.inputFlags(f)
	from := f.String("from", "", "where the flow starts: an address (198.51.100.7), a pod (ns/pod) or a node (node/NAME)")
	to := f.String("to", "", "where it goes: ns/pod:443/tcp, node/NAME:10250, or node/NAME:30080 for a NodePort")
	output := f.String("o", "text", "output: text or json")
	if err := parse(f, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return fmt.Errorf("explain: -o %q: want text or json", *output)
	}
	if *from == "" || *to == "" {
		return errors.New("explain: both --from and --to are needed, e.g. --from 198.51.100.7 --to shop/web:8080/tcp")
	}
	cl, err := c.load(ctx, in)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	flow, err := cl.flow(*from, *to)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	v, err := cl.eval.Explain(flow)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	if *output == "json" {
		d := v.Decider()
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		steps := make([]string, len(v.Steps))
		for i, s := range v.Steps {
			steps[i] = s.String()
		}
		return enc.Encode(struct {
			Flow    string   `json:"flow"`
			Allowed bool     `json:"allowed"`
			Decider string   `json:"decidedBy"`
			Steps   []string `json:"steps"`
		}{flow.String(), v.Allowed, d.String(), steps})
	}
	fmt.Fprintln(c.stdout, v)
	if d := v.Decider(); d.Point != "" {
		fmt.Fprintf(c.stdout, "decided by: %s\n", d)
	}
	return nil
}

// flow builds the flow from --from and --to.
func (cl *cluster) flow(from, to string) (netpol.Flow, error) {
	target, portProto, ok := strings.Cut(to, ":")
	if !ok {
		return netpol.Flow{}, fmt.Errorf("--to %q has no port (want ns/pod:443/tcp or node/NAME:30080)", to)
	}
	portText, proto, _ := strings.Cut(portProto, "/")
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return netpol.Flow{}, fmt.Errorf("--to %q: %q is not a port", to, portText)
	}
	fl := netpol.Flow{Protocol: netpol.Protocol(strings.ToUpper(proto)), Port: uint16(port)}
	if fl.Protocol == "" {
		fl.Protocol = netpol.TCP
	}
	if fl.Protocol != netpol.TCP && fl.Protocol != netpol.UDP && fl.Protocol != netpol.SCTP {
		return netpol.Flow{}, fmt.Errorf("--to %q: protocol %q (want tcp, udp or sctp)", to, proto)
	}
	v4 := true
	if a, err := netip.ParseAddr(from); err == nil {
		v4 = a.Unmap().Is4()
		fl.From = netpol.Endpoint{Addr: a.Unmap()}
	} else if fl.From, err = cl.endpoint(from, v4); err != nil {
		return netpol.Flow{}, fmt.Errorf("--from: %w", err)
	}
	if fl.To, err = cl.endpoint(target, v4); err != nil {
		return netpol.Flow{}, fmt.Errorf("--to: %w", err)
	}
	if !fl.To.Host {
		return fl, nil
	}
	// A node's port: a NodePort Service's, when one has it.
	for _, svc := range cl.inv.Services {
		for _, sp := range svc.Spec.Ports {
			if sp.NodePort != int32(port) || netpol.Protocol(orTCP(string(sp.Protocol))) != fl.Protocol {
				continue
			}
			pod, ok := cl.backend(&svc)
			if !ok {
				return netpol.Flow{}, fmt.Errorf("NodePort %d is Service %s/%s's, which has no running backend to judge the flow at", port, svc.Namespace, svc.Name)
			}
			be, ok := netpol.PodEndpoint(pod, cl.namespace(pod.Namespace), v4)
			if !ok {
				return netpol.Flow{}, fmt.Errorf("pod %s/%s has no address", pod.Namespace, pod.Name)
			}
			fl.Via, fl.To, fl.NodePort = fl.To, be, uint16(port)
			fl.Port = uint16(sp.TargetPort.IntValue())
			if fl.Port == 0 {
				fl.Port = uint16(sp.Port)
			}
			fl.SNAT = svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal && be.Node != fl.Via.Node
			return fl, nil
		}
	}
	return fl, nil
}

func orTCP(p string) string {
	if p == "" {
		return string(netpol.TCP)
	}
	return p
}

// backend is a Service's first running pod, by name.
func (cl *cluster) backend(svc *corev1.Service) (*corev1.Pod, bool) {
	var best *corev1.Pod
	for i := range cl.inv.Pods {
		p := &cl.inv.Pods[i]
		if p.Namespace != svc.Namespace || len(svc.Spec.Selector) == 0 || p.Status.Phase != corev1.PodRunning {
			continue
		}
		match := true
		for k, v := range svc.Spec.Selector {
			if p.Labels[k] != v {
				match = false
			}
		}
		if match && (best == nil || p.Name < best.Name) {
			best = p
		}
	}
	return best, best != nil
}

// endpoint resolves "ns/pod" or "node/NAME".
func (cl *cluster) endpoint(ref string, v4 bool) (netpol.Endpoint, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return netpol.Endpoint{}, fmt.Errorf("%q: want an address, ns/pod or node/NAME", ref)
	}
	if ns == "node" {
		for i := range cl.inv.Nodes {
			if cl.inv.Nodes[i].Name == name {
				e, ok := netpol.NodeEndpoint(&cl.inv.Nodes[i], v4)
				if !ok {
					return e, fmt.Errorf("node %s has no address of the flow's family", name)
				}
				return e, nil
			}
		}
		return netpol.Endpoint{}, fmt.Errorf("no node %q in the input", name)
	}
	for i := range cl.inv.Pods {
		p := &cl.inv.Pods[i]
		if p.Namespace == ns && p.Name == name {
			e, ok := netpol.PodEndpoint(p, cl.namespace(ns), v4)
			if !ok {
				return e, fmt.Errorf("pod %s has no address of the flow's family", ref)
			}
			return e, nil
		}
	}
	return netpol.Endpoint{}, fmt.Errorf("no pod %q in the input", ref)
}
