package kubeout_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

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
