package firewall_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/originguard/originguard/firewall"
)

// TestPrefixLimit shows that the iptables backend refuses, before it runs
// anything, a Spec that would load more per-prefix rules than its limit,
// with an error naming the limit and the way to raise it; and that
// WithPrefixLimit(0) opts in.
func TestPrefixLimit(t *testing.T) {
	ps := make([]netip.Prefix, 5000)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), 32)
	}
	spec := firewall.Spec{
		Sets:       []firewall.Set{{Name: "edge", Prefixes: ps}},
		Rules:      []firewall.Rule{{Comment: "edge", Protocol: firewall.TCP, Ports: firewall.Port(443), From: "edge", Verdict: firewall.Accept}},
		Interfaces: []string{"eth0"},
	}
	errNode := errors.New("the node was asked")
	asked := false
	node := func(context.Context, string, string, ...string) (string, error) {
		asked = true
		return "", errNode
	}
	lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
	err := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), lock).Apply(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "5000 IPv4") || !strings.Contains(err.Error(), "limit of 4096") || !strings.Contains(err.Error(), "WithPrefixLimit") {
		t.Errorf("Apply of 5000 prefixes with iptables: %v, want a refusal naming the count and the limit", err)
	}
	if asked {
		t.Error("the refused Apply ran a command")
	}
	for _, opts := range [][]firewall.Option{{firewall.WithPrefixLimit(0)}, {firewall.WithPrefixLimit(5000)}} {
		err = firewall.NewApplier(firewall.IPTables, append(opts, firewall.WithRunner(node), lock)...).Apply(context.Background(), spec)
		if !errors.Is(err, errNode) {
			t.Errorf("Apply with a raised limit: %v, want it to go on to the node", err)
		}
	}
	for _, b := range []firewall.Backend{firewall.IPSet, firewall.NFTables} {
		if err := firewall.NewApplier(b, firewall.WithRunner(node), lock).Apply(context.Background(), spec); !errors.Is(err, errNode) {
			t.Errorf("%s with 5000 prefixes: %v, want no refusal (sets cost one lookup)", b, err)
		}
	}
}

// TestLockFileMustBeRegular shows that the Applier refuses a lock path
// that is not a regular file (a symlink planted there is not followed).
func TestLockFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "lock")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	node := func(context.Context, string, string, ...string) (string, error) { return "", nil }
	err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), firewall.WithLockFile(link)).Remove(context.Background())
	if err == nil || !strings.Contains(err.Error(), link) {
		t.Errorf("Remove with a symlink as lock file: %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the symlink's target was created: %v", err)
	}
}

// fakeNode answers like a node with eth0 and nothing else; other commands
// go to more, which may be nil.
func fakeNode(more func(name string, args []string) (string, error)) firewall.Runner {
	return func(_ context.Context, stdin, name string, args ...string) (string, error) {
		if name == "ip" && len(args) > 0 && args[0] == "-d" {
			return "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq\n", nil
		}
		if more != nil {
			return more(name, args)
		}
		return "", nil
	}
}

// TestIPTablesModeUndecided shows that when kubelet's hint chain is in
// neither flavour and iptables-legacy-save fails (as it does without
// CAP_NET_RAW), Apply says so instead of guessing.
func TestIPTablesModeUndecided(t *testing.T) {
	var mutated []string
	node := fakeNode(func(name string, args []string) (string, error) {
		switch {
		case strings.HasPrefix(name, "ip") && strings.Contains(name, "legacy-save"):
			return "", errors.New("iptables-legacy-save: Permission denied (you must be root)")
		case strings.HasSuffix(name, "-restore") || name == "ipset" && args[0] == "restore":
			mutated = append(mutated, name)
		}
		return "", nil
	})
	lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
	spec := firewall.Spec{Interfaces: []string{"eth0"}, AllowLockout: true}
	err := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), lock).Apply(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW") || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("Apply: %v, want an error naming CAP_NET_RAW and the tool's complaint", err)
	}
	if len(mutated) > 0 {
		t.Errorf("Apply ran %q", mutated)
	}
	err = firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), lock, firewall.WithIPTablesMode(firewall.IPTablesNFT)).Apply(context.Background(), spec)
	if err != nil && strings.Contains(err.Error(), "flavour") {
		t.Errorf("Apply with the mode given still detects: %v", err)
	}
}

// TestXDPIsFound feeds ip -d link output with an XDP program (recorded
// from a node running one; the test kernel here cannot load one without a
// compiler) and expects the Applier to refuse with WithFailOnBPF.
func TestXDPIsFound(t *testing.T) {
	for _, line := range []string{
		"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdp qdisc mq \\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff \\    prog/xdp id 42 name xdp_pass tag 3b185187f1855c4c jited \n",
		"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdpgeneric qdisc mq \\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff \\    prog/xdp id 7 \n",
	} {
		node := func(_ context.Context, stdin, name string, args ...string) (string, error) {
			if name == "ip" && len(args) > 0 && args[0] == "-d" {
				return line, nil
			}
			return "", nil
		}
		lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
		err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), lock, firewall.WithFailOnBPF()).Check(context.Background(), firewall.Spec{Interfaces: []string{"eth0"}, AllowLockout: true})
		if err == nil || !strings.Contains(err.Error(), "eth0: XDP program") {
			t.Errorf("Check with %q: %v, want a refusal naming the XDP program", line, err)
		}
	}
}
