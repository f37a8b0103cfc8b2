package allowlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/originguard/originguard/internal/cfapi"
)

// Defaults of a [Refresher].
const (
	DefaultInterval   = time.Hour
	DefaultMinBackoff = 10 * time.Second
)

// Bounds on the cache file, which is untrusted input.
const (
	// MaxCacheSize is the largest cache file a [Refresher] reads; the
	// real list takes about 2 KiB.
	MaxCacheSize = 1 << 20
	// cacheClockSkew is how far in the future a cache file's taken_at may
	// lie before the file is refused.
	cacheClockSkew = 5 * time.Minute
	// maxStatusError bounds the message of Status.LastError.
	maxStatusError = 2048
)

// Refresher keeps the trusted set current. It serves the embedded snapshot
// from the first call; its first refresh ([Refresher.Refresh],
// [Refresher.Run]) first loads the on-disk copy of the last good list when
// there is one ([Refresher.CachePath]), then refreshes from the API every
// [Refresher.Interval] (jittered, so that a fleet does not refresh in
// lockstep), backing off with jitter when that fails. A new list replaces
// the current one only if [Refresher.Guard] accepts it; whatever goes
// wrong, the last good list stays in use.
//
// Readers call [Refresher.Set] or [Refresher.Contains]: a lock-free atomic
// load that never touches the disk or the network, so a Refresher can sit
// in a request path. Subscribers ([Refresher.Subscribe]) hear of every
// change with its [Diff], on goroutines of their own.
//
// Set the exported fields before first use and do not change them after.
// The zero value is usable: it fetches with [NewFetcher]'s defaults and
// keeps no copy on disk. A Refresher must not be copied after first use.
type Refresher struct {
	// Fetcher reads the live list; nil means NewFetcher().
	Fetcher *Fetcher
	// Interval between successful refreshes, jittered by ±10%; zero means
	// [DefaultInterval]. It also caps every wait after a failure, a
	// server's Retry-After included.
	Interval time.Duration
	// MinBackoff is the first wait after a failure, doubled per further
	// failure up to Interval and jittered by ±50%; zero means
	// [DefaultMinBackoff]. A server's Retry-After is honoured when longer,
	// up to Interval.
	MinBackoff time.Duration
	// Guard judges every new list, and the cached one at load.
	Guard Guard
	// CachePath, if set, is a file that holds the last good list; put it
	// in a private directory (mode 0700, owned by the process's user). The
	// file is untrusted input: it is read at the first refresh only if it
	// is a regular file (not followed through a symbolic link), owned by
	// the process's user, not writable by group or others, at most
	// [MaxCacheSize] bytes, written for this Fetcher's URL, not dated in
	// the future nor older than the embedded snapshot, and accepted by the
	// Guard. Its etag is never taken on trust: the first fetch after
	// loading it asks for the full list. It is rewritten atomically after
	// each change.
	CachePath string
	// Logger, if set, hears of refreshes, rejections and errors.
	Logger *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time

	init    sync.Once
	current atomic.Pointer[snapshot]
	semOnce sync.Once
	sem     chan struct{} // one refresh at a time; a send takes it

	mu     sync.Mutex // guards the fields below
	status Status
	subs   []*subscriber
	forced Set // the last list Force put in use
}

// snapshot is a list in use together with its Set.
type snapshot struct {
	ranges Ranges
	set    Set
	// confirmed reports whether ranges.ETag was read from the API rather
	// than from the cache file, so that it may be sent as "since".
	confirmed bool
}

// embeddedSnapshot is the list every Refresher starts from.
var embeddedSnapshot = sync.OnceValue(func() *snapshot {
	r, s := embedded()
	return &snapshot{ranges: r, set: s, confirmed: true}
})

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
	// LastError is the error of the last attempt, nil if it succeeded or
	// was stopped by its caller. Its message is at most 2 KiB.
	LastError error
	// Failures counts attempts that failed since the last success; an
	// attempt stopped by its caller's context is not a failure.
	Failures int
	// Age is how old the list in use is: the time since it was last known
	// to be current (taken, or confirmed unchanged by the API); never
	// negative.
	Age time.Duration
}

func (r *Refresher) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// snap returns the snapshot in use: the embedded one until the first
// refresh has loaded another.
func (r *Refresher) snap() *snapshot {
	if s := r.current.Load(); s != nil {
		return s
	}
	return embeddedSnapshot()
}

// load chooses the starting list, on the refresh path only: the disk copy
// if usable, else the embedded one.
func (r *Refresher) load() {
	r.init.Do(func() {
		if r.Fetcher == nil {
			r.Fetcher = NewFetcher()
		}
		start := embeddedSnapshot()
		if r.CachePath != "" {
			if cached, err := r.readCache(); err != nil {
				r.log(slog.LevelWarn, "ignoring cached list", "path", r.CachePath, "err", err)
			} else {
				start = cached
			}
		}
		r.current.CompareAndSwap(nil, start)
	})
}

// Set returns the set in use. It never blocks and never reads the disk or
// the network.
func (r *Refresher) Set() Set { return r.snap().set }

