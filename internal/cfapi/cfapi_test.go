package cfapi

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
		wantErr    bool
		desc       string
	}{
		// Shapes from Cloudflare's public API schema.
		{name: "success", body: `{"success":true,"errors":[],"messages":[],"result":{"a":1}}`, ok: true},
		{name: "failure", body: `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`, desc: "; 10000: Authentication error"},
		{name: "bare string errors", body: `{"success":false,"errors":["bad thing"],"result":null}`, desc: "; bad thing"},
		{name: "html", body: `<html>502 Bad Gateway</html>`, wantErr: true},
		{name: "empty", body: "  ", wantErr: true},
		{name: "no success", body: `{"result":{}}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Decode([]byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, ErrNotEnvelope) {
					t.Fatalf("Decode = %v, want ErrNotEnvelope", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if env.OK() != tc.ok {
				t.Errorf("OK = %v, want %v", env.OK(), tc.ok)
			}
			if got := Describe(env.Errors, 0); got != tc.desc {
				t.Errorf("Describe = %q, want %q", got, tc.desc)
			}
		})
	}
}

func TestDescribeBounded(t *testing.T) {
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = Message{Code: i + 1, Message: strings.Repeat("x", 10)}
	}
	got := Describe(msgs, 3)
	if want := "; 1: xxxxxxxxxx; 2: xxxxxxxxxx; 3: xxxxxxxxxx; and 997 more"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		" 7 ":                           7 * time.Second,
		"-5":                            0,
		"0":                             0,
		"soon":                          0,
		"99999999999999999999":          0, // not an int64: not delay-seconds, not a date
		"9223372036854775807":           time.Hour,
		"Sun, 29 Nov 2026 12:01:00 GMT": time.Minute,
		"Sun, 29 Nov 2026 11:00:00 GMT": 0,
		"Sun, 29 Nov 2026 18:00:00 GMT": time.Hour,
	} {
		if got := RetryAfter(in, now, time.Hour); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	if got := RetryAfter("7200", now, 0); got != 2*time.Hour {
		t.Errorf("RetryAfter without max = %v", got)
	}
}
