package allowlist

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefresherConcurrentEverything: Refresh, Force, Run, Subscribe,
// unsubscribe, Status, Contains, Ranges and Set at once, with the API
// flipping between two lists and contexts cancelled at random moments.
// Under -race nothing may race, every subscriber sees changes in order
// (each Change's Old is the previous one's New), and the end state is one
// of the two lists.
func TestRefresherConcurrentEverything(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	bodies := []string{okBody("a", v4, v6), okBody("b", append(slices.Clone(v4), "45.0.0.0/24"), v6)}
	var n atomic.Int32
	api.set(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i%7 == 0 {
			time.Sleep(5 * time.Millisecond) // sometimes slow
		}
		w.Write([]byte(bodies[i%2]))
	})
	r := &Refresher{Fetcher: api.fetcher(), CachePath: filepath.Join(t.TempDir(), "cf.json"),
		Interval: time.Millisecond, MinBackoff: time.Millisecond}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var broken []string
	for range 3 {
		var last Set
		var seen bool
		cancel := r.Subscribe(func(c Change) {
			if seen && !c.Old.Equal(last) {
				mu.Lock()
				broken = append(broken, "a subscriber saw changes out of order")
				mu.Unlock()
			}
			last, seen = c.New, true
			c.Ranges.IPv4 = append(c.Ranges.IPv4[:0], c.Ranges.IPv4...) // its own copy: writing must not race
		})
		defer cancel()
	}
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ctx.Err() == nil; j++ {
				c, cancel := context.WithTimeout(ctx, time.Duration(j%5)*time.Millisecond)
				switch (i + j) % 6 {
				case 0:
					r.Refresh(c)
				case 1:
					r.Force(c)
				case 2:
					un := r.Subscribe(func(Change) {})
					un()
				case 3:
					st := r.Status()
					if st.Age < 0 || st.Prefixes == 0 {
						mu.Lock()
						broken = append(broken, "bad status")
						mu.Unlock()
					}
				case 4:
					rg := r.Ranges()
					if len(rg.IPv4) > 0 {
						rg.IPv4[0] = rg.IPv4[0].Masked() // a copy: writing must not race
					}
				case 5:
					if !r.Contains(addr("173.245.48.1")) || !r.Set().Contains(addr("2400:cb00::1")) {
						mu.Lock()
						broken = append(broken, "lost a Cloudflare address")
						mu.Unlock()
					}
				}
				cancel()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Refresh, Force or Run did not return after cancel")
	}
	if len(broken) > 0 {
		t.Error(slices.Compact(broken))
	}
	if got := r.Status().ETag; got != "a" && got != "b" {
		t.Errorf("etag %q", got)
	}
}

// TestRefreshCancelledWhileWaitingForTheTurn: a Refresh whose context ends
// while another holds the turn returns at once with the context's error,
// and does not count as a failure.
func TestRefreshCancelledWhileWaitingForTheTurn(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	release := make(chan struct{})
	api.set(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte(okBody("a", v4, v6)))
	})
	r := &Refresher{Fetcher: api.fetcher()}
	go r.Refresh(context.Background())
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Force(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Force = %v after %v", err, time.Since(start))
	}
	close(release)
	if st := r.Status(); st.Failures != 0 {
		t.Errorf("a cancelled wait counted as a failure: %+v", st)
	}
}

// TestForceIsNotReadBackFromTheCache: a forced shrink is written to the
// cache, but nothing in that file can waive a check: a new process judges
// it against the embedded list, refuses it, and needs Force again.
func TestForceIsNotReadBackFromTheCache(t *testing.T) {
	api := newFakeAPI(t)
	_, v6 := goodLists()
	small := []string{"173.245.48.0/20", "104.16.0.0/13", "172.64.0.0/13"}
	api.answer(200, okBody("small", small, v6))
	path := filepath.Join(t.TempDir(), "cf.json")
	r := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	if err := r.Force(context.Background()); err != nil {
		t.Fatal(err)
	}
	if loadsCache(t, api, path) {
		t.Error("a forced shrink in the cache was loaded by a new process without Force")
	}
	api.answer(200, okBody("small", small, v6))
	r2 := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	if err := r2.Refresh(context.Background()); !errors.Is(err, ErrShrink) {
		t.Errorf("after a restart the shrink is not refused: %v", err)
	}
	if err := r2.Force(context.Background()); err != nil {
		t.Errorf("Force after a restart: %v", err)
	}
}

// TestSubscribersOwnTheirDiff: each subscriber gets a Change it may do as
// it likes with (sort its Diff for display, reuse the slice): one that
// writes its Diff must not race with, or change what, another reads.
func TestSubscribersOwnTheirDiff(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	api.answer(200, okBody("a", v4, v6))
	r := &Refresher{Fetcher: api.fetcher()}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	got := make(chan string, 1)
	defer r.Subscribe(func(c Change) {
		defer wg.Done()
		for i := range c.Diff.Added {
			c.Diff.Added[i] = pfx("192.0.2.0/24") // scribble
		}
		for i := range c.Diff.Removed {
			c.Diff.Removed[i] = pfx("192.0.2.0/24")
		}
	})()
	defer r.Subscribe(func(c Change) {
		defer wg.Done()
		time.Sleep(10 * time.Millisecond)
		got <- c.Diff.String()
	})()
	api.answer(200, okBody("b", append(slices.Clone(v4), "45.0.0.0/24"), v6))
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if s := <-got; s != "+45.0.0.0/24\n" {
		t.Errorf("the second subscriber saw %q", s)
	}
}
