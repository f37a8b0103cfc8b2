package originguard_test

import (
	"os/exec"
	"strings"
	"testing"

	_ "github.com/originguard/originguard/internal/golden" // for -update, as below
)

// TestEveryTestBinaryDefinesUpdate checks that `go test ./... -update`
// works in every package: go test passes -update to every test binary, and
// one that does not define the flag fails on it. internal/golden defines
// it, so every package with tests must link internal/golden into its test
// binary, if need be through a file holding only a blank import.
func TestEveryTestBinaryDefinesUpdate(t *testing.T) {
	const golden = module + "/internal/golden"
	out, err := exec.Command("go", "list", "-test", "-f",
		`{{if eq .Name "main"}}{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{"\n"}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasSuffix(fields[0], ".test") || fields[0] == golden+".test" {
			continue // not a test binary, or golden's own
		}
		fields[0] = strings.TrimSuffix(fields[0], ".test")
		checked++
		linked := false
		for _, dep := range fields[1:] {
			if dep == golden {
				linked = true
			}
		}
		if !linked {
			t.Errorf("the test binary of %s does not define -update: add a test file holding\n\timport _ %q", fields[0], golden)
		}
	}
	if checked == 0 {
		t.Fatal("go list found no test binaries")
	}
}
