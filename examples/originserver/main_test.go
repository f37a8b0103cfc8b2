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
	"sync"
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
	caMu.Lock()
	caByCert[string(cert.Certificate[0])] = z.CAPEM
	caMu.Unlock()
	return cert, pool
}

var (
	caMu     sync.Mutex
	caByCert = map[string][]byte{} // client certificate DER -> its CA's PEM
)

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
		static := func() (*tls.Config, error) { return origincert.ServerTLSConfig(cert, clientCA) }
		done <- serve(ctx, ln, config{tls: static, trusted: allowlist.MustParse("127.0.0.2\n")})
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
	if err != nil {
		t.Fatalf("good files: %v", err)
	}
	if tc, err := cfg.tls(); err != nil || !tc.ClientCAs.Equal(origincert.OriginPullCAPool()) {
		t.Errorf("without -client-ca: %v, want Cloudflare's shared origin-pull CA", err)
	}
}

// The files are read again when they change: a renewed origin certificate
// is served, and a rotated client CA (ca.crt holding the old and the new
// CA while Cloudflare switches, then only the new) is trusted, all without
// a restart. Real handshakes against the running server.
func TestReloadsRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	certA, rootsA := serverCert(t)
	certB, rootsB := serverCert(t)
	client1, _ := zoneCert(t, "example.com")
	client2, _ := zoneCert(t, "example.com")
	z1, z2 := caPEM(t, client1), caPEM(t, client2)
	caFile := filepath.Join(dir, "ca.crt")
	bump := 0
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		bump++ // a Secret volume swap gives new files; make the change visible whatever the clock's resolution
		at := time.Now().Add(time.Duration(bump) * time.Second)
		if err := os.Chtimes(name, at, at); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := pemFiles(t, dir, certA)
	write(caFile, z1)
	cfg, err := load(":0", certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.trusted = allowlist.MustParse("127.0.0.2\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()
	admits := func(roots *x509.CertPool, c *tls.Certificate) bool {
		_, err := get("127.0.0.2", addr, roots, c)
		return err == nil
	}

	if !admits(rootsA, &client1) || admits(rootsA, &client2) {
		t.Fatal("before rotation: want only the first client certificate admitted")
	}
	write(caFile, append(append([]byte{}, z1...), z2...)) // the rotator's ca.crt while Cloudflare switches
	if !admits(rootsA, &client1) || !admits(rootsA, &client2) {
		t.Error("during rotation: want both client certificates admitted")
	}
	write(caFile, z2)
	if admits(rootsA, &client1) || !admits(rootsA, &client2) {
		t.Error("after rotation: want only the new client certificate admitted")
	}
	// The origin certificate is renewed (Renewer rewrites tls.crt and tls.key).
	if admits(rootsB, &client2) {
		t.Fatal("renewed certificate served before it was written")
	}
	b1, b2 := pemFiles(t, t.TempDir(), certB)
	for src, dst := range map[string]string{b1: certFile, b2: keyFile} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(dst, data)
	}
	if !admits(rootsB, &client2) {
		t.Error("the renewed origin certificate is not served")
	}
	// A half-written file keeps the previous certificates in service.
	write(keyFile, []byte("-----BEGIN PRIVATE KEY-----\n"))
	if !admits(rootsB, &client2) {
		t.Error("a broken key file took the origin down")
	}
}

// caPEM returns the PEM of the CA that issued a zoneCert client certificate.
func caPEM(t *testing.T, c tls.Certificate) []byte {
	t.Helper()
	caMu.Lock()
	defer caMu.Unlock()
	return caByCert[string(c.Certificate[0])]
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
