package origincert_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/originguard/originguard/origincert"
)

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		kt   origincert.KeyType
		bits int // 0 for ECDSA P-256
		req  string
	}{
		{"", 0, "origin-ecc"},
		{origincert.ECDSAP256, 0, "origin-ecc"},
		{origincert.RSA2048, 2048, "origin-rsa"},
		{origincert.RSA3072, 3072, "origin-rsa"},
		{origincert.RSA4096, 4096, "origin-rsa"},
	} {
		k, err := origincert.GenerateKey(tc.kt)
		if err != nil {
			t.Fatal(err)
		}
		switch pub := k.Public().(type) {
		case *ecdsa.PublicKey:
			if tc.bits != 0 || pub.Curve.Params().Name != "P-256" {
				t.Errorf("%q: got ECDSA %s", tc.kt, pub.Curve.Params().Name)
			}
		case *rsa.PublicKey:
			if pub.N.BitLen() != tc.bits {
				t.Errorf("%q: got RSA %d", tc.kt, pub.N.BitLen())
			}
		}
		if got := k.Type().RequestType(); got != tc.req {
			t.Errorf("%q: request type %q, want %q", tc.kt, got, tc.req)
		}
	}
	if _, err := origincert.GenerateKey("rsa-1024"); err == nil || !strings.Contains(err.Error(), `"rsa-1024"`) {
		t.Errorf("rsa-1024: err = %v", err)
	}
}

// The key must not come out through any printing path: fmt verbs on the
// key and on structs holding it, JSON, and slog.
func TestPrivateKeyNeverPrinted(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	cert, err := newClient(t, f).Issue(t.Context(), origincert.Request{Hostnames: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := origincert.TLSSecret("ns", "name", cert)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := s.Data[corev1.TLSPrivateKeyKey]
	block, _ := pem.Decode(keyPEM)
	der := block.Bytes
	k, _ := x509.ParsePKCS8PrivateKey(der)
	d := k.(*ecdsa.PrivateKey).D
	secrets := []string{
		string(keyPEM), base64.StdEncoding.EncodeToString(der)[:40], fmt.Sprintf("%x", der)[:40],
		d.String(), d.Text(16), "PRIVATE KEY",
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		fmt.Fprintf(&out, verb+"\n", cert.Key)
		fmt.Fprintf(&out, verb+"\n", *cert.Key)
		fmt.Fprintf(&out, verb+"\n", cert)
		fmt.Fprintf(&out, verb+"\n", *cert)
		fmt.Fprintf(&out, verb+"\n", []any{cert.Key, map[string]any{"k": cert.Key}})
	}
	fmt.Fprintln(&out, cert.Key, *cert)
	j, err := json.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	slog.New(slog.NewTextHandler(&out, nil)).Info("issued", "key", cert.Key, "cert", cert)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("issued", "key", cert.Key, "keyval", *cert.Key)
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Fatalf("output contains key material %.20q…", s)
		}
	}
	if !strings.Contains(out.String(), "origincert.PrivateKey(ecdsa-p256, REDACTED)") {
		t.Errorf("redacted form missing from output:\n%.300s", out.String())
	}
}

func TestNewCSR(t *testing.T) {
	k, err := origincert.GenerateKey(origincert.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	p, err := origincert.NewCSR(k, []string{"Example.COM", "*.example.com", "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("not a PEM CSR: %q", p)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Error(err)
	}
	if diff := cmp.Diff([]string{"example.com", "*.example.com"}, csr.DNSNames); diff != "" {
		t.Errorf("SANs (-want +got):\n%s", diff)
	}
	if csr.Subject.CommonName != "example.com" || !k.Public().(*rsa.PublicKey).Equal(csr.PublicKey) {
		t.Errorf("CN %q or public key wrong", csr.Subject.CommonName)
	}
	if _, err := origincert.NewCSR(k, nil); err == nil {
		t.Error("CSR with no hostnames")
	}
}

func TestValidateHostnames(t *testing.T) {
	for _, h := range []string{"example.com", "*.example.com", "a-b.c.example.co.uk", "xn--bcher-kva.example", "EXAMPLE.com."} {
		if err := origincert.ValidateHostnames([]string{h}); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"", "com", "*.com", "a.*.example.com", "*", "exa mple.com", "-a.example.com", "a-.example.com",
		"a..example.com", "192.0.2.1", "2001:db8::1", "ex_ample.com", strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "com", "**.example.com"} {
		err := origincert.ValidateHostnames([]string{"example.com", h})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", h)) {
			t.Errorf("%q: err = %v, want an error quoting it", h, err)
		}
	}
	if err := origincert.ValidateHostnames(nil); err == nil {
		t.Error("empty list accepted")
	}
	if diff := cmp.Diff([]string{"example.com", "*.example.com"}, origincert.ApexAndWildcard(" Example.com. ")); diff != "" {
		t.Errorf("ApexAndWildcard (-want +got):\n%s", diff)
	}
}

func TestRoundValidity(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   time.Duration
		want int
	}{
		{0, 365}, {time.Nanosecond, 7}, {7 * day, 7}, {7*day + 1, 30}, {30 * day, 30}, {31 * day, 90}, {90 * day, 90},
		{91 * day, 365}, {365 * day, 365}, {366 * day, 730}, {730 * day, 730}, {731 * day, 1095}, {1095 * day, 1095},
		{1096 * day, 5475}, {5475 * day, 5475},
	} {
		got, err := origincert.RoundValidity(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("RoundValidity(%s) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []time.Duration{-time.Second, 5475*day + 1} {
		if _, err := origincert.RoundValidity(bad); err == nil {
			t.Errorf("RoundValidity(%s) accepted", bad)
		}
	}
}
