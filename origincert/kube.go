package origincert

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/originguard/originguard/internal/kubeout"
)

// DefaultFieldManager is the server-side apply field manager used when
// none is given.
const DefaultFieldManager = "originguard-origincert"

// ApplySecret writes s with server-side apply as fieldManager (zero means
// [DefaultFieldManager]; at most 128 printable characters, the API
// server's rule, checked before any request), forcing ownership of the fields it sets. Fields
// this manager set before and s no longer has (an annotation) are removed;
// fields other managers own (labels a tool added) are kept. It returns the
// Secret as stored.
func ApplySecret(ctx context.Context, kube kubernetes.Interface, s *corev1.Secret, fieldManager string) (*corev1.Secret, error) {
	if s == nil || s.Name == "" || s.Namespace == "" {
		return nil, errors.New("origincert: apply secret: name and namespace are required")
	}
	fieldManager, err := kubeout.CheckFieldManager(fieldManager, DefaultFieldManager)
	if err != nil {
		return nil, fmt.Errorf("origincert: apply secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	ac := corev1ac.Secret(s.Name, s.Namespace).WithType(s.Type)
	if len(s.Labels) > 0 {
		ac.WithLabels(s.Labels)
	}
	if len(s.Annotations) > 0 {
		ac.WithAnnotations(s.Annotations)
	}
	if len(s.Data) > 0 {
		ac.WithData(s.Data)
	}
	out, err := kube.CoreV1().Secrets(s.Namespace).Apply(ctx, ac, kubeout.ApplyOptions(fieldManager))
	if err != nil {
		return nil, fmt.Errorf("origincert: apply secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return out, nil
}
