//go:build linux

package firewall_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// mutating reports whether a command changes the node's rules.
func mutating(name string, args []string) bool {
	cmd := name + " " + strings.Join(args, " ")
	switch {
	case strings.HasSuffix(name, "-restore"):
		return !slices.Contains(args, "--test")
	case name == "nft":
		return strings.Contains(cmd, "-f -") && !slices.Contains(args, "-c")
	case name == "ipset":
		return len(args) > 0 && args[0] != "save" && args[0] != "list"
	case name == "conntrack":
		return slices.Contains(args, "-D")
	}
	return false
}

// TestConcurrentAppliesKeepTheFirewall runs two Applies of different Specs
// at once, held at a barrier right before their first change so that
// without a lock both work from the same saved state. However they end,
// an Apply that returned nil must have left a working firewall: exactly
// one jump per hook and the rules of a Spec that was applied.
func TestConcurrentAppliesKeepTheFirewall(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			ctx := context.Background()
			specs := [2]firewall.Spec{x.spec(), x.spec()}
			specs[1].Rules = append(specs[1].Rules, firewall.Rule{Comment: "extra", Protocol: firewall.TCP, Ports: firewall.Port(8443), From: "edge", Verdict: firewall.Accept})
			var states [2]string
			for i, s := range specs {
				if err := x.applier(b, x.runner()).Apply(ctx, s); err != nil {
					t.Fatal(err)
				}
				states[i] = x.state(t, b)
			}
			for round := range 3 {
				if err := x.applier(b, x.runner()).Remove(ctx); err != nil {
					t.Fatal(err)
				}
				var arrived atomic.Int32
				barrier := func() {
					arrived.Add(1)
					for end := time.Now().Add(time.Second); arrived.Load() < 2 && time.Now().Before(end); {
						time.Sleep(5 * time.Millisecond)
					}
				}
				var errs [2]error
				var finished [2]time.Time
				var wg sync.WaitGroup
				for i := range 2 {
					wg.Go(func() {
						var once sync.Once
						run := x.runner()
						held := func(ctx context.Context, stdin, name string, args ...string) (string, error) {
							if mutating(name, args) {
								once.Do(barrier)
							}
							return run(ctx, stdin, name, args...)
						}
						errs[i] = x.applier(b, held).Apply(ctx, specs[i])
						finished[i] = time.Now()
					})
				}
				wg.Wait()
				if errs[0] != nil && errs[1] != nil {
					t.Fatalf("round %d: both Applies failed: %v; %v", round, errs[0], errs[1])
				}
				last := 0
				if errs[0] != nil || errs[1] == nil && finished[1].After(finished[0]) {
					last = 1
				}
				got := x.state(t, b)
				if b != firewall.NFTables {
					for _, jump := range []string{"-A INPUT -j ORIGINGUARD-INPUT\n", "-A PREROUTING -j ORIGINGUARD-PREROUTING\n"} {
						if n := strings.Count(got, jump); n != 2 {
							t.Errorf("round %d: %d jumps %q over both families, want 2 (errors %v; %v)", round, n, strings.TrimSpace(jump), errs[0], errs[1])
						}
					}
				}
				if diff := cmp.Diff(states[last], got); diff != "" {
					t.Fatalf("round %d: after Applies returning %v and %v the rules are not those of the last successful one (-want +got):\n%s", round, errs[0], errs[1], diff)
				}
			}
			x.check(t, true)
		})
	}
}

