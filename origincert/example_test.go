package origincert_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/originguard/originguard/origincert"
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

func ExampleGenerateKey() {
	key, err := origincert.GenerateKey(origincert.ECDSAP256)
	if err != nil {
		panic(err)
	}
	// Printing a key never prints the key.
	fmt.Println(key)
	fmt.Printf("%#v\n", key)
	// Output:
	// origincert.PrivateKey(ecdsa-p256, REDACTED)
	// origincert.PrivateKey(ecdsa-p256, REDACTED)
}

func ExampleKeyType_RequestType() {
	for _, kt := range []origincert.KeyType{"", origincert.ECDSAP256, origincert.RSA2048, origincert.RSA4096} {
		fmt.Printf("%q -> %s\n", kt, kt.RequestType())
	}
	// Output:
	// "" -> origin-ecc
	// "ecdsa-p256" -> origin-ecc
	// "rsa-2048" -> origin-rsa
	// "rsa-4096" -> origin-rsa
}

func ExampleKeyType_Validate() {
	fmt.Println(origincert.RSA3072.Validate())
	fmt.Println(origincert.KeyType("rsa-1024").Validate())
	// Output:
	// <nil>
	// origincert: unknown key type "rsa-1024" (want ecdsa-p256, rsa-2048, rsa-3072 or rsa-4096)
}

func ExampleNewCSR() {
	key, _ := origincert.GenerateKey("")
	csrPEM, err := origincert.NewCSR(key, origincert.ApexAndWildcard("example.com"))
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(csrPEM)
	csr, _ := x509.ParseCertificateRequest(block.Bytes)
	fmt.Println(block.Type, csr.Subject.CommonName, csr.DNSNames)
	// Output: CERTIFICATE REQUEST example.com [example.com *.example.com]
}

func ExampleApexAndWildcard() {
	fmt.Println(origincert.ApexAndWildcard("Example.COM."))
	// Output: [example.com *.example.com]
}

func ExampleValidateHostnames() {
	err := origincert.ValidateHostnames([]string{"example.com", "a.*.example.com", "192.0.2.10"})
	fmt.Println(errors.Is(err, origincert.ErrInvalidHostname))
	fmt.Println(err)
	// Output:
	// true
	// origincert: hostname "a.*.example.com": wildcard only allowed as the leftmost label: invalid hostname
	// origincert: hostname "192.0.2.10": an IP address, not a hostname: invalid hostname
}

func ExampleRoundValidity() {
	for _, d := range []time.Duration{0, 24 * time.Hour, 45 * 24 * time.Hour, 2 * 365 * 24 * time.Hour} {
		days, _ := origincert.RoundValidity(d)
		fmt.Println(d, "->", days, "days")
	}
	_, err := origincert.RoundValidity(20 * 365 * 24 * time.Hour)
	fmt.Println(err)
	// Output:
	// 0s -> 365 days
	// 24h0m0s -> 7 days
	// 1080h0m0s -> 90 days
	// 17520h0m0s -> 730 days
	// origincert: validity 175200h0m0s is longer than the Origin CA's maximum of 5475 days
}

func ExampleRequest_Validate() {
	err := origincert.Request{Hostnames: []string{"localhost"}, KeyType: "dsa"}.Validate()
	fmt.Println(err)
	// Output:
	// origincert: hostname "localhost": not a fully qualified name: invalid hostname
	// origincert: unknown key type "dsa" (want ecdsa-p256, rsa-2048, rsa-3072 or rsa-4096)
}

func ExampleParseAPITime() {
	// The Origin CA's expires_on is Go's time.String layout.
	t, err := origincert.ParseAPITime("2014-01-01 05:20:00.12345 +0000 UTC")
	fmt.Println(t.Format(time.RFC3339Nano), err)
	// Output: 2014-01-01T05:20:00.12345Z <nil>
}

