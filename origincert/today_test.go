package origincert_test

// Tests for issue 10: the API as Cloudflare serves it today, against the
// realistic fake (package cloudflaretest). Each fails on the code before
// the issue.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/originguard/originguard/origincert"
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

// Item 1: posture reads and edits one setting at a time; the batch
// GET /zones/{id}/settings is past its end of life and never sent.
func TestPostureUsesPerSettingEndpoints(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	zone := f.zones["example.com"]
	if _, err := c.EnforcePosture(ctx, zone); err != nil {
		t.Fatal(err)
	}
	var gets, patches []string
	for _, r := range f.Requests() {
		switch {
		case r.Path == "/zones/"+zone+"/settings":
			t.Errorf("%s %s: the batch settings endpoint reached its end of life on 2026-09-15", r.Method, r.Path)
		case r.Method == "GET" && strings.HasPrefix(r.Path, "/zones/"+zone+"/settings/"):
			gets = append(gets, strings.TrimPrefix(r.Path, "/zones/"+zone+"/settings/"))
		case r.Method == "PATCH":
			patches = append(patches, strings.TrimPrefix(r.Path, "/zones/"+zone+"/settings/")+" "+string(r.Body))
		}
	}
	slices.Sort(gets)
	gets = slices.Compact(gets)
	if diff := cmp.Diff([]string{"always_use_https", "min_tls_version", "ssl", "tls_client_auth"}, gets); diff != "" {
		t.Errorf("settings read (-want +got):\n%s", diff)
	}
	want := []string{`ssl {"value":"strict"}`, `min_tls_version {"value":"1.2"}`, `always_use_https {"value":"on"}`, `tls_client_auth {"value":"on"}`}
	if diff := cmp.Diff(want, patches); diff != "" {
		t.Errorf("PATCH bodies (-want +got):\n%s", diff)
	}
}

