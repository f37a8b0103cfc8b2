package allowlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a [Refresher].
const (
	DefaultInterval   = time.Hour
	DefaultMinBackoff = 10 * time.Second
)

// Refresher keeps the trusted set current. It starts from the on-disk copy
// of the last good list when there is one ([Refresher.CachePath]), else from
// the embedded snapshot, so it serves from the first call; it then refreshes
// from the API every [Refresher.Interval], backing off with jitter when that
// fails. A new list replaces the current one only if [Refresher.Guard]
// accepts it; whatever goes wrong, the last good list stays in use.
//
// Readers call [Refresher.Set] or [Refresher.Contains]: a lock-free atomic
// load, so a Refresher can sit in a request path. Subscribers
// ([Refresher.Subscribe]) hear of every change with its [Diff].
//
// Set the exported fields before first use and do not change them after.
// The zero value is usable: it fetches with [NewFetcher]'s defaults and
// keeps no copy on disk. A Refresher must not be copied after first use.
type Refresher struct {
	// Fetcher reads the live list; nil means NewFetcher().
	Fetcher *Fetcher
	// Interval between successful refreshes; zero means [DefaultInterval].
	Interval time.Duration
	// MinBackoff is the first wait after a failure, doubled per further
	// failure up to Interval and jittered by ±50%; zero means
	// [DefaultMinBackoff]. A server's Retry-After is honoured when longer.
	MinBackoff time.Duration
	// Guard judges every new list.
	Guard Guard
	// CachePath, if set, is a file that holds the last good list. It is
	// read at start, and preferred over the embedded snapshot if it passes
	// the Guard and is not older than the snapshot (as after an upgrade of
	// this package); it is rewritten atomically after each change.
	CachePath string
	// Logger, if set, hears of refreshes, rejections and errors.
	Logger *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time

	init      sync.Once
	current   atomic.Pointer[snapshot]
	refreshMu sync.Mutex // one refresh at a time; held while subscribers run

	mu     sync.Mutex // guards the fields below
	status Status
	subs   []subscriber
	nextID int
}

type subscriber struct {
	id int
	fn func(Change)
}

// snapshot is a list in use together with its Set.
type snapshot struct {
	ranges Ranges
	set    Set
}

// Change tells subscribers what a refresh changed.
type Change struct {
	Old, New Set
	Diff     Diff
	// Ranges is a copy of the list now in use, with its source and etag.
	Ranges Ranges
}

// Status describes a Refresher's state, for health checks and metrics.
type Status struct {
	// Source, ETag and TakenAt describe the list in use.
	Source  string
	ETag    string
	TakenAt time.Time
	// Prefixes is the size of the set in use.
	Prefixes int
	// LastAttempt and LastSuccess are when a refresh last started and last
	// confirmed or replaced the list; zero if never.
	LastAttempt, LastSuccess time.Time
	// LastError is the error of the last attempt, nil if it succeeded.
	LastError error
	// Failures counts attempts that failed since the last success.
	Failures int
	// Age is how old the list in use is: the time since it was last known
	// to be current (taken, or confirmed unchanged by the API).
	Age time.Duration
}

func (r *Refresher) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

func (r *Refresher) fetcher() *Fetcher {
	if r.Fetcher == nil {
		r.Fetcher = NewFetcher()
	}
	return r.Fetcher
}

// load chooses the starting list: the disk copy if usable, else embedded.
func (r *Refresher) load() {
	r.init.Do(func() {
		r.fetcher()
		start := &snapshot{ranges: Embedded(), set: Cloudflare()}
		if r.CachePath != "" {
			switch cached, err := r.readCache(); {
			case err != nil:
				r.log(slog.LevelWarn, "ignoring cached list", "path", r.CachePath, "err", err)
			case cached.ranges.TakenAt.Before(start.ranges.TakenAt):
				r.log(slog.LevelInfo, "ignoring cached list older than the embedded one", "path", r.CachePath,
					"taken_at", cached.ranges.TakenAt)
			default:
				start = cached
			}
		}
		r.current.Store(start)
		r.mu.Lock()
		r.status.Source, r.status.ETag, r.status.TakenAt = start.ranges.Source, start.ranges.ETag, start.ranges.TakenAt
		r.status.Prefixes = start.set.Len()
		r.mu.Unlock()
	})
}

