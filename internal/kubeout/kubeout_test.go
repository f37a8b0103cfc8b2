package kubeout_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/originguard/originguard/internal/kubeout"
	"github.com/originguard/originguard/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

func secret(ns string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s", Labels: map[string]string{"b": "2", "a": "1"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"z": []byte("last"), "k": []byte("v")},
	}
}

// TestYAMLIsDeterministic: map keys sorted, one document per object,
// TypeMeta required.
func TestYAMLIsDeterministic(t *testing.T) {
	want := `---
apiVersion: v1
data:
  k: dg==
  z: bGFzdA==
kind: Secret
metadata:
  labels:
    a: "1"
    b: "2"
  name: s
  namespace: ns
type: Opaque
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
`
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "c"}}
	for range 20 {
		got, err := kubeout.YAML(secret("ns"), cm)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, string(got)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	}
	_, err := kubeout.YAML(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bare"}})
	if !errors.Is(err, kubeout.ErrNoTypeMeta) || !strings.Contains(err.Error(), "bare") {
		t.Errorf("no TypeMeta: err = %v, want ErrNoTypeMeta naming the object", err)
	}
}

func TestCheckFieldManager(t *testing.T) {
	if got, err := kubeout.CheckFieldManager("", "fallback"); err != nil || got != "fallback" {
		t.Errorf("empty: %q, %v", got, err)
	}
	if got, err := kubeout.CheckFieldManager("mine", "fallback"); err != nil || got != "mine" {
		t.Errorf("given: %q, %v", got, err)
	}
	for _, bad := range []string{strings.Repeat("x", 129), "tab\there"} {
		if _, err := kubeout.CheckFieldManager(bad, "f"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// unknownField is a Secret with a field the API does not have.
type unknownField struct {
	corev1.Secret `json:",inline"`
	Extra         string `json:"extra"`
}

func (u *unknownField) DeepCopyObject() runtime.Object { c := *u; return &c }

// TestApply applies on the real API server: the object is stored as
// sent, owned by the field manager with an Apply entry; a second apply
// without a field takes it away; an unknown field is refused
// (fieldValidation=Strict), not dropped.
func TestApply(t *testing.T) {
	cfg := testbed.APIServer(t)
	ns := testbed.Namespace(t, cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := secret(ns)
	got, err := kubeout.Apply(ctx, dyn, s, "kubeout-test")
	if err != nil {
		t.Fatal(err)
	}
	var stored corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &stored); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Data, stored.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	managed := false
	for _, e := range stored.ManagedFields {
		managed = managed || e.Manager == "kubeout-test" && e.Operation == metav1.ManagedFieldsOperationApply
	}
	if !managed {
		t.Errorf("no Apply entry by kubeout-test in %v", stored.ManagedFields)
	}

	s.Labels = map[string]string{"a": "1"}
	got, err = kubeout.Apply(ctx, dyn, s, "kubeout-test")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, got.GetLabels()); diff != "" {
		t.Errorf("labels after dropping b (-want +got):\n%s", diff)
	}

	bad := &unknownField{Secret: *secret(ns), Extra: "x"}
	bad.Name = "unknown"
	if _, err := kubeout.Apply(ctx, dyn, bad, "kubeout-test"); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("unknown field: err = %v, want a refusal naming it", err)
	}
}

// TestMarshalIsSigsYAML: Marshal gives byte for byte what
// sigs.k8s.io/yaml.Marshal gives, for values that stress number typing,
// quoting, line folding and key order, wherever sigs.k8s.io/yaml is
// deterministic (see TestKeyOrderIsDeterministic).
func TestMarshalIsSigsYAML(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "true", "false", "null", "~", "yes", "no", "on", "1", "1.5", "-0", "0x1f", "1e3", "1:20", ".inf", "a: b", "- x", "#c", "'q'", "\"dq\"",
		"multi\nline", " lead", "trail ", "ünïcode", "has(kubernetes.io/hostname)", `originguard.io/set == "edge"`, "global()", "30000:32767", "*", "&a", "!tag", "%p", "@", "`",
		strings.Repeat("long words that the emitter folds ", 5), "2001:db8::/32", "169.254.169.254/32", "{a}", "[b]", "x,y", "?", "|", ">"}
	nums := []any{0, 1, -1, 53, 65535, 1000000, 1 << 40, int64(-1) << 62, uint64(1) << 63, 0.5, 10.5, 1e6, 1e21, 1e-7, -2.25, 3.0}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(6); {
		case k == 0 && depth < 4:
			m := map[string]any{}
			for range r.IntN(5) {
				m[strs[r.IntN(len(strs))]] = value(depth + 1)
			}
			return m
		case k == 1 && depth < 4:
			var l []any
			for range r.IntN(4) {
				l = append(l, value(depth+1))
			}
			return l
		case k == 2:
			return nums[r.IntN(len(nums))]
		case k == 3:
			return r.IntN(2) == 0
		case k == 4:
			return nil
		default:
			return strs[r.IntN(len(strs))]
		}
	}
	check := func(v any) {
		t.Helper()
		want, werr := sigsyaml.Marshal(v)
		got, gerr := kubeout.Marshal(v)
		if (werr != nil) != (gerr != nil) || string(got) != string(want) {
			t.Fatalf("value %#v:\nsigs: %q %v\nfast: %q %v", v, want, werr, got, gerr)
		}
	}
	for range 3000 {
		v := map[string]any{"spec": value(0)}
		if !kubeout.Transitive(v) {
			continue // sigs.k8s.io/yaml's own output varies from run to run
		}
		check(v)
	}
	check(secret("ns"))
	order := 1e6
	check(&calicov3.GlobalNetworkPolicy{Spec: calicov3.GlobalNetworkPolicySpec{Order: &order}})
}

// BenchmarkMarshal compares Marshal with sigs.k8s.io/yaml.Marshal, which
// it replaces, on a Calico policy with ports, selectors and annotations.
func BenchmarkMarshal(b *testing.B) {
	order := 110.0
	tcp := numorstring.ProtocolFromString("TCP")
	p := &calicov3.GlobalNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "originguard-host-node"},
		Spec:       calicov3.GlobalNetworkPolicySpec{Order: &order, Selector: "has(kubernetes.io/hostname)", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress}},
	}
	for port := range uint16(8) {
		p.Spec.Ingress = append(p.Spec.Ingress, calicov3.Rule{
			Action: calicov3.Allow, Protocol: &tcp,
			Source:      calicov3.EntityRule{Nets: []string{"10.0.0.0/16", "fd00:10::/56"}},
			Destination: calicov3.EntityRule{Ports: []numorstring.Port{numorstring.SinglePort(10250 + port)}},
			Metadata:    &calicov3.RuleMetadata{Annotations: map[string]string{"originguard.io/why": "kubelet API: the API server calls it for exec, logs and port-forward"}},
		})
	}
	b.Run("sigs.k8s.io/yaml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sigsyaml.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kubeout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kubeout.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
