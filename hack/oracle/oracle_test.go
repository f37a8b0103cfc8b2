package oracle

import (
	"fmt"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
)

// TestDifferential: on seeded random NetworkPolicies and flows, netpol's
// evaluator under Kubernetes semantics gives the verdict of the
// reference implementation's own engine on every flow. Cyclonus' matcher
// is not an oracle: it reads a NotIn selector as not matching a pod
// without the label, where Kubernetes label selectors match it; its
// disagreements are counted and logged.
func TestDifferential(t *testing.T) {
	total, allowed, cyclonusDiffers := 0, 0, 0
	for seed := range uint64(60) {
		w := newWorld(seed, 30, 10)
		ev, ref := ours(t, w), newReference(t, w)
		cyc := matcher.BuildNetworkPolicies(false, w.policies)
		for _, f := range w.flows(seed, 300) {
			got, want := ev.Allowed(f.ours), ref.allowed(t, &f)
			if got != want {
				v, _ := ev.Explain(f.ours)
				t.Fatalf("seed %d: netpol %v, kube-network-policies %v\n%s\npolicies:\n%s", seed, got, want, v, dump(w))
			}
			if c := cyc.IsTrafficAllowed(f.cyclonus).IsAllowed(); c != want {
				if cyclonusDiffers == 0 {
					v, _ := ev.Explain(f.ours)
					t.Logf("seed %d: cyclonus %v, kube-network-policies %v, e.g.\n%s", seed, c, want, v)
				}
				cyclonusDiffers++
			}
			total++
			if got {
				allowed++
			}
		}
	}
	t.Logf("%d flows agree with kube-network-policies, %d allowed; cyclonus differs on %d", total, allowed, cyclonusDiffers)
	if allowed < total/5 || allowed > total*4/5 {
		t.Errorf("%d of %d allowed: the draw tests too little of one side", allowed, total)
	}
}

func dump(w *world) string {
	s := ""
	for _, np := range w.policies {
		s += fmt.Sprintf("%s/%s %+v\n", np.Namespace, np.Name, np.Spec)
	}
	return s
}