// TestApplyRefusesMissingInterfaces shows that a Spec guarding an
// interface the node does not have is refused before anything changes,
// for an exact name and for a wildcard.
func TestApplyRefusesMissingInterfaces(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			pristine := x.everything(t, b)
			for _, ifs := range [][]string{{"eth0"}, {x.ifs[0], "ens+"}} {
				s := x.spec()
				s.Interfaces = ifs
				err := x.applier(b, x.runner()).Apply(context.Background(), s)
				missing := ifs[len(ifs)-1]
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q not found", missing)) {
					t.Errorf("Apply guarding %q: %v, want an error naming it", ifs, err)
				}
				if diff := cmp.Diff(pristine, x.everything(t, b)); diff != "" {
					t.Errorf("refused Apply changed the node (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// lone is a node namespace with one peer (the stranger, 203.0.113.2) and
// nothing else on it: no kube-proxy chains, no tables.
func lone(t *testing.T, needs ...testenv.Need) (node, peer *netns.Namespace, ifName, lock string) {
	t.Helper()
	testenv.Require(t, append([]testenv.Need{testenv.NeedRoot, testenv.NeedIPRoute, testenv.NeedIPTables, testenv.NeedIP6Tables, testenv.NeedConntrack}, needs...)...)
	node, peer = netns.New(t, "node"), netns.New(t, "peer")
	ifName, _ = netns.Link(t, node, []netip.Prefix{mp("203.0.113.1/24")}, peer, []netip.Prefix{mp("203.0.113.2/24")})
	return node, peer, ifName, filepath.Join(t.TempDir(), "originguard.lock")
}

// loneSpec opens 8080/tcp to one documentation prefix and drops the rest.
func loneSpec(ifName string) firewall.Spec {
	return firewall.Spec{
		Sets:       []firewall.Set{{Name: "office", Prefixes: []netip.Prefix{mp("192.0.2.0/24")}}},
		Rules:      []firewall.Rule{{Comment: "office", Protocol: firewall.TCP, Ports: firewall.Port(8080), From: "office", Verdict: firewall.Accept}},
		Interfaces: []string{ifName},
	}
}

func runIn(n *netns.Namespace) firewall.Runner {
	return func(_ context.Context, stdin, name string, args ...string) (string, error) {
		return n.RunInput(stdin, name, args...)
	}
}

// TestIPTablesModeFollowsKubelet shows that the iptables backends load
// their rules into the flavour kubelet uses (found by its hint chain, as
// kube-proxy's image finds it), so iptables-save of that flavour shows
// them, and Remove takes them from there.
func TestIPTablesModeFollowsKubelet(t *testing.T) {
	for _, tc := range []struct {
		hint       string // the tool kubelet's hint chain is made with
		want, none string // the save tool that must show our rules, and one that must not
	}{
		{"iptables-legacy", "iptables-legacy-save", "iptables-nft-save"},
		{"iptables-nft", "iptables-nft-save", "iptables-legacy-save"},
	} {
		t.Run(tc.hint, func(t *testing.T) {
			node, peer, ifName, lock := lone(t)
			node.MustRun(t, tc.hint, "-t", "mangle", "-N", "KUBE-IPTABLES-HINT")
			node.ServeTCP(t, netip.MustParseAddrPort("203.0.113.1:8080"))
			a := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(runIn(node)), firewall.WithLockFile(lock))
			if err := a.Apply(context.Background(), loneSpec(ifName)); err != nil {
				t.Fatal(err)
			}
			if out := node.MustRun(t, tc.want); !strings.Contains(out, "-A INPUT -j ORIGINGUARD-INPUT") {
				t.Errorf("%s does not show our rules:\n%s", tc.want, out)
			}
			if out := node.MustRun(t, tc.none); strings.Contains(out, "ORIGINGUARD") {
				t.Errorf("%s shows our rules, but kubelet uses the other flavour:\n%s", tc.none, out)
			}
			if err := peer.ProbeTCP(netip.MustParseAddrPort("203.0.113.1:8080"), 700*time.Millisecond); err == nil {
				t.Error("the peer outside the office set reached 8080")
			}
			if err := a.Remove(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, tool := range []string{tc.want, tc.none} {
				if out := node.MustRun(t, tool); strings.Contains(out, "ORIGINGUARD") {
					t.Errorf("after Remove %s still shows our rules:\n%s", tool, out)
				}
			}
		})
	}
}

// TestRemoveLeavesNoBaseChains shows that Apply and Remove with the
// iptables backend on a node that has no iptables rules at all (an
// nftables-only node, iptables-nft) leave no hooked base chain behind.
func TestRemoveLeavesNoBaseChains(t *testing.T) {
	node, _, ifName, lock := lone(t, testenv.NeedNFT)
	if out := node.MustRun(t, "nft", "list", "ruleset"); strings.TrimSpace(out) != "" {
		t.Fatalf("fresh namespace has rules:\n%s", out)
	}
	a := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(runIn(node)), firewall.WithLockFile(lock))
	if err := a.Apply(context.Background(), loneSpec(ifName)); err != nil {
		t.Fatal(err)
	}
	if out := node.MustRun(t, "nft", "list", "ruleset"); strings.Count(out, "hook") < 4 {
		t.Fatalf("want hooked base chains (mangle PREROUTING, filter INPUT, ..., both families) after Apply:\n%s", out)
	}
	if err := a.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := node.MustRun(t, "nft", "list", "ruleset"); strings.Contains(out, "hook") || strings.Contains(out, "chain") {
		t.Errorf("Remove left chains that were not there before Apply:\n%s", out)
	}
}

// TestBPFOnGuardedInterface attaches a tc BPF classifier to the guarded
// interface: Apply warns (and still applies), or with WithFailOnBPF refuses
// and changes nothing.
func TestBPFOnGuardedInterface(t *testing.T) {
	node, _, ifName, lock := lone(t, testenv.NeedNFT)
	node.MustRun(t, "tc", "qdisc", "add", "dev", ifName, "clsact")
	node.MustRun(t, "tc", "filter", "add", "dev", ifName, "ingress", "bpf", "bytecode", "1,6 0 0 4294967295,")

	var logged bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))
	a := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(runIn(node)), firewall.WithLockFile(lock), firewall.WithLogger(logger))
	if err := a.Apply(context.Background(), loneSpec(ifName)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), ifName+": tc ingress BPF classifier") {
		t.Errorf("no warning naming the interface and the program:\n%s", logged.String())
	}
	mu.Unlock()
	if err := a.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}

	strict := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(runIn(node)), firewall.WithLockFile(lock), firewall.WithFailOnBPF())
	for name, op := range map[string]func() error{
		"Apply": func() error { return strict.Apply(context.Background(), loneSpec(ifName)) },
		"Check": func() error { return strict.Check(context.Background(), loneSpec(ifName)) },
	} {
		if err := op(); err == nil || !strings.Contains(err.Error(), "tc ingress BPF classifier") {
			t.Errorf("%s WithFailOnBPF: %v, want an error naming the program", name, err)
		}
	}
	if out := node.MustRun(t, "nft", "list", "ruleset"); strings.Contains(out, "originguard") {
		t.Errorf("a refused Apply loaded rules:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestCheckChangesNothing runs Check before and after an Apply: it reports
// nil for a Spec the tools accept, runs no command that changes the node,
// and leaves the node as it was.
func TestCheckChangesNothing(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			if b == firewall.IPSet {
				x.foreignSets(t)
			}
			run := x.runner()
			check := func() {
				t.Helper()
				before := x.everything(t, b)
				var changed []string
				record := func(ctx context.Context, stdin, name string, args ...string) (string, error) {
					if mutating(name, args) {
						changed = append(changed, name+" "+strings.Join(args, " "))
					}
					return run(ctx, stdin, name, args...)
				}
				if err := x.applier(b, record).Check(context.Background(), x.spec()); err != nil {
					t.Errorf("Check: %v", err)
				}
				if len(changed) > 0 {
					t.Errorf("Check ran commands that change the node: %q", changed)
				}
				if diff := cmp.Diff(before, x.everything(t, b)); diff != "" {
					t.Errorf("Check changed the node (-before +after):\n%s", diff)
				}
			}
			check()
			if err := x.applier(b, run).Apply(context.Background(), x.spec()); err != nil {
				t.Fatal(err)
			}
			check()
		})
	}
}

