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
	"unicode"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// Object is a typed Kubernetes object: a pointer to a struct with
// TypeMeta and ObjectMeta, such as *corev1.Secret or
// *calicov3.GlobalNetworkPolicy.
type Object interface {
	runtime.Object
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
// apply -f accepts: every document starts with "---". Rendering goes
// through sigs.k8s.io/yaml (JSON field names and omitempty rules, map keys
// sorted), so equal objects always render to equal bytes. It fails only
// for an object without TypeMeta.
func YAML(objs ...Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, obj := range objs {
		if err := checkTypeMeta(obj); err != nil {
			return nil, err
		}
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes(), nil
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