func ExampleOriginCARootPEM() {
	ecc, _ := origincert.OriginCARootPEM(origincert.ECDSAP256)
	rsa, _ := origincert.OriginCARootPEM(origincert.RSA2048)
	for _, p := range [][]byte{ecc, rsa} {
		block, _ := pem.Decode(p)
		c, _ := x509.ParseCertificate(block.Bytes)
		fmt.Println(c.Subject.OrganizationalUnit[0], c.NotAfter.Format(time.DateOnly))
	}
	// Output:
	// CloudFlare Origin SSL ECC Certificate Authority 2029-08-15
	// CloudFlare Origin SSL Certificate Authority 2029-08-15
}

func ExampleOriginCARoot() {
	root, _ := origincert.OriginCARoot(origincert.RSA4096)
	fmt.Println(root.PublicKeyAlgorithm, root.IsCA)
	// Output: RSA true
}

func ExampleOriginPullCA() {
	ca := origincert.OriginPullCA()
	fmt.Println(ca.Subject.CommonName)
	// Output: origin-pull.cloudflare.net
}

func ExampleOriginPullCAExpiry() {
	expiry := origincert.OriginPullCAExpiry()
	fmt.Println(expiry)
	// Alert well before it, e.g. in a startup check or a metric.
	now := time.Date(2029, 9, 1, 0, 0, 0, 0, time.UTC)
	if expiry.Sub(now) < 90*24*time.Hour {
		fmt.Println("origin-pull CA expires within 90 days: get Cloudflare's successor")
	}
	// Output:
	// 2029-11-01 17:00:00 +0000 UTC
	// origin-pull CA expires within 90 days: get Cloudflare's successor
}

func ExampleOriginPullCAPEM() {
	fmt.Println(strings.SplitN(string(origincert.OriginPullCAPEM()), "\n", 2)[0])
	// Output: -----BEGIN CERTIFICATE-----
}

func ExampleOriginPullCAPool() {
	fmt.Println(origincert.OriginPullCAPool().Equal(origincert.OriginPullCAPool()))
	// Output: true
}

func ExampleNewClient() {
	c, err := origincert.NewClient("token-from-a-secret",
		origincert.WithBaseURL("http://127.0.0.1:1/client/v4"), // a stand-in; the default is Cloudflare's API
		origincert.WithRetry(4, time.Second, 30*time.Second),
		origincert.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		origincert.WithClock(time.Now), // Retry-After dates are read against it
	)
	fmt.Println(c != nil, err)
	_, err = origincert.NewClient("")
	fmt.Println(err)
	// Output:
	// true <nil>
	// origincert: empty API token: cloudflare rejected the API token
}

func ExampleClient_Issue() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	cert, err := c.Issue(context.Background(), origincert.Request{
		Hostnames: origincert.ApexAndWildcard("example.com"),
		Validity:  100 * 24 * time.Hour, // rounded up to 365 days
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(cert.ID, cert.Hostnames, cert.KeyType, cert.ValidityDays)
	fmt.Println(cert.Key)
	// Output:
	// 328468547062983249580001 [example.com *.example.com] ecdsa-p256 365
	// origincert.PrivateKey(ecdsa-p256, REDACTED)
}

func ExampleClient_ZoneID() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	id, err := c.ZoneID(context.Background(), "example.com")
	fmt.Println(id, err)
	_, err = c.ZoneID(context.Background(), "example.org")
	fmt.Println(errors.Is(err, origincert.ErrNotFound))
	// Output:
	// 023e105f4ecef8ad9ca31a8372d0c353 <nil>
	// true
}

func ExampleClient_List() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_, _ = c.Issue(ctx, origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")})
	_, _ = c.Issue(ctx, origincert.Request{Hostnames: []string{"www.example.com"}, KeyType: origincert.RSA2048, Validity: 7 * 24 * time.Hour})
	zone, _ := c.ZoneID(ctx, "example.com")
	certs, err := c.List(ctx, zone)
	if err != nil {
		panic(err)
	}
	for _, ic := range certs {
		fmt.Println(ic.ID, ic.RequestType, ic.ValidityDays, ic.Hostnames)
	}
	// Output:
	// 328468547062983249580001 origin-ecc 365 [example.com *.example.com]
	// 328468547062983249580002 origin-rsa 7 [www.example.com]
}

