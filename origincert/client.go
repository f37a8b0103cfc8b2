package origincert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/originguard/originguard/internal/cfapi"
)

// Client talks to the Cloudflare API through cloudflare-go with an API
// token. It is safe for concurrent use; build it with [New].
//
// # Retries
//
// cloudflare-go retries every request, POSTs included, on 429, 5xx and
// network errors, and ignores Retry-After. Client turns that off and
// retries itself, only where a repeat cannot do harm:
//
//   - reads, setting changes (PUT/PATCH of a value) and revocation: on
//     429, 5xx and network errors, with exponential backoff, honouring
//     Retry-After;
//   - creating a certificate or uploading a client certificate: only on
//     429 (the request was refused before it was processed). A 5xx or a
//     lost connection may have created the certificate, so it is reported,
//     never repeated.
//
// A wait longer than the configured maximum is not slept: the call returns
// the [*APIError] with RetryAfter set, for the caller to requeue.
//
// The zero Client is not usable.
type Client struct {
	api      *cloudflare.API
	attempts int
	minDelay time.Duration
	maxWait  time.Duration
	clock    func() time.Time
}

type clientConfig struct {
	baseURL  string
	http     *http.Client
	attempts int
	minDelay time.Duration
	maxWait  time.Duration
	rps      float64
	clock    func() time.Time
}

// Option configures what a [Client] talks to and how patiently.
type Option func(*clientConfig)

// WithBaseURL points the client at another API root (a test server);
// the default is https://api.cloudflare.com/client/v4.
func WithBaseURL(u string) Option {
	return func(c *clientConfig) { c.baseURL = strings.TrimSuffix(u, "/") }
}

// WithHTTPClient sets the HTTP client (default: http.DefaultTransport
// with a one-minute timeout). Its Transport is wrapped, not replaced.
func WithHTTPClient(h *http.Client) Option { return func(c *clientConfig) { c.http = h } }

// WithRetry sets how many requests a retryable call may make in all
// (default 4), the first backoff delay (default 1s, doubling), and the
// longest single wait the client will sleep (default 30s), Retry-After
// included.
func WithRetry(attempts int, minDelay, maxWait time.Duration) Option {
	return func(c *clientConfig) { c.attempts, c.minDelay, c.maxWait = attempts, minDelay, maxWait }
}

// WithClock sets the clock the client reads Retry-After dates against
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *clientConfig) { c.clock = now } }

// WithRateLimit sets the client-side request rate (default 4 per second,
// Cloudflare's 1200 per 5 minutes).
func WithRateLimit(perSecond float64) Option { return func(c *clientConfig) { c.rps = perSecond } }

// NewClient makes a Client that authenticates with an API token. The
// token needs Zone:Read, Zone Settings:Edit and SSL and Certificates:Edit
// for the zones it manages. The token is never logged.
//
// Leading and trailing white space is trimmed: a token pasted or mounted
// from a file with a trailing newline works (origin-ca-issuer users hit
// this as "invalid header field value"). A token that is empty or holds
// any other control character or space is refused at once with
// [ErrUnauthorized]: no request could carry it.
func NewClient(token string, opts ...Option) (*Client, error) {
	cfg := clientConfig{attempts: 4, minDelay: time.Second, maxWait: 30 * time.Second, rps: 4, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("origincert: empty API token: %w", ErrUnauthorized)
	}
	for i, r := range token {
		// RFC 6750 bearer tokens are printable ASCII without spaces.
		if r <= ' ' || r >= 0x7f {
			return nil, fmt.Errorf("origincert: API token has a control, space or non-ASCII character at byte %d: %w", i, ErrUnauthorized)
		}
	}
	if cfg.attempts < 1 {
		cfg.attempts = 1
	}
	base := http.DefaultTransport
	hc := &http.Client{Timeout: time.Minute} // contexts bound calls too
	if cfg.http != nil {
		*hc = *cfg.http
		if cfg.http.Transport != nil {
			base = cfg.http.Transport
		}
	}
	hc.Transport = captureTransport{base: base}
	cfOpts := []cloudflare.Option{
		cloudflare.HTTPClient(hc),
		cloudflare.UsingRetryPolicy(0, 0, 0), // one request per call: Client retries itself
		cloudflare.UsingRateLimit(cfg.rps),
		cloudflare.UserAgent("originguard-origincert"),
	}
	if cfg.baseURL != "" {
		cfOpts = append(cfOpts, cloudflare.BaseURL(cfg.baseURL))
	}
	api, err := cloudflare.NewWithAPIToken(token, cfOpts...)
	if err != nil {
		return nil, fmt.Errorf("origincert: cloudflare client: %w", err)
	}
	if cfg.clock == nil {
		cfg.clock = time.Now
	}
	return &Client{api: api, attempts: cfg.attempts, minDelay: cfg.minDelay, maxWait: cfg.maxWait, clock: cfg.clock}, nil
}

