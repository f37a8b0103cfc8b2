package allowlist

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeGoodCache lets a Refresher write a genuine cache file at path for
// the list v4 (plus the embedded IPv6) under etag, and returns the API.
func writeGoodCache(t *testing.T, path, etag string, v4 []string) *fakeAPI {
	t.Helper()
	api := newFakeAPI(t)
	_, v6 := goodLists()
	api.answer(200, okBody(etag, v4, v6))
	r := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return api
}

// loadsCache reports whether a new Refresher, with the API down, starts
// from the cache at path.
func loadsCache(t *testing.T, api *fakeAPI, path string, opts ...Option) bool {
	t.Helper()
	api.answer(503, "down")
	r := &Refresher{Fetcher: api.fetcher(opts...), CachePath: path}
	r.Refresh(context.Background())
	return r.Status().Source != EmbeddedSource
}

// editCache rewrites the cache file's JSON through edit.
func editCache(t *testing.T, path string, edit func(*cacheFile)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c cacheFile
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	edit(&c)
	data, _ = json.Marshal(c)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCacheIsUntrustedInput: every way a cache file can be wrong makes the
// Refresher start from the embedded list instead.
func TestCacheIsUntrustedInput(t *testing.T) {
	v4, _ := goodLists()
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string)
		opts  []Option
	}{
		{"genuine", func(*testing.T, string) {}, nil},
		{"symbolic link", func(t *testing.T, path string) {
			real := path + ".real"
			os.Rename(path, real)
			if err := os.Symlink(real, path); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"group-writable", func(t *testing.T, path string) { os.Chmod(path, 0o620) }, nil},
		{"world-writable", func(t *testing.T, path string) { os.Chmod(path, 0o602) }, nil},
		{"too large", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data = append(data, strings.Repeat(" ", MaxCacheSize)...)
			os.WriteFile(path, data, 0o600)
		}, nil},
		{"directory", func(t *testing.T, path string) { os.Remove(path); os.Mkdir(path, 0o700) }, nil},
		{"written for another URL", func(*testing.T, string) {}, []Option{WithJDCloud()}},
		{"taken in the future", func(t *testing.T, path string) {
			editCache(t, path, func(c *cacheFile) { c.TakenAt = time.Now().Add(24 * time.Hour) })
		}, nil},
		{"shrunk against the embedded list", func(t *testing.T, path string) {
			editCache(t, path, func(c *cacheFile) { c.IPv4 = c.IPv4[:2] })
		}, nil},
		{"repeated key", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data = []byte(strings.Replace(string(data), `"etag"`, `"ipv4_cidrs":["0.0.0.0/1"],"etag"`, 1))
			os.WriteFile(path, data, 0o600)
		}, nil},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name  string
			spoil func(t *testing.T, path string)
			opts  []Option
		}{"owned by another user", func(t *testing.T, path string) {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cf.json")
			api := writeGoodCache(t, path, "e1", append(v4, "198.41.0.0/24"))
			tt.spoil(t, path)
			if got, want := loadsCache(t, api, path, tt.opts...), tt.name == "genuine"; got != want {
				t.Errorf("cache loaded: %v, want %v", got, want)
			}
		})
	}
}

// TestCacheFIFODoesNotBlock: a FIFO at the cache path must not block
// Contains (which never reads the disk) nor a refresh.
func TestCacheFIFODoesNotBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cf.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	api := newFakeAPI(t)
	api.answer(503, "down")
	r := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	done := make(chan bool)
	go func() {
		ok := r.Contains(addr("173.245.48.1"))
		r.Refresh(context.Background())
		done <- ok
	}()
	select {
	case ok := <-done:
		if !ok || r.Status().Source != EmbeddedSource {
			t.Errorf("Contains = %v, source %q", ok, r.Status().Source)
		}
	case <-time.After(5 * time.Second):
		// Unblock the reader so that the test can end.
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("a FIFO at the cache path blocked Contains or Refresh")
	}
}

// TestCacheETagNotTrusted: a cache file carrying the API's current etag
// (which anyone can read) with another list is replaced by the real list
// at the first fetch, which does not send that etag.
func TestCacheETagNotTrusted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cf.json")
	v4, v6 := goodLists()
	api := writeGoodCache(t, path, "real-etag", v4)
	editCache(t, path, func(c *cacheFile) { c.IPv4 = append(c.IPv4, "45.0.0.0/16") }) // poisoned, plausible
	api.answer(200, okBody("real-etag", v4, v6))
	r := &Refresher{Fetcher: api.fetcher(), CachePath: path}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Contains(addr("45.0.0.1")) {
		t.Error("the poisoned list is still in use after a fetch")
	}
	if st := r.Status(); st.ETag != "real-etag" || st.Age < 0 {
		t.Errorf("status %+v", st)
	}
}