func ExampleClient_Revoke() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	cert, _ := c.Issue(ctx, origincert.Request{Hostnames: []string{"example.com"}})
	fmt.Println(c.Revoke(ctx, cert.ID))
	fmt.Println(c.Revoke(ctx, "328468547062983249589999")) // unknown: nothing to revoke
	// Output:
	// <nil>
	// <nil>
}

func ExampleAPIError() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	api.Inject("POST /certificates", cloudflaretest.Response{Status: 429, Header: map[string]string{"Retry-After": "120"}})
	_, err = c.Issue(context.Background(), origincert.Request{Hostnames: []string{"example.com"}})
	var ae *origincert.APIError
	if errors.As(err, &ae) && errors.Is(err, origincert.ErrRateLimited) {
		fmt.Println("requeue after", ae.RetryAfter)
	}
	_, err = c.Issue(context.Background(), origincert.Request{Hostnames: []string{"shop.example.org"}})
	// Cloudflare gives the same answer for a zone of another account and
	// for a token without the permission on the zone: both match.
	fmt.Println(errors.Is(err, origincert.ErrInvalidHostname), errors.Is(err, origincert.ErrUnauthorized))
	fmt.Println(err)
	// Output:
	// requeue after 2m0s
	// true true
	// origincert: create origin certificate for shop.example.org: invalid hostname (HTTP 400); 1010: Failed to validate requested hostname shop.example.org: This zone is either not part of your account, or you do not have access to it. Please contact support if using a multi-user organization. (the zone is in another account, or the token lacks SSL and Certificates permission on it)
}

func ExampleEvaluatePosture() {
	settings := map[origincert.Setting]string{
		origincert.SettingSSL: "full", origincert.SettingMinTLSVersion: "1.3", origincert.SettingAlwaysUseHTTPS: "on", origincert.SettingTLSClientAuth: "off",
	}
	// Zone-level origin pulls on, with the zone's own active certificate:
	// stronger than the shared certificate tls_client_auth would present.
	pulls := origincert.OriginPulls{Zone: true, ZoneCertificateID: "2458ce5a0c354c7f82c78e9487d30001"}
	p := origincert.EvaluatePosture("zone", settings, pulls)
	fmt.Println(p.Secure(), p.OriginPulls.Level())
	for _, d := range p.Deviations {
		fmt.Println(d)
	}
	// The same zone with no origin pulls at all.
	p = origincert.EvaluatePosture("zone", settings, origincert.OriginPulls{})
	fmt.Println(p.Secure(), p.OriginPulls.Level() == origincert.OriginPullsOff)
	for _, d := range p.Deviations {
		fmt.Println(d)
	}
	// Output:
	// false zone
	// ssl is full, want strict
	// false true
	// ssl is full, want strict
	// tls_client_auth is off, want on
}

func ExampleClient_CheckPosture() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	p, err := c.CheckPosture(context.Background(), "023e105f4ecef8ad9ca31a8372d0c353")
	if err != nil {
		panic(err)
	}
	for _, d := range p.Deviations {
		fmt.Println(d)
	}
	// Output:
	// ssl is full, want strict
	// min_tls_version is 1.0, want 1.2
	// always_use_https is off, want on
	// tls_client_auth is off, want on
}

func ExampleClient_EnforcePosture() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fixed, err := c.EnforcePosture(ctx, "023e105f4ecef8ad9ca31a8372d0c353")
	fmt.Println(len(fixed), "settings changed", err)
	p, _ := c.CheckPosture(ctx, "023e105f4ecef8ad9ca31a8372d0c353")
	fmt.Println("secure:", p.Secure())
	// Output:
	// 4 settings changed <nil>
	// secure: true
}

