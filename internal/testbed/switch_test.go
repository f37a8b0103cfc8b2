package testbed_test

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

// probeEnv marks the child run of TestRequireProbe.
const probeEnv = "ORIGINGUARD_TESTBED_SWITCH_PROBE"

// TestRequireProbe is run only as a child of TestRequireSwitchEndToEnd, with
// the binaries pointed at an empty directory.
func TestRequireProbe(t *testing.T) {
	if os.Getenv(probeEnv) == "" {
		t.Skip("run by TestRequireSwitchEndToEnd")
	}
	testbed.Require(t, testbed.NeedKubeAPIServer)
	t.Log("PROBE PASSED REQUIRE")
}

// TestRequireSwitchEndToEnd runs this very test binary again with the
// binaries missing: by hand (CI unset) the real test must skip and the run
// pass; under CI=true the same test must fail the run.
func TestRequireSwitchEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantLine string
		wantFail bool
	}{
		{ci: "", wantLine: "--- SKIP: TestRequireProbe"},
		{ci: "false", wantLine: "--- SKIP: TestRequireProbe"},
		{ci: "true", wantLine: "--- FAIL: TestRequireProbe", wantFail: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRequireProbe$", "-test.v", "-test.count=1")
			env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
				return strings.HasPrefix(kv, "CI=") || strings.HasPrefix(kv, testbed.EnvKubeBin+"=")
			})
			cmd.Env = append(env, probeEnv+"=1", testbed.EnvKubeBin+"="+t.TempDir())
			if tc.ci != "" {
				cmd.Env = append(cmd.Env, "CI="+tc.ci)
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			failed := errors.As(err, &exit)
			if err != nil && !failed {
				t.Fatalf("run child: %v", err)
			}
			if failed != tc.wantFail {
				t.Errorf("child failed = %v, want %v; output:\n%s", failed, tc.wantFail, out)
			}
			for _, want := range []string{tc.wantLine, "hack/provision.sh", "kube-apiserver"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "PROBE PASSED REQUIRE") {
				t.Errorf("Require let the test go on without binaries:\n%s", out)
			}
		})
	}
}
