package cloudflaretest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/originguard/originguard/origincert"
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

// A controller that embeds origincert.Renewer, tested against the fake API
// and client-go's fake clientset.
func Example() {
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	r := &origincert.Renewer{
		Client:  c,
		Kube:    fake.NewClientset(),
		Issuers: api.IssuerRoots(), // the fake signs with its own test roots
	}
	target := origincert.Target{Namespace: "web", Name: "origin-tls",
		Request: origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), Validity: 30 * 24 * time.Hour}}
	ctx := context.Background()
	for range 3 {
		res, err := r.Reconcile(ctx, target)
		fmt.Printf("renew=%t reason=%q issued=%q err=%v\n", res.Decision.Renew, res.Decision.Reason, res.Issued, err)
	}
	fmt.Println(api.Count("POST /certificates"), "certificate issued")
	// Output:
	// renew=true reason="missing" issued="328468547062983249580001" err=<nil>
	// renew=false reason="" issued="" err=<nil>
	// renew=false reason="" issued="" err=<nil>
	// 1 certificate issued
}

// Inject a failure for the next request to a route.
func ExampleServer_Inject() {
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	api.Inject("POST /certificates", cloudflaretest.Response{Status: 429, Header: map[string]string{"Retry-After": "120"}})
	_, err = c.Issue(context.Background(), origincert.Request{Hostnames: []string{"example.com"}})
	var ae *origincert.APIError
	fmt.Println(errors.As(err, &ae), errors.Is(err, origincert.ErrRateLimited), ae.RetryAfter)
	// Output: true true 2m0s
}

// The batch zone settings endpoint is gone, as at Cloudflare since its end
// of life on 2026-09-15; settings are read one at a time.
func ExampleServer_Setting() {
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	api.SetSetting(cloudflaretest.ExampleComID, "ssl", "strict")
	p, err := c.CheckPosture(context.Background(), cloudflaretest.ExampleComID)
	fmt.Println(p.Settings[origincert.SettingSSL], err)
	fmt.Println(api.Count("GET /zones/"+cloudflaretest.ExampleComID+"/settings/"), "settings read one at a time")
	// Output:
	// strict <nil>
	// 4 settings read one at a time
}

// Which client certificate Cloudflare would present to an origin.
func ExampleServer_PresentedClientCertificate() {
	api := cloudflaretest.NewServer(cloudflaretest.WithDeployReads(0))
	defer api.Close()
	zone := cloudflaretest.ExampleComID
	fmt.Printf("%q\n", api.PresentedClientCertificate(zone, "www.example.com"))
	api.SetSetting(zone, "tls_client_auth", "on")
	fmt.Println(api.PresentedClientCertificate(zone, "www.example.com"))
	// Output:
	// ""
	// shared
}

// What the client sent and what the fake made of it.
func ExampleServer_Certificates() {
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	cert, err := c.Issue(ctx, origincert.Request{Hostnames: origincert.ApexAndWildcard("example.com"), Validity: 7 * 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	if err := c.Revoke(ctx, cert.ID); err != nil {
		panic(err)
	}
	for _, oc := range api.Certificates() {
		fmt.Println(oc.ID, oc.Hostnames, oc.RequestType, oc.Validity, "days, revoked:", !oc.RevokedAt.IsZero())
	}
	for _, r := range api.Requests() {
		fmt.Println(r.Method, r.Path)
	}
	// Output:
	// 328468547062983249580001 [example.com *.example.com] origin-ecc 7 days, revoked: true
	// POST /certificates
	// DELETE /certificates/328468547062983249580001
}

// A token without permission on a zone gets the same answer from the
// Origin CA as a zone outside the account.
func ExampleServer_DenyZone() {
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	api.DenyZone(cloudflaretest.ExampleNetID)
	_, err = c.Issue(context.Background(), origincert.Request{Hostnames: []string{"example.net"}})
	fmt.Println(errors.Is(err, origincert.ErrUnauthorized), errors.Is(err, origincert.ErrInvalidHostname))
	// Output: true true
}

// A zone of its own, for tests that need one.
func ExampleServer_AddZone() {
	api := cloudflaretest.NewServer()
	defer api.Close()
	c, err := origincert.NewClient(cloudflaretest.Token, origincert.WithBaseURL(api.URL()))
	if err != nil {
		panic(err)
	}
	id := api.AddZone("example.org")
	got, err := c.ZoneID(context.Background(), "example.org")
	fmt.Println(got == id, err)
	// Output: true <nil>
}
