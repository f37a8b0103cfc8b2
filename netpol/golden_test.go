package netpol_test

import (
	"net/netip"
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
