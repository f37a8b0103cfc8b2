//go:build linux

package firewall_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// peakRSS follows the largest resident set any tool reached.
type peakRSS struct {
	mu   sync.Mutex
	kib  int64
	tool string
}

// runner runs tools in node like netns.Namespace.RunInput, through GNU
// time, and records each one's peak RSS. (The rusage of a child this
// process forks is no good here: Linux carries the forking process's peak
// over into the child at exec.)
func (p *peakRSS) runner(b *testing.B, node *netns.Namespace) firewall.Runner {
	gnuTime, err := testenv.LookPath("time")
	if err != nil || !strings.HasPrefix(gnuTime, "/") {
		b.Fatalf("GNU time (Debian package time) is needed to measure the tools' memory: %v", err)
	}
	dir := b.TempDir()
	var seq int
	return func(ctx context.Context, stdin, name string, args ...string) (string, error) {
		path, err := testenv.LookPath(name)
		if err != nil {
			return "", err
		}
		p.mu.Lock()
		seq++
		report := filepath.Join(dir, strconv.Itoa(seq))
		p.mu.Unlock()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", node.Name, gnuTime, "-f", "%M", "-o", report, path}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		if data, rerr := os.ReadFile(report); rerr == nil {
			lines := strings.Fields(string(data))
			if len(lines) > 0 {
				kib, _ := strconv.ParseInt(lines[len(lines)-1], 10, 64)
				p.mu.Lock()
				if kib > p.kib {
					p.kib, p.tool = kib, name+" "+strings.Join(args, " ")
				}
				p.mu.Unlock()
			}
		}
		if err != nil {
			return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}
}

// goPeakKiB is this process's peak RSS (VmHWM) since resetPeak.
func goPeakKiB() int64 {
	status, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// resetPeak resets VmHWM to the current RSS (Linux 4.0 and later).
func resetPeak() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkApplyScale measures a whole Apply (inspect, save, render,
// check, load, read back, verify, conntrack) of a Spec with one set of N
// prefixes (half IPv4 /32s, half IPv6 /64s) into a namespace, each
// iteration replacing the set with a different one, and reports the wall
// time per Apply, the largest peak RSS of any tool it ran (MiB-tool) and
// the test process's own peak (MiB-go, which includes building the
// Specs), with the prefix limit lifted (DefaultPrefixLimit is set from
// these figures). The iptables backend runs only at 100k. Slow at 1M (two
// minutes and more per Apply with nftables); run one at a time, as
// BENCHMARKS.md says:
//
//	go test -run='^$' -bench='ApplyScale/nftables/1M' -benchtime=2x ./firewall
func BenchmarkApplyScale(b *testing.B) {
	for _, backend := range firewall.Backends() {
		for _, size := range []struct {
			name string
			n    int
		}{{"100k", 100_000}, {"400k", 400_000}, {"1M", 1_000_000}} {
			b.Run(string(backend)+"/"+size.name, func(b *testing.B) {
				if backend == firewall.IPTables && size.n > 100_000 {
					b.Skip("refused by the prefix limit; one rule per prefix does not scale (see BENCHMARKS.md)")
				}
				benchNeeds(b, backend)
				specs := [2]firewall.Spec{}
				for i := range specs {
					ps := prefixes(size.n + 1)
					if i == 1 {
						ps = ps[1:]
					} else {
						ps = ps[:size.n]
					}
					specs[i] = firewall.Spec{
						Sets: []firewall.Set{{Name: "edge", Prefixes: ps}},
						Rules: []firewall.Rule{{Comment: "NodePorts: the edge only", Stage: firewall.PreDNAT, Protocol: firewall.TCP,
							Ports: firewall.Ports(30000, 32767), From: "edge", Verdict: firewall.Accept}},
						Interfaces:   []string{"eth0"},
						AllowLockout: true, // a benchmark, not a node
					}
				}
				node := benchNode(b)
				var peak peakRSS
				// The limit lifted: this measures what the tools cost
				// beyond it, which is why the limit is where it is.
				a := firewall.NewApplier(backend, firewall.WithRunner(peak.runner(b, node)),
					firewall.WithLockFile(filepath.Join(b.TempDir(), "lock")), firewall.WithPrefixLimit(0))
				resetPeak()
				i := 0
				for b.Loop() {
					if err := a.Apply(context.Background(), specs[i%2]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/apply")
				b.ReportMetric(float64(peak.kib)/1024, "MiB-tool")
				b.ReportMetric(float64(goPeakKiB())/1024, "MiB-go")
				b.Logf("largest tool: %s", peak.tool)
			})
		}
	}
}
