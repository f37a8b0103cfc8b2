package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMECommandsInAFreshClone runs the README's originguard commands the
// way someone who has just cloned the repository would: from the module
// root of a copy holding only the files git tracks (nothing a local run
// left behind), with go's module download switched off and every HTTP
// proxy pointing nowhere, so that a command needing setup or the network
// fails. render must print the golden rendering of the sample; edge the
// embedded ranges.
func TestREADMECommandsInAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command with go run")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git to list the tracked files")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := exec.Command(git, "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	clone := t.TempDir()
	for name := range strings.SplitSeq(strings.TrimRight(string(ls), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(clone, name)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var cmds []string
	readme, err := os.Open(filepath.Join(clone, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer readme.Close()
	sc := bufio.NewScanner(readme)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "go run ./examples/originguard") {
			cmd, _, _ := strings.Cut(line, "#")
			cmds = append(cmds, strings.TrimSpace(cmd))
		}
		if len(cmds) > 0 && sc.Text() == "```" {
			break // the first block only
		}
	}
	if len(cmds) < 2 || cmds[0] != "go run ./examples/originguard render" || cmds[1] != "go run ./examples/originguard edge" {
		t.Fatalf("the README's first commands are %q, want originguard render and edge first", cmds)
	}

	wantRender, err := os.ReadFile(filepath.Join("testdata", "sample.render.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"GOPROXY=off", "GOFLAGS=-mod=readonly", "HTTP_PROXY=http://127.0.0.1:1", "HTTPS_PROXY=http://127.0.0.1:1", "NO_PROXY="}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOPROXY", "GOFLAGS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", envAPI:
			continue
		}
		env = append(env, kv)
	}
	for _, c := range cmds[:2] {
		args := strings.Fields(c)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = clone, env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v\n%s", c, err, stderr.String())
			continue
		}
		switch args[len(args)-1] {
		case "render":
			if string(out) != string(wantRender) {
				t.Errorf("%s does not print the golden rendering of the sample (testdata/sample.render.yaml)", c)
			}
		case "edge":
			if !strings.HasPrefix(string(out), "Cloudflare edge ranges: 15 IPv4, 7 IPv6\nsource: embedded") {
				t.Errorf("%s:\n%.300s", c, out)
			}
		}
	}
}

// The built command exits 0 when done, 1 when audit finds something
// serious (so CI can gate on it), and 2 on an error, said on stderr.
func TestExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "originguard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("cluster:\n  netwroks: []\n"), 0o644)
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"render"}, 0, ""},
		{[]string{"audit", "-f", fixture}, 1, ""},
		{[]string{"render", "-f", bad}, 2, `originguard: ` + bad + ` line 2: unknown field "netwroks"`},
		{[]string{"render", "-nope"}, 2, "originguard: flag provided but not defined: -nope"},
		{[]string{"render", "-h"}, 0, "usage: originguard render"},
	} {
		cmd := exec.Command(bin, tc.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		status := 0
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d, stderr containing %q", tc.args, status, stderr.String(), tc.status, tc.stderr)
		}
	}
}
