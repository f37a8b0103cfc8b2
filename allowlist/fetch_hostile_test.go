package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFetchZeroOptionsMeanDefaults: WithTimeout(0) and WithMaxBodySize(0)
// are the defaults, not "no timeout" and "every body is too long".
func TestFetchZeroOptionsMeanDefaults(t *testing.T) {
	f := NewFetcher(WithTimeout(0), WithMaxBodySize(0), WithHTTPClient(nil), WithClock(nil))
	if f.timeout != DefaultTimeout || f.maxBody != DefaultMaxBodySize || f.client == nil || f.now == nil {
		t.Errorf("zero options: timeout %v, max body %d", f.timeout, f.maxBody)
	}
	f = NewFetcher(WithTimeout(-time.Second), WithMaxBodySize(-1))
	if f.timeout != DefaultTimeout || f.maxBody != DefaultMaxBodySize {
		t.Errorf("negative options: timeout %v, max body %d", f.timeout, f.maxBody)
	}
	api := newFakeAPI(t)
	v4, v6 := goodLists()
	api.answer(200, okBody("e", v4, v6))
	if _, err := api.fetcher(WithMaxBodySize(0)).Fetch(context.Background(), ""); err != nil {
		t.Errorf("WithMaxBodySize(0): %v", err)
	}
}

// TestFetchRefusesCrossHostRedirect: an answer redirecting elsewhere is not
// followed, whatever the caller's client allows; a redirect on the same
// host is.
func TestFetchRefusesCrossHostRedirect(t *testing.T) {
	v4, v6 := goodLists()
	var evilHits int
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits++
		fmt.Fprint(w, okBody("evil", []string{"0.0.0.0/1"}, v6))
	}))
	defer evil.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away/ips":
			http.Redirect(w, r, evil.URL+"/ips", http.StatusFound)
		case "/moved/ips":
			http.Redirect(w, r, "/ips", http.StatusMovedPermanently)
		default:
			fmt.Fprint(w, okBody("good", v4, v6))
		}
	}))
	defer api.Close()
	lenient := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	_, err := NewFetcher(WithBaseURL(api.URL+"/away"), WithHTTPClient(lenient)).Fetch(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "refused") || evilHits != 0 {
		t.Errorf("cross-host redirect: err %v, %d requests reached the other host", err, evilHits)
	}
	r, err := NewFetcher(WithBaseURL(api.URL+"/moved")).Fetch(context.Background(), "")
	if err != nil || r.ETag != "good" {
		t.Errorf("same-host redirect: %v, %q", err, r.ETag)
	}
	if lenient.CheckRedirect(nil, nil) != nil {
		t.Error("the caller's client was modified")
	}
}

// TestFetchErrorsBounded: a body of many bad entries, or huge messages,
// makes a short error.
func TestFetchErrorsBounded(t *testing.T) {
	v4, v6 := goodLists()
	bad := make([]string, 20000)
	for i := range bad {
		bad[i] = strings.Repeat("x", 20)
	}
	huge := strings.Repeat("m", 100<<10)
	api := newFakeAPI(t)
	for name, body := range map[string]string{
		"many bad entries": okBody("e", append(v4, bad...), v6),
		"one huge entry":   okBody("e", append(v4, huge), v6),
		"huge messages":    `{"success":false,"errors":[` + strings.Repeat(`{"code":1,"message":"`+huge[:5000]+`"},`, 50) + `{"code":2,"message":"x"}],"messages":[],"result":null}`,
	} {
		api.answer(200, body)
		_, err := api.fetcher(WithMaxBodySize(4<<20)).Fetch(context.Background(), "")
		if err == nil || len(err.Error()) > 4096 {
			t.Errorf("%s: error of %d bytes", name, len(err.Error()))
		}
	}
}

// TestErrorsNameThePackageOnce: every error made by the package names it
// once.
func TestErrorsNameThePackageOnce(t *testing.T) {
	v4, v6 := goodLists()
	api := newFakeAPI(t)
	var errs []error
	for _, body := range []string{
		`{"success":false,"errors":[{"code":1,"message":"no"}],"messages":[],"result":null}`,
		`not json`,
		okBody("e", append(v4, "bogus", "also/bogus"), v6),
	} {
		api.answer(200, body)
		_, err := api.fetcher().Fetch(context.Background(), "")
		errs = append(errs, err)
	}
	_, err := Parse("bogus\n192.0.2.1/99\n")
	errs = append(errs, err)
	errs = append(errs, Guard{}.Check(MustParse("10.0.0.0/8\n")))
	errs = append(errs, Middleware{Header: " ", TrustedProxyCount: -1}.Validate())
	for _, err := range errs {
		if err == nil {
			t.Error("no error")
			continue
		}
		if n := strings.Count(err.Error(), "allowlist"); n != 1 {
			t.Errorf("%q names the package %d times", err, n)
		}
	}
	var apiErr *APIError
	if !errors.As(errs[0], &apiErr) {
		t.Error("no *APIError")
	}
}