func ExampleServerTLSConfig() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	cert, _ := c.Issue(context.Background(), origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")})
	pair, err := cert.Key.TLSCertificate(cert.CertificatePEM)
	if err != nil {
		panic(err)
	}
	cfg, err := origincert.ServerTLSConfig(pair, nil) // nil: Cloudflare's shared origin-pull CA
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.MinVersion == tls.VersionTLS12, cfg.ClientAuth, cfg.ClientCAs.Equal(origincert.OriginPullCAPool()))
	// srv := &http.Server{Addr: ":443", TLSConfig: cfg}; srv.ListenAndServeTLS("", "")
	// Output: true RequireAndVerifyClientCert true
}

func ExamplePrivateKey_TLSCertificate() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	cert, _ := c.Issue(context.Background(), origincert.Request{Hostnames: []string{"example.com"}})
	pair, err := cert.Key.TLSCertificate(cert.CertificatePEM)
	fmt.Println(pair.Leaf.DNSNames, err)
	other, _ := origincert.GenerateKey("")
	_, err = other.TLSCertificate(cert.CertificatePEM)
	fmt.Println(err)
	// Output:
	// [example.com] <nil>
	// origincert: certificate does not match the private key
}

func ExampleNewZoneClientCertificate() {
	z, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(z.CertificatePEM)
	leaf, _ := x509.ParseCertificate(block.Bytes)
	fmt.Println(leaf.Subject.CommonName, leaf.Issuer.CommonName)
	// Output: cloudflare origin pull for example.com originguard origin-pull CA for example.com
}

func ExampleZoneClientSpec_Validate() {
	fmt.Println(origincert.ZoneClientSpec{Zone: "example"}.Validate())
	// Output: origincert: hostname "example": not a fully qualified name: invalid hostname
}

func ExampleZoneClientCertificate_CAPool() {
	z, _ := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
	pool, _ := z.CAPool()
	pair, _ := z.Key.TLSCertificate(z.CertificatePEM)
	_, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleClient_UploadZoneClientCertificate() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	zone, _ := c.ZoneID(ctx, "example.com")
	z, _ := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
	// Order matters: make the origin trust z.CAPEM (ServerTLSConfig or
	// CASecret) before Cloudflare starts presenting the certificate.
	id, err := c.UploadZoneClientCertificate(ctx, zone, z)
	fmt.Println(id, err)
	fmt.Println(c.SetZoneOriginPulls(ctx, zone, true))
	// Output:
	// 2458ce5a0c354c7f82c78e9487d30001 <nil>
	// <nil>
}

func ExampleClient_SetZoneOriginPulls() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.SetZoneOriginPulls(context.Background(), "023e105f4ecef8ad9ca31a8372d0c353", true))
	// Output: <nil>
}

func ExampleClient_ZoneOriginPulls() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	before, _ := c.ZoneOriginPulls(ctx, "023e105f4ecef8ad9ca31a8372d0c353")
	_ = c.SetZoneOriginPulls(ctx, "023e105f4ecef8ad9ca31a8372d0c353", true)
	after, _ := c.ZoneOriginPulls(ctx, "023e105f4ecef8ad9ca31a8372d0c353")
	fmt.Println(before, after)
	// Output: false true
}

func ExampleTLSSecret() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	// Its clock is fixed so that the expiry printed below is too.
	api := cloudflaretest.NewServer(cloudflaretest.WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }))
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	cert, err := c.Issue(context.Background(), origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), KeyType: origincert.RSA2048})
	if err != nil {
		panic(err)
	}
	s, err := origincert.TLSSecret("web", "origin-tls", cert)
	if err != nil {
		panic(err)
	}
	// The Secret as YAML; the key material differs on every run, so each
	// data value is shown by its PEM block type.
	data := s.Data
	s.Data = nil
	y, err := yaml.Marshal(s)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(y))
	fmt.Println("data:")
	for _, k := range slices.Sorted(maps.Keys(data)) {
		block, _ := pem.Decode(data[k])
		fmt.Printf("  %s: <PEM %s>\n", k, block.Type)
	}
	// Output:
	// apiVersion: v1
	// kind: Secret
	// metadata:
	//   annotations:
	//     originguard.io/expires: "2027-01-02T03:04:05Z"
	//     originguard.io/hostnames: example.com,*.example.com
	//     originguard.io/key-type: rsa-2048
	//     originguard.io/origin-ca-certificate-id: "328468547062983249580001"
	//   name: origin-tls
	//   namespace: web
	// type: kubernetes.io/tls
	// data:
	//   ca.crt: <PEM CERTIFICATE>
	//   tls.crt: <PEM CERTIFICATE>
	//   tls.key: <PEM PRIVATE KEY>
}

