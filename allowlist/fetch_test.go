package allowlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// okBody renders a successful GET /ips answer.
func okBody(etag string, v4, v6 []string, jd ...string) string {
	result := map[string]any{"etag": etag, "ipv4_cidrs": v4, "ipv6_cidrs": v6}
	if jd != nil {
		result["jdcloud_cidrs"] = jd
	}
	b, _ := json.Marshal(map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": result})
	return string(b)
}

// fakeAPI is an httptest Cloudflare API whose answer the test sets.
type fakeAPI struct {
	*httptest.Server
	handler atomic.Pointer[http.HandlerFunc]
	hits    atomic.Int32
}

func newFakeAPI(t *testing.T) *fakeAPI {
	api := &fakeAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.hits.Add(1)
		if r.URL.Path != "/client/v4/ips" {
			http.NotFound(w, r)
			return
		}
		(*api.handler.Load())(w, r)
	}))
	t.Cleanup(api.Close)
	return api
}

func (api *fakeAPI) set(h http.HandlerFunc) { api.handler.Store(&h) }

func (api *fakeAPI) answer(status int, body string) {
	api.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

func (api *fakeAPI) fetcher(opts ...Option) *Fetcher {
	return NewFetcher(append([]Option{WithBaseURL(api.URL + "/client/v4/")}, opts...)...)
}

var (
	cfV4 = []string{"173.245.48.0/20", "103.21.244.0/22"}
	cfV6 = []string{"2400:cb00::/32"}
)

func TestFetchOK(t *testing.T) {
	api := newFakeAPI(t)
	api.answer(200, okBody("abc", cfV4, cfV6))
	clock := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r, err := api.fetcher(WithClock(func() time.Time { return clock })).Fetch(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.ETag != "abc" || len(r.IPv4) != 2 || r.IPv4[1] != netip.MustParsePrefix("103.21.244.0/22") ||
		len(r.IPv6) != 1 || r.JDCloud != nil || !r.TakenAt.Equal(clock) || r.Source != api.URL+"/client/v4/ips" {
		t.Errorf("Fetch = %+v", r)
	}
	if _, err := api.fetcher().Fetch(context.Background(), "abc"); !errors.Is(err, ErrNotModified) {
		t.Errorf("same etag: err = %v, want ErrNotModified", err)
	}
}

func TestFetchJDCloud(t *testing.T) {
	api := newFakeAPI(t)
	api.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("networks") != "jdcloud" {
			fmt.Fprint(w, okBody("x", cfV4, cfV6))
			return
		}
		fmt.Fprint(w, okBody("x", cfV4, cfV6, "203.0.113.0/24", "2001:db8::/32"))
	})
	r, err := api.fetcher(WithJDCloud()).Fetch(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.JDCloud) != 2 || len(r.All()) != 5 {
		t.Errorf("JDCloud = %v", r.JDCloud)
	}
}

