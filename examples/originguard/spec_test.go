package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Every field of the spec is shown and commented in sample.yaml, so the
// sample documents the whole format.
func TestSampleShowsEveryField(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[prefix]() {
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "" {
				continue
			}
			if !strings.Contains(string(sampleSpec), " "+tag+":") && !strings.Contains(string(sampleSpec), "\n"+tag+":") &&
				!strings.Contains(string(sampleSpec), "- "+tag+":") {
				t.Errorf("sample.yaml does not show %s%s", path, tag)
			}
			walk(f.Type, path+tag+".")
		}
	}
	walk(reflect.TypeFor[spec](), "")
}

// FuzzParseSpec: the spec reader never panics, and a spec it accepts
// renders or fails with an error, never a panic.
func FuzzParseSpec(f *testing.F) {
	f.Add(string(sampleSpec))
	f.Add("cluster: {networks: [10.0.0.0/8], controlPlane: [10.0.0.1/32]}\nnodes: {firewall: none}\n")
	f.Add("ingress: {controller: kong}\n")
	f.Add("cluster:\n  networks: [::/0]\n---\nx: 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseSpec("fuzz.yaml", []byte(text))
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		render(s, prefixes([]prefix{{mustPrefix("173.245.48.0/20")}, {mustPrefix("2400:cb00::/32")}}))
	})
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
