package origincert_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/originguard/originguard/internal/testbed"
	"github.com/originguard/originguard/origincert"
)

// apiserver returns a clientset for the test bed's real kube-apiserver and
// a fresh namespace.
func apiserver(t *testing.T) (*rest.Config, kubernetes.Interface, string) {
	t.Helper()
	cfg := testbed.APIServer(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cs, testbed.Namespace(t, cfg)
}

// Every Secret the package builds is accepted by a real apiserver and
// reads back byte for byte.
func TestSecretsOnAPIServer(t *testing.T) {
	_, cs, ns := apiserver(t)
	ctx := context.Background()
	for _, kt := range []origincert.KeyType{origincert.ECDSAP256, origincert.RSA2048} {
		s := secretFor(t, secretSpec{kt: kt})
		s.Namespace, s.Name = ns, "origin-"+string(kt)
		if _, err := origincert.ApplySecret(ctx, cs, s, ""); err != nil {
			t.Fatal(err)
		}
		got, err := cs.CoreV1().Secrets(ns).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.Data, got.Data); diff != "" {
			t.Errorf("%s data (-want +got):\n%s", kt, diff)
		}
		if diff := cmp.Diff(s.Annotations, got.Annotations); diff != "" {
			t.Errorf("%s annotations (-want +got):\n%s", kt, diff)
		}
		if got.Type != corev1.SecretTypeTLS || len(got.ManagedFields) != 1 || got.ManagedFields[0].Manager != origincert.DefaultFieldManager ||
			got.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("%s: type %q managed fields %+v", kt, got.Type, got.ManagedFields)
		}
		if d := origincert.NeedsRenewal(got, origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com"), KeyType: kt}, time.Now()); d.Renew {
			t.Errorf("%s read back: %v", kt, d)
		}
	}
	ca, err := origincert.CASecret(ns, "cloudflare-origin-pull-ca", origincert.OriginPullCAPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := origincert.ApplySecret(ctx, cs, ca, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Secrets(ns).Get(ctx, ca.Name, metav1.GetOptions{})
	if err != nil || string(got.Data["ca.crt"]) != string(origincert.OriginPullCAPEM()) || got.Type != corev1.SecretTypeOpaque {
		t.Errorf("CA secret read back: %v", err)
	}
	// A Secret type the apiserver would refuse is refused: tls without tls.key.
	bad := secretFor(t, secretSpec{dropKey: true})
	bad.Namespace = ns
	if _, err := origincert.ApplySecret(ctx, cs, bad, ""); err == nil || !strings.Contains(err.Error(), "tls.key") {
		t.Errorf("tls Secret without tls.key: %v", err)
	}
}

func TestRenewerOnAPIServer(t *testing.T) {
	cfg, cs, ns := apiserver(t)
	// A second client to the same apiserver whose next PATCH fails, to
	// stand for a crash between issuing and writing the Secret.
	var failPatch atomic.Bool
	broken := rest.CopyConfig(cfg)
	broken.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPatch && failPatch.CompareAndSwap(true, false) {
				return nil, errors.New("injected: process died before the write")
			}
			return rt.RoundTrip(r)
		})
	})
	bcs, err := kubernetes.NewForConfig(broken)
	if err != nil {
		t.Fatal(err)
	}
	renewerFlow(t, cs, bcs, &failPatch, ns)
}