func ExampleCASecret() {
	s, err := origincert.CASecret("ingress-nginx", "cloudflare-origin-pull-ca", origincert.OriginPullCAPEM())
	if err != nil {
		panic(err)
	}
	// The Secret as YAML, with ca.crt shown by the certificate it holds.
	block, _ := pem.Decode(s.Data["ca.crt"])
	ca, _ := x509.ParseCertificate(block.Bytes)
	s.Data = nil
	y, err := yaml.Marshal(s)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(y))
	fmt.Printf("data:\n  ca.crt: <PEM CERTIFICATE %s, until %s>\n", ca.Subject.CommonName, ca.NotAfter.Format(time.DateOnly))
	// ingress-nginx: nginx.ingress.kubernetes.io/auth-tls-secret: ingress-nginx/cloudflare-origin-pull-ca
	// Output:
	// apiVersion: v1
	// kind: Secret
	// metadata:
	//   name: cloudflare-origin-pull-ca
	//   namespace: ingress-nginx
	// type: Opaque
	// data:
	//   ca.crt: <PEM CERTIFICATE origin-pull.cloudflare.net, until 2029-11-01>
}

func ExampleReadSecret() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	cert, _ := c.Issue(context.Background(), origincert.Request{Hostnames: []string{"example.com"}})
	s, _ := origincert.TLSSecret("web", "origin-tls", cert)
	in, err := origincert.ReadSecret(s)
	fmt.Println(in.CertificateID, in.Hostnames, in.KeyType, err)
	s.Type = corev1.SecretTypeOpaque
	_, err = origincert.ReadSecret(s)
	fmt.Println(errors.Is(err, origincert.ErrWrongSecretType))
	// Output:
	// 328468547062983249580001 [example.com] ecdsa-p256 <nil>
	// true
}

func ExampleNeedsRenewal() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	cert, _ := c.Issue(context.Background(), origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), Validity: 30 * 24 * time.Hour})
	s, _ := origincert.TLSSecret("web", "origin-tls", cert)
	want := origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com"), RenewBefore: 7 * 24 * time.Hour,
		Issuers: api.IssuerRoots()} // the fake's roots; leave it zero in production
	fmt.Println(origincert.NeedsRenewal(s, want, cert.NotAfter.Add(-10*24*time.Hour)).Renew)
	d := origincert.NeedsRenewal(s, want, cert.NotAfter.Add(-5*24*time.Hour))
	fmt.Println(d.Renew, d.Reason)
	want.Hostnames = append(want.Hostnames, "example.net")
	d = origincert.NeedsRenewal(s, want, time.Now())
	fmt.Println(d.Renew, d.Reason)
	fmt.Println(origincert.NeedsRenewal(nil, want, time.Now()))
	// Output:
	// false
	// true expiring
	// true hostnames
	// renew (missing): secret does not exist
}

func ExampleApplySecret() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	cert, _ := c.Issue(ctx, origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")})
	s, _ := origincert.TLSSecret("web", "origin-tls", cert)
	kube := fake.NewClientset() // a real clientset in production
	out, err := origincert.ApplySecret(ctx, kube, s, "my-controller")
	fmt.Println(out.Name, out.Type, err)
	// Output: origin-tls kubernetes.io/tls <nil>
}

