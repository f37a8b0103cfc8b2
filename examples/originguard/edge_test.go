package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/golden"
)

// What examples/edgecheck did: the embedded ranges, their age, the samples.
func TestEdgeEmbedded(t *testing.T) {
	out, _, err := runCLI(t, nil, "edge")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "edge.embedded.txt", out)
}

func TestEdgeFetch(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, liveList) }))
	defer api.Close()
	out, _, err := runCLI(t, nil, "edge", "-fetch", "-api", api.URL, "198.41.0.9")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "edge.fetch.txt", strings.ReplaceAll(out, api.URL, "API"))
}

func TestEdgeFetchFailsKeepsEmbedded(t *testing.T) {
	out, _, err := runCLI(t, map[string]string{envAPI: "http://127.0.0.1:1"}, "edge", "-fetch", "198.41.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Refresh failed, keeping the embedded list") ||
		!strings.Contains(out, "198.41.0.9               not an edge address") {
		t.Errorf("output:\n%s", out)
	}
}
