package allowlist

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFetchHostileShapes: every answer that is not exactly the documented
// shape (Cloudflare API schema, GET /ips: {"success": true, "result":
// {"etag", "ipv4_cidrs", "ipv6_cidrs"}}) is an error, never a list.
func TestFetchHostileShapes(t *testing.T) {
	v4 := `["173.245.48.0/20"]`
	v6 := `["2400:cb00::/32"]`
	res := func(inner string) string {
		return `{"success":true,"errors":[],"messages":[],"result":{` + inner + `}}`
	}
	good := `"etag":"e","ipv4_cidrs":` + v4 + `,"ipv6_cidrs":` + v6
	for _, tc := range []struct{ name, body string }{
		{"success as string", `{"success":"true","errors":[],"result":{` + good + `}}`},
		{"success as number", `{"success":1,"errors":[],"result":{` + good + `}}`},
		{"success null", `{"success":null,"errors":[],"result":{` + good + `}}`},
		{"success missing", `{"errors":[],"result":{` + good + `}}`},
		{"success twice", `{"success":false,"success":true,"result":{` + good + `}}`},
		{"Success case variant", `{"success":false,"Success":true,"result":{` + good + `}}`},
		{"result twice", `{"success":true,"result":{"etag":"x"},"result":{` + good + `}}`},
		{"result null", `{"success":true,"result":null}`},
		{"result array", `{"success":true,"result":[]}`},
		{"ipv4 twice", res(good + `,"ipv4_cidrs":["45.0.0.0/8"]`)},
		{"ipv4 case variant", res(good + `,"IPv4_CIDRs":["45.0.0.0/8"]`)},
		{"etag case variant", res(good + `,"ETag":"other"`)},
		{"ipv4 null entry", res(`"etag":"e","ipv4_cidrs":[null],"ipv6_cidrs":` + v6)},
		{"ipv4 number entry", res(`"etag":"e","ipv4_cidrs":[3232235520],"ipv6_cidrs":` + v6)},
		{"ipv4 as string", res(`"etag":"e","ipv4_cidrs":"173.245.48.0/20","ipv6_cidrs":` + v6)},
		{"ipv4 object", res(`"etag":"e","ipv4_cidrs":{"a":"173.245.48.0/20"},"ipv6_cidrs":` + v6)},
		{"v6 in ipv4", res(`"etag":"e","ipv4_cidrs":["2400:cb00::/32"],"ipv6_cidrs":` + v6)},
		{"v4 in ipv6", res(`"etag":"e","ipv4_cidrs":` + v4 + `,"ipv6_cidrs":["173.245.48.0/20"]`)},
		{"mapped in ipv6", res(`"etag":"e","ipv4_cidrs":` + v4 + `,"ipv6_cidrs":["::ffff:45.0.0.0/104"]`)},
		{"zone", res(`"etag":"e","ipv4_cidrs":` + v4 + `,"ipv6_cidrs":["2400:cb00::%eth0/32"]`)},
		{"leading zeros", res(`"etag":"e","ipv4_cidrs":["173.245.048.0/20"],"ipv6_cidrs":` + v6)},
		{"space", res(`"etag":"e","ipv4_cidrs":[" 173.245.48.0/20"],"ipv6_cidrs":` + v6)},
		{"trailing garbage", res(good) + `{"success":true}`},
		{"trailing array", res(good) + `[]`},
		{"not json", `<html>ok</html>`},
		{"BOM", "\ufeff" + res(good)},
		{"nested duplicate", `{"success":true,"errors":[],"result":{` + good + `},"x":{"a":1,"a":2}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.answer(200, tc.body)
			rg, err := api.fetcher().Fetch(context.Background(), "")
			if err == nil {
				t.Errorf("%s accepted: %+v", tc.body, rg)
			}
		})
	}
}

// TestFetchSlowBodyTimesOut: a server that trickles a body forever is cut
// off by the timeout, which covers the body as well as the headers.
func TestFetchSlowBodyTimesOut(t *testing.T) {
	api := newFakeAPI(t)
	api.set(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte(`{"success":true,`))
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
			}
		}
	})
	start := time.Now()
	_, err := api.fetcher(WithTimeout(200*time.Millisecond)).Fetch(context.Background(), "")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

// TestFetchHugeBody: a body far over the cap is an error, read no further
// than the cap.
func TestFetchHugeBody(t *testing.T) {
	api := newFakeAPI(t)
	api.answer(200, `{"success":true,"result":{"etag":"`+strings.Repeat("a", 4<<20)+`"}}`)
	if _, err := api.fetcher().Fetch(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err %v", err)
	}
}

// TestFetchRedirects: same-host redirects are followed, another host or
// scheme is refused, a loop ends.
func TestFetchRedirects(t *testing.T) {
	api := newFakeAPI(t)
	api.set(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("to") {
		case "":
			http.Redirect(w, r, "/client/v4/ips?to=loop", http.StatusFound)
		default:
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		}
	})
	if _, err := api.fetcher().Fetch(context.Background(), ""); err == nil {
		t.Error("redirect loop accepted")
	}
	for _, target := range []string{"http://localhost:1/ips", "https://" + strings.TrimPrefix(api.URL, "http://") + "/client/v4/ips", "//127.0.0.2:1/ips"} {
		api.set(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) })
		if _, err := api.fetcher().Fetch(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("redirect to %s: %v", target, err)
		}
	}
}