// Item 2: the three levels of origin pulls are reported, and the
// strongest one configured is preferred and enforced, never the shared
// certificate over the zone's own.
func TestPostureOriginPullLevels(t *testing.T) {
	ctx := context.Background()
	secureSettings := func(f *fakeCloudflare, zone string) {
		f.SetSetting(zone, "ssl", "strict")
		f.SetSetting(zone, "min_tls_version", "1.2")
		f.SetSetting(zone, "always_use_https", "on")
	}
	upload := func(t *testing.T, c *origincert.Client, zone string, host bool) string {
		t.Helper()
		z, err := origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		var id string
		if host {
			id, err = c.UploadHostnameClientCertificate(ctx, zone, z)
		} else {
			id, err = c.UploadZoneClientCertificate(ctx, zone, z)
		}
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	t.Run("zone level on with its own certificate is secure", func(t *testing.T) {
		f := newFakeCloudflare()
		defer f.Close()
		c := newClient(t, f)
		zone := f.zones["example.com"]
		secureSettings(f, zone)
		id := upload(t, c, zone, false)
		f.SetZoneOriginPulls(zone, true)
		p, err := c.CheckPosture(ctx, zone)
		if err != nil {
			t.Fatal(err)
		}
		// The fake deploys after two reads; read again once it is active.
		if p.OriginPulls.ZoneCertificateID == "" {
			if p, err = c.CheckPosture(ctx, zone); err != nil {
				t.Fatal(err)
			}
		}
		if !p.Secure() || p.OriginPulls.Level() != origincert.OriginPullsZone || p.OriginPulls.ZoneCertificateID != id {
			t.Fatalf("posture %+v, want secure at zone level with %s", p, id)
		}
		fixed, err := c.EnforcePosture(ctx, zone)
		if err != nil || len(fixed) != 0 {
			t.Fatalf("enforce: %v, %v", fixed, err)
		}
		if got := f.Setting(zone, "tls_client_auth"); got != "off" {
			t.Errorf("tls_client_auth = %s: enforce switched on the shared certificate", got)
		}
		if got := f.PresentedClientCertificate(zone, "www.example.com"); got != id {
			t.Errorf("Cloudflare presents %q, want the zone's own %s", got, id)
		}
	})

	t.Run("own certificate active, zone level off: enforce turns zone level on", func(t *testing.T) {
		f := newFakeCloudflare(cloudflaretest.WithDeployReads(0))
		defer f.Close()
		c := newClient(t, f)
		zone := f.zones["example.com"]
		secureSettings(f, zone)
		id := upload(t, c, zone, false)
		fixed, err := c.EnforcePosture(ctx, zone)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]origincert.Deviation{{Setting: origincert.SettingZoneOriginPulls, Want: "on", Got: "off"}}, fixed); diff != "" {
			t.Errorf("fixed (-want +got):\n%s", diff)
		}
		if !f.ZoneOriginPulls(zone) || f.Setting(zone, "tls_client_auth") != "off" || f.PresentedClientCertificate(zone, "example.com") != id {
			t.Errorf("zone level %t, global %s, presented %s", f.ZoneOriginPulls(zone), f.Setting(zone, "tls_client_auth"), f.PresentedClientCertificate(zone, "example.com"))
		}
	})

	t.Run("per-hostname level for the hostnames asked", func(t *testing.T) {
		f := newFakeCloudflare(cloudflaretest.WithDeployReads(0))
		defer f.Close()
		c := newClient(t, f)
		zone := f.zones["example.com"]
		secureSettings(f, zone)
		id := upload(t, c, zone, true)
		if err := c.SetHostnameOriginPulls(ctx, zone, "shop.example.com", id, true); err != nil {
			t.Fatal(err)
		}
		p, err := c.CheckPosture(ctx, zone, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !p.Secure() || p.OriginPulls.Level() != origincert.OriginPullsHostname {
			t.Errorf("posture %+v, want secure at hostname level", p)
		}
		// A hostname without its own certificate falls back to the zone's levels.
		p, err = c.CheckPosture(ctx, zone, "shop.example.com", "www.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if p.Secure() || p.OriginPulls.Level() != origincert.OriginPullsOff || !p.OriginPulls.Hostnames["shop.example.com"] || p.OriginPulls.Hostnames["www.example.com"] {
			t.Errorf("posture %+v", p)
		}
	})

	t.Run("per-hostname association switched off: enforce switches it on, not the shared certificate", func(t *testing.T) {
		f := newFakeCloudflare(cloudflaretest.WithDeployReads(0))
		defer f.Close()
		c := newClient(t, f)
		zone := f.zones["example.com"]
		secureSettings(f, zone)
		id := upload(t, c, zone, true)
		if err := c.SetHostnameOriginPulls(ctx, zone, "shop.example.com", id, false); err != nil {
			t.Fatal(err)
		}
		fixed, err := c.EnforcePosture(ctx, zone, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		want := []origincert.Deviation{{Setting: origincert.SettingHostnameOriginPulls, Want: "on", Got: "off", Hostname: "shop.example.com"}}
		if diff := cmp.Diff(want, fixed); diff != "" {
			t.Errorf("fixed (-want +got):\n%s", diff)
		}
		if got := f.PresentedClientCertificate(zone, "shop.example.com"); got != id || f.Setting(zone, "tls_client_auth") != "off" {
			t.Errorf("presented %q, tls_client_auth %s", got, f.Setting(zone, "tls_client_auth"))
		}
		if want[0].String() != "origin_tls_client_auth/hostnames of shop.example.com is off, want on" {
			t.Errorf("String() = %q", want[0].String())
		}
	})

	t.Run("nothing configured: the global level is the fallback", func(t *testing.T) {
		f := newFakeCloudflare()
		defer f.Close()
		c := newClient(t, f)
		zone := f.zones["example.com"]
		secureSettings(f, zone)
		fixed, err := c.EnforcePosture(ctx, zone)
		if err != nil || len(fixed) != 1 || fixed[0].Setting != origincert.SettingTLSClientAuth {
			t.Fatalf("enforce: %v, %v", fixed, err)
		}
		if f.PresentedClientCertificate(zone, "example.com") != "shared" {
			t.Error("the shared certificate is not presented")
		}
	})
}

// Item 3: paging continues until a short or empty page, not while
// total_pages says so (the fake, like cloudflare-go's fixture, omits it).
func TestListPagesWithoutTotalPages(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	for i := range 25 {
		if _, err := c.Issue(ctx, origincert.Request{Hostnames: []string{fmt.Sprintf("h%d.example.com", i)}, Validity: 7 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.List(ctx, f.zones["example.com"])
	if err != nil || len(got) != 25 {
		t.Fatalf("List: %d certificates, %v; want 25", len(got), err)
	}
	// Exactly one full page: total_count, or else an empty second page,
	// ends the listing.
	f2 := newFakeCloudflare()
	defer f2.Close()
	c2 := newClient(t, f2)
	for i := range 20 {
		if _, err := c2.Issue(ctx, origincert.Request{Hostnames: []string{fmt.Sprintf("h%d.example.com", i)}, Validity: 7 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := c2.List(ctx, f2.zones["example.com"]); err != nil || len(got) != 20 || f2.count("GET /certificates") > 2 {
		t.Errorf("20 certificates: %d, %v, %d requests", len(got), err, f2.count("GET /certificates"))
	}
}

// Item 3: a certificate whose create answer was lost is adopted by the
// leaf's public key; the listing echoes the CSR on one line, which
// pem.Decode cannot read, so a byte comparison of CSRs never matches.
func TestAdoptionByPublicKey(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	f.failNext("POST /certificates", injected{status: 502, after: true})
	cert, err := c.Issue(ctx, origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), ZoneID: f.zones["example.com"]})
	if err != nil {
		t.Fatalf("not adopted: %v", err)
	}
	all := f.Certificates()
	if len(all) != 1 || all[0].ID != cert.ID {
		t.Fatalf("adopted %s, fake holds %+v", cert.ID, all)
	}
}

// Item 7: a token with surrounding white space works; control characters
// inside are refused at once, without a request.
func TestTokenHygiene(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	ctx := context.Background()
	for _, tok := range []string{fakeToken + "\n", fakeToken + "\r\n", " " + fakeToken + "\t"} {
		c, err := origincert.NewClient(tok, origincert.WithBaseURL(f.URL()), origincert.WithRetry(4, time.Millisecond, time.Second))
		if err != nil {
			t.Fatalf("%q: %v", tok, err)
		}
		if _, err := c.ZoneID(ctx, "example.com"); err != nil {
			t.Errorf("%q: %v", tok, err)
		}
	}
	before := f.count("")
	for _, tok := range []string{"abc\ndef", "abc\x00def", "abc def", "abc\x7fdef", "tökén"} {
		_, err := origincert.NewClient(tok, origincert.WithBaseURL(f.URL()))
		if !errors.Is(err, origincert.ErrUnauthorized) || errors.Is(err, origincert.ErrUnavailable) {
			t.Errorf("%q: err = %v, want ErrUnauthorized", tok, err)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("%q: the error quotes the token: %v", tok, err)
		}
	}
	if n := f.count(""); n != before {
		t.Errorf("%d requests for refused tokens", n-before)
	}
}

// Item 8: the fake's certificates are valid from the moment of issue, and
// a client clock a little behind does not see them as not yet valid.
func TestFreshCertificateUnderClockSkew(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	cert, err := newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), Validity: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(cert.NotBefore); d < 0 || d > time.Minute {
		t.Errorf("NotBefore %s is not the moment of issue", cert.NotBefore)
	}
	s, err := origincert.TLSSecret("web", "origin-tls", cert)
	if err != nil {
		t.Fatal(err)
	}
	want := origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com")}
	for _, behind := range []time.Duration{0, 30 * time.Second, 3 * time.Minute} {
		if d := origincert.NeedsRenewal(s, want, cert.NotBefore.Add(-behind)); d.Renew {
			t.Errorf("clock %s behind: %v", behind, d)
		}
	}
}

// Item 11: the create request carries exactly the documented fields (the
// fake refuses others: cloudflare-go's struct adds zero-valued id,
// certificate, expires_on and revoked_at).
func TestCreateBodyIsExact(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	if _, err := newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: []string{"example.com"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Requests() {
		if r.Method != "POST" || r.Path != "/certificates" {
			continue
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range body {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if diff := cmp.Diff([]string{"csr", "hostnames", "request_type", "requested_validity"}, keys); diff != "" {
			t.Errorf("create body fields (-want +got):\n%s", diff)
		}
	}
}

// Item 13: "not part of your account, or you do not have access" is also
// what a token without the permission gets: the error matches both.
func TestNoAccessIsAlsoUnauthorized(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	f.DenyZone(f.zones["example.com"])
	_, err := newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com")})
	if !errors.Is(err, origincert.ErrUnauthorized) || !errors.Is(err, origincert.ErrInvalidHostname) {
		t.Errorf("err = %v, want it to match ErrUnauthorized and ErrInvalidHostname", err)
	}
	if !strings.Contains(err.Error(), "lacks SSL and Certificates permission") {
		t.Errorf("error does not name the permission: %v", err)
	}
	// The Origin CA's 1016 (origin-ca-issuer#66) is a permission problem,
	// whatever the HTTP status.
	f.failNext("POST /certificates", injected{status: 400, body: `{"success":false,"errors":[{"code":1016,"message":"User is not authorized to perform this action"}],"messages":[],"result":null}`})
	_, err = newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: []string{"example.net"}})
	if !errors.Is(err, origincert.ErrUnauthorized) {
		t.Errorf("1016: %v, want ErrUnauthorized", err)
	}
	// A plain invalid hostname (rejected locally) is not an auth problem.
	_, err = newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: []string{"localhost"}})
	if !errors.Is(err, origincert.ErrInvalidHostname) || errors.Is(err, origincert.ErrUnauthorized) {
		t.Errorf("local hostname error: %v", err)
	}
}

// Item 14: an error names the package once, however it was wrapped on its
// way out (it used to read "origincert: secret x: origincert: certificate
// does not match the private key").
func TestErrorsNameThePackageOnce(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	ctx := context.Background()
	c := newClient(t, f)
	var errs []error
	add := func(err error) {
		if err == nil {
			t.Errorf("error %d: nil", len(errs))
		}
		errs = append(errs, err)
	}
	_, err := origincert.ReadSecret(secretFor(t, secretSpec{otherKey: true}))
	add(err)
	bad := secretFor(t, secretSpec{})
	bad.Data["tls.key"] = []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")
	_, err = origincert.ReadSecret(bad)
	add(err)
	other, _ := origincert.GenerateKey("")
	_, err = other.TLSCertificate(secretFor(t, secretSpec{}).Data["tls.crt"])
	add(err)
	add(origincert.Request{Hostnames: []string{"a", "1.2.3.4"}, KeyType: "dsa", Validity: -time.Hour}.Validate())
	add(origincert.Target{Request: origincert.Request{Hostnames: []string{"x"}}, RenewBefore: 400 * 24 * time.Hour}.Validate())
	_, err = c.Issue(ctx, origincert.Request{Hostnames: []string{"example.org"}})
	add(err)
	_, err = c.List(ctx, "")
	add(err)
	_, err = origincert.NewClient("a\nb")
	add(err)
	_, err = origincert.ParseAPITime("yesterday")
	add(err)
	_, err = (&origincert.Renewer{Client: c, Kube: fake.NewClientset()}).Reconcile(ctx, origincert.Target{Namespace: "n", Name: "s",
		Request: origincert.Request{Hostnames: []string{"example.org"}}})
	add(err)
	_, err = (&origincert.OriginPullRotator{Client: c, Kube: fake.NewClientset()}).Reconcile(ctx, origincert.OriginPullTarget{Namespace: "n", Name: "s"})
	add(err)
	_, err = origincert.NewZoneClientCertificate(origincert.ZoneClientSpec{Zone: "localhost", KeyType: "dsa"})
	add(err)
	for i, err := range errs {
		if err == nil {
			continue
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if n := strings.Count(line, "origincert:"); n != 1 {
				t.Errorf("error %d names the package %d times: %q", i, n, line)
			}
		}
	}
}

// Item 3, the class: a server that ignores page= and repeats its only
// page, or sends everything at once, must not make List loop or
// duplicate.
func TestListServerIgnoringPages(t *testing.T) {
	f := newFakeCloudflare()
	defer f.Close()
	c := newClient(t, f)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		cert, err := c.Issue(ctx, origincert.Request{Hostnames: []string{fmt.Sprintf("h%d.example.com", i)}, Validity: 7 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cert.ID)
	}
	// The same full page (per_page 2, page 1) whatever page is asked.
	var items []string
	for _, id := range ids[:2] {
		cert, _ := f.Certificate(id)
		b, _ := json.Marshal(map[string]any{"id": id, "certificate": cert.PEM, "hostnames": cert.Hostnames, "expires_on": cert.NotAfter.String(),
			"request_type": cert.RequestType, "requested_validity": cert.Validity, "csr": ""})
		items = append(items, string(b))
	}
	page := `{"success":true,"errors":[],"messages":[],"result":[` + strings.Join(items, ",") + `],"result_info":{"page":1,"per_page":2,"count":2,"total_count":3}}`
	for range 5 {
		f.failNext("GET /certificates", injected{status: 200, body: page})
	}
	got, err := c.List(ctx, f.zones["example.com"])
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, g := range got {
		gotIDs = append(gotIDs, g.ID)
	}
	if diff := cmp.Diff(ids[:2], gotIDs); diff != "" || f.count("GET /certificates") != 2 {
		t.Errorf("List after %d requests (-want +got):\n%s", f.count("GET /certificates"), diff)
	}
}

// A created certificate is never lost over a field the client does not
// need: expires_on or revoked_at in an unknown layout, requested_validity
// as a string. (The certificate exists at Cloudflare; losing the answer
// leaves an orphan and issues another.)
func TestIssueKeepsCertificateDespiteOddFields(t *testing.T) {
	for _, extra := range []map[string]any{
		{"expires_on": "next Tuesday"},
		{"expires_on": 1767225600},
		{"revoked_at": "never"},
		{"requested_validity": "365"},
	} {
		f := newFakeCloudflare()
		f.AddCertificateResultFields(extra)
		cert, err := newClient(t, f).Issue(context.Background(), origincert.Request{Hostnames: []string{"example.com"}})
		if err != nil || cert.ID == "" || cert.NotAfter.IsZero() {
			t.Errorf("%v: %v", extra, err)
		}
		f.Close()
	}
}