// echo is a connected socket and a check that it still gets its bytes back.
type echo struct {
	name string
	c    net.Conn
}

func (e echo) alive(timeout time.Duration) error {
	e.c.SetDeadline(time.Now().Add(timeout))
	msg := make([]byte, 16)
	rand.Read(msg)
	if _, err := e.c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := e.c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.Equal(buf[:n], msg) {
		return errors.New("echo differs")
	}
	return nil
}

// dial opens a connection from inside n that outlives the call.
func dial(t *testing.T, n *netns.Namespace, network string, to netip.AddrPort) net.Conn {
	t.Helper()
	var c net.Conn
	if err := n.Do(func() (err error) {
		c, err = net.DialTimeout(network, to.String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("dial %s %s from %s: %v", network, to, n.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveTCPEcho echoes every TCP connection to addr in n until the test ends.
func serveTCPEcho(t *testing.T, n *netns.Namespace, addr netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func() (err error) { ln, err = net.Listen("tcp", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// TestFlowsOpenedBeforeApplyAreJudged opens flows before an Apply (UDP
// to a NodePort and TCP to a port the rules close, from a stranger; UDP to
// a NodePort from the edge; VXLAN from the cluster), then applies: the
// stranger's flows must stop at once, the others go on. A second Apply
// drops the edge peer's prefix from the edge set: its flow must stop too,
// the cluster's go on.
func TestFlowsOpenedBeforeApplyAreJudged(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			serveTCPEcho(t, x.node, netip.MustParseAddrPort("[::]:7000"))
			ap := netip.AddrPortFrom
			stranger := []echo{
				{"stranger udp NodePort v4", dial(t, x.stranger, "udp", ap(nodeFromStranger[0], nodePort))},
				{"stranger udp NodePort v6", dial(t, x.stranger, "udp", ap(nodeFromStranger[1], nodePort))},
				{"stranger tcp 7000 v4", dial(t, x.stranger, "tcp", ap(nodeFromStranger[0], 7000))},
				{"stranger tcp 7000 v6", dial(t, x.stranger, "tcp", ap(nodeFromStranger[1], 7000))},
			}
			edge := []echo{
				{"edge udp NodePort v4", dial(t, x.edge, "udp", ap(nodeFromEdge[0], nodePort))},
				{"edge udp NodePort v6", dial(t, x.edge, "udp", ap(nodeFromEdge[1], nodePort))},
			}
			cluster := []echo{
				{"cluster udp VXLAN v4", dial(t, x.cluster, "udp", ap(nodeFromCluster[0], 4789))},
				{"cluster udp VXLAN v6", dial(t, x.cluster, "udp", ap(nodeFromCluster[1], 4789))},
			}
			expect := func(when string, flows []echo, alive bool) {
				t.Helper()
				// Generous when the flow must live, so a loaded machine
				// does not flake; short when it must be dead.
				timeout := 700 * time.Millisecond
				if alive {
					timeout = 5 * time.Second
				}
				for _, e := range flows {
					if err := e.alive(timeout); (err == nil) != alive {
						t.Errorf("%s: %s: err=%v, want alive=%v", when, e.name, err, alive)
					}
				}
			}
			all := slices.Concat(stranger, edge, cluster)
			expect("before Apply", all, true)

			if err := x.applier(b, x.runner()).Apply(context.Background(), x.spec()); err != nil {
				t.Fatal(err)
			}
			expect("after Apply", stranger, false)
			expect("after Apply", slices.Concat(edge, cluster), true)

			narrower := x.spec(mp("192.0.2.32/28"), mp("2001:db8:1:1::/64"))
			if err := x.applier(b, x.runner()).Apply(context.Background(), narrower); err != nil {
				t.Fatal(err)
			}
			expect("after the edge set shrank", edge, false)
			expect("after the edge set shrank", cluster, true)
		})
	}
}