// Set returns the set in use. It never returns nil and never blocks on a
// refresh.
func (r *Refresher) Set() Set {
	if s := r.current.Load(); s != nil {
		return s.set
	}
	r.load()
	return r.current.Load().set
}

// Contains reports whether ip is in the set in use; see [Set.Contains].
func (r *Refresher) Contains(ip netip.Addr) bool { return r.Set().Contains(ip) }

// Ranges returns a copy of the list in use, with its source and etag.
func (r *Refresher) Ranges() Ranges {
	r.Set()
	return r.current.Load().ranges.clone()
}

// Status returns the Refresher's state now.
func (r *Refresher) Status() Status {
	r.load()
	r.mu.Lock()
	s := r.status
	r.mu.Unlock()
	fresh := s.TakenAt
	if s.LastSuccess.After(fresh) {
		fresh = s.LastSuccess
	}
	s.Age = r.now().Sub(fresh)
	return s
}

// Subscribe calls fn after every change of the list in use, one call at a
// time, in the order of the changes. fn must not call Refresh. The returned
// function unsubscribes.
func (r *Refresher) Subscribe(fn func(Change)) (cancel func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextID
	r.nextID++
	r.subs = append(r.subs, subscriber{id, fn})
	return func() {
		r.mu.Lock()
		r.subs = slices.DeleteFunc(r.subs, func(s subscriber) bool { return s.id == id })
		r.mu.Unlock()
	}
}

// Refresh fetches the list once and, if it changed and the Guard accepts
// it, puts it in use. It returns nil when the list was replaced or confirmed
// unchanged; on any error the list in use stays.
func (r *Refresher) Refresh(ctx context.Context) error {
	return r.refresh(ctx, r.Guard)
}

// Force is [Refresher.Refresh] with the shrink check waived: for an operator
// who has seen a rejection with [ErrShrink] and checked that the smaller list
// is real. The other checks still apply.
func (r *Refresher) Force(ctx context.Context) error {
	g := r.Guard
	g.AllowShrink = true
	return r.refresh(ctx, g)
}

func (r *Refresher) refresh(ctx context.Context, g Guard) error {
	r.load()
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()

	started := r.now()
	old := r.current.Load()
	change, err := r.attempt(ctx, g, old)

	r.mu.Lock()
	r.status.LastAttempt = started
	r.status.LastError = err
	if err != nil {
		r.status.Failures++
	} else {
		r.status.Failures = 0
		r.status.LastSuccess = r.now()
	}
	if change != nil {
		cur := change.Ranges
		r.status.Source, r.status.ETag, r.status.TakenAt = cur.Source, cur.ETag, cur.TakenAt
		r.status.Prefixes = change.New.Len()
	}
	subs := slices.Clone(r.subs)
	r.mu.Unlock()

	if err != nil {
		r.log(slog.LevelWarn, "refresh failed; keeping the list in use", "err", err)
		return err
	}
	if change == nil || change.Diff.IsEmpty() {
		r.log(slog.LevelDebug, "list unchanged", "etag", r.current.Load().ranges.ETag)
		return nil
	}
	r.log(slog.LevelInfo, "list changed", "added", len(change.Diff.Added), "removed", len(change.Diff.Removed),
		"etag", change.Ranges.ETag)
	for _, s := range subs {
		c := *change
		c.Ranges = c.Ranges.clone() // each subscriber its own
		s.fn(c)
	}
	return nil
}