// Contains reports whether ip is in the set in use; see [Set.Contains].
func (r *Refresher) Contains(ip netip.Addr) bool { return r.snap().set.Contains(ip) }

// Ranges returns a copy of the list in use, with its source and etag.
func (r *Refresher) Ranges() Ranges { return r.snap().ranges.clone() }

// Status returns the Refresher's state now.
func (r *Refresher) Status() Status {
	cur := r.snap()
	r.mu.Lock()
	s := r.status
	r.mu.Unlock()
	s.Source, s.ETag, s.TakenAt = cur.ranges.Source, cur.ranges.ETag, cur.ranges.TakenAt
	s.Prefixes = cur.set.Len()
	fresh := s.TakenAt
	if s.LastSuccess.After(fresh) {
		fresh = s.LastSuccess
	}
	s.Age = max(0, r.now().Sub(fresh))
	return s
}

// subscriber delivers changes to one fn, in order, on a goroutine of its
// own that runs only while changes are pending.
type subscriber struct {
	fn      func(Change)
	mu      sync.Mutex
	queue   []Change
	running bool
	gone    bool
}

func (s *subscriber) deliver(c Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return
	}
	s.queue = append(s.queue, c)
	if !s.running {
		s.running = true
		go s.drain()
	}
}

func (s *subscriber) drain() {
	for {
		s.mu.Lock()
		if s.gone || len(s.queue) == 0 {
			s.queue, s.running = nil, false
			s.mu.Unlock()
			return
		}
		c := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.fn(c)
	}
}

// Subscribe calls fn after every change of the list in use, one call at a
// time, in the order of the changes, on a goroutine other than the
// refresher's: a slow fn delays only its own later calls, never a refresh
// nor other subscribers. fn may call the Refresher. The returned function
// unsubscribes; changes not yet delivered are dropped.
func (r *Refresher) Subscribe(fn func(Change)) (cancel func()) {
	s := &subscriber{fn: fn}
	r.mu.Lock()
	r.subs = append(r.subs, s)
	r.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.gone = true
		s.mu.Unlock()
		r.mu.Lock()
		r.subs = slices.DeleteFunc(r.subs, func(o *subscriber) bool { return o == s })
		r.mu.Unlock()
	}
}

// Refresh fetches the list once and, if it changed and the Guard accepts
// it, puts it in use. It returns nil when the list was replaced or confirmed
// unchanged; on any error the list in use stays. It returns when ctx is
// done, even while another refresh holds the turn.
func (r *Refresher) Refresh(ctx context.Context) error {
	return r.refresh(ctx, r.Guard)
}

// Force is [Refresher.Refresh] with the shrink check waived: for an operator
// who has seen a rejection with [ErrShrink] and checked that the smaller list
// is real. The other checks still apply.
//
// A forced list becomes the reference the Guard measures later lists
// against (unless [Guard.Reference] is set), so that the next change is
// judged against what the operator vouched for, not the embedded list.
func (r *Refresher) Force(ctx context.Context) error {
	g := r.Guard
	g.AllowShrink = true
	return r.refresh(ctx, g)
}

// lock takes the refresh turn, or gives up when ctx is done.
func (r *Refresher) lock(ctx context.Context) error {
	r.semOnce.Do(func() { r.sem = make(chan struct{}, 1) })
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Refresher) unlock() { <-r.sem }

func (r *Refresher) refresh(ctx context.Context, g Guard) error {
	if err := r.lock(ctx); err != nil {
		return err
	}
	defer r.unlock()
	r.load()

	started := r.now()
	old := r.current.Load()
	r.mu.Lock()
	if g.Reference.Len() == 0 {
		g.Reference = r.forced // the zero Set (embedded) until a Force
	}
	r.mu.Unlock()
	change, err := r.attempt(ctx, g, old)
	stopped := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())

	r.mu.Lock()
	switch {
	case stopped:
		// The caller stopped the attempt: not a failure, nothing learnt.
	case err != nil:
		r.status.LastAttempt = started
		r.status.LastError = boundError(err)
		r.status.Failures++
	default:
		r.status.LastAttempt = started
		r.status.LastError = nil
		r.status.Failures = 0
		r.status.LastSuccess = r.now()
		if g.AllowShrink && change != nil {
			r.forced = change.New
		}
	}
	subs := slices.Clone(r.subs)
	r.mu.Unlock()

	switch {
	case stopped:
		r.log(slog.LevelDebug, "refresh stopped", "err", err)
		return err
	case err != nil:
		r.log(slog.LevelWarn, "refresh failed; keeping the list in use", "err", boundError(err))
		return err
	case change == nil || change.Diff.IsEmpty():
		r.log(slog.LevelDebug, "list unchanged", "etag", r.current.Load().ranges.ETag)
		return nil
	}
	r.log(slog.LevelInfo, "list changed", "added", len(change.Diff.Added), "removed", len(change.Diff.Removed),
		"etag", change.Ranges.ETag)
	for _, s := range subs {
		c := *change
		c.Ranges = c.Ranges.clone() // each subscriber its own
		s.deliver(c)
	}
	return nil
}

