package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
)

// Semantics says whose rules an [Evaluator] applies. It is a closed
// vocabulary: use the constants.
type Semantics string

const (
	// Kubernetes applies NetworkPolicies alone, as the Kubernetes API
	// documents them, for any network plugin that implements them. The
	// Calico objects are ignored.
	Kubernetes Semantics = "kubernetes"
	// Calico applies everything as Felix does: tiers, Calico policies,
	// Kubernetes NetworkPolicies in the default tier at order 1000,
	// profiles, host endpoints, pre-DNAT and untracked policy, failsafes.
	Calico Semantics = "calico"
)

// Failsafe is one of Felix's failsafe ports: traffic to (inbound) or
// from (outbound) a host endpoint on it passes whatever the policy says,
// but never forwarded traffic. A zero Net means any address.
type Failsafe struct {
	Protocol Protocol
	Port     uint16
	Net      netip.Prefix
}

// Felix's default FailsafeInboundHostPorts and FailsafeOutboundHostPorts.
var (
	DefaultFailsafeInbound = []Failsafe{
		{TCP, 22, netip.Prefix{}}, {UDP, 68, netip.Prefix{}}, {TCP, 179, netip.Prefix{}},
		{TCP, 2379, netip.Prefix{}}, {TCP, 2380, netip.Prefix{}}, {TCP, 5473, netip.Prefix{}},
		{TCP, 6443, netip.Prefix{}}, {TCP, 6666, netip.Prefix{}}, {TCP, 6667, netip.Prefix{}},
	}
	DefaultFailsafeOutbound = []Failsafe{
		{UDP, 53, netip.Prefix{}}, {UDP, 67, netip.Prefix{}}, {TCP, 179, netip.Prefix{}},
		{TCP, 2379, netip.Prefix{}}, {TCP, 2380, netip.Prefix{}}, {TCP, 5473, netip.Prefix{}},
		{TCP, 6443, netip.Prefix{}}, {TCP, 6666, netip.Prefix{}}, {TCP, 6667, netip.Prefix{}},
	}
)

// Network is what an [Evaluator] judges flows against: policy objects
// and how the cluster enforces them. The zero value is a network with no
// policy under [Kubernetes] semantics, where every flow passes. Network is
// a plain value, safe for concurrent reads.
type Network struct {
	Objects   Objects
	Semantics Semantics // zero means Kubernetes

	// The rest applies to Calico semantics only.

	// Profiles are Calico profiles by name. A pod's endpoint has the
	// profiles "kns.<namespace>" and "ksa.<namespace>.<serviceaccount>";
	// those absent here are Calico's own (kns allows everything both
	// ways, ksa has no rules). "projectcalico-default-allow" always
	// allows everything.
	Profiles []calicov3.Profile
	// AutoHostEndpoints is Calico's automatic host endpoints: every node
	// a Flow names, without a HostEndpoint in Objects, gets an
	// all-interfaces ("*") one with the node's labels and the profile
	// projectcalico-default-allow.
	AutoHostEndpoints bool
	// FailsafeInbound and FailsafeOutbound are Felix's failsafe ports;
	// nil means DefaultFailsafeInbound and DefaultFailsafeOutbound, empty
	// means none.
	FailsafeInbound, FailsafeOutbound []Failsafe
	// EndpointToHost is Felix's DefaultEndpointToHostAction for traffic
	// from a pod to its own node: "Drop" (Felix's default, and the zero
	// value), "Accept", or "Return" (on to the host endpoint's policy).
	EndpointToHost string
	// Overlay are what Felix itself admits from other cluster hosts ahead
	// of host endpoint policy while an overlay is on: [FelixVXLAN],
	// [FelixIPIP], [FelixWireGuard], each with Net the hosts' addresses.
	Overlay []Failsafe
}

// What Felix admits between cluster hosts for its overlays; set Net to
// the hosts' network before putting them in [Network.Overlay].
var (
	FelixVXLAN     = Failsafe{Protocol: UDP, Port: 4789}
	FelixIPIP      = Failsafe{Protocol: "4"}
	FelixWireGuard = Failsafe{Protocol: UDP, Port: 51820}
)

