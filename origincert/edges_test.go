package origincert_test

// Tests for issue 10: renewal at the edges (items 4, 5, 6, 10), against
// the fake API and the test bed's real kube-apiserver. Each fails on the
// code before the issue.

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/originguard/originguard/origincert"
)

// Item 4: with a 7- or 30-day validity and the default window, a fresh
// certificate is not "expiring": three reconciles issue one certificate
// and requeue for weeks, not seconds.
func TestRenewerNoLoopOnShortValidity(t *testing.T) {
	_, cs, ns := apiserver(t)
	ctx := context.Background()
	for _, days := range []int{7, 30} {
		f := newFakeCloudflare()
		c := newClient(t, f)
		r := &origincert.Renewer{Client: c, Kube: cs}
		target := origincert.Target{Namespace: ns, Name: fmt.Sprintf("short-%d", days),
			Request: origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), Validity: time.Duration(days) * 24 * time.Hour}}
		var last origincert.Result
		for i := range 3 {
			res, err := r.Reconcile(ctx, target)
			if err != nil {
				t.Fatalf("%d days, reconcile %d: %v", days, i+1, err)
			}
			last = res
		}
		if n := f.count("POST /certificates"); n != 1 {
			t.Errorf("%d days: %d certificates issued in 3 reconciles, want 1", days, n)
		}
		lifetime := time.Duration(days) * 24 * time.Hour
		if want := lifetime * 2 / 3; last.RequeueAfter < want-time.Hour || last.RequeueAfter > want+time.Hour {
			t.Errorf("%d days: requeue after %s, want about %s", days, last.RequeueAfter, want)
		}
		f.Close()
	}
}

// Item 4: a renewal window as long as the validity is refused up front.
func TestTargetRejectsWindowPastValidity(t *testing.T) {
	for _, tc := range []struct {
		validity, before time.Duration
		ok               bool
	}{
		{30 * 24 * time.Hour, 30 * 24 * time.Hour, false},
		{7 * 24 * time.Hour, origincert.DefaultRenewBefore, false},
		{0, 400 * 24 * time.Hour, false},                 // default validity is 365 days
		{20 * 24 * time.Hour, 29 * 24 * time.Hour, true}, // 20 days round up to 30
		{30 * 24 * time.Hour, 10 * 24 * time.Hour, true},
	} {
		target := origincert.Target{Namespace: "web", Name: "t", RenewBefore: tc.before,
			Request: origincert.Request{Hostnames: []string{"example.com"}, Validity: tc.validity}}
		err := target.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("validity %s, renew before %s: %v", tc.validity, tc.before, err)
		}
		if err != nil && !strings.Contains(err.Error(), "renew-before") {
			t.Errorf("error does not name renew-before: %v", err)
		}
	}
}

