package testbed_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/originguard/originguard/internal/testbed"
)

const manager = "testbed-smoke"

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestAPIServerVersion proves the binary was built with the version
// ldflags: it reports the k8s.io/kubernetes version pinned in hack/kube.
func TestAPIServerVersion(t *testing.T) {
	cfg := testbed.APIServer(t)
	want := pinnedKubeVersion(t)
	v, err := clientset(t, cfg).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != want {
		t.Errorf("server version %q, want %q (pinned in hack/kube/go.mod)", v.GitVersion, want)
	}
}

func pinnedKubeVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../../hack/kube/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(sc.Text(), "require "))
		if len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			return fields[1]
		}
	}
	t.Fatal("hack/kube/go.mod does not require k8s.io/kubernetes")
	return ""
}

func TestApplyNetworkPolicy(t *testing.T) {
	cfg := testbed.APIServer(t)
	ns := testbed.Namespace(t, cfg)
	cs := clientset(t, cfg)
	ctx := context.Background()

	np := networkingv1ac.NetworkPolicy("allow-edge", ns).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "web"})).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(networkingv1ac.NetworkPolicyIngressRule().
				WithFrom(networkingv1ac.NetworkPolicyPeer().WithIPBlock(
					networkingv1ac.IPBlock().WithCIDR("192.0.2.0/24").WithExcept("192.0.2.128/25"))).
				WithPorts(networkingv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolTCP).WithPort(intstr.FromInt32(443)))))
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Apply(ctx, np, metav1.ApplyOptions{FieldManager: manager, Force: true}); err != nil {
		t.Fatalf("apply: %v", err)
	}

	got, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, "allow-edge", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tcp, https := corev1.ProtocolTCP, intstr.FromInt32(443)
	want := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.128/25"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &https}},
		}},
	}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("read back spec (-want +got):\n%s", diff)
	}
	if !managedBy(got.ManagedFields, manager) {
		t.Errorf("managed fields %v lack an Apply entry by %q", got.ManagedFields, manager)
	}
}

func managedBy(entries []metav1.ManagedFieldsEntry, manager string) bool {
	for _, e := range entries {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// TestRejectInvalidNetworkPolicy shows the apiserver's validation at work: an
// except outside its cidr is refused.
func TestRejectInvalidNetworkPolicy(t *testing.T) {
	cfg := testbed.APIServer(t)
	ns := testbed.Namespace(t, cfg)
	np := networkingv1ac.NetworkPolicy("bad-except", ns).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector()).
			WithIngress(networkingv1ac.NetworkPolicyIngressRule().
				WithFrom(networkingv1ac.NetworkPolicyPeer().WithIPBlock(
					networkingv1ac.IPBlock().WithCIDR("192.0.2.0/24").WithExcept("198.51.100.0/24")))))
	_, err := clientset(t, cfg).NetworkingV1().NetworkPolicies(ns).Apply(context.Background(), np, metav1.ApplyOptions{FieldManager: manager, Force: true})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("apply with except outside cidr: err = %v, want Invalid", err)
	}
	if !strings.Contains(err.Error(), "spec.ingress[0].from[0].ipBlock.except[0]") {
		t.Errorf("error %q does not point at the except", err)
	}
}

func TestApplyTLSSecret(t *testing.T) {
	cfg := testbed.APIServer(t)
	ns := testbed.Namespace(t, cfg)
	cs := clientset(t, cfg)
	ctx := context.Background()
	certPEM, keyPEM := selfSigned(t)

	s := corev1ac.Secret("origin-tls", ns).
		WithType(corev1.SecretTypeTLS).
		WithData(map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM})
	if _, err := cs.CoreV1().Secrets(ns).Apply(ctx, s, metav1.ApplyOptions{FieldManager: manager, Force: true}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	got, err := cs.CoreV1().Secrets(ns).Get(ctx, "origin-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != corev1.SecretTypeTLS {
		t.Errorf("type %q, want %q", got.Type, corev1.SecretTypeTLS)
	}
	want := map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}
	if diff := cmp.Diff(want, got.Data); diff != "" {
		t.Errorf("read back data (-want +got):\n%s", diff)
	}

	// A kubernetes.io/tls Secret without its key is refused.
	bad := corev1ac.Secret("origin-tls-no-key", ns).
		WithType(corev1.SecretTypeTLS).
		WithData(map[string][]byte{corev1.TLSCertKey: certPEM})
	_, err = cs.CoreV1().Secrets(ns).Apply(ctx, bad, metav1.ApplyOptions{FieldManager: manager, Force: true})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), corev1.TLSPrivateKeyKey) {
		t.Errorf("apply TLS Secret without %s: err = %v, want Invalid naming it", corev1.TLSPrivateKeyKey, err)
	}
}

// TestRBACIsOn shows that only the admin identity may act: another user gets
// Forbidden.
func TestRBACIsOn(t *testing.T) {
	cfg := testbed.APIServer(t)
	ns := testbed.Namespace(t, cfg)
	ctx := context.Background()
	if _, err := clientset(t, cfg).CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("admin list secrets: %v", err)
	}
	nobody := rest.CopyConfig(cfg)
	nobody.Impersonate = rest.ImpersonationConfig{UserName: "originguard-nobody"}
	_, err := clientset(t, nobody).CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("unprivileged list secrets: err = %v, want Forbidden", err)
	}
}

func TestNamespacesAreFreshAndDistinct(t *testing.T) {
	cfg := testbed.APIServer(t)
	a, b := testbed.Namespace(t, cfg), testbed.Namespace(t, cfg)
	if a == b {
		t.Fatalf("two namespaces named %q", a)
	}
	got, err := clientset(t, cfg).CoreV1().Namespaces().Get(context.Background(), a, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace %s phase %q, want Active", a, got.Status.Phase)
	}
	if !strings.HasPrefix(a, "testnamespacesarefreshanddistinct-") {
		t.Errorf("namespace %q is not named after the test", a)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "origin.example"},
		DNSNames:     []string{"origin.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