// attempt fetches and judges a list, swapping it in if accepted. A nil
// Change with a nil error means the etag was unchanged; a Change with an
// empty Diff, a new etag for the same addresses.
func (r *Refresher) attempt(ctx context.Context, g Guard, old *snapshot) (*Change, error) {
	since := ""
	if old.confirmed {
		since = old.ranges.ETag
	}
	next, err := r.Fetcher.Fetch(ctx, since)
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
	if err := g.Check(set); err != nil {
		return nil, err
	}
	diff := old.set.Diff(set)
	if diff.IsEmpty() {
		set = old.set // same addresses: readers keep the Set they have
	}
	if r.CachePath != "" && (!diff.IsEmpty() || next.ETag != old.ranges.ETag || !old.confirmed) {
		// The disk copy is written before the swap: a list that could not
		// be saved is still used, but the failure is reported.
		if err := writeCache(r.CachePath, next); err != nil {
			r.log(slog.LevelError, "cannot save the list", "path", r.CachePath, "err", err)
		}
	}
	r.current.Store(&snapshot{ranges: next, set: set, confirmed: true})
	return &Change{Old: old.set, New: set, Diff: diff, Ranges: next}, nil
}

// Run refreshes at once and then every Interval (jittered by ±10%) until
// ctx is done, backing off on failure. A stop through ctx is not a
// failure: Run then returns nil.
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
		wait := jitter(interval, 0.1)
		if err := r.Refresh(ctx); ctx.Err() != nil {
			return nil
		} else if err != nil {
			var retryAfter time.Duration
			wait, retryAfter = backoff(minBackoff, interval, r.Status().Failures, err)
			r.log(slog.LevelInfo, "next attempt", "in", wait, "retry_after", retryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// jitter returns d spread uniformly over d·(1±f).
func jitter(d time.Duration, f float64) time.Duration {
	spread := time.Duration(float64(d) * f)
	if spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}

// backoff returns the wait after the failures-th consecutive failure:
// min doubled per failure, capped at max, jittered by ±50%, and never less
// than a Retry-After the server asked for, itself capped at max. It also
// returns that Retry-After, as the server sent it (0 if none).
func backoff(lo, hi time.Duration, failures int, err error) (wait, retryAfter time.Duration) {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	d = d/2 + rand.N(d+1)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		retryAfter = apiErr.RetryAfter
		d = max(d, min(retryAfter, hi))
	}
	return min(d, hi+hi/2), retryAfter
}

func (r *Refresher) log(level slog.Level, msg string, args ...any) {
	if r.Logger != nil {
		r.Logger.Log(context.Background(), level, "allowlist: "+msg, args...)
	}
}

// boundedError keeps err for errors.Is and errors.As but cuts its message.
type boundedError struct {
	msg string
	err error
}

func (e *boundedError) Error() string { return e.msg }
func (e *boundedError) Unwrap() error { return e.err }

// boundError returns err with a message of at most maxStatusError bytes.
func boundError(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); len(msg) > maxStatusError {
		return &boundedError{msg: truncate(msg, maxStatusError), err: err}
	}
	return err
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

// checkCacheMode refuses a cache file that is not a regular file or that
// group or others may write.
func checkCacheMode(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("mode %s: writable by group or others", fi.Mode().Perm())
	}
	if fi.Size() > MaxCacheSize {
		return fmt.Errorf("%d bytes: larger than %d", fi.Size(), MaxCacheSize)
	}
	return nil
}

// readCache reads and judges the disk copy, an untrusted input.
func (r *Refresher) readCache() (*snapshot, error) {
	f, err := openCache(r.CachePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCacheSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxCacheSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxCacheSize)
	}
	if err := cfapi.CheckKeys(data); err != nil {
		return nil, err
	}
	var c cacheFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if want := r.Fetcher.URL(); c.Source != want {
		return nil, fmt.Errorf("written for %.*q, not for %s", maxQuoted, c.Source, want)
	}
	now := r.now()
	switch {
	case c.TakenAt.After(now.Add(cacheClockSkew)):
		return nil, fmt.Errorf("taken_at %s lies in the future", c.TakenAt.Format(time.RFC3339))
	case c.TakenAt.Before(embeddedTakenAt):
		return nil, fmt.Errorf("taken_at %s is older than the embedded list", c.TakenAt.Format(time.RFC3339))
	}
	var errs entryErrors
	rg := Ranges{
		IPv4:    parseCIDRs(&errs, "ipv4_cidrs", c.IPv4, netip.Addr.Is4),
		IPv6:    parseCIDRs(&errs, "ipv6_cidrs", c.IPv6, netip.Addr.Is6),
		JDCloud: parseCIDRs(&errs, "jdcloud_cidrs", c.JDCloud, nil),
		ETag:    c.ETag,
		Source:  c.Source,
		TakenAt: c.TakenAt,
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	set, err := rg.Set()
	if err != nil {
		return nil, err
	}
	if err := r.Guard.Check(set); err != nil { // against the embedded list
		return nil, err
	}
	return &snapshot{ranges: rg, set: set}, nil
}

// writeCache replaces the file at path with rg atomically: a reader sees the
// old file or the new one, never a mix. The file is created with mode 0600.
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
