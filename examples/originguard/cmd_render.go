package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/originguard/originguard/allowlist"
)

// sampleSpec is sample.yaml, embedded so that render works with no file
// from any directory.
//
//go:embed sample.yaml
var sampleSpec []byte

// samplePath is where the sample lives in the repository.
const samplePath = "examples/originguard/sample.yaml"

// envAPI names the environment variable that overrides the Cloudflare API
// base URL (tests point it at an httptest server).
const envAPI = "ORIGINGUARD_CLOUDFLARE_API"

func (c *cli) render(ctx context.Context, args []string) error {
	fs := c.flags("render", "[-f spec.yaml] [-out dir] [-layer "+strings.Join(layerNames, "|")+"] [-api url]")
	file := fs.String("f", "", "the spec (YAML); - reads stdin; default: the commented sample, "+samplePath)
	out := fs.String("out", "", "write one file per layer and a kustomization.yaml into this directory instead of stdout")
	only := fs.String("layer", "", "print only this layer, as its tools read it: "+strings.Join(layerNames, ", "))
	api := fs.String("api", "", "Cloudflare API base URL, for edge source: fetch (default $"+envAPI+", else "+allowlist.DefaultBaseURL+")")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("render: unexpected argument %q (the spec is given with -f)", fs.Arg(0))
	}
	if *only != "" && !slices.Contains(layerNames, *only) {
		return fmt.Errorf("render: unknown layer %q (want one of %s)", *only, strings.Join(layerNames, ", "))
	}
	if *only != "" && *out != "" {
		return errors.New("render: -layer and -out do not go together (-out writes every layer)")
	}
	name, data, dir := samplePath, sampleSpec, "."
	switch *file {
	case "":
	case "-":
		b, err := readAll(c.stdin)
		if err != nil {
			return err
		}
		name, data = "stdin", b
	default:
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		name, data, dir = *file, b, filepath.Dir(*file)
	}
	s, err := parseSpec(name, data)
	if err != nil {
		return err
	}
	edge, source, err := c.loadEdge(ctx, s, dir, *api)
	if err != nil {
		return err
	}
	layers, err := render(s, edge)
	if err != nil {
		return fmt.Errorf("%s: the spec does not make a valid defence:\n%w", name, err)
	}
	header := fmt.Sprintf("# Rendered by originguard render from %s.\n# edge: %s\n", filepath.ToSlash(name), source)
	switch {
	case *only != "":
		for _, l := range layers {
			if l.name != *only {
				continue
			}
			if l.kube {
				_, err = c.stdout.Write(append([]byte(header), l.text...))
			} else {
				_, err = c.stdout.Write(l.text)
			}
			return err
		}
		return fmt.Errorf("render: the spec has no %s layer", *only)
	case *out != "":
		names, err := writeDir(*out, header, layers)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		slices.Sort(names)
		fmt.Fprintf(c.stderr, "wrote %s into %s\n", strings.Join(names, ", "), *out)
		return nil
	}
	var b bytes.Buffer
	writeStream(&b, header, layers)
	_, err = c.stdout.Write(b.Bytes())
	return err
}

// baseURL is the Cloudflare API base URL: the flag, the environment, or
// Cloudflare's.
func (c *cli) baseURL(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := c.getenv(envAPI); v != "" {
		return v
	}
	return allowlist.DefaultBaseURL
}

// loadEdge returns the spec's edge prefixes and a line saying where they
// came from. A file is relative to the spec's directory. A file, and a
// fetched list, must pass allowlist's Guard (a fetched list also against
// the embedded snapshot, for shrinking): an empty, Internet-wide, private or
// one-family list is refused, not rendered into every layer.
func (c *cli) loadEdge(ctx context.Context, s *spec, dir, api string) ([]netip.Prefix, string, error) {
	switch s.Edge.Source {
	case "", "embedded":
		r := allowlist.Embedded()
		return r.All(), fmt.Sprintf("%d IPv4 + %d IPv6 Cloudflare ranges, embedded snapshot taken %s",
			len(r.IPv4), len(r.IPv6), r.TakenAt.Format(time.DateOnly)), nil
	case "file":
		path := s.Edge.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("edge.file: %w", err)
		}
		set, err := allowlist.Parse(string(text))
		if err != nil {
			return nil, "", fmt.Errorf("edge.file %s: %w", path, err)
		}
		// The file becomes every layer's idea of "the edge": a tampered or
		// mistaken one (0.0.0.0/0, a private range, one family missing)
		// must not open every layer at once. allowlist's Guard judges it as
		// it judges a fetched list, but lets a file hold part of the list
		// (AllowShrink); a load balancer's own addresses belong in
		// nodes.balancer, not here.
		if err := (allowlist.Guard{AllowShrink: true}).Check(set); err != nil {
			return nil, "", fmt.Errorf("edge.file %s is refused as an edge list: %w", path, err)
		}
		return set.Prefixes(), fmt.Sprintf("%d IPv4 + %d IPv6 prefixes from %s", set.Len4(), set.Len6(), filepath.ToSlash(s.Edge.File)), nil
	}
	url := c.baseURL(api)
	f := allowlist.NewFetcher(allowlist.WithBaseURL(url), allowlist.WithTimeout(10*time.Second), allowlist.WithClock(c.clock))
	r, err := f.Fetch(ctx, "")
	if err != nil {
		return nil, "", fmt.Errorf("edge source fetch: %w (use source: embedded to render offline)", err)
	}
	set, err := r.Set()
	if err != nil {
		return nil, "", fmt.Errorf("edge source fetch: %w", err)
	}
	if err := (allowlist.Guard{}).Check(set); err != nil { // against the embedded list
		return nil, "", fmt.Errorf("edge source fetch: the live list is refused: %w", err)
	}
	return set.Prefixes(), fmt.Sprintf("%d IPv4 + %d IPv6 Cloudflare ranges, fetched from %s (etag %q)",
		set.Len4(), set.Len6(), url, r.ETag), nil
}

// readAll reads r, refusing more than 16 MiB.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20+1))
	if err == nil && len(b) > 16<<20 {
		err = errors.New("input larger than 16 MiB")
	}
	return b, err
}
