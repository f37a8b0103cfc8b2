package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/golden"
)

var now = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestEmbedded(t *testing.T) {
	var out strings.Builder
	if err := run(&out, false, "http://127.0.0.1:1", nil, now); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "embedded.txt", out.String())
}

func TestFetch(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"success":true,"errors":[],"messages":[],"result":{"etag":"x",
			"ipv4_cidrs":["173.245.48.0/20","103.21.244.0/22","103.22.200.0/22","103.31.4.0/22","141.101.64.0/18",
			"108.162.192.0/18","190.93.240.0/20","188.114.96.0/20","197.234.240.0/22","198.41.128.0/17",
			"162.158.0.0/15","104.16.0.0/13","104.24.0.0/14","172.64.0.0/13","131.0.72.0/22","198.41.0.0/24"],
			"ipv6_cidrs":["2400:cb00::/32","2606:4700::/32","2803:f800::/32","2405:b500::/32","2405:8100::/32","2a06:98c0::/29","2c0f:f248::/32"]}}`)
	}))
	defer api.Close()
	var out strings.Builder
	if err := run(&out, true, api.URL, []string{"198.41.0.9"}, now); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), api.URL, "API")
	golden.Check(t, "fetch.txt", got)
}

func TestFetchFailsKeepsEmbedded(t *testing.T) {
	var out strings.Builder
	if err := run(&out, true, "http://127.0.0.1:1", []string{"198.41.0.9"}, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Refresh failed, keeping the embedded list") ||
		!strings.Contains(out.String(), "198.41.0.9               not an edge address") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestBadAddress(t *testing.T) {
	if err := run(new(strings.Builder), false, "", []string{"not-an-ip"}, now); err == nil {
		t.Error("a bad address was accepted")
	}
}
