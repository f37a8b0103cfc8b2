package ingress

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/originguard/originguard/internal/kubeout"
)

// Render writes objects as one multi-document YAML stream that `kubectl
// apply --server-side -f -` accepts: documents in the given order, each
// starting with "---", keys sorted, no status and no empty
// creationTimestamp. The output depends only on the objects, so it is
// stable across runs and Go versions. It fails only if an object cannot be
// marshalled to JSON, which never happens for objects from [Generate].
func Render(objs ...Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, obj := range objs {
		doc, err := renderOne(obj)
		if err != nil {
			gvk := obj.GetObjectKind().GroupVersionKind()
			return nil, fmt.Errorf("ingress: render %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(doc)
	}
	return buf.Bytes(), nil
}

// renderOne is the deterministic YAML of one object, without its status
// and an empty creationTimestamp, written by [kubeout.Marshal] (as netpol's
// documents are): sigs.k8s.io/yaml.Marshal orders some mapping keys
// differently from run to run (a02, a002, a00b), and labels and annotations
// are the caller's.
func renderOne(obj any) ([]byte, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		if ts, ok := md["creationTimestamp"]; ok && ts == nil {
			delete(md, "creationTimestamp")
		}
	}
	return kubeout.Marshal(m)
}
