package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// crdResource is apiextensions.k8s.io/v1 customresourcedefinitions. CRDs are
// handled as unstructured objects because the typed ones live in
// k8s.io/apiextensions-apiserver, which this module does not depend on.
var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// FieldManager is the server-side-apply field manager of the test bed's own
// writes.
const FieldManager = "originguard-testbed"

// InstallCRDs applies the CustomResourceDefinitions (server-side apply,
// forced) and waits until every one is Established, so custom objects can be
// created at once. Installing the same CRDs again is a no-op.
func InstallCRDs(t testing.TB, cfg *rest.Config, crds ...*unstructured.Unstructured) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("testbed: dynamic client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := dyn.Resource(crdResource)
	for _, crd := range crds {
		if crd.GetKind() != "CustomResourceDefinition" {
			t.Fatalf("testbed: InstallCRDs: %s %q is not a CustomResourceDefinition", crd.GetKind(), crd.GetName())
		}
		if _, err := client.Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			t.Fatalf("testbed: apply CRD %s: %v", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, client, crd.GetName()); err != nil {
			t.Fatalf("testbed: CRD %s: %v", crd.GetName(), err)
		}
	}
}

func waitEstablished(ctx context.Context, client dynamic.ResourceInterface, name string) error {
	for {
		obj, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
			if m["type"] == "NamesAccepted" && m["status"] == "False" {
				return fmt.Errorf("names not accepted: %v", m["message"])
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not Established: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DecodeObjects decodes a YAML (or JSON) stream of Kubernetes objects,
// skipping empty documents.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}
