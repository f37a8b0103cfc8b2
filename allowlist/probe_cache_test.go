package allowlist

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCacheProbes: more ways a cache file can be wrong, and one way of
// reaching it that is allowed.
func TestCacheProbes(t *testing.T) {
	v4, _ := goodLists()
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string) string // returns the CachePath to use
		want  bool
	}{
		{"genuine", func(_ *testing.T, path string) string { return path }, true},
		{"hard link elsewhere", func(t *testing.T, path string) string {
			// Someone kept a second name for the file, so that it can be
			// put back after the Refresher replaces it: a replay.
			if err := os.Link(path, filepath.Join(filepath.Dir(path), "kept")); err != nil {
				t.Skip(err)
			}
			return path
		}, false},
		{"cache path is a hard link", func(t *testing.T, path string) string {
			other := filepath.Join(filepath.Dir(path), "other.json")
			if err := os.Link(path, other); err != nil {
				t.Skip(err)
			}
			return other
		}, false},
		{"truncated", func(t *testing.T, path string) string {
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o600)
			return path
		}, false},
		{"empty", func(t *testing.T, path string) string { os.WriteFile(path, nil, 0o600); return path }, false},
		{"null", func(t *testing.T, path string) string { os.WriteFile(path, []byte("null"), 0o600); return path }, false},
		{"source case variant", func(t *testing.T, path string) string {
			editCache(t, path, func(c *cacheFile) { c.Source = "HTTP" + c.Source[4:] })
			return path
		}, false},
		{"no source", func(t *testing.T, path string) string {
			editCache(t, path, func(c *cacheFile) { c.Source = "" })
			return path
		}, false},
		{"v6 in ipv4_cidrs", func(t *testing.T, path string) string {
			editCache(t, path, func(c *cacheFile) { c.IPv4 = append(c.IPv4, "2a10::/32") })
			return path
		}, false},
		{"special range", func(t *testing.T, path string) string {
			editCache(t, path, func(c *cacheFile) { c.IPv6 = append(c.IPv6, "2002::/16") })
			return path
		}, false},
		{"mode 0644", func(t *testing.T, path string) string { os.Chmod(path, 0o644); return path }, true},
		{"mode 0400", func(t *testing.T, path string) string { os.Chmod(path, 0o400); return path }, true},
		{"directory reached through a symbolic link", func(t *testing.T, path string) string {
			// Only the file itself is checked: the directories above it are
			// followed (documented on Refresher.CachePath).
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(filepath.Dir(path), link); err != nil {
				t.Skip(err)
			}
			return filepath.Join(link, filepath.Base(path))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cf.json")
			api := writeGoodCache(t, path, "e1", append(v4, "198.41.0.0/24"))
			use := tt.spoil(t, path)
			if got := loadsCache(t, api, use); got != tt.want {
				t.Errorf("cache loaded: %v, want %v", got, tt.want)
			}
		})
	}
}
