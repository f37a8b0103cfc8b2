package origincert_test

import (
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

// fakeCloudflare is the exported fake API (package cloudflaretest) with
// the short helpers these tests were written against.
type fakeCloudflare struct {
	*cloudflaretest.Server
	token string            // the token newClient uses
	zones map[string]string // name -> id
}

// injected is a failure to inject (cloudflaretest.Response, terser).
type injected struct {
	status int
	header map[string]string
	body   string // raw; "" means a standard error envelope
	hangup bool   // close the connection without answering
	after  bool   // carry the request out first, then fail (ambiguous outcome)
	pass   bool   // answer normally (to reach a later request)
}

const fakeToken = cloudflaretest.Token

func newFakeCloudflare(opts ...cloudflaretest.Option) *fakeCloudflare {
	return &fakeCloudflare{
		Server: cloudflaretest.NewServer(opts...),
		token:  fakeToken,
		zones:  map[string]string{"example.com": cloudflaretest.ExampleComID, "example.net": cloudflaretest.ExampleNetID},
	}
}

// failNext queues responses for "METHOD /path".
func (f *fakeCloudflare) failNext(route string, rs ...injected) {
	for _, r := range rs {
		f.Inject(route, cloudflaretest.Response{Status: r.status, Header: r.header, Body: r.body, Hangup: r.hangup, After: r.after, Pass: r.pass})
	}
}

func (f *fakeCloudflare) count(prefix string) int { return f.Count(prefix) }

func (f *fakeCloudflare) cert(id string) cloudflaretest.OriginCertificate {
	c, _ := f.Certificate(id)
	return c
}
