package allowlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/originguard/originguard/internal/cfapi"
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

// maxRetryAfter bounds a server's Retry-After before anything else does:
// a [Refresher] clamps it further, to its Interval.
const maxRetryAfter = 24 * time.Hour

// Bounds on what an error may carry from a hostile answer, so that an error
// kept in [Status.LastError] and logged on every attempt stays small.
const (
	maxErrorEntries = 10  // error entries (bad prefixes, API messages) quoted
	maxQuoted       = 128 // bytes of one quoted entry or message
)

// Fetcher reads Cloudflare's published ranges from the API endpoint
// GET /ips. It does its own HTTP (cloudflare-go's IPs takes no context and
// reads an unbounded body): every call has a context and a timeout, the body
// is capped, redirects to another host are refused, a body whose JSON keys
// repeat or differ only in case is refused, and the API's error envelope
// becomes an [*APIError].
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

// Option configures a [Fetcher]. A zero or negative duration or size means
// the default.
type Option func(*Fetcher)

// WithHTTPClient makes the Fetcher use a copy of c instead of
// [http.DefaultClient]; nil means the default. The copy refuses redirects to
// another scheme or host, whatever c's CheckRedirect allows.
func WithHTTPClient(c *http.Client) Option { return func(f *Fetcher) { f.client = c } }

// WithBaseURL points the Fetcher at another API root than [DefaultBaseURL],
// such as a test server; "/ips" is appended to it.
func WithBaseURL(u string) Option {
	return func(f *Fetcher) { f.baseURL = strings.TrimSuffix(u, "/") }
}

// WithTimeout bounds each fetch; zero or negative means [DefaultTimeout].
// The caller's context can only shorten it.
func WithTimeout(d time.Duration) Option { return func(f *Fetcher) { f.timeout = d } }

// WithMaxBodySize caps the response body; zero or negative means
// [DefaultMaxBodySize]. A longer body is an error, not a truncated list.
func WithMaxBodySize(n int64) Option { return func(f *Fetcher) { f.maxBody = n } }

// WithJDCloud asks for the JD Cloud China network's ranges too
// (?networks=jdcloud); they arrive in [Ranges.JDCloud].
func WithJDCloud() Option { return func(f *Fetcher) { f.jdcloud = true } }

// WithClock sets the clock that stamps [Ranges.TakenAt] and reads an HTTP
// date in Retry-After (default time.Now).
func WithClock(now func() time.Time) Option { return func(f *Fetcher) { f.now = now } }

