package origincert_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/originguard/originguard/origincert"
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

func TestEvaluatePosture(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[origincert.Setting]string
		want     []origincert.Deviation
	}{
		{"secure", map[origincert.Setting]string{"ssl": "strict", "min_tls_version": "1.2", "always_use_https": "on", "tls_client_auth": "on"}, nil},
		{"stricter still secure", map[origincert.Setting]string{"ssl": "origin_pull", "min_tls_version": "1.3", "always_use_https": "on", "tls_client_auth": "on"}, nil},
		{"everything off", map[origincert.Setting]string{"ssl": "flexible", "min_tls_version": "1.0", "always_use_https": "off", "tls_client_auth": "off"}, []origincert.Deviation{
			{Setting: "ssl", Want: "strict", Got: "flexible"}, {Setting: "min_tls_version", Want: "1.2", Got: "1.0"},
			{Setting: "always_use_https", Want: "on", Got: "off"}, {Setting: "tls_client_auth", Want: "on", Got: "off"}}},
		{"full is not strict, 1.1 too low", map[origincert.Setting]string{"ssl": "full", "min_tls_version": "1.1", "always_use_https": "on", "tls_client_auth": "on"}, []origincert.Deviation{
			{Setting: "ssl", Want: "strict", Got: "full"}, {Setting: "min_tls_version", Want: "1.2", Got: "1.1"}}},
		{"not reported", map[origincert.Setting]string{"ssl": "strict"}, []origincert.Deviation{
			{Setting: "min_tls_version", Want: "1.2"}, {Setting: "always_use_https", Want: "on"}, {Setting: "tls_client_auth", Want: "on"}}},
	} {
		p := origincert.EvaluatePosture("z", tc.settings, origincert.OriginPulls{Global: tc.settings["tls_client_auth"] == "on"})
		if diff := cmp.Diff(tc.want, p.Deviations); diff != "" {
			t.Errorf("%s: deviations (-want +got):\n%s", tc.name, diff)
		}
		if p.Secure() != (len(tc.want) == 0) {
			t.Errorf("%s: Secure() = %t", tc.name, p.Secure())
		}
	}
}