// Evaluator answers "may this flow pass, and which rule decided?" for a
// [Network]. Build one with [NewEvaluator]; it is immutable and safe for
// concurrent use. It indexes namespaced policies by namespace and by a
// label their selector requires, so a flow costs the policies that may
// select its two pods (and, under [Calico], the global ones), not all of
// them; the order in which they are evaluated is unchanged.
type Evaluator struct {
	sem     Semantics
	kube    map[string][]*kubePolicy // by namespace, in name order
	kubeIdx map[string]*kubeIndex
	cal     *calicoModel
}

// NewEvaluator checks and indexes c. It fails, naming the object and
// field, on what it cannot evaluate rather than guess: a selector outside
// Calico's grammar, a cidr or net that does not parse, a Calico rule
// matching HTTP or a Service, an unknown action; and on Calico objects
// under [Kubernetes] semantics, which would ignore them.
func NewEvaluator(c Network) (*Evaluator, error) {
	var p problems
	e := &Evaluator{sem: c.Semantics, kube: map[string][]*kubePolicy{}}
	switch c.Semantics {
	case "":
		e.sem = Kubernetes
	case Kubernetes, Calico:
	default:
		p.add("Network.Semantics %q: want %q or %q", c.Semantics, Kubernetes, Calico)
	}
	for i := range c.Objects.NetworkPolicies {
		kp := compileKube(&c.Objects.NetworkPolicies[i], p.add)
		e.kube[kp.np.Namespace] = append(e.kube[kp.np.Namespace], kp)
	}
	e.kubeIdx = make(map[string]*kubeIndex, len(e.kube))
	for ns, ps := range e.kube {
		// The deciding policy of a union is the first by name.
		slices.SortFunc(ps, func(a, b *kubePolicy) int { return strings.Compare(a.np.Name, b.np.Name) })
		e.kubeIdx[ns] = newKubeIndex(ps)
	}
	if e.sem == Calico {
		e.cal = compileCalico(c, e.kube, p.add)
	} else if o := c.Objects; len(o.Tiers)+len(o.GlobalNetworkSets)+len(o.NetworkSets)+len(o.GlobalNetworkPolicies)+
		len(o.CalicoNetworkPolicies)+len(o.HostEndpoints)+len(c.Profiles) > 0 {
		// Ignoring them would judge flows they stop as passing.
		p.add("Calico objects under %s semantics, which would ignore them: set Network.Semantics to %q, or leave them out", e.sem, Calico)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// Reason is why an enforcement point decided as it did. It is a closed
// vocabulary: use the constants.
type Reason string

const (
	// ReasonRule: a policy's rule matched ([Step.Policy], [Step.Rule]).
	ReasonRule Reason = "rule"
	// ReasonNotIsolated: no NetworkPolicy selects the pod for this
	// direction, so everything passes.
	ReasonNotIsolated Reason = "not isolated"
	// ReasonIsolated: NetworkPolicies select the pod for this direction
	// and none of their rules allows the flow.
	ReasonIsolated Reason = "isolated, no rule allows"
	// ReasonOwnNode: traffic between a pod and its own node always passes
	// NetworkPolicy, as the Kubernetes documentation says; under Calico,
	// a node reaches its own pods whatever their policy.
	ReasonOwnNode Reason = "own node"
	// ReasonSelf: a pod cannot block traffic to itself.
	ReasonSelf Reason = "self"
	// ReasonEndOfTier: policies of [Step.Tier] applied and none matched:
	// the tier's default action (Deny unless the tier says Pass).
	ReasonEndOfTier Reason = "end of tier"
	// ReasonProfile: no policy decided; the endpoint's profiles did.
	ReasonProfile Reason = "profile"
	// ReasonHostEndpointDefault: no policy or profile applies to a host
	// endpoint, which then denies (named or "*": Calico's HostEndpoint
	// reference; automatic host endpoints allow through their profile).
	ReasonHostEndpointDefault Reason = "host endpoint default"
	// ReasonForwardDefault: no applyOnForward policy applies to the host
	// endpoint for this direction, so forwarded traffic passes.
	ReasonForwardDefault Reason = "forwarded, no applyOnForward policy"
	// ReasonFailsafe: one of Felix's failsafe ports.
	ReasonFailsafe Reason = "failsafe"
	// ReasonEndpointToHost: Felix's DefaultEndpointToHostAction for a pod
	// reaching its own node.
	ReasonEndpointToHost Reason = "endpoint to host"
	// ReasonNoMatch: untracked or pre-DNAT policy applied and no rule
	// matched; the packet goes on to the next point (not a decision).
	ReasonNoMatch Reason = "no rule matched, goes on"
	// ReasonOverlay: Felix's own allowance for its overlay (VXLAN, IPIP,
	// WireGuard) between cluster hosts, ahead of host endpoint policy.
	ReasonOverlay Reason = "felix overlay"
)

// Step is one enforcement point's decision on a flow.
type Step struct {
	// Point says where: "egress of pod shop (10.0.0.5)", "ingress of host
	// endpoint node-1-eth0 (pre-DNAT)".
	Point   string
	Allowed bool
	// Final is false for a point that let the flow go on undecided:
	// untracked or pre-DNAT policy that no rule matched, or an untracked
	// allow, which does not carry forwarded traffic.
	Final  bool
	Reason Reason
	// Policy is "NetworkPolicy ns/name", "GlobalNetworkPolicy name" or
	// "NetworkPolicy (Calico) ns/name", or "Profile name"; empty when no
	// policy decided.
	Policy string
	Tier   string // Calico tier, when Policy is a Calico policy or a Kubernetes one under Calico
	// Rule is the deciding rule's index in the policy's ingress or egress
	// list, -1 when no rule decided.
	Rule int
	// RuleText renders the deciding rule.
	RuleText string
	// Logged lists the Log rules the flow met on the way.
	Logged []string
}

// String renders s on one line (and one more per Log rule met).
func (s Step) String() string {
	var b strings.Builder
	verdict := "deny"
	if s.Allowed {
		verdict = "allow"
	}
	if !s.Final {
		verdict = "continue"
	}
	fmt.Fprintf(&b, "%s: %s (%s", s.Point, verdict, s.Reason)
	if s.Policy != "" {
		b.WriteString(": ")
		if s.Tier != "" {
			fmt.Fprintf(&b, "tier %s, ", s.Tier)
		}
		b.WriteString(s.Policy)
		if s.Rule >= 0 {
			fmt.Fprintf(&b, " rule %d: %s", s.Rule, s.RuleText)
		}
	}
	b.WriteString(")")
	for _, l := range s.Logged {
		fmt.Fprintf(&b, "\n    logged by %s", l)
	}
	return b.String()
}

// Verdict is whether a flow passes, and every enforcement point it
// crossed, in order; the last step is the one that decided.
type Verdict struct {
	Flow    Flow
	Allowed bool
	Steps   []Step
}

// Decider is the step that decided: the one that denied, or the last one
// that allowed. Zero when the flow crossed no enforcement point.
func (v Verdict) Decider() Step {
	for _, s := range v.Steps {
		if s.Final && !s.Allowed {
			return s
		}
	}
	for i := len(v.Steps) - 1; i >= 0; i-- {
		if v.Steps[i].Final {
			return v.Steps[i]
		}
	}
	return Step{Rule: -1}
}

// String renders v for a person: the flow, the verdict, and each step.
func (v Verdict) String() string {
	var b strings.Builder
	verdict := "DENY"
	if v.Allowed {
		verdict = "ALLOW"
	}
	fmt.Fprintf(&b, "%s: %s", v.Flow, verdict)
	if len(v.Steps) == 0 {
		b.WriteString(" (no policy enforcement point on the path)")
	}
	for _, s := range v.Steps {
		fmt.Fprintf(&b, "\n  %s", s)
	}
	return b.String()
}

// Explain judges f: whether it passes, and the path that decided. It
// fails only for a flow it cannot judge (no addresses, an unknown
// protocol, a NodePort without its node).
func (e *Evaluator) Explain(f Flow) (Verdict, error) {
	if err := f.check(); err != nil {
		return Verdict{}, err
	}
	v := Verdict{Flow: f, Allowed: true}
	add := func(s Step) bool {
		v.Steps = append(v.Steps, s)
		if s.Final && !s.Allowed {
			v.Allowed = false
			return false
		}
		return true
	}
	if e.sem == Calico {
		e.cal.explain(f, add)
	} else {
		e.explainKube(f, add)
	}
	return v, nil
}

// Allowed reports whether f passes; it is [Evaluator.Explain] without the
// path, and false for a flow Explain refuses.
func (e *Evaluator) Allowed(f Flow) bool {
	if e.sem == Kubernetes {
		return f.check() == nil && e.kubeAllowed(f)
	}
	v, err := e.Explain(f)
	return err == nil && v.Allowed
}
