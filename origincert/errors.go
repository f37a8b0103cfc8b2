package origincert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/originguard/originguard/internal/cfapi"
)

// Sentinel errors for the Cloudflare API. Every API failure is an
// [*APIError] whose Kind is one of these (or [ErrInvalidHostname]), so
// callers branch with errors.Is and read details with errors.As.
var (
	// ErrUnauthorized: the token is missing, malformed, expired, revoked
	// or lacks the permission (HTTP 401/403, or Cloudflare's
	// authentication error codes).
	ErrUnauthorized = errors.New("cloudflare rejected the API token")
	// ErrInvalidRequest: the API rejected the request (HTTP 4xx) for a
	// reason other than those below.
	ErrInvalidRequest = errors.New("cloudflare rejected the request")
	// ErrNotFound: the zone, certificate or setting does not exist.
	ErrNotFound = errors.New("not found at cloudflare")
	// ErrRateLimited: HTTP 429; APIError.RetryAfter says how long to wait
	// when Cloudflare said so.
	ErrRateLimited = errors.New("rate limited by cloudflare")
	// ErrServer: HTTP 5xx from the API.
	ErrServer = errors.New("cloudflare server error")
	// ErrUnavailable: no HTTP response at all (connection refused, reset,
	// TLS failure, timeout).
	ErrUnavailable = errors.New("cloudflare api unreachable")
	// ErrMalformedResponse: a response that is not the API's JSON envelope,
	// or that lacks what the call needs.
	ErrMalformedResponse = errors.New("malformed response from cloudflare")
)

// Cloudflare's envelope codes for authentication failures that may come
// with HTTP 400 rather than 401/403: 6003 invalid request headers, 6111
// invalid Authorization header, 9106/9109 missing or invalid token, 10000
// authentication error, 10001 unsupported authentication, and the Origin
// CA's 1016 "User is not authorized to perform this action" (a token
// without the permission; cloudflare/origin-ca-issuer#66).
var authCodes = map[int]bool{1016: true, 6003: true, 6111: true, 9106: true, 9109: true, 10000: true, 10001: true}

// APIError is a failed Cloudflare API call. It is matched by its Kind
// (errors.Is(err, ErrRateLimited)) and unwraps to what cloudflare-go
// returned, if anything. It never holds the API token or key material.
type APIError struct {
	Op         string        // what was attempted, e.g. "create origin certificate"
	Kind       error         // one of the sentinel errors above
	StatusCode int           // HTTP status; 0 when no response arrived
	Codes      []int         // envelope error codes
	Messages   []string      // envelope error messages
	RetryAfter time.Duration // from Retry-After on 429/503; 0 when absent
	RayID      string        // cf-ray header, for Cloudflare support
	Attempts   int           // HTTP requests made for this call
	Err        error         // underlying error, may be nil

	// noAccess: Cloudflare's "not part of your account, or you do not
	// have access" answer, which a token lacking the permission gets too.
	noAccess bool
}

// Error names the operation, the kind of failure, and what the API said.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "origincert: %s: %v", e.Op, e.Kind)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	msgs := make([]cfapi.Message, len(e.Messages))
	for i, m := range e.Messages {
		msgs[i].Message = m
		if i < len(e.Codes) {
			msgs[i].Code = e.Codes[i]
		}
	}
	b.WriteString(cfapi.Describe(msgs, 10))
	if len(e.Messages) == 0 && e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.noAccess {
		b.WriteString(" (the zone is in another account, or the token lacks SSL and Certificates permission on it)")
	}
	return b.String()
}

// Is matches the error's Kind. The Origin CA's answer that a hostname's
// zone "is either not part of your account, or you do not have access to
// it" matches both [ErrInvalidHostname] and [ErrUnauthorized]: Cloudflare
// gives it for a zone of another account and for a token that lacks the
// SSL and Certificates permission on the zone alike.
func (e *APIError) Is(target error) bool {
	return target == e.Kind || (e.noAccess && target == ErrUnauthorized)
}

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.Err }

// exchange records the last HTTP response of one API call. cloudflare-go
// folds 429 and 5xx into plain strings and drops Retry-After, and some of
// its calls ignore "success": false; the exchange keeps what is needed to
// classify them. It travels in the request context.
type exchange struct {
	attempts int
	status   int
	header   http.Header
	body     []byte
	err      error
}