func TestCheckAndEnforcePosture(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	zone := f.zones["example.com"]
	p, err := c.CheckPosture(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	want := []origincert.Deviation{{Setting: "ssl", Want: "strict", Got: "full"}, {Setting: "min_tls_version", Want: "1.2", Got: "1.0"},
		{Setting: "always_use_https", Want: "on", Got: "off"}, {Setting: "tls_client_auth", Want: "on", Got: "off"}}
	if diff := cmp.Diff(want, p.Deviations); diff != "" {
		t.Errorf("deviations (-want +got):\n%s", diff)
	}
	// One PATCH hits a 503 and is retried; the rest go through.
	f.failNext("PATCH /zones/"+zone+"/settings/min_tls_version", injected{status: 503})
	fixed, err := c.EnforcePosture(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, fixed); diff != "" {
		t.Errorf("fixed (-want +got):\n%s", diff)
	}
	if p, err := c.CheckPosture(ctx, zone); err != nil || !p.Secure() || p.OriginPulls.Level() != origincert.OriginPullsGlobal {
		t.Errorf("after enforcing: %+v, %v", p, err)
	}
	if n := f.count("PATCH /zones/" + zone + "/settings/min_tls_version"); n != 2 {
		t.Errorf("%d PATCHes of min_tls_version, want 2", n)
	}
	// Enforcing a secure zone changes nothing.
	if fixed, err := c.EnforcePosture(ctx, zone); err != nil || len(fixed) != 0 || f.count("PATCH") != 5 {
		t.Errorf("second enforce: %v, %v, %d PATCHes", fixed, err, f.count("PATCH"))
	}
	if _, err := c.CheckPosture(ctx, "00000000000000000000000000000000"); !errors.Is(err, origincert.ErrNotFound) {
		t.Errorf("unknown zone: %v", err)
	}
	f.failNext("GET /zones/"+zone+"/settings/ssl", injected{status: 403, body: `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`})
	if _, err := c.CheckPosture(ctx, zone); !errors.Is(err, origincert.ErrUnauthorized) {
		t.Errorf("403: %v", err)
	}
}

func TestZoneOriginPullsAPI(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	zone := f.zones["example.com"]
	z, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.UploadZoneClientCertificate(ctx, zone, z)
	if err != nil || id == "" {
		t.Fatalf("upload: %q, %v", id, err)
	}
	uploads := f.ZoneClientCertificates(zone)
	if len(uploads) != 1 || uploads[0].PEM != string(z.CertificatePEM) || uploads[0].ID != id {
		t.Fatal("uploaded certificate differs")
	}
	// The fake checked key and certificate match (tls.X509KeyPair); the
	// certificate is the per-zone client certificate, not the CA.
	block, _ := pem.Decode([]byte(uploads[0].PEM))
	if leaf, _ := x509.ParseCertificate(block.Bytes); leaf == nil || leaf.IsCA {
		t.Error("uploaded a CA")
	}
	if on, err := c.ZoneOriginPulls(ctx, zone); err != nil || on {
		t.Errorf("before enabling: %t, %v", on, err)
	}
	if err := c.SetZoneOriginPulls(ctx, zone, true); err != nil {
		t.Fatal(err)
	}
	if on, err := c.ZoneOriginPulls(ctx, zone); err != nil || !on {
		t.Errorf("after enabling: %t, %v", on, err)
	}
	// Upload is a create: a 500 is not repeated; a 429 is.
	f.failNext("POST /zones/"+zone+"/origin_tls_client_auth", injected{status: 500})
	if _, err := c.UploadZoneClientCertificate(ctx, zone, z); !errors.Is(err, origincert.ErrServer) || f.count("POST /zones") != 2 {
		t.Errorf("500: %v after %d uploads", err, f.count("POST /zones"))
	}
	f.failNext("POST /zones/"+zone+"/origin_tls_client_auth", injected{status: 429})
	if _, err := c.UploadZoneClientCertificate(ctx, zone, z); err != nil || f.count("POST /zones") != 4 {
		t.Errorf("429: %v after %d uploads", err, f.count("POST /zones"))
	}
	// An answer that contradicts the request is an error.
	f.failNext("PUT /zones/"+zone+"/origin_tls_client_auth/settings", injected{status: 200, body: `{"success":true,"errors":[],"messages":[],"result":{"enabled":true}}`})
	if err := c.SetZoneOriginPulls(ctx, zone, false); !errors.Is(err, origincert.ErrMalformedResponse) {
		t.Errorf("contradicting answer: %v", err)
	}
	// success:false with 200: cloudflare-go ignores it; Client does not.
	f.failNext("GET /zones/"+zone+"/origin_tls_client_auth/settings", injected{status: 200, body: `{"success":false,"errors":[{"code":1234,"message":"nope"}],"messages":[],"result":{"enabled":false}}`})
	if _, err := c.ZoneOriginPulls(ctx, zone); !errors.Is(err, origincert.ErrInvalidRequest) {
		t.Errorf("success false: %v", err)
	}
}

func TestHostnameOriginPullsAPI(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	zone := f.zones["example.com"]
	z, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "shop.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.UploadHostnameClientCertificate(ctx, zone, z)
	if hc := f.HostnameClientCertificates(zone); err != nil || len(hc) != 1 || hc[0].ID != id || hc[0].PEM != string(z.CertificatePEM) {
		t.Fatalf("upload: %q, %v", id, err)
	}
	if err := c.SetHostnameOriginPulls(ctx, zone, "Shop.Example.com", id, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.HostnameOriginPulls("shop.example.com"); got != (cloudflaretest.HostnameAssociation{Hostname: "shop.example.com", CertID: id, Enabled: true}) {
		t.Errorf("fake holds %+v", got)
	}
	if err := c.SetHostnameOriginPulls(ctx, zone, "shop.example.com", "unknown", true); !errors.Is(err, origincert.ErrInvalidRequest) {
		t.Errorf("unknown certificate: %v", err)
	}
	if err := c.SetHostnameOriginPulls(ctx, zone, "not a host", "", true); !errors.Is(err, origincert.ErrInvalidHostname) || !errors.Is(err, origincert.ErrInvalidRequest) {
		t.Errorf("bad input: %v", err)
	}
	// An answer that does not confirm the change is an error.
	f.failNext("PUT /zones/"+zone+"/origin_tls_client_auth/hostnames", injected{status: 200, body: `{"success":true,"errors":[],"messages":[],"result":[]}`})
	if err := c.SetHostnameOriginPulls(ctx, zone, "shop.example.com", id, false); !errors.Is(err, origincert.ErrMalformedResponse) {
		t.Errorf("unconfirmed: %v", err)
	}
	f.failNext("POST /zones/"+zone+"/origin_tls_client_auth/hostnames/certificates", injected{status: 502})
	if _, err := c.UploadHostnameClientCertificate(ctx, zone, z); !errors.Is(err, origincert.ErrServer) || f.count("POST /zones/"+zone+"/origin_tls_client_auth/hostnames") != 2 {
		t.Errorf("502 upload: %v", err)
	}
}