// attempt fetches and judges a list, swapping it in if accepted. A nil
// Change with a nil error means the etag was unchanged; a Change with an
// empty Diff, a new etag for the same addresses.
func (r *Refresher) attempt(ctx context.Context, g Guard, old *snapshot) (*Change, error) {
	next, err := r.Fetcher.Fetch(ctx, old.ranges.ETag)
	if errors.Is(err, ErrNotModified) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	set, err := next.Set()
	if err != nil {
		return nil, err
	}
	if err := g.Check(old.set, set); err != nil {
		return nil, err
	}
	diff := old.set.Diff(set)
	if diff.IsEmpty() {
		set = old.set // same addresses: readers keep the Set they have
	}
	if r.CachePath != "" {
		// The disk copy is written before the swap: a list that could not
		// be saved is still used, but the failure is reported.
		if err := writeCache(r.CachePath, next); err != nil {
			r.log(slog.LevelError, "cannot save the list", "path", r.CachePath, "err", err)
		}
	}
	r.current.Store(&snapshot{ranges: next, set: set})
	return &Change{Old: old.set, New: set, Diff: diff, Ranges: next}, nil
}

// Run refreshes at once and then every Interval until ctx is done, backing
// off on failure. It returns ctx's error.
func (r *Refresher) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	minBackoff := r.MinBackoff
	if minBackoff <= 0 {
		minBackoff = DefaultMinBackoff
	}
	for {
		wait := interval
		if err := r.Refresh(ctx); err != nil {
			wait = backoff(minBackoff, interval, r.Status().Failures, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff returns the wait after the failures-th consecutive failure:
// min doubled per failure, capped at max, jittered by ±50%, and never less
// than a Retry-After the server asked for.
func backoff(lo, hi time.Duration, failures int, err error) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	d = d/2 + rand.N(d+1)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > d {
		d = apiErr.RetryAfter
	}
	return d
}

func (r *Refresher) log(level slog.Level, msg string, args ...any) {
	if r.Logger != nil {
		r.Logger.Log(context.Background(), level, "allowlist: "+msg, args...)
	}
}

// cacheFile is the on-disk form of a list, shaped like the API's answer.
type cacheFile struct {
	Source  string    `json:"source"`
	ETag    string    `json:"etag"`
	TakenAt time.Time `json:"taken_at"`
	IPv4    []string  `json:"ipv4_cidrs"`
	IPv6    []string  `json:"ipv6_cidrs"`
	JDCloud []string  `json:"jdcloud_cidrs,omitempty"`
}

// readCache reads and judges the disk copy. Only the shape checks of the
// Guard apply: there is no previous list to shrink from.
func (r *Refresher) readCache() (*snapshot, error) {
	data, err := os.ReadFile(r.CachePath)
	if err != nil {
		return nil, err
	}
	var c cacheFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("allowlist: %s: %w", r.CachePath, err)
	}
	var errs []error
	rg := Ranges{
		IPv4:    parseCIDRs(&errs, "ipv4_cidrs", c.IPv4, netip.Addr.Is4),
		IPv6:    parseCIDRs(&errs, "ipv6_cidrs", c.IPv6, netip.Addr.Is6),
		JDCloud: parseCIDRs(&errs, "jdcloud_cidrs", c.JDCloud, nil),
		ETag:    c.ETag,
		Source:  c.Source,
		TakenAt: c.TakenAt,
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("allowlist: %s: %w", r.CachePath, err)
	}
	set, err := rg.Set()
	if err != nil {
		return nil, err
	}
	g := r.Guard
	g.AllowShrink = true
	if err := g.Check(Set{}, set); err != nil {
		return nil, fmt.Errorf("allowlist: %s: %w", r.CachePath, err)
	}
	return &snapshot{ranges: rg, set: set}, nil
}

// writeCache replaces the file at path with rg atomically: a reader sees the
// old file or the new one, never a mix.
func writeCache(path string, rg Ranges) error {
	c := cacheFile{Source: rg.Source, ETag: rg.ETag, TakenAt: rg.TakenAt,
		IPv4: strs(rg.IPv4), IPv6: strs(rg.IPv6), JDCloud: strs(rg.JDCloud)}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

func strs(prefixes []netip.Prefix) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p.String()
	}
	return out
}