type exchangeKey struct{}

// maxBody bounds how much of a response is kept.
const maxBody = 8 << 20

// captureTransport records responses into the request's exchange.
type captureTransport struct{ base http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	resp, err := t.base.RoundTrip(req)
	if ex == nil {
		return resp, err
	}
	ex.attempts++
	ex.status, ex.header, ex.body, ex.err = 0, nil, nil, err
	if err != nil {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if rerr != nil {
		ex.err = rerr
		return nil, rerr
	}
	ex.status, ex.header, ex.body = resp.StatusCode, resp.Header, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// parseEnvelope decodes the exchange's body, if it is an envelope.
func (ex *exchange) parseEnvelope() (cfapi.Envelope, bool) {
	env, err := cfapi.Decode(ex.body)
	return env, err == nil
}

// classify turns the exchange (and cloudflare-go's error, if any) into an
// *APIError, or returns nil when the call succeeded.
func classify(op string, ex *exchange, cfErr error, now time.Time) error {
	e := &APIError{Op: op, Attempts: ex.attempts, Err: cfErr}
	if ex.status == 0 {
		if cfErr == nil && ex.err == nil {
			return nil // no HTTP exchange was made (cannot happen for API calls)
		}
		if cfErr == nil {
			e.Err = ex.err
		}
		e.Kind = ErrUnavailable
		return e
	}
	e.StatusCode = ex.status
	e.RayID = ex.header.Get("Cf-Ray")
	env, isEnvelope := ex.parseEnvelope()
	for _, m := range env.Errors {
		e.Codes = append(e.Codes, m.Code)
		e.Messages = append(e.Messages, m.Message)
	}
	// A well-formed answer carries at most a few errors; keep the error
	// bounded against a hostile body.
	if len(e.Codes) > 10 {
		e.Codes, e.Messages = e.Codes[:10], e.Messages[:10]
	}
	hasAuthCode := false
	for _, c := range e.Codes {
		hasAuthCode = hasAuthCode || authCodes[c]
	}
	switch s := ex.status; {
	case s == http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
		e.RetryAfter = cfapi.RetryAfter(ex.header.Get("Retry-After"), now, 0)
	case s >= 500:
		e.Kind = ErrServer
		if s == http.StatusServiceUnavailable {
			e.RetryAfter = cfapi.RetryAfter(ex.header.Get("Retry-After"), now, 0)
		}
	case s == http.StatusUnauthorized || s == http.StatusForbidden || hasAuthCode:
		e.Kind = ErrUnauthorized
	case s == http.StatusNotFound || slices.Contains(e.Codes, 7003):
		// 7003 "Could not route to …, perhaps your object identifier is
		// invalid?" comes with HTTP 400 for an ID that names nothing.
		e.Kind = ErrNotFound
	case s >= 400:
		e.Kind = ErrInvalidRequest
		if mentionsHostname(e.Messages) {
			e.Kind = ErrInvalidHostname
			e.noAccess = mentionsNoAccess(e.Messages)
		}
	case !isEnvelope:
		e.Kind = ErrMalformedResponse
		if cfErr == nil {
			e.Err = fmt.Errorf("HTTP %d body is not a Cloudflare API envelope", s)
		}
	case !env.OK():
		e.Kind = ErrInvalidRequest
		if hasAuthCode {
			e.Kind = ErrUnauthorized
		} else if mentionsHostname(e.Messages) {
			e.Kind = ErrInvalidHostname
			e.noAccess = mentionsNoAccess(e.Messages)
		}
	case cfErr != nil:
		// A 2xx success envelope that cloudflare-go could not decode.
		e.Kind = ErrMalformedResponse
	default:
		return nil
	}
	return e
}

func mentionsHostname(msgs []string) bool {
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m), "hostname") {
			return true
		}
	}
	return false
}

// mentionsNoAccess reports the Origin CA's answer for a hostname whose
// zone "is either not part of your account, or you do not have access to
// it": the same words for a zone in another account and for a token
// without SSL and Certificates permission on the zone.
func mentionsNoAccess(msgs []string) bool {
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m), "do not have access") {
			return true
		}
	}
	return false
}
