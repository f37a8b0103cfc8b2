package cfapi

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	for _, tc := range []struct {
		body string
		dup  bool
	}{
		{`{"success":true,"result":{"etag":"a","ipv4_cidrs":["192.0.2.0/24"]}}`, false},
		{`{"success":true,"success":false}`, true},
		{`{"success":true,"Success":false}`, true},
		{`{"result":{"ipv4_cidrs":[],"IPV4_CIDRS":["0.0.0.0/0"]}}`, true},
		{`{"a":[{"k":1},{"k":2}]}`, false}, // the same key in sibling objects
		{`{"a":{"k":1},"b":{"k":2}}`, false},
		{`{"a":[{"k":1,"k":2}]}`, true},
		{`{"\u212a":1,"k":2}`, true}, // KELVIN SIGN folds to k, as encoding/json matches it
		{`{"ſ":1,"S":2}`, true},      // LATIN SMALL LETTER LONG S folds to s
		{`{"a":{},"b":[],"c":[[{}]],"a2":null}`, false},
		{`[{"x":1},{"x":1,"y":{"x":2}}]`, false},
		{`{"x":{"y":1},"x":{"z":2}}`, true},
	} {
		err := CheckKeys([]byte(tc.body))
		if got := errors.Is(err, ErrAmbiguousKey); got != tc.dup || (!tc.dup && err != nil) {
			t.Errorf("CheckKeys(%s) = %v, want ambiguous %v", tc.body, err, tc.dup)
		}
	}
	if err := CheckKeys([]byte(`{"a":`)); err == nil {
		t.Error("CheckKeys accepted a truncated body")
	}
	long := `{"` + strings.Repeat("k", 1000) + `":1,"` + strings.Repeat("K", 1000) + `":2}`
	if err := CheckKeys([]byte(long)); err == nil || len(err.Error()) > 200 {
		t.Errorf("long key: %v", err)
	}
}

func TestDecodeStrict(t *testing.T) {
	if _, err := DecodeStrict([]byte(`{"success":true,"errors":[],"messages":[],"result":{}}`)); err != nil {
		t.Errorf("genuine answer: %v", err)
	}
	_, err := DecodeStrict([]byte(`{"success":false,"success":true,"errors":[],"result":{}}`))
	if !errors.Is(err, ErrAmbiguousKey) || errors.Is(err, ErrNotEnvelope) {
		t.Errorf("repeated success: %v", err)
	}
	if _, err := DecodeStrict([]byte(`<html>`)); !errors.Is(err, ErrNotEnvelope) {
		t.Errorf("html: %v", err)
	}
}

func FuzzCheckKeys(f *testing.F) {
	f.Add(`{"a":1,"A":2}`)
	f.Add(`[{"a":{"b":[1,{"c":2}]}}]`)
	f.Fuzz(func(t *testing.T, body string) {
		_ = CheckKeys([]byte(body)) // must not panic
	})
}
