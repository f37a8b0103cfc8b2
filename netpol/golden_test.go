package netpol_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/golden"
	"github.com/originguard/originguard/netpol"
)

// TestGolden renders every generator in both Calico forms (the Kubernetes
// objects are the same in both) and compares with testdata/<name>.<form>.yaml.
func TestGolden(t *testing.T) {
	specs := generators()
	specs["preset-namespace"] = netpol.Namespace{Name: "shop", NodeLocalDNS: []netip.Addr{netpol.NodeLocalDNS}}.Spec()
	specs["preset-hosts"] = hosts().Spec()
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			for _, f := range []struct {
				form netpol.Form
				ext  string
			}{{netpol.CalicoAPI, "v3"}, {netpol.CalicoCRD, "crd"}} {
				out, err := spec.Render(f.form)
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, name+"."+f.ext+".yaml", string(out))
			}
		})
	}
}

// TestRenderOrder: whatever the Spec, documents come out as network
// sets, then policies, then host endpoints, which deny their hosts'
// traffic until a policy allows it.
func TestRenderOrder(t *testing.T) {
	spec := netpol.Join(
		netpol.Spec{HostEndpoints: hosts().Spec().HostEndpoints},
		netpol.Namespace{Name: "shop"}.Spec(),
		hosts().Spec(),
	)
	spec.HostEndpoints = spec.HostEndpoints[:1] // the same nodes twice would clash
	for _, form := range []netpol.Form{netpol.CalicoAPI, netpol.CalicoCRD} {
		out, err := spec.Render(form)
		if err != nil {
			t.Fatal(err)
		}
		rank := map[string]int{"GlobalNetworkSet": 0, "GlobalNetworkPolicy": 1, "NetworkPolicy": 2, "HostEndpoint": 3}
		last, kinds := -1, 0
		for _, line := range strings.Split(string(out), "\n") {
			kind, ok := strings.CutPrefix(line, "kind: ")
			if !ok {
				continue
			}
			kinds++
			r, known := rank[kind]
			if !known || r < last {
				t.Fatalf("%s: %s after rank %d:\n%s", form, kind, last, out)
			}
			last = r
		}
		if last != 3 || kinds < 10 {
			t.Errorf("%s: %d documents, last rank %d", form, kinds, last)
		}
	}
}

// TestRenderIsDeterministic: the same Spec renders to the same bytes every
// time, also when node labels mix digits and letters in a way
// go.yaml.in/yaml/v2 (under sigs.k8s.io/yaml) orders differently from run
// to run (a02 < a002 < a00b < a02).
func TestRenderIsDeterministic(t *testing.T) {
	h := hosts()
	for i := range h.Nodes {
		for _, k := range []string{"rack.example.com/a02", "rack.example.com/a002", "rack.example.com/a00b", "a10", "a1b"} {
			h.Nodes[i].Labels[k] = "x"
		}
	}
	spec := netpol.Join(h.Spec(), generators()["dns"])
	first, err := spec.Render(netpol.CalicoCRD)
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		again, err := spec.Render(netpol.CalicoCRD)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(first) {
			t.Fatalf("rendering changed:\n%s\n----\n%s", first, again)
		}
	}
}