func ExampleRenewer_Reconcile() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	kube := fake.NewClientset()
	r := &origincert.Renewer{Client: c, Kube: kube, Grace: 24 * time.Hour,
		Issuers: api.IssuerRoots()} // the fake's roots; leave it zero in production
	target := origincert.Target{Namespace: "web", Name: "origin-tls", Request: origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")}}

	res, _ := r.Reconcile(ctx, target)
	fmt.Println(res.Decision.Reason, res.Issued)
	res, _ = r.Reconcile(ctx, target)
	fmt.Println(res.Decision.Renew, res.Issued == "")

	target.Request.Hostnames = append(target.Request.Hostnames, "example.net")
	res, _ = r.Reconcile(ctx, target)
	fmt.Println(res.Decision.Reason, res.Issued)
	s, _ := kube.CoreV1().Secrets("web").Get(ctx, "origin-tls", metav1.GetOptions{})
	fmt.Println(strings.Split(s.Annotations[origincert.AnnotationRevokePending], "@")[0], "is revoked after the grace period")
	// Output:
	// missing 328468547062983249580001
	// false true
	// hostnames 328468547062983249580002
	// 328468547062983249580001 is revoked after the grace period
}

func ExampleDecision_String() {
	fmt.Println(origincert.Decision{Renew: true, Reason: origincert.ReasonKeyMismatch, Detail: "web/origin-tls: tls.key is not the key of tls.crt"})
	// Output: renew (key-mismatch): web/origin-tls: tls.key is not the key of tls.crt
}

func ExampleClient_UploadHostnameClientCertificate() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	zone := "023e105f4ecef8ad9ca31a8372d0c353"
	// One client certificate per origin hostname: the origin behind
	// shop.example.com trusts only this CA, so only Cloudflare pulling
	// shop.example.com gets in.
	z, _ := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "shop.example.com"})
	id, err := c.UploadHostnameClientCertificate(ctx, zone, z)
	fmt.Println(id, err)
	fmt.Println(c.SetHostnameOriginPulls(ctx, zone, "shop.example.com", id, true))
	// Output:
	// 2458ce5a0c354c7f82c78e9487d30001 <nil>
	// <nil>
}

func ExampleClient_SetHostnameOriginPulls() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	err = c.SetHostnameOriginPulls(context.Background(), "023e105f4ecef8ad9ca31a8372d0c353", "shop.example.com", "no-such-certificate", true)
	fmt.Println(errors.Is(err, origincert.ErrInvalidRequest))
	// Output: true
}

func ExamplePrivateKey_LogValue() {
	key, _ := origincert.GenerateKey(origincert.RSA2048)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("issued", "key", key)
	j, _ := json.Marshal(struct{ Key *origincert.PrivateKey }{key})
	fmt.Println(string(j))
	// Output:
	// level=INFO msg=issued key="origincert.PrivateKey(rsa-2048, REDACTED)"
	// {"Key":"origincert.PrivateKey(rsa-2048, REDACTED)"}
}

func ExampleRenewWindow() {
	day := 24 * time.Hour
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, days := range []int{7, 30, 365} {
		leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(time.Duration(days) * day)}
		fmt.Printf("%d-day certificate: renew %s before expiry\n", days, origincert.RenewWindow(0, leaf))
	}
	// A window as long as the lifetime would renew at once: cut to a third.
	leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(30 * day)}
	fmt.Println(origincert.RenewWindow(30*day, leaf))
	// Output:
	// 7-day certificate: renew 56h0m0s before expiry
	// 30-day certificate: renew 240h0m0s before expiry
	// 365-day certificate: renew 720h0m0s before expiry
	// 240h0m0s
}

func ExampleOriginCARootsExpiry() {
	expiry := origincert.OriginCARootsExpiry()
	fmt.Println(expiry.Format(time.DateOnly))
	// A 1095-day certificate issued on 2027-01-01 outlives the roots in ca.crt.
	issued := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(issued.Add(1095 * 24 * time.Hour).After(expiry))
	// Output:
	// 2029-08-15
	// true
}

func ExampleTarget_Validate() {
	t := origincert.Target{Namespace: "web", Name: "origin-tls", RenewBefore: 30 * 24 * time.Hour,
		Request: origincert.Request{Hostnames: []string{"example.com"}, Validity: 30 * 24 * time.Hour}}
	fmt.Println(t.Validate())
	// Output: origincert: renew-before 720h0m0s is not shorter than the 30-day validity: every certificate would be renewed at once
}

