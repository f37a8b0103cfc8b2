// Package kubeout is what this module's packages that emit Kubernetes
// objects share: one deterministic multi-document YAML renderer and one
// server-side apply, so that every package writes objects the same way.
//
// It is internal: the public packages wrap it in their own API (netpol's
// Render and Apply, origincert's ApplySecret) and name their errors.
package kubeout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Object is a typed Kubernetes object: a pointer to a struct with
// TypeMeta and ObjectMeta, such as *corev1.Secret or
// *calicov3.GlobalNetworkPolicy.
type Object interface {
	k8sruntime.Object
	metav1.Object
}

// ErrNoTypeMeta marks an object whose apiVersion or kind is empty: it can
// be neither rendered for kubectl nor applied.
var ErrNoTypeMeta = errors.New("object has no apiVersion or kind")

func checkTypeMeta(obj Object) error {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Version == "" || gvk.Kind == "" {
		return fmt.Errorf("%T %q: %w", obj, obj.GetName(), ErrNoTypeMeta)
	}
	return nil
}

// YAML renders objs, in the order given, as one YAML stream that kubectl
// apply -f accepts: every document starts with "---". Equal objects always
// render to equal bytes, and each document is byte for byte what
// sigs.k8s.io/yaml.Marshal makes of the object (JSON field names and
// omitempty rules, keys sorted) wherever that is deterministic; see
// [Marshal] and emit.go. Large inputs are rendered on all CPUs. It fails
// only for an object without TypeMeta.
func YAML(objs ...Object) ([]byte, error) {
	for _, obj := range objs {
		if err := checkTypeMeta(obj); err != nil {
			return nil, err
		}
	}
	docs := make([][]byte, len(objs))
	errs := make([]error, len(objs))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(objs)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var e emitter
			for i := w; i < len(objs); i += workers {
				docs[i], errs[i] = e.marshal(objs[i])
			}
		})
	}
	wg.Wait()
	n := 0
	for i, d := range docs {
		if errs[i] != nil {
			obj := objs[i]
			return nil, fmt.Errorf("%s %q: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), errs[i])
		}
		n += len("---\n") + len(d)
	}
	out := make([]byte, 0, n)
	for _, d := range docs {
		out = append(out, "---\n"...)
		out = append(out, d...)
	}
	return out, nil
}

// Marshal returns what sigs.k8s.io/yaml.Marshal returns for v, about
// twice as fast, and the same bytes every time. That function marshals v
// to JSON, parses the JSON with the YAML parser (to get integers as
// integers) and emits YAML with go.yaml.in/yaml/v2, which sorts each
// mapping's keys starting from Go's random map order with a comparison
// that is not transitive for some keys (a02 < a002 < a00b < a02), so its
// output for such keys varies from run to run. Marshal parses the JSON
// with encoding/json, types numbers as the YAML parser would, orders keys
// bytewise and then stably by the same comparison, and emits with
// go.yaml.in/yaml/v2. The tests compare the two byte for byte wherever
// the comparison is consistent.
func Marshal(v any) ([]byte, error) {
	tree, err := jsonTree(v)
	if err != nil {
		return nil, err
	}
	var e emitter
	return yamlv2.Marshal(e.ordered(tree))
}

// marshal is [Marshal] through the emitter's fast path where it applies.
func (e *emitter) marshal(v any) ([]byte, error) {
	tree, err := jsonTree(v)
	if err != nil {
		return nil, err
	}
	e.buf = e.buf[:0]
	if e.doc(tree) {
		return slices.Clone(e.buf), nil
	}
	return yamlv2.Marshal(e.ordered(tree))
}

// jsonTree is v marshalled to JSON and decoded again, numbers resolved.
func jsonTree(v any) (any, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return numbers(tree)
}

// numbers replaces every json.Number in a decoded JSON tree with int64
// when it is an integer that fits, or float64, as YAML resolves them.
func numbers(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u, nil
		}
		return strconv.ParseFloat(string(x), 64)
	}
	return v, nil
}

// CheckFieldManager returns fieldManager, or fallback when it is empty,
// after the API server's rule: at most 128 printable characters.
func CheckFieldManager(fieldManager, fallback string) (string, error) {
	if fieldManager == "" {
		fieldManager = fallback
	}
	if fieldManager == "" || len(fieldManager) > 128 {
		return "", fmt.Errorf("field manager %q: want 1 to 128 printable characters", fieldManager)
	}
	for _, r := range fieldManager {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("field manager %q: want 1 to 128 printable characters", fieldManager)
		}
	}
	return fieldManager, nil
}

// ApplyOptions are the options of every server-side apply through a typed
// client (kubernetes.Interface with apply configurations): the field
// manager, and Force, so the caller takes ownership of the fields it sets
// and drops the ones it set before and no longer sets. Typed apply
// configurations cannot carry unknown fields, so fieldValidation, which
// these options cannot express, does not matter there; [Apply] sets it.
func ApplyOptions(fieldManager string) metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
}

// PatchOptions are [ApplyOptions] for an apply patch sent as raw JSON, plus
// fieldValidation=Strict: the API server refuses unknown and duplicate
// fields instead of dropping them with a warning.
func PatchOptions(fieldManager string) metav1.PatchOptions {
	force := true
	return metav1.PatchOptions{FieldManager: fieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
}

// Resource is the REST resource of obj's kind: the lower-case plural,
// which is right for every kind this module emits (secrets,
// networkpolicies, globalnetworkpolicies, globalnetworksets,
// hostendpoints).
func Resource(obj Object) schema.GroupVersionResource {
	gvr, _ := meta.UnsafeGuessKindToResource(obj.GetObjectKind().GroupVersionKind())
	return gvr
}

// Apply writes obj with server-side apply (an application/apply-patch
// PATCH of obj's JSON, with [PatchOptions]) as fieldManager and returns
// the object as stored. The namespace is obj's own; cluster-scoped kinds
// have none.
func Apply(ctx context.Context, client dynamic.Interface, obj Object, fieldManager string) (*unstructured.Unstructured, error) {
	if err := checkTypeMeta(obj); err != nil {
		return nil, err
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("%T: no name", obj)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var ri dynamic.ResourceInterface = client.Resource(Resource(obj))
	if ns := obj.GetNamespace(); ns != "" {
		ri = client.Resource(Resource(obj)).Namespace(ns)
	}
	return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, PatchOptions(fieldManager))
}