// Item 5: the zero Grace is not "revoke at once": the replaced
// certificate stays valid for DefaultGrace, long enough for kubelet and
// ingress controllers to load its successor.
func TestRenewerDefaultGrace(t *testing.T) {
	_, cs, ns := apiserver(t)
	ctx := context.Background()
	f := newFakeCloudflare()
	defer f.Close()
	now := time.Now().UTC()
	r := &origincert.Renewer{Client: newClient(t, f), Kube: cs, Clock: func() time.Time { return now }}
	target := origincert.Target{Namespace: ns, Name: "grace", Request: origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")}}
	res, err := r.Reconcile(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	old := res.Issued
	target.Request.Hostnames = append(target.Request.Hostnames, "example.net")
	res, err = r.Reconcile(ctx, target)
	if err != nil || len(res.Revoked) != 0 {
		t.Fatalf("renewal revoked at once: %+v, %v", res, err)
	}
	if c := f.cert(old); !c.RevokedAt.IsZero() {
		t.Error("old certificate revoked right after the Secret write")
	}
	if origincert.DefaultGrace < 10*time.Minute {
		t.Errorf("DefaultGrace %s is shorter than kubelet's Secret refresh", origincert.DefaultGrace)
	}
	if d := origincert.DefaultGrace - res.RequeueAfter; d < 0 || d > time.Second {
		t.Errorf("requeue after %s, want the grace period %s", res.RequeueAfter, origincert.DefaultGrace)
	}
	now = now.Add(origincert.DefaultGrace)
	if res, err = r.Reconcile(ctx, target); err != nil || len(res.Revoked) != 1 || res.Revoked[0] != old {
		t.Errorf("after the grace period: %+v, %v", res, err)
	}
}

// Item 6: the roots' expiry is exported; a validity that outlives them
// and a root expiring within the window are warned about.
func TestOriginCARootsExpiry(t *testing.T) {
	want := time.Date(2029, 8, 15, 0, 0, 0, 0, time.UTC)
	if got := origincert.OriginCARootsExpiry(); got.Truncate(24*time.Hour) != want {
		t.Errorf("OriginCARootsExpiry = %s, want 2029-08-15", got)
	}
	for _, kt := range []origincert.KeyType{origincert.ECDSAP256, origincert.RSA2048} {
		root, _ := origincert.OriginCARoot(kt)
		if root.NotAfter.Before(origincert.OriginCARootsExpiry()) {
			t.Errorf("%s root expires %s, before OriginCARootsExpiry", kt, root.NotAfter)
		}
	}

	f := newFakeCloudflare()
	defer f.Close()
	ctx := context.Background()
	cs := fake.NewClientset()
	r := &origincert.Renewer{Client: newClient(t, f), Kube: cs}
	res, err := r.Reconcile(ctx, origincert.Target{Namespace: "web", Name: "long", Request: origincert.Request{Hostnames: []string{"example.com"}, Validity: 5475 * 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "Origin CA roots") {
		t.Errorf("a 5475-day certificate was issued without a warning: %q", res.Warnings)
	}
	// NeedsRenewal warns on the Secret: outliving ca.crt, and ca.crt
	// expiring inside the renewal window.
	long := secretFor(t, secretSpec{notAfter: origincert.OriginCARootsExpiry().Add(24 * time.Hour)})
	d := origincert.NeedsRenewal(long, origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com")}, time.Now())
	if d.Renew || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "outlives the Origin CA root") {
		t.Errorf("decision %v, warnings %q", d, d.Warnings)
	}
	late := origincert.OriginCARootsExpiry().Add(-10 * 24 * time.Hour)
	s := secretFor(t, secretSpec{notBefore: late.Add(-200 * 24 * time.Hour), notAfter: late.Add(165 * 24 * time.Hour)})
	d = origincert.NeedsRenewal(s, origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com")}, late)
	if !slicesContainsSubstring(d.Warnings, "expires at 2029-08-15") {
		t.Errorf("no warning 10 days before the roots expire: %q", d.Warnings)
	}
}

func slicesContainsSubstring(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Item 10: a key as `openssl ecparam -genkey` writes it (EC PARAMETERS
// before EC PRIVATE KEY) is read, as tls.X509KeyPair reads it, instead of
// forcing a re-issue.
func TestECParametersBeforeKey(t *testing.T) {
	s := secretFor(t, secretSpec{})
	in, err := origincert.ReadSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	// Re-encode the Secret's own key as SEC 1 behind an EC PARAMETERS block.
	block, _ := pem.Decode(s.Data[corev1.TLSPrivateKeyKey])
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(parsed.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}) // OID prime256v1
	s.Data[corev1.TLSPrivateKeyKey] = append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...)
	got, err := origincert.ReadSecret(s)
	if err != nil {
		t.Fatalf("ReadSecret: %v", err)
	}
	if !got.Key.Public().(*ecdsa.PublicKey).Equal(in.Key.Public()) {
		t.Error("a different key was read")
	}
	if d := origincert.NeedsRenewal(s, origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com")}, time.Now()); d.Renew {
		t.Errorf("decision %v", d)
	}
}