func ExampleOriginPulls_Level() {
	fmt.Printf("%q\n", origincert.OriginPulls{}.Level())
	fmt.Println(origincert.OriginPulls{Global: true}.Level())
	fmt.Println(origincert.OriginPulls{Zone: true}.Level()) // zone level without its own certificate presents the shared one
	fmt.Println(origincert.OriginPulls{Zone: true, ZoneCertificateID: "2458ce5a0c354c7f82c78e9487d30001"}.Level())
	fmt.Println(origincert.OriginPulls{Hostnames: map[string]bool{"shop.example.com": true}}.Level())
	// Output:
	// ""
	// global
	// global
	// zone
	// hostname
}

func ExampleClient_OriginPulls() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	api.SetSetting(cloudflaretest.ExampleComID, "tls_client_auth", "on") // as in the dashboard
	pulls, err := c.OriginPulls(context.Background(), cloudflaretest.ExampleComID, "shop.example.com")
	fmt.Println(pulls.Level(), pulls.Global, pulls.Zone, pulls.Hostnames, err)
	// Output: global true false map[shop.example.com:false] <nil>
}

func ExampleClient_ClientCertificates() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	z, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
	if err != nil {
		panic(err)
	}
	id, err := c.UploadZoneClientCertificate(ctx, cloudflaretest.ExampleComID, z)
	if err != nil {
		panic(err)
	}
	// Cloudflare deploys it over a few minutes.
	for range 2 {
		info, err := c.ClientCertificate(ctx, cloudflaretest.ExampleComID, false, id)
		fmt.Println(info.ID, info.Status, err)
	}
	all, err := c.ClientCertificates(ctx, cloudflaretest.ExampleComID, false)
	fmt.Println(len(all), err)
	// Cloudflare never deletes expired ones: delete replaced ones.
	fmt.Println(c.DeleteClientCertificate(ctx, cloudflaretest.ExampleComID, false, id))
	// Output:
	// 2458ce5a0c354c7f82c78e9487d30001 pending_deployment <nil>
	// 2458ce5a0c354c7f82c78e9487d30001 active <nil>
	// 1 <nil>
	// <nil>
}

func ExampleOriginPullRotator_Reconcile() {
	// cloudflaretest stands in for api.cloudflare.com here; in production
	// give NewClient a token and no base URL.
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	kube := fake.NewClientset() // a real clientset in production
	r := &origincert.OriginPullRotator{Client: c, Kube: kube}
	// The origin (e.g. ingress-nginx auth-tls-secret) trusts ca.crt of
	// ingress-nginx/origin-pull-ca; Cloudflare presents the zone's own
	// client certificate once it is deployed.
	target := origincert.OriginPullTarget{Namespace: "ingress-nginx", Name: "origin-pull-ca", ZoneID: cloudflaretest.ExampleComID,
		Spec: origincert.ZoneClientSpec{Zone: "example.com"}}
	ctx := context.Background()
	res, err := r.Reconcile(ctx, target)
	fmt.Println("uploaded", res.Uploaded, "waiting", res.Waiting == res.Uploaded, res.RequeueAfter, err)
	res, err = r.Reconcile(ctx, target)
	fmt.Println("activated", res.Activated, err)
	fmt.Println("Cloudflare presents", api.PresentedClientCertificate(cloudflaretest.ExampleComID, "www.example.com"))
	// Output:
	// uploaded 2458ce5a0c354c7f82c78e9487d30001 waiting true 30s <nil>
	// activated 2458ce5a0c354c7f82c78e9487d30001 <nil>
	// Cloudflare presents 2458ce5a0c354c7f82c78e9487d30001
}

func ExampleOriginPullTarget_Validate() {
	fmt.Println(origincert.OriginPullTarget{Namespace: "ingress-nginx", Name: "origin-pull-ca", ZoneID: "023e105f4ecef8ad9ca31a8372d0c353",
		Hostname: "shop", Spec: origincert.ZoneClientSpec{Zone: "shop.example.com"}}.Validate())
	// Output: origincert: hostname "shop": not a fully qualified name: invalid hostname
}
