package origincert_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/originguard/originguard/origincert"
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

// presentedHandshake makes a real TLS handshake to an origin that trusts
// exactly the CA Secret's ca.crt, presenting the client certificate the
// fake Cloudflare presents for hostname. It returns nil when the origin
// admits it.
func presentedHandshake(t *testing.T, f *fakeCloudflare, cs kubernetes.Interface, ns, name, zone, hostname string, host bool, at time.Time) error {
	t.Helper()
	id := f.PresentedClientCertificate(zone, hostname)
	var certs []cloudflaretest.ClientCertificate
	if host {
		certs = f.HostnameClientCertificates(zone)
	} else {
		certs = f.ZoneClientCertificates(zone)
	}
	var client *tls.Certificate
	for _, c := range certs {
		if c.ID == id {
			pair, err := tls.X509KeyPair([]byte(c.PEM), []byte(c.PrivateKey))
			if err != nil {
				t.Fatal(err)
			}
			client = &pair
		}
	}
	if client == nil {
		return fmt.Errorf("Cloudflare presents %q, not an uploaded certificate", id)
	}
	s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data[origincert.CAKey]) {
		t.Fatalf("ca.crt holds no certificate: %q", s.Data[origincert.CAKey])
	}
	cfg, err := origincert.ServerTLSConfig(originCert(t), pool)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Time = func() time.Time { return at } // the origin's clock is the test's
	body, err := get(originServer(t, cfg), client, 0, nil)
	if err == nil && body == "" {
		err = errors.New("empty answer")
	}
	return err
}