// NewFetcher returns a Fetcher for the Cloudflare API, configured by opts.
func NewFetcher(opts ...Option) *Fetcher {
	f := &Fetcher{baseURL: DefaultBaseURL}
	for _, o := range opts {
		o(f)
	}
	if f.client == nil {
		f.client = http.DefaultClient
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	if f.maxBody <= 0 {
		f.maxBody = DefaultMaxBodySize
	}
	if f.now == nil {
		f.now = time.Now
	}
	c := *f.client
	c.CheckRedirect = sameHost(f.client.CheckRedirect)
	f.client = &c
	return f
}

// sameHost refuses a redirect to another scheme or host, then applies next
// (or net/http's default limit of 10 redirects).
func sameHost(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return fmt.Errorf("redirect to %.*q refused: not %s://%s", maxQuoted, req.URL.Redacted(), first.Scheme, first.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
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
// "success": false, with the messages of its error envelope. [Fetcher.Fetch]
// returns it wrapped, so match it with errors.As.
type APIError struct {
	StatusCode int
	// Errors are the envelope's entries, at most 10, each message cut to
	// 128 bytes; empty when the body had none.
	Errors []APIMessage
	// RetryAfter is the server's Retry-After, when it sent one, at most a
	// day.
	RetryAfter time.Duration
}

// APIMessage is one entry of the Cloudflare API's errors array: Code and
// Message.
type APIMessage = cfapi.Message

// Error says what the API answered, with the codes and messages of its
// error envelope. It does not name the package: [Fetcher.Fetch], which
// returns it, does.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudflare api: status %d", e.StatusCode)
	b.WriteString(cfapi.Describe(e.Errors, maxErrorEntries))
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// ipsResult is the "result" of GET /ips (Cloudflare's public API schema:
// etag, ipv4_cidrs, ipv6_cidrs, and jdcloud_cidrs with ?networks=jdcloud).
type ipsResult struct {
	ETag    string   `json:"etag"`
	IPv4    []string `json:"ipv4_cidrs"`
	IPv6    []string `json:"ipv6_cidrs"`
	JDCloud []string `json:"jdcloud_cidrs"`
}

// Fetch reads the current list. If since is not empty and the list's etag
// equals it, Fetch returns [ErrNotModified] and no list. Every prefix is
// checked: a list with one bad entry is an error naming it, never a shorter
// list. Fetch does not judge whether the list is plausible; that is
// [Guard.Check]'s job.
func (f *Fetcher) Fetch(ctx context.Context, since string) (Ranges, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL(), nil)
	if err != nil {
		return Ranges{}, fmt.Errorf("allowlist: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return Ranges{}, fmt.Errorf("allowlist: fetch: %w", err) // url.Error names the URL
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
	env, envErr := cfapi.DecodeStrict(body)
	if errors.Is(envErr, cfapi.ErrAmbiguousKey) {
		return Ranges{}, fmt.Errorf("malformed answer: %w", envErr)
	}
	if status < 200 || status > 299 || (envErr == nil && !env.OK()) {
		apiErr := &APIError{StatusCode: status, RetryAfter: cfapi.RetryAfter(retryAfter, now(), maxRetryAfter)}
		if envErr == nil {
			apiErr.Errors = boundMessages(env.Errors)
		}
		return Ranges{}, apiErr
	}
	if envErr != nil {
		return Ranges{}, fmt.Errorf("malformed answer: %w", envErr)
	}
	if len(env.Result) == 0 {
		return Ranges{}, errors.New(`malformed answer: no "result"`)
	}
	var res *ipsResult
	if err := json.Unmarshal(env.Result, &res); err != nil {
		return Ranges{}, fmt.Errorf("malformed answer: %w", err)
	}
	if res == nil {
		return Ranges{}, errors.New(`malformed answer: no "result"`)
	}
	var (
		errs entryErrors
		r    = Ranges{ETag: res.ETag, TakenAt: now()}
	)
	r.IPv4 = parseCIDRs(&errs, "ipv4_cidrs", res.IPv4, netip.Addr.Is4)
	r.IPv6 = parseCIDRs(&errs, "ipv6_cidrs", res.IPv6, netip.Addr.Is6)
	r.JDCloud = parseCIDRs(&errs, "jdcloud_cidrs", res.JDCloud, nil)
	if err := errs.err(); err != nil {
		return Ranges{}, err // never a partial list
	}
	return r, nil
}

// boundMessages keeps at most maxErrorEntries messages, each cut to
// maxQuoted bytes.
func boundMessages(in []APIMessage) []APIMessage {
	out := make([]APIMessage, 0, min(len(in), maxErrorEntries))
	for _, m := range in[:min(len(in), maxErrorEntries)] {
		m.Message = truncate(m.Message, maxQuoted)
		out = append(out, m)
	}
	if len(in) > maxErrorEntries {
		out = append(out, APIMessage{Message: fmt.Sprintf("and %d more", len(in)-maxErrorEntries)})
	}
	return out
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// entryErrors collects the errors of a list's entries, keeping the first
// maxErrorEntries and counting the rest.
type entryErrors struct {
	errs []error
	more int
}

func (e *entryErrors) add(err error) {
	if len(e.errs) < maxErrorEntries {
		e.errs = append(e.errs, err)
	} else {
		e.more++
	}
}

func (e *entryErrors) err() error {
	if e.more > 0 {
		return errors.Join(append(e.errs, fmt.Errorf("and %d more bad entries", e.more))...)
	}
	return errors.Join(e.errs...)
}

// parseCIDRs parses one list of the answer, recording every bad entry in errs.
// family, if not nil, must hold for every prefix.
func parseCIDRs(errs *entryErrors, field string, in []string, family func(netip.Addr) bool) []netip.Prefix {
	if in == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for i, s := range in {
		p, err := netip.ParsePrefix(s)
		if err == nil {
			p, err = canonical(p)
		}
		if err != nil {
			// netip's errors quote the whole input: quote a bounded part.
			errs.add(fmt.Errorf("%s[%d]: %.*q is not a valid prefix", field, i, maxQuoted, s))
			continue
		}
		if family != nil && !family(p.Addr()) {
			errs.add(fmt.Errorf("%s[%d]: %.*q is of the wrong address family", field, i, maxQuoted, s))
			continue
		}
		out = append(out, p)
	}
	return out
}