func TestFetchBadDays(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		opts    []Option
		want    string // in the error
		api     *APIError
	}{
		{name: "server error", handler: status(503, "<html>bad gateway</html>", nil), want: "status 503",
			api: &APIError{StatusCode: 503}},
		{name: "rate limited", handler: status(429, `{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}`, map[string]string{"Retry-After": "120"}),
			want: "971: Please wait", api: &APIError{StatusCode: 429, RetryAfter: 2 * time.Minute,
				Errors: []APIMessage{{Code: 971, Message: "Please wait and consider throttling your request speed"}}}},
		{name: "envelope failure with 200", handler: status(200, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`, nil),
			want: "10000: Authentication error", api: &APIError{StatusCode: 200, Errors: []APIMessage{{Code: 10000, Message: "Authentication error"}}}},
		{name: "no success field", handler: status(200, `{"result":{"ipv4_cidrs":["173.245.48.0/20"]}}`, nil), want: "not a Cloudflare API envelope"},
		{name: "truncated JSON", handler: status(200, okBody("e", cfV4, cfV6)[:40], nil), want: "malformed answer"},
		{name: "no result", handler: status(200, `{"success":true,"errors":[],"messages":[]}`, nil), want: `no "result"`},
		{name: "bad cidr", handler: status(200, okBody("e", []string{"173.245.48.0/20", "173.245.48.0/33"}, cfV6), nil), want: `ipv4_cidrs[1]: "173.245.48.0/33" is not a valid prefix`},
		{name: "wrong family", handler: status(200, okBody("e", cfV4, []string{"173.245.48.0/20"}), nil), want: "ipv6_cidrs[0]: \"173.245.48.0/20\" is of the wrong address family"},
		{name: "10 MB body", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"success":true,"result":{"ipv4_cidrs":["`+strings.Repeat("1", 10<<20)+`"]}}`)
		}, want: "body exceeds 1048576 bytes"},
		{name: "slow server", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, opts: []Option{WithTimeout(100 * time.Millisecond)}, want: "context deadline exceeded"},
		{name: "repeated key", handler: status(200, `{"success":true,"errors":[],"messages":[],"result":{"etag":"e","ipv4_cidrs":["173.245.48.0/20"],"ipv6_cidrs":["2400:cb00::/32"],"ipv4_cidrs":["0.0.0.0/1"]}}`, nil),
			want: `malformed answer: ambiguous JSON key: "ipv4_cidrs" appears twice`},
		{name: "key differing in case", handler: status(200, `{"success":true,"errors":[],"messages":[],"result":{"etag":"e","ipv4_cidrs":["173.245.48.0/20"],"ipv6_cidrs":["2400:cb00::/32"],"IPv4_CIDRs":["0.0.0.0/1"]}}`, nil),
			want: `"IPv4_CIDRs" appears twice`},
		{name: "repeated success", handler: status(200, `{"success":false,"success":true,"errors":[],"messages":[],"result":{"etag":"e","ipv4_cidrs":["173.245.48.0/20"],"ipv6_cidrs":["2400:cb00::/32"]}}`, nil),
			want: "ambiguous JSON key"},
		{name: "retry-after of a year", handler: status(429, `{"success":false,"errors":[],"messages":[],"result":null}`, map[string]string{"Retry-After": "31536000"}),
			want: "status 429", api: &APIError{StatusCode: 429, RetryAfter: 24 * time.Hour, Errors: []APIMessage{}}},
		{name: "jdcloud asked, not given", handler: status(200, okBody("e", cfV4, cfV6), nil), opts: []Option{WithJDCloud()}, want: "no jdcloud_cidrs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.set(tt.handler)
			start := time.Now()
			r, err := api.fetcher(tt.opts...).Fetch(context.Background(), "")
			if err == nil {
				t.Fatalf("Fetch succeeded with %+v", r)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if r.IPv4 != nil || r.IPv6 != nil {
				t.Errorf("a failed Fetch returned a list: %+v", r)
			}
			if tt.api != nil {
				var apiErr *APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("error %v is not an *APIError", err)
				}
				if apiErr.StatusCode != tt.api.StatusCode || apiErr.RetryAfter != tt.api.RetryAfter ||
					fmt.Sprint(apiErr.Errors) != fmt.Sprint(tt.api.Errors) {
					t.Errorf("APIError = %+v, want %+v", apiErr, tt.api)
				}
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Fetch took %v", time.Since(start))
			}
		})
	}
}

func status(code int, body string, headers map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func TestFetchCallerContext(t *testing.T) {
	api := newFakeAPI(t)
	api.answer(200, okBody("e", cfV4, cfV6))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := api.fetcher().Fetch(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(200, okBody("e", cfV4, cfV6))
	f.Add(200, okBody("e", cfV4, cfV6, "203.0.113.0/24"))
	f.Add(429, `{"success":false,"errors":[{"code":1,"message":"x"}]}`)
	f.Add(200, `{"success":true,"result":{"ipv4_cidrs":["::ffff:1.2.3.4/120"],"ipv6_cidrs":[null]}}`)
	f.Add(500, `not json`)
	now := func() time.Time { return time.Time{} }
	f.Fuzz(func(t *testing.T, code int, body string) {
		r, err := parseResponse(code, "", []byte(body), now)
		if err != nil {
			if r.IPv4 != nil || r.IPv6 != nil || r.JDCloud != nil {
				t.Fatalf("error %v with a list %+v", err, r)
			}
			return
		}
		if code < 200 || code > 299 {
			t.Fatalf("status %d accepted", code)
		}
		for _, p := range r.IPv4 {
			if !p.IsValid() || !p.Addr().Is4() || p != p.Masked() {
				t.Fatalf("bad IPv4 prefix %v", p)
			}
		}
		for _, p := range r.IPv6 {
			if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p != p.Masked() {
				t.Fatalf("bad IPv6 prefix %v", p)
			}
		}
		if _, err := r.Set(); err != nil {
			t.Fatalf("accepted list does not make a Set: %v", err)
		}
	})
}