// TestRefreshReturnsWhileSubscriberSlow: a subscriber that takes forever
// delays neither Refresh nor a cancelled Refresh, Force or Run.
func TestRefreshReturnsWhileSubscriberSlow(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	api.answer(200, okBody("e1", v4, v6))
	r := &Refresher{Fetcher: api.fetcher()}
	release := make(chan struct{})
	defer close(release)
	called := make(chan struct{}, 10)
	r.Subscribe(func(Change) { called <- struct{}{}; <-release })

	finished := make(chan error, 4)
	go func() { finished <- r.Refresh(context.Background()) }()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Refresh waited for a slow subscriber")
	}
	<-called
	api.answer(200, okBody("e2", v4[1:], v6)) // another change, queued behind the slow one
	ctx, cancel := context.WithCancel(context.Background())
	go func() { finished <- r.Refresh(ctx) }()
	go func() { finished <- r.Force(ctx) }()
	go func() { finished <- r.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	for range 3 {
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled Refresh, Force or Run did not return while a subscriber is slow")
		}
	}
}

// TestGracefulStopIsNotAFailure: cancelling the context of a refresh in
// flight records no failure and Run returns nil.
func TestGracefulStopIsNotAFailure(t *testing.T) {
	api := newFakeAPI(t)
	inFlight := make(chan struct{}, 1)
	api.set(func(w http.ResponseWriter, r *http.Request) {
		inFlight <- struct{}{}
		<-r.Context().Done()
	})
	r := &Refresher{Fetcher: api.fetcher()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-inFlight
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	if st := r.Status(); st.Failures != 0 || st.LastError != nil {
		t.Errorf("a graceful stop counted as a failure: %+v", st)
	}
}

// TestStatusLastErrorBounded: 0.6 MiB of bad entries must not make a
// multi-megabyte error, kept and logged on every attempt.
func TestStatusLastErrorBounded(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	bad := make([]string, 40000)
	for i := range bad {
		bad[i] = "203.0.113.0/99"
	}
	api.answer(200, okBody("e", append(v4, bad...), v6))
	r := &Refresher{Fetcher: api.fetcher(WithMaxBodySize(4 << 20))}
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("bad list accepted")
	}
	if n := len(r.Status().LastError.Error()); n > maxStatusError+8 {
		t.Errorf("LastError is %d bytes", n)
	}
	long := &boundedError{}
	if boundError(error(long)) != long {
		t.Error("a short error was wrapped")
	}
}

// TestJitter: success intervals are spread by ±10%, so that a fleet does
// not refresh in lockstep.
func TestJitter(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := jitter(time.Hour, 0.1)
		if d < 54*time.Minute || d > 66*time.Minute {
			t.Fatalf("jitter(1h) = %v", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("jitter gave only %d different waits in 200", len(seen))
	}
}

// FuzzCacheFile feeds the cache reader arbitrary files: it must not panic,
// and what it accepts must pass the Guard.
func FuzzCacheFile(f *testing.F) {
	f.Add(`{"source":"http://127.0.0.1:1/ips","etag":"e","taken_at":"2026-10-01T00:00:00Z","ipv4_cidrs":["173.245.48.0/20"],"ipv6_cidrs":["2400:cb00::/32"]}`)
	f.Add(`{"source":"x","source":"y"}`)
	f.Add(`[`)
	dir := f.TempDir()
	now := embeddedTakenAt.Add(1000 * time.Hour)
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "cf.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		r := &Refresher{Fetcher: NewFetcher(WithBaseURL("http://127.0.0.1:1")), CachePath: path, Clock: func() time.Time { return now }}
		snap, err := r.readCache()
		if err != nil {
			return
		}
		if err := (Guard{}).Check(snap.set); err != nil {
			t.Fatalf("accepted a cache the Guard refuses: %v", err)
		}
		if snap.confirmed || snap.ranges.TakenAt.After(now.Add(cacheClockSkew)) {
			t.Fatalf("accepted %+v", snap.ranges)
		}
	})
}