// Item 12: an origin-pull client certificate has a lifecycle: upload, wait
// until active, switch, delete the replaced one, renew before expiry —
// and at no point does Cloudflare present a certificate the origin does
// not trust. Checked with real handshakes against ca.crt as stored on the
// real apiserver.
func TestOriginPullRotatorZone(t *testing.T) {
	_, cs, ns := apiserver(t)
	ctx := context.Background()
	f := newFakeCloudflare() // deploys after two reads
	defer f.Close()
	zone := f.zones["example.com"]
	now := time.Now().UTC()
	r := &origincert.OriginPullRotator{Client: newClient(t, f), Kube: cs, Clock: func() time.Time { return now }, PollInterval: time.Second}
	target := origincert.OriginPullTarget{Namespace: ns, Name: "origin-pull-ca", ZoneID: zone,
		Spec: origincert.ZoneClientSpec{Zone: "example.com", Validity: 90 * 24 * time.Hour}}
	trusted := func(step string) {
		t.Helper()
		if err := presentedHandshake(t, f, cs, ns, target.Name, zone, "www.example.com", false, now); err != nil {
			t.Errorf("%s: origin refuses what Cloudflare presents: %v", step, err)
		}
	}

	// 1. Upload; the certificate is still deploying.
	res, err := r.Reconcile(ctx, target)
	if err != nil || res.Uploaded == "" || res.Waiting != res.Uploaded || res.RequeueAfter != time.Second {
		t.Fatalf("first reconcile: %+v, %v", res, err)
	}
	id1 := res.Uploaded
	if s, err := cs.CoreV1().Secrets(ns).Get(ctx, target.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else {
		for k, v := range s.Data {
			if strings.Contains(string(v), "PRIVATE KEY") {
				t.Errorf("the Secret the origin trusts still holds the uploaded client key in %s", k)
			}
		}
	}
	if f.ZoneOriginPulls(zone) {
		t.Error("zone level switched on before the certificate was active")
	}
	// 2. Active: zone level on, the certificate in use.
	res, err = r.Reconcile(ctx, target)
	if err != nil || res.Activated != id1 {
		t.Fatalf("second reconcile: %+v, %v", res, err)
	}
	if !f.ZoneOriginPulls(zone) || f.PresentedClientCertificate(zone, "www.example.com") != id1 {
		t.Fatalf("after switching: presented %q", f.PresentedClientCertificate(zone, "www.example.com"))
	}
	trusted("after the first switch")
	// 3. Steady: nothing to do until the renewal window (a third of 90 days).
	uploads := f.count("POST /zones/" + zone + "/origin_tls_client_auth")
	res, err = r.Reconcile(ctx, target)
	if err != nil || res.Uploaded != "" || res.RequeueAfter < 59*24*time.Hour || res.RequeueAfter > 61*24*time.Hour {
		t.Fatalf("steady: %+v, %v", res, err)
	}

	// 4. In the window: a successor. Its upload answer is lost; the re-run
	// adopts it instead of uploading a second.
	now = now.Add(65 * 24 * time.Hour)
	f.failNext("POST /zones/"+zone+"/origin_tls_client_auth", injected{hangup: true, after: true})
	if _, err := r.Reconcile(ctx, target); !errors.Is(err, origincert.ErrUnavailable) {
		t.Fatalf("lost upload: %v", err)
	}
	trusted("after the lost upload")
	res, err = r.Reconcile(ctx, target)
	if err != nil || res.Uploaded == "" || res.Uploaded == id1 {
		t.Fatalf("adopting: %+v, %v", res, err)
	}
	id2 := res.Uploaded
	if n := f.count("POST /zones/" + zone + "/origin_tls_client_auth"); n != uploads+1 {
		t.Errorf("%d uploads for one successor", n-uploads)
	}
	if n := len(f.ZoneClientCertificates(zone)); n != 2 {
		t.Errorf("%d certificates at Cloudflare, want 2", n)
	}
	trusted("while the successor deploys")
	// 5. Active: switch, and the old one is deleted (over two reads).
	for i := 0; i < 4 && res.Activated == ""; i++ {
		if res, err = r.Reconcile(ctx, target); err != nil {
			t.Fatal(err)
		}
		trusted(fmt.Sprintf("switching, reconcile %d", i))
	}
	if res.Activated != id2 {
		t.Fatalf("successor never activated: %+v", res)
	}
	for i := 0; i < 4 && len(res.Deleted) == 0; i++ {
		if res, err = r.Reconcile(ctx, target); err != nil {
			t.Fatal(err)
		}
		trusted(fmt.Sprintf("deleting, reconcile %d", i))
	}
	if len(res.Deleted) != 1 || res.Deleted[0] != id1 {
		t.Fatalf("replaced certificate not deleted: %+v", res)
	}
	for _, c := range f.ZoneClientCertificates(zone) {
		if want := map[string]string{id1: "deleted", id2: "active"}[c.ID]; c.Status != want {
			t.Errorf("%s is %s, want %s", c.ID, c.Status, want)
		}
	}
	// The old CA is no longer trusted: its certificate would be refused.
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, target.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Annotations[origincert.AnnotationOriginPullID] != id2 || s.Annotations[origincert.AnnotationOriginPullDelete] != "" || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret after rotation: type %s annotations %v", s.Type, s.Annotations)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.Data[origincert.CAKey])
	for _, c := range f.ZoneClientCertificates(zone) {
		pair, _ := tls.X509KeyPair([]byte(c.PEM), []byte(c.PrivateKey))
		_, verr := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if (verr == nil) != (c.ID == id2) {
			t.Errorf("ca.crt trusts %s: %v", c.ID, verr)
		}
	}
}

// Per-hostname: the association moves to the new certificate before the
// old one is deleted (Cloudflare refuses to delete an associated one).
func TestOriginPullRotatorHostname(t *testing.T) {
	_, cs, ns := apiserver(t)
	ctx := context.Background()
	f := newFakeCloudflare(cloudflaretest.WithDeployReads(1))
	defer f.Close()
	zone := f.zones["example.com"]
	now := time.Now().UTC()
	r := &origincert.OriginPullRotator{Client: newClient(t, f), Kube: cs, Clock: func() time.Time { return now }}
	target := origincert.OriginPullTarget{Namespace: ns, Name: "shop-pull-ca", ZoneID: zone, Hostname: "Shop.Example.com",
		Spec: origincert.ZoneClientSpec{Zone: "shop.example.com", Validity: 30 * 24 * time.Hour}}
	var ids []string
	for round := range 2 {
		for i := 0; i < 6; i++ {
			res, err := r.Reconcile(ctx, target)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if res.Activated != "" {
				ids = append(ids, res.Activated)
			}
			if res.Waiting == "" && len(ids) == round+1 && f.PresentedClientCertificate(zone, "shop.example.com") == ids[round] &&
				len(f.HostnameClientCertificates(zone)) == round+1 {
				break
			}
		}
		if err := presentedHandshake(t, f, cs, ns, target.Name, zone, "shop.example.com", true, now); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		now = now.Add(25 * 24 * time.Hour)
	}
	if len(ids) != 2 {
		t.Fatalf("activated %v, want two certificates", ids)
	}
	a, _ := f.HostnameOriginPulls("shop.example.com")
	if a.CertID != ids[1] || !a.Enabled {
		t.Errorf("association %+v, want %s", a, ids[1])
	}
	// Finish deleting the first.
	for range 3 {
		if _, err := r.Reconcile(ctx, target); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range f.HostnameClientCertificates(zone) {
		if c.ID == ids[0] && c.Status != "deleted" {
			t.Errorf("replaced hostname certificate is %s", c.Status)
		}
	}
}

// Taking over a CA Secret that trusts Cloudflare's shared origin-pull CA
// (as CASecret writes it): the shared CA stays trusted until the zone's
// own certificate is in use, and is dropped after.
func TestOriginPullRotatorTakesOverSharedCA(t *testing.T) {
	_, cs, ns := apiserver(t)
	ctx := context.Background()
	f := newFakeCloudflare()
	defer f.Close()
	zone := f.zones["example.com"]
	f.SetSetting(zone, "tls_client_auth", "on") // the shared certificate is presented today
	shared, err := origincert.CASecret(ns, "origin-pull-ca", origincert.OriginPullCAPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := origincert.ApplySecret(ctx, cs, shared, ""); err != nil {
		t.Fatal(err)
	}
	trustsShared := func() bool {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, "origin-pull-ca", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(s.Data[origincert.CAKey]), strings.TrimSpace(string(origincert.OriginPullCAPEM())))
	}
	r := &origincert.OriginPullRotator{Client: newClient(t, f), Kube: cs}
	target := origincert.OriginPullTarget{Namespace: ns, Name: "origin-pull-ca", ZoneID: zone, Spec: origincert.ZoneClientSpec{Zone: "example.com"}}
	var activated bool
	for i := 0; i < 3 && !activated; i++ {
		res, err := r.Reconcile(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		activated = res.Activated != ""
		if !trustsShared() {
			t.Fatalf("reconcile %d (%+v): the shared CA was dropped while Cloudflare still presents it", i, res)
		}
	}
	if !activated {
		t.Fatal("never activated")
	}
	if _, err := r.Reconcile(ctx, target); err != nil {
		t.Fatal(err)
	}
	if trustsShared() {
		t.Error("the shared CA is still trusted after the switch: any Cloudflare zone could reach the origin")
	}
}
