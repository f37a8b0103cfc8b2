package allowlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the Cloudflare API a [Fetcher] talks to unless told
// otherwise with [WithBaseURL].
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Defaults of a [Fetcher].
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxBodySize = 1 << 20 // the real answer is about 1 KiB
)

// ErrNotModified is returned by [Fetcher.Fetch] when the list's etag is the
// one the caller already has.
var ErrNotModified = errors.New("allowlist: list not modified")

// Fetcher reads Cloudflare's published ranges from the API endpoint
// GET /ips. It does its own HTTP (cloudflare-go's IPs takes no context and
// reads an unbounded body): every call has a context and a timeout, the body
// is capped, and the API's error envelope becomes an [*APIError].
//
// A Fetcher is safe for concurrent use. Make one with [NewFetcher]; the zero
// value is not usable.
type Fetcher struct {
	client  *http.Client
	baseURL string
	timeout time.Duration
	maxBody int64
	jdcloud bool
	now     func() time.Time
}

// Option configures a [Fetcher].
type Option func(*Fetcher)

// WithHTTPClient makes the Fetcher use c instead of [http.DefaultClient].
func WithHTTPClient(c *http.Client) Option { return func(f *Fetcher) { f.client = c } }

// WithBaseURL points the Fetcher at another API root than [DefaultBaseURL],
// such as a test server; "/ips" is appended to it.
func WithBaseURL(u string) Option {
	return func(f *Fetcher) { f.baseURL = strings.TrimSuffix(u, "/") }
}

// WithTimeout bounds each fetch (default [DefaultTimeout]); the caller's
// context can only shorten it.
func WithTimeout(d time.Duration) Option { return func(f *Fetcher) { f.timeout = d } }

// WithMaxBodySize caps the response body (default [DefaultMaxBodySize]); a
// longer body is an error, not a truncated list.
func WithMaxBodySize(n int64) Option { return func(f *Fetcher) { f.maxBody = n } }

// WithJDCloud asks for the JD Cloud China network's ranges too
// (?networks=jdcloud); they arrive in [Ranges.JDCloud].
func WithJDCloud() Option { return func(f *Fetcher) { f.jdcloud = true } }

// WithClock sets the clock that stamps [Ranges.TakenAt] (default time.Now).
func WithClock(now func() time.Time) Option { return func(f *Fetcher) { f.now = now } }

// NewFetcher returns a Fetcher for the Cloudflare API, configured by opts.
func NewFetcher(opts ...Option) *Fetcher {
	f := &Fetcher{
		client:  http.DefaultClient,
		baseURL: DefaultBaseURL,
		timeout: DefaultTimeout,
		maxBody: DefaultMaxBodySize,
		now:     time.Now,
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// URL returns the address the Fetcher reads.
func (f *Fetcher) URL() string {
	u := f.baseURL + "/ips"
	if f.jdcloud {
		u += "?networks=jdcloud"
	}
	return u
}

// APIError is the Cloudflare API refusing a request: a non-2xx status or
// "success": false, with the messages of its error envelope.
type APIError struct {
	StatusCode int
	// Errors are the envelope's entries; empty when the body had none.
	Errors []APIMessage
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// APIMessage is one entry of the Cloudflare API's errors array.
type APIMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Error says what the API answered, with the codes and messages of its
// error envelope.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "allowlist: cloudflare api: status %d", e.StatusCode)
	for _, m := range e.Errors {
		fmt.Fprintf(&b, "; %d: %s", m.Code, m.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// envelope is the Cloudflare API's response shape for GET /ips.
type envelope struct {
	Success *bool        `json:"success"`
	Errors  []APIMessage `json:"errors"`
	Result  *struct {
		ETag    string   `json:"etag"`
		IPv4    []string `json:"ipv4_cidrs"`
		IPv6    []string `json:"ipv6_cidrs"`
		JDCloud []string `json:"jdcloud_cidrs"`
	} `json:"result"`
}

// Fetch reads the current list. If since is not empty and the list's etag
// equals it, Fetch returns [ErrNotModified] and no list. Every prefix is
// checked: a list with one bad entry is an error naming it, never a shorter
// list. Fetch does not judge whether the list is plausible; that is
// [Guard.Check]'s job.
func (f *Fetcher) Fetch(ctx context.Context, since string) (Ranges, error) {
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL(), nil)
	if err != nil {
		return Ranges{}, fmt.Errorf("allowlist: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return Ranges{}, fmt.Errorf("allowlist: fetch %s: %w", f.URL(), err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return Ranges{}, fmt.Errorf("allowlist: fetch %s: reading body: %w", f.URL(), err)
	}
	if int64(len(body)) > f.maxBody {
		return Ranges{}, fmt.Errorf("allowlist: fetch %s: body exceeds %d bytes", f.URL(), f.maxBody)
	}
	r, err := parseResponse(resp.StatusCode, resp.Header.Get("Retry-After"), body, f.now)
	if err != nil {
		return Ranges{}, fmt.Errorf("allowlist: fetch %s: %w", f.URL(), err)
	}
	if f.jdcloud && r.JDCloud == nil {
		return Ranges{}, fmt.Errorf("allowlist: fetch %s: no jdcloud_cidrs in the answer", f.URL())
	}
	r.Source = f.URL()
	if since != "" && r.ETag == since {
		return Ranges{}, ErrNotModified
	}
	return r, nil
}

// parseResponse turns an answer of GET /ips into Ranges or an error.
func parseResponse(status int, retryAfter string, body []byte, now func() time.Time) (Ranges, error) {
	var env envelope
	jsonErr := json.Unmarshal(body, &env)
	if status < 200 || status > 299 || (jsonErr == nil && (env.Success == nil || !*env.Success)) {
		apiErr := &APIError{StatusCode: status, RetryAfter: parseRetryAfter(retryAfter, now)}
		if jsonErr == nil {
			apiErr.Errors = env.Errors
		}
		return Ranges{}, apiErr
	}
	if jsonErr != nil {
		return Ranges{}, fmt.Errorf("malformed answer: %w", jsonErr)
	}
	if env.Result == nil {
		return Ranges{}, errors.New(`malformed answer: no "result"`)
	}
	var (
		errs []error
		r    = Ranges{ETag: env.Result.ETag, TakenAt: now()}
	)
	r.IPv4 = parseCIDRs(&errs, "ipv4_cidrs", env.Result.IPv4, netip.Addr.Is4)
	r.IPv6 = parseCIDRs(&errs, "ipv6_cidrs", env.Result.IPv6, netip.Addr.Is6)
	r.JDCloud = parseCIDRs(&errs, "jdcloud_cidrs", env.Result.JDCloud, nil)
	if err := errors.Join(errs...); err != nil {
		return Ranges{}, err // never a partial list
	}
	return r, nil
}

// parseCIDRs parses one list of the answer, recording every bad entry in errs.
// family, if not nil, must hold for every prefix.
func parseCIDRs(errs *[]error, field string, in []string, family func(netip.Addr) bool) []netip.Prefix {
	if in == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for i, s := range in {
		p, err := netip.ParsePrefix(s)
		if err == nil {
			p, err = canonical(p)
		}
		if err == nil && family != nil && !family(p.Addr()) {
			err = fmt.Errorf("%q is of the wrong address family", s)
		}
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s[%d]: %w", field, i, err))
			continue
		}
		out = append(out, p)
	}
	return out
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now func() time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now()); d > 0 {
			return d
		}
	}
	return 0
}
