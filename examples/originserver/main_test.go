package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/origincert"
)

// serverCert makes a self-signed certificate for origin.example, standing in
// for an Origin CA certificate (whose CA key only Cloudflare has).
func serverCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
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
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// zoneCert makes a per-zone origin-pull client certificate, as Cloudflare
// would present it, and the pool of its CA.
func zoneCert(t *testing.T, zone string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	z, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: zone})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := z.Key.TLSCertificate(z.CertificatePEM)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := z.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

// start serves on loopback with 127.0.0.2 as the only edge address and
// returns the address.
func start(t *testing.T, cert tls.Certificate, clientCA *x509.CertPool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, config{cert: cert, clientCA: clientCA, trusted: allowlist.MustParse("127.0.0.2\n")})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// get requests https://origin.example/ at addr from the loopback address
// from, presenting client (if any), with CF-Connecting-IP set.
func get(from, addr string, roots *x509.CertPool, client *tls.Certificate) (string, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	tc := &tls.Config{RootCAs: roots, ServerName: "origin.example"}
	if client != nil {
		tc.Certificates = []tls.Certificate{*client}
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:     func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
		TLSClientConfig: tc,
	}}
	req, _ := http.NewRequest("GET", "https://origin.example/", nil)
	req.Header.Set("CF-Connecting-IP", "203.0.113.9")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.Status + " " + strings.TrimSpace(string(body)), err
}

func TestPerZoneOriginPulls(t *testing.T) {
	cert, roots := serverCert(t)
	client, zoneCA := zoneCert(t, "example.com")
	other, _ := zoneCert(t, "attacker.example")
	addr := start(t, cert, zoneCA)

	got, err := get("127.0.0.2", addr, roots, &client)
	if err != nil {
		t.Fatalf("edge with the zone's certificate: %v", err)
	}
	if !strings.HasPrefix(got, "200 OK visitor 203.0.113.9 via edge 127.0.0.2 (origin pull by ") {
		t.Errorf("edge with the zone's certificate: %q", got)
	}
	for name, c := range map[string]*tls.Certificate{"no client certificate": nil, "another zone's certificate": &other} {
		if got, err := get("127.0.0.2", addr, roots, c); err == nil {
			t.Errorf("edge with %s was served: %q", name, got)
		}
	}
	// A stranger with the right certificate is reset before TLS starts.
	if got, err := get("127.0.0.1", addr, roots, &client); err == nil {
		t.Errorf("a stranger was served: %q", got)
	} else if strings.Contains(err.Error(), "certificate") {
		t.Errorf("a stranger got as far as TLS: %v", err)
	}
}

func TestSharedOriginPullCAByDefault(t *testing.T) {
	cert, roots := serverCert(t)
	client, _ := zoneCert(t, "example.com")
	addr := start(t, cert, nil) // Cloudflare's shared origin-pull CA
	if got, err := get("127.0.0.2", addr, roots, &client); err == nil {
		t.Errorf("a certificate not from Cloudflare's origin-pull CA was accepted: %q", got)
	}
}

func TestLoad(t *testing.T) {
	if _, err := load(":0", "", "", ""); err == nil || !strings.Contains(err.Error(), "-cert and -key") {
		t.Errorf("missing flags: %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	cert, _ := serverCert(t)
	certPEM, keyPEM := pemFiles(t, dir, cert)
	if _, err := load(":0", certPEM, keyPEM, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad CA file: %v", err)
	}
	cfg, err := load(":0", certPEM, keyPEM, "")
	if err != nil || cfg.clientCA != nil {
		t.Errorf("good files: %+v, %v", cfg, err)
	}
}

func pemFiles(t *testing.T, dir string, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pemBlock("CERTIFICATE", cert.Certificate[0]), 0o600)
	os.WriteFile(keyFile, pemBlock("PRIVATE KEY", keyDER), 0o600)
	return certFile, keyFile
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
