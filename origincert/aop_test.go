package origincert_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/origincert"
)

// originServer serves "hello <client CN>" over TLS on loopback with cfg.
func originServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // rejected handshakes are expected
	}
	go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// originCert issues an origin certificate from the fake Origin CA.
func originCert(t *testing.T) tls.Certificate {
	t.Helper()
	f := newFakeCloudflare()
	defer f.Close()
	cert, err := newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := cert.Key.TLSCertificate(cert.CertificatePEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// clientCert makes a client certificate and key from ca.
func clientCert(t *testing.T, ca *testCA, cn string, notBefore, notAfter time.Time, clientEKU bool) *tls.Certificate {
	t.Helper()
	k, err := origincert.GenerateKey(origincert.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	_, certPEM := ca.sign(leafSpec{pub: k.Public(), cn: cn, notBefore: notBefore, notAfter: notAfter, client: clientEKU})
	pair, err := k.TLSCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}

// get makes one HTTPS request as Cloudflare would: verifying the origin
// against the (test) Origin CA root, presenting client (may be nil).
func get(addr string, client *tls.Certificate, maxVersion uint16, seen *[][]byte) (string, error) {
	roots := x509.NewCertPool()
	roots.AddCert(fakeECCRoot.cert)
	for _, r := range apiRoots {
		roots.AddCert(r)
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: "www.example.com", MinVersion: tls.VersionTLS10, MaxVersion: maxVersion,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if seen != nil {
				*seen = cri.AcceptableCAs
			}
			if client == nil {
				return &tls.Certificate{}, nil
			}
			return client, nil
		}}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestServerTLSConfigHandshakes(t *testing.T) {
	pullCA := newTestCA("test origin-pull CA (stands in for origin-pull.cloudflare.net)", true)
	otherCA := newTestCA("some other CA", true)
	pool := x509.NewCertPool()
	pool.AddCert(pullCA.cert)
	cfg, err := origincert.ServerTLSConfig(originCert(t), pool)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("MinVersion %x ClientAuth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	addr := originServer(t, cfg)
	now := time.Now()
	good := clientCert(t, pullCA, "origin-pull.test", now.Add(-time.Hour), now.Add(time.Hour), true)

	for _, tc := range []struct {
		name   string
		client *tls.Certificate
		max    uint16
		want   string // body, or "" for a rejected connection
	}{
		{"right CA, TLS 1.3", good, 0, "hello origin-pull.test"},
		{"right CA, TLS 1.2", good, tls.VersionTLS12, "hello origin-pull.test"},
		{"no client certificate", nil, 0, ""},
		{"no client certificate, TLS 1.2", nil, tls.VersionTLS12, ""},
		{"expired", clientCert(t, pullCA, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour), true), 0, ""},
		{"not yet valid", clientCert(t, pullCA, "future", now.Add(24*time.Hour), now.Add(48*time.Hour), true), 0, ""},
		{"other CA", clientCert(t, otherCA, "origin-pull.test", now.Add(-time.Hour), now.Add(time.Hour), true), 0, ""},
		{"right CA but server-auth only", clientCert(t, pullCA, "server", now.Add(-time.Hour), now.Add(time.Hour), false), 0, ""},
		{"TLS 1.1", good, tls.VersionTLS11, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := get(addr, tc.client, tc.max, nil)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted, body %q", body)
				}
				return
			}
			if err != nil || body != tc.want {
				t.Fatalf("body %q, err %v; want %q", body, err, tc.want)
			}
		})
	}
}

// By default the server trusts exactly the embedded origin-pull CA: the
// pool is equal to it, the handshake's CertificateRequest names only it,
// and a certificate from a look-alike CA is refused.
func TestServerTLSConfigDefaultTrustsEmbeddedOriginPullCA(t *testing.T) {
	cfg, err := origincert.ServerTLSConfig(originCert(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ClientCAs.Equal(origincert.OriginPullCAPool()) {
		t.Fatal("default ClientCAs is not the embedded origin-pull CA")
	}
	addr := originServer(t, cfg)
	lookalike := newTestCA("origin-pull.cloudflare.net", true)
	now := time.Now()
	var acceptable [][]byte
	_, err = get(addr, clientCert(t, lookalike, "origin-pull.cloudflare.net", now.Add(-time.Hour), now.Add(time.Hour), true), 0, &acceptable)
	if err == nil {
		t.Error("a certificate from a look-alike CA was accepted")
	}
	if len(acceptable) != 1 || !bytes.Equal(acceptable[0], origincert.OriginPullCA().RawSubject) {
		t.Errorf("server asked for client certificates from %d CAs, want only origin-pull.cloudflare.net", len(acceptable))
	}
	if _, err := origincert.ServerTLSConfig(tls.Certificate{}, nil); err == nil {
		t.Error("empty server certificate accepted")
	}
}

// Per-zone origin pulls: the origin trusts a CA made for this zone, so
// the zone's client certificate is accepted and another zone's — which
// would pass a shared-CA check — is not.
func TestZoneClientCertificateHandshakes(t *testing.T) {
	mine, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.net", KeyType: origincert.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := mine.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := origincert.ServerTLSConfig(originCert(t), pool)
	if err != nil {
		t.Fatal(err)
	}
	addr := originServer(t, cfg)
	pair := func(z *origincert.ZoneClientCertificate) *tls.Certificate {
		p, err := z.Key.TLSCertificate(z.CertificatePEM)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	if body, err := get(addr, pair(mine), 0, nil); err != nil || body != "hello cloudflare origin pull for example.com" {
		t.Errorf("own zone: body %q, err %v", body, err)
	}
	if _, err := get(addr, pair(theirs), 0, nil); err == nil {
		t.Error("another zone's certificate was accepted")
	}
	// The CA key is gone: the CA certificate is a CA, the client
	// certificate is for client auth only, and expiry follows the spec.
	block, _ := pem.Decode(mine.CAPEM)
	ca, _ := x509.ParseCertificate(block.Bytes)
	block, _ = pem.Decode(mine.CertificatePEM)
	leaf, _ := x509.ParseCertificate(block.Bytes)
	if !ca.IsCA || leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || leaf.CheckSignatureFrom(ca) != nil {
		t.Error("per-zone CA / client certificate shape is wrong")
	}
	if d := time.Until(mine.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("default validity ends in %s", d)
	}
	if _, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "not a zone", KeyType: "dsa", Validity: -1}); err == nil ||
		!strings.Contains(err.Error(), `"not a zone"`) || !strings.Contains(err.Error(), `"dsa"`) || !strings.Contains(err.Error(), "negative") {
		t.Errorf("bad spec: err = %v", err)
	}
}

func TestTLSCertificateMismatch(t *testing.T) {
	a, _ := origincert.GenerateKey("")
	b, _ := origincert.GenerateKey("")
	_, certPEM := fakeECCRoot.sign(leafSpec{pub: a.Public(), dnsNames: []string{"example.com"}, notBefore: time.Now(), notAfter: time.Now().Add(time.Hour)})
	if _, err := b.TLSCertificate(certPEM); !errors.Is(err, origincert.ErrKeyMismatch) {
		t.Errorf("err = %v, want ErrKeyMismatch", err)
	}
}