// retryClass says which failures a call may repeat.
type retryClass int

const (
	retrySafe    retryClass = iota // reads, PUT/PATCH of a value, revoke
	retry429Only                   // creates: only when refused before processing
)

func (rc retryClass) allows(err error) bool {
	if errors.Is(err, ErrRateLimited) {
		return true
	}
	return rc == retrySafe && (errors.Is(err, ErrServer) || errors.Is(err, ErrUnavailable))
}

// call runs fn (one cloudflare-go call) with retries. fn gets the
// exchange so it can fall back to decoding the raw body itself.
func (c *Client) call(ctx context.Context, op string, rc retryClass, fn func(ctx context.Context, ex *exchange) error) error {
	delay := c.minDelay
	for attempt := 1; ; attempt++ {
		ex := &exchange{}
		err := guard(func() error { return fn(context.WithValue(ctx, exchangeKey{}, ex), ex) })
		var ae *APIError
		cerr := err
		if !errors.As(err, &ae) { // fn's own verdicts are *APIError already
			cerr = classify(op, ex, err, c.clock())
		}
		if cerr == nil {
			return nil
		}
		if errors.As(cerr, &ae) {
			ae.Attempts = attempt
		}
		if ctx.Err() != nil || attempt >= c.attempts || !rc.allows(cerr) {
			return cerr
		}
		wait := delay
		if ae != nil && ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		if wait > c.maxWait {
			return cerr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return cerr
		case <-t.C:
		}
		delay *= 2
	}
}

// ZoneID looks up a zone's ID by its name ("example.com").
func (c *Client) ZoneID(ctx context.Context, zone string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(zone)), ".")
	if name == "" {
		return "", fmt.Errorf("origincert: empty zone name: %w", ErrInvalidRequest)
	}
	var id string
	op := fmt.Sprintf("look up zone %q", name)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, _ *exchange) error {
		res, err := c.api.ListZonesContext(ctx, cloudflare.WithZoneFilters(name, "", ""))
		if err != nil {
			return err
		}
		var ids []string
		for _, z := range res.Result {
			if strings.EqualFold(z.Name, name) {
				ids = append(ids, z.ID)
			}
		}
		switch len(ids) {
		case 0:
			return &APIError{Op: op, Kind: ErrNotFound, StatusCode: http.StatusOK}
		case 1:
			id = ids[0]
			return nil
		}
		return &APIError{Op: op, Kind: ErrInvalidRequest, StatusCode: http.StatusOK, Messages: []string{fmt.Sprintf("%d zones named %q; the token sees more than one account", len(ids), name)}}
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// raw makes one API request through cloudflare-go (auth, rate limit,
// user agent) with body marshalled exactly as given (nil: none), and
// decodes the envelope's result into out (nil: ignore it). It is run
// inside [Client.call]; info, when not nil, receives result_info.
func (c *Client) raw(ctx context.Context, ex *exchange, op, method, path string, body, out any, info *cfapi.ResultInfo) error {
	_, err := c.api.Raw(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	env, derr := cfapi.Decode(ex.body)
	if derr != nil || !env.OK() || ex.status/100 != 2 {
		return err // classify reads the exchange
	}
	if out != nil {
		if uerr := json.Unmarshal(env.Result, out); uerr != nil {
			return &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: ex.status, Err: fmt.Errorf("decode result: %w", uerr)}
		}
	}
	if info != nil && env.ResultInfo != nil {
		*info = *env.ResultInfo
	}
	return nil
}

// guard turns a panic inside cloudflare-go into an error. v0.119.0's
// OriginCACertificate.UnmarshalJSON dereferences nil on "result": null
// (which a 200 with "success": false carries): a malformed answer from
// the network must not crash a controller.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cloudflare-go panicked decoding the response: %v", p)
		}
	}()
	return fn()
}
