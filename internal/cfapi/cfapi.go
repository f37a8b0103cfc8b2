// Package cfapi is the plumbing of the Cloudflare API v4 that more than one
// originguard package needs: the JSON envelope every answer comes in, its
// error entries, paging information and the Retry-After header. It imports
// only the standard library, so that allowlist (standard library and bart
// only) and origincert (which talks through cloudflare-go) can both use it.
//
// It makes no requests and classifies nothing: each package turns what it
// reads here into its own exported errors, naming itself once.
//
// The shapes follow Cloudflare's public API schema: every answer is
//
//	{"success": bool, "errors": [{"code": int, "message": string}],
//	 "messages": [...], "result": ..., "result_info": {...}}
//
// and an error entry is sometimes a bare string in older endpoints.
package cfapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is one entry of an envelope's "errors" or "messages" array.
// A bare JSON string decodes into Message with Code 0.
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// UnmarshalJSON accepts both {"code":…, "message":…} and a bare string.
func (m *Message) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*m = Message{Message: s}
		return nil
	}
	type plain Message
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Message(p)
	return nil
}

// ResultInfo is an envelope's paging information. Any field may be absent:
// some endpoints send only page, per_page, count and total_count.
type ResultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// Envelope is the wrapper of every Cloudflare API v4 answer. Success is nil
// when the body had no "success" field, which no genuine answer lacks.
type Envelope struct {
	Success    *bool           `json:"success"`
	Errors     []Message       `json:"errors"`
	Messages   []Message       `json:"messages"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *ResultInfo     `json:"result_info"`
}

// ErrNotEnvelope is returned by [Decode] for a body that is not a
// Cloudflare API envelope (an HTML error page, an empty body, a JSON value
// without "success").
var ErrNotEnvelope = errors.New("not a Cloudflare API envelope")

// Decode reads body as an envelope. A body that is not JSON, or JSON
// without a "success" field, is an error wrapping [ErrNotEnvelope].
func Decode(body []byte) (Envelope, error) {
	var env Envelope
	if len(bytes.TrimSpace(body)) == 0 {
		return Envelope{}, fmt.Errorf("empty body: %w", ErrNotEnvelope)
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrNotEnvelope, err)
	}
	if env.Success == nil {
		return Envelope{}, fmt.Errorf(`no "success" field: %w`, ErrNotEnvelope)
	}
	return env, nil
}

// OK reports whether the envelope says the call succeeded.
func (e Envelope) OK() bool { return e.Success != nil && *e.Success }

// Describe renders the envelope's error entries as "; code: message" pairs,
// the form every originguard error message uses, for at most max entries
// (max <= 0 means all) so a hostile body cannot make an unbounded error.
func Describe(msgs []Message, max int) string {
	var b strings.Builder
	for i, m := range msgs {
		if max > 0 && i == max {
			fmt.Fprintf(&b, "; and %d more", len(msgs)-max)
			break
		}
		if m.Code != 0 {
			fmt.Fprintf(&b, "; %d: %s", m.Code, m.Message)
		} else {
			fmt.Fprintf(&b, "; %s", m.Message)
		}
	}
	return b.String()
}

// RetryAfter reads a Retry-After header value: delay-seconds or an HTTP
// date, relative to now. It returns 0 for an absent, malformed, negative
// or past value, and never more than max when max > 0.
func RetryAfter(v string, now time.Time, max time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(1<<63-1)/int64(time.Second) {
			d = 1<<63 - 1
		} else {
			d = time.Duration(n) * time.Second
		}
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now).Round(time.Second)
	}
	if max > 0 && d > max {
		d = max
	}
	return d
}
