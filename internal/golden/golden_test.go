package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.errors++ }
func (r *recorder) Fatalf(string, ...any) { r.errors++ }
func (r *recorder) Fatal(...any)          { r.errors++ }

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	os.Chdir(dir)
	os.Mkdir("testdata", 0o755)
	os.WriteFile(filepath.Join("testdata", "x.txt"), []byte("hello\n"), 0o644)

	for _, tt := range []struct {
		name, got string
		errors    int
	}{{"x.txt", "hello\n", 0}, {"x.txt", "hullo\n", 1}, {"missing.txt", "", 1}} {
		r := &recorder{TB: t}
		Check(r, tt.name, tt.got)
		if r.errors != tt.errors {
			t.Errorf("Check(%q, %q): %d failures, want %d", tt.name, tt.got, r.errors, tt.errors)
		}
	}

	*update = true
	defer func() { *update = false }()
	Check(t, "new.txt", "made\n")
	if b, err := os.ReadFile(filepath.Join("testdata", "new.txt")); err != nil || string(b) != "made\n" {
		t.Errorf("-update wrote %q, %v", b, err)
	}
}