// The same flow on client-go's fake clientset, which has no apiserver
// validation: in addition to, never instead of, the test above.
func TestRenewerFakeClientset(t *testing.T) {
	cs := fake.NewClientset()
	var failPatch atomic.Bool
	renewerFlow(t, cs, cs, &failPatch, "default")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// renewerFlow walks a Secret through issue, no-op, renewal with a grace
// period, failed and repeated revocations, a crash between issuing and
// writing, and replacement of a wrong-type Secret. broken is a clientset
// whose next PATCH fails while *failPatch is set.
func renewerFlow(t *testing.T, cs, broken kubernetes.Interface, failPatch *atomic.Bool, ns string) {
	ctx := context.Background()
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	now := time.Now().UTC()
	r := &origincert.Renewer{Client: c, Kube: cs, Grace: time.Hour, Clock: func() time.Time { return now }}
	target := origincert.Target{Namespace: ns, Name: "origin-tls", Request: origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")}}
	get := func() *corev1.Secret {
		t.Helper()
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, target.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// 1. No Secret: issue and write.
	res, err := r.Reconcile(ctx, target)
	if err != nil || res.Decision.Reason != origincert.ReasonMissing || res.Issued == "" || len(res.Revoked) != 0 {
		t.Fatalf("first reconcile: %+v, %v", res, err)
	}
	id1 := res.Issued
	if s := get(); s.Annotations[origincert.AnnotationCertificateID] != id1 || s.Annotations[origincert.AnnotationRevokePending] != "" {
		t.Fatalf("after issue: annotations %v", s.Annotations)
	}
	// Another manager labels the Secret; renewals must keep the label.
	if _, err := cs.CoreV1().Secrets(ns).Patch(ctx, target.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"web"}}}`), metav1.PatchOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}

	// 2. Nothing to do: no API calls, requeue at the renewal window.
	res, err = r.Reconcile(ctx, target)
	if err != nil || res.Decision.Renew || res.Issued != "" || f.count("POST /certificates") != 1 {
		t.Fatalf("second reconcile: %+v, %v", res, err)
	}
	if want := 335 * 24 * time.Hour; res.RequeueAfter < want-2*time.Hour || res.RequeueAfter > want+2*time.Hour {
		t.Errorf("requeue after %s, want about %s", res.RequeueAfter, want)
	}

	// 3. A hostname is added: renew, and schedule the old one's revocation.
	target.Request.Hostnames = append(origincert.ApexAndWildcard("example.com"), "example.net")
	res, err = r.Reconcile(ctx, target)
	if err != nil || res.Decision.Reason != origincert.ReasonHostnames || res.Issued == "" || res.Issued == id1 {
		t.Fatalf("hostname reconcile: %+v, %v", res, err)
	}
	id2 := res.Issued
	s := get()
	in, err := origincert.ReadSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	wantPending := []origincert.PendingRevoke{{ID: id1, After: now.Add(time.Hour).Truncate(time.Second)}}
	if diff := cmp.Diff(wantPending, in.Pending); diff != "" || in.CertificateID != id2 || s.Labels["team"] != "web" {
		t.Errorf("after renewal: id %s labels %v pending (-want +got):\n%s", in.CertificateID, s.Labels, diff)
	}
	if !f.cert(id1).RevokedAt.IsZero() || res.RequeueAfter > time.Hour || res.RequeueAfter < time.Hour-time.Second {
		t.Errorf("old certificate revoked inside the grace period, or requeue %s", res.RequeueAfter)
	}

	// 4. Grace period over, but revocation fails every time: the record stays.
	now = now.Add(2 * time.Hour)
	for range 4 {
		f.failNext("DELETE /certificates/"+id1, injected{status: 500})
	}
	res, err = r.Reconcile(ctx, target)
	if !errors.Is(err, origincert.ErrServer) || len(res.Revoked) != 0 {
		t.Fatalf("failing revoke: %+v, %v", res, err)
	}
	if in, _ := origincert.ReadSecret(get()); len(in.Pending) != 1 {
		t.Fatalf("pending record lost after a failed revoke: %+v", in.Pending)
	}

	// 5. A crash after revoking but before clearing the record. Cloudflare
	// documents neither its answer to a second revocation nor revoked_at
	// in GET (the fake refuses the DELETE and omits revoked_at), so the
	// re-run cannot prove the revocation: it reports the refusal once,
	// drops the entry, and the next reconcile is clean.
	if err := c.Revoke(ctx, id1); err != nil {
		t.Fatal(err)
	}
	res, err = r.Reconcile(ctx, target)
	if !errors.Is(err, origincert.ErrInvalidRequest) || cmp.Diff([]string{id1}, res.Abandoned) != "" || len(res.Revoked) != 0 {
		t.Fatalf("revoke after crash: %+v, %v", res, err)
	}
	if s := get(); s.Annotations[origincert.AnnotationRevokePending] != "" || s.Annotations[origincert.AnnotationCertificateID] != id2 || s.Labels["team"] != "web" {
		t.Errorf("after revoking: annotations %v labels %v", s.Annotations, s.Labels)
	}
	if res, err = r.Reconcile(ctx, target); err != nil || len(res.Abandoned)+len(res.Revoked) != 0 || res.Issued != "" {
		t.Fatalf("reconcile after the refused revocation: %+v, %v", res, err)
	}

	// 6. A crash between issuing and writing (only where a clientset can
	// fail a PATCH): the re-run issues again; the orphan's key died with
	// the process, and the Secret ends valid with the old one pending.
	if broken != cs {
		target.Request.KeyType = origincert.RSA2048
		failPatch.Store(true)
		rb := *r
		rb.Kube = broken
		if _, err := rb.Reconcile(ctx, target); err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("write failure not reported: %v", err)
		}
		if get().Annotations[origincert.AnnotationCertificateID] != id2 {
			t.Fatal("Secret changed although the write failed")
		}
		res, err = r.Reconcile(ctx, target)
		if err != nil || res.Decision.Reason != origincert.ReasonKeyType {
			t.Fatalf("re-run after crash: %+v, %v", res, err)
		}
		in, err := origincert.ReadSecret(get())
		if err != nil || in.KeyType != origincert.RSA2048 || in.CertificateID != res.Issued || len(in.Pending) != 1 || in.Pending[0].ID != id2 {
			t.Errorf("after crash recovery: %+v, %v", in, err)
		}
		if n := f.count("POST /certificates"); n != 4 {
			t.Errorf("%d certificates issued, want 4 (one orphan)", n)
		}
	}

	// 7. A Secret of the wrong type under the target name is replaced; with
	// no grace period there is nothing pending.
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "opaque", Namespace: ns}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"x": []byte("y")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r0 := *r
	r0.Grace = -1 // revoke at once
	res, err = r0.Reconcile(ctx, origincert.Target{Namespace: ns, Name: "opaque", Request: origincert.Request{Hostnames: []string{"www.example.com"}}})
	if err != nil || res.Decision.Reason != origincert.ReasonWrongType {
		t.Fatalf("wrong type: %+v, %v", res, err)
	}
	s, err = cs.CoreV1().Secrets(ns).Get(ctx, "opaque", metav1.GetOptions{})
	if err != nil || s.Type != corev1.SecretTypeTLS || s.Data["x"] != nil {
		t.Errorf("wrong-type Secret not replaced: %v", err)
	}
}

// A field manager the API server would refuse (more than 128 characters,
// or not printable) is named before any request, through the same check
// netpol's Apply uses.
func TestApplySecretFieldManager(t *testing.T) {
	cs := fake.NewClientset()
	s, err := origincert.CASecret("ns", "ca", origincert.OriginPullCAPEM())
	if err != nil {
		t.Fatal(err)
	}
	for _, fm := range []string{strings.Repeat("m", 129), "bad\nmanager"} {
		_, err := origincert.ApplySecret(context.Background(), cs, s, fm)
		if err == nil || !strings.Contains(err.Error(), "field manager") || strings.Count(err.Error(), "origincert") != 1 {
			t.Errorf("ApplySecret with field manager %q: %v", fm, err)
		}
	}
	if len(cs.Actions()) != 0 {
		t.Errorf("requests sent for a bad field manager: %v", cs.Actions())
	}
	if _, err := origincert.ApplySecret(context.Background(), cs, s, ""); err != nil {
		t.Errorf("default field manager: %v", err)
	}
}
