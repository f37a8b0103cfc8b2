package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// goodV4 and goodV6 are the embedded list plus one IPv4 range, so the first
// refresh is a change.
func goodLists() (v4, v6 []string) {
	e := Embedded()
	return append(strs(e.IPv4), "198.41.0.0/24"), strs(e.IPv6)
}

func TestRefresherKeepsLastGoodList(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	api.answer(200, okBody("good", v4, v6))
	// The timeout is for the slow server; it leaves the 10 MB body (read
	// up to the cap) time enough on a loaded machine under -race.
	r := &Refresher{Fetcher: api.fetcher(WithTimeout(2 * time.Second))}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := r.Set()
	if !good.Contains(addr("198.41.0.1")) || r.Status().ETag != "good" {
		t.Fatalf("first refresh did not take: %v", r.Status())
	}

	shrunk := v4[:3]
	badDays := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"5xx", status(502, "bad gateway", nil), "status 502"},
		{"429", status(429, `{"success":false,"errors":[{"code":971,"message":"throttled"}]}`, map[string]string{"Retry-After": "3"}), "971: throttled"},
		{"truncated JSON", status(200, okBody("t", v4, v6)[:100], nil), "malformed answer"},
		{"empty lists", status(200, okBody("empty", []string{}, []string{}), nil), "no IPv4 prefixes"},
		{"empty IPv6", status(200, okBody("e6", v4, []string{}), nil), "no IPv6 prefixes"},
		{"a /0", status(200, okBody("zero", append(v4, "0.0.0.0/0"), v6), nil), "0.0.0.0/0 is broader than /13"},
		{"a /1 in IPv6", status(200, okBody("one", v4, append(v6, "8000::/1")), nil), "8000::/1 is broader than /29"},
		{"private range", status(200, okBody("priv", append(v4, "10.1.0.0/16"), v6), nil), "10.1.0.0/16 overlaps special-purpose range 10.0.0.0/8"},
		{"documentation range", status(200, okBody("doc", v4, append(v6, "2001:db8:1::/48")), nil), "overlaps special-purpose range 2001:db8::/32"},
		{"big shrink", status(200, okBody("shrunk", shrunk, v6), nil), "IPv4 shrinks too much"},
		{"10 MB body", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, strings.Repeat(" ", 10<<20))
		}, "body exceeds"},
		{"slow server", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, "deadline exceeded"},
	}
	for i, day := range badDays {
		api.set(day.handler)
		err := r.Refresh(context.Background())
		if err == nil || !strings.Contains(err.Error(), day.want) {
			t.Errorf("%s: Refresh error %v, want one saying %q", day.name, err, day.want)
		}
		if r.Set() != good {
			t.Fatalf("%s: the good list was replaced", day.name)
		}
		st := r.Status()
		if st.Failures != i+1 || st.LastError == nil || st.ETag != "good" {
			t.Errorf("%s: status %+v", day.name, st)
		}
	}

	// An operator forces the shrink; the shape checks still hold.
	api.answer(200, okBody("zero", append(v4, "0.0.0.0/0"), v6))
	if err := r.Force(context.Background()); err == nil {
		t.Error("Force accepted a /0")
	}
	api.answer(200, okBody("shrunk", shrunk, v6))
	if err := r.Refresh(context.Background()); !errors.Is(err, ErrShrink) {
		t.Errorf("Refresh of a shrunk list: %v, want ErrShrink", err)
	}
	if err := r.Force(context.Background()); err != nil {
		t.Fatalf("Force: %v", err)
	}
	if r.Set().Len4() != 3 || r.Status().Failures != 0 || r.Status().LastError != nil {
		t.Errorf("after Force: %v, %+v", r.Set(), r.Status())
	}
}

