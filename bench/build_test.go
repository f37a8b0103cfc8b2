package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/gaissmai/bart"
	"github.com/originguard/originguard/allowlist"
)

// The build comparison: a Set of the 1M BGP-shaped prefixes (SetFrom:
// validation, canonicalisation, sorting, aggregation and the index) against
// inserting the same raw prefixes into a bart.Fast, the plain way.

func bgpRaw() []netip.Prefix {
	return bgpPrefixes(rand.New(rand.NewPCG(1, 2)), 800_000, 200_000)
}

func buildFast(raw []netip.Prefix) *bart.Fast[struct{}] {
	t := new(bart.Fast[struct{}])
	for _, p := range raw {
		t.Insert(p, struct{}{})
	}
	return t
}

func buildSet(raw []netip.Prefix) allowlist.Set {
	s, err := allowlist.SetFrom(raw)
	if err != nil {
		panic(err)
	}
	return s
}

// BenchmarkBuild builds from 1M raw prefixes per operation.
func BenchmarkBuild(b *testing.B) {
	raw := bgpRaw()
	b.Run("impl=Set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buildSet(raw)
		}
	})
	b.Run("impl=bart.Fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buildFast(raw)
		}
	})
}

// retained returns the live heap that build's result holds, after a GC.
func retained(build func() any) (uint64, any) {
	var before, after runtime.MemStats
	debug.FreeOSMemory() // a full collection, swept
	runtime.ReadMemStats(&before)
	v := build()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - before.HeapAlloc, v
}

// TestBuildTarget checks that building a Set of 1M prefixes takes at most
// 2x the time of plain bart.Fast inserts (best of three each, interleaved)
// and holds at most 1.5x its memory.
func TestBuildTarget(t *testing.T) {
	skipIfDistorted(t)
	if testing.Short() {
		t.Skip("builds 1M prefixes several times")
	}
	raw := bgpRaw()
	// Memory first, one structure alive at a time, before the timing loop
	// leaves garbage behind.
	memFast, f := retained(func() any { return buildFast(raw) })
	runtime.KeepAlive(f)
	f = nil
	memSet, s := retained(func() any { return buildSet(raw) })
	runtime.KeepAlive(s)
	s = nil
	best := [2]time.Duration{1 << 62, 1 << 62}
	for range 3 {
		start := time.Now()
		buildSet(raw)
		best[0] = min(best[0], time.Since(start))
		start = time.Now()
		buildFast(raw)
		best[1] = min(best[1], time.Since(start))
	}
	msg := fmt.Sprintf("build of %d prefixes: Set %v, bart.Fast %v (%.2fx); memory: Set %d MiB, bart.Fast %d MiB (%.2fx)",
		len(raw), best[0], best[1], float64(best[0])/float64(best[1]), memSet>>20, memFast>>20, float64(memSet)/float64(memFast))
	if float64(best[0]) > 2*float64(best[1]) {
		t.Errorf("building a Set takes more than 2x bart.Fast: %s", msg)
	}
	if float64(memSet) > 1.5*float64(memFast) {
		t.Errorf("a Set holds more than 1.5x bart.Fast's memory: %s", msg)
	}
	t.Log(msg)
}
