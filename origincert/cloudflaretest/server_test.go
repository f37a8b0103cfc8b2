package cloudflaretest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/origincert/cloudflaretest"
)

// do sends one request with the server's token and decodes the envelope.
func do(t *testing.T, s *cloudflaretest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cloudflaretest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
	}
	return resp.StatusCode, env
}

func code(env map[string]any) float64 {
	errs, _ := env["errors"].([]any)
	if len(errs) == 0 {
		return 0
	}
	m, _ := errs[0].(map[string]any)
	c, _ := m["code"].(float64)
	return c
}

// The fake serves today's API: the batch settings read is gone, bodies
// are strict, and the certificate list pages as cloudflare-go's fixture.
func TestServerShapes(t *testing.T) {
	s := cloudflaretest.NewServer()
	defer s.Close()
	zone := cloudflaretest.ExampleComID
	if st, env := do(t, s, "GET", "/zones/"+zone+"/settings", ""); st != 400 || code(env) != 7003 || env["success"] != false {
		t.Errorf("batch settings: %d %v", st, env)
	}
	if st, env := do(t, s, "GET", "/zones/"+zone+"/settings/ssl", ""); st != 200 || env["result"].(map[string]any)["value"] != "full" {
		t.Errorf("one setting: %d %v", st, env)
	}
	if st, _ := do(t, s, "PATCH", "/zones/"+zone+"/settings/ssl", `{"value":"strict","id":"ssl"}`); st != 400 {
		t.Errorf("PATCH with an extra field: %d", st)
	}
	if st, env := do(t, s, "PATCH", "/zones/"+zone+"/settings/ssl", `{"value":"bogus"}`); st != 400 || code(env) != 1007 {
		t.Errorf("PATCH with a bad value: %d %v", st, env)
	}
	// cloudflare-go's struct adds zero-valued fields; the fake refuses them.
	if st, _ := do(t, s, "POST", "/certificates", `{"id":"","hostnames":["example.com"],"requested_validity":7,"request_type":"origin-ecc","csr":"x"}`); st != 400 {
		t.Errorf("create with an extra field: %d", st)
	}
	if st, env := do(t, s, "GET", "/certificates?zone_id="+zone, ""); st != 200 {
		t.Errorf("list: %d %v", st, env)
	} else if info := env["result_info"].(map[string]any); info["total_pages"] != nil || info["per_page"] != float64(20) {
		t.Errorf("result_info %v, want page, per_page, count, total_count only", info)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/zones", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("no credentials: %d", resp.StatusCode)
	}
}

// The fake is a test helper: origincert itself must never import it.
func TestNotImportedByOrigincert(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/originguard/originguard/origincert").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "origincert/cloudflaretest") {
		t.Error("origincert depends on origincert/cloudflaretest")
	}
}

// Cloudflare's per-token limit: over it, 429 with Retry-After until the
// window has room again.
func TestServerRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := cloudflaretest.NewServer(cloudflaretest.WithRateLimit(3, time.Minute), cloudflaretest.WithClock(func() time.Time { return now }))
	defer s.Close()
	for i := range 3 {
		if st, _ := do(t, s, "GET", "/zones", ""); st != 200 {
			t.Fatalf("request %d: %d", i+1, st)
		}
	}
	req, _ := http.NewRequest("GET", s.URL()+"/zones", nil)
	req.Header.Set("Authorization", "Bearer "+cloudflaretest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("over the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	now = now.Add(time.Minute)
	if st, _ := do(t, s, "GET", "/zones", ""); st != 200 {
		t.Errorf("after the window: %d", st)
	}
}