func TestRefresherUnchangedAndSubscribers(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	api.answer(200, okBody("e1", v4, v6))
	r := &Refresher{Fetcher: api.fetcher()}
	var (
		mu      sync.Mutex
		changes []Change
	)
	delivered := make(chan struct{}, 10)
	cancel := r.Subscribe(func(c Change) {
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
		delivered <- struct{}{}
	})

	for range 3 { // one change, then the same etag twice
		if err := r.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// A new etag for the same addresses is recorded but is no change.
	api.answer(200, okBody("e2", v4, v6))
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-delivered
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || len(changes[0].Diff.Added) != 1 || changes[0].Diff.Added[0] != pfx("198.41.0.0/24") ||
		len(changes[0].Diff.Removed) != 0 || changes[0].Old != Cloudflare() || changes[0].New != r.Set() {
		t.Fatalf("changes = %+v", changes)
	}
	if r.Status().ETag != "e2" {
		t.Errorf("etag = %q, want e2", r.Status().ETag)
	}

	mu.Unlock()
	cancel()
	api.answer(200, okBody("e3", v4[1:], v6))
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	mu.Lock()
	if len(changes) != 1 {
		t.Errorf("a cancelled subscriber was called: %d changes", len(changes))
	}
}

func TestRefresherCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloudflare.json")
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	api.answer(200, okBody("cached", v4, v6))

	first := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	if first.Status().Source != EmbeddedSource {
		t.Fatalf("with no cache the start is %q", first.Status().Source)
	}
	if err := first.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A restart, with the API down, loads the disk copy at its first
	// refresh (never on the request path).
	api.answer(503, "down")
	second := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	if second.Status().Source != EmbeddedSource {
		t.Fatalf("the cache was read before the first refresh: %+v", second.Status())
	}
	if err := second.Refresh(context.Background()); err == nil {
		t.Fatal("refresh against a down API succeeded")
	}
	if !second.Set().Equal(first.Set()) || second.Status().ETag != "cached" || second.Status().Source != api.URL+"/client/v4/ips" {
		t.Fatalf("restart did not use the cache: %+v", second.Status())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// A corrupt or insane disk copy is ignored in favour of the embedded list.
	for name, content := range map[string]string{
		"corrupt":                      `{"ipv4_cidrs": [`,
		"insane":                       `{"ipv4_cidrs":["0.0.0.0/0"],"ipv6_cidrs":["2400:cb00::/32"]}`,
		"bad":                          `{"ipv4_cidrs":["1.2.3.4/99"],"ipv6_cidrs":["2400:cb00::/32"]}`,
		"older than the embedded list": `{"taken_at":"2020-01-01T00:00:00Z","ipv4_cidrs":["173.245.48.0/20"],"ipv6_cidrs":["2400:cb00::/32"]}`,
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		third := &Refresher{Fetcher: api.fetcher(), CachePath: path}
		third.Refresh(context.Background())
		if third.Set() != Cloudflare() || third.Status().Source != EmbeddedSource {
			t.Errorf("%s cache was used: %+v", name, third.Status())
		}
	}
}

func TestRefresherStatusAge(t *testing.T) {
	now := embeddedTakenAt.Add(48 * time.Hour)
	r := &Refresher{Clock: func() time.Time { return now }, Fetcher: NewFetcher(WithBaseURL("http://127.0.0.1:1"))}
	if got := r.Status().Age; got != 48*time.Hour {
		t.Errorf("Age = %v, want 48h", got)
	}
	if r.Refresh(context.Background()) == nil {
		t.Fatal("refresh against a closed port succeeded")
	}
	st := r.Status()
	if st.Age != 48*time.Hour || !st.LastSuccess.IsZero() || !st.LastAttempt.Equal(now) || st.Failures != 1 {
		t.Errorf("status after a failure: %+v", st)
	}
}

func TestRefresherRunBacksOff(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	var calls atomic.Int32
	api.set(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 3 {
			w.WriteHeader(500)
			return
		}
		fmt.Fprint(w, okBody("late", v4, v6))
	})
	r := &Refresher{Fetcher: api.fetcher(), Interval: time.Hour, MinBackoff: 5 * time.Millisecond}
	changed := make(chan struct{})
	r.Subscribe(func(Change) { close(changed) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not recover from failures")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after a graceful stop", err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d calls, want 3 failures and 1 success", n)
	}
}

func TestBackoff(t *testing.T) {
	for failures, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 20: time.Minute} {
		for range 100 {
			d, _ := backoff(time.Second, time.Minute, failures, errors.New("x"))
			if d < base/2 || d > base*3/2 {
				t.Fatalf("backoff after %d failures = %v, want within ±50%% of %v", failures, d, base)
			}
		}
	}
	if d, ra := backoff(time.Second, time.Hour, 1, &APIError{StatusCode: 429, RetryAfter: 10 * time.Minute}); d != 10*time.Minute || ra != 10*time.Minute {
		t.Errorf("Retry-After not honoured: %v, %v", d, ra)
	}
	// A Retry-After longer than the interval is clamped to it: a server
	// (or whoever answers for it) cannot stop the refreshes for a year.
	if d, _ := backoff(time.Second, time.Minute, 1, &APIError{StatusCode: 429, RetryAfter: 365 * 24 * time.Hour}); d != time.Minute {
		t.Errorf("Retry-After of a year gave a wait of %v, want the interval", d)
	}
}

// TestRefresherConcurrentReaders runs readers against refreshes that flip
// between two lists; -race checks the swap, and every reader must see one
// whole list or the other.
func TestRefresherConcurrentReaders(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	var flip atomic.Int32
	api.set(func(w http.ResponseWriter, r *http.Request) {
		if flip.Add(1)%2 == 0 {
			fmt.Fprint(w, okBody("a", v4, v6))
		} else {
			fmt.Fprint(w, okBody("b", v4[:len(v4)-1], v6))
		}
	})
	r := &Refresher{Fetcher: api.fetcher()}
	r.Subscribe(func(c Change) {
		if c.Diff.IsEmpty() {
			t.Error("subscriber called with an empty diff")
		}
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := r.Set()
				if s.Contains(addr("198.41.0.1")) != (s.Len4() == len(v4)) {
					t.Error("reader saw a torn list")
					return
				}
				r.Contains(addr("173.245.48.1"))
				r.Status()
			}
		}()
	}
	for range 50 {
		if err := r.Refresh(context.Background()); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}
