//go:build linux

package netns

import (
	"os"
	"testing"

	"github.com/originguard/originguard/internal/testbed/testenv"
)

// Main runs the tests of a package, then deletes any namespace a test left
// behind. On an interrupt (SIGINT, SIGTERM) it deletes them before the
// binary exits. Use it as
//
//	func TestMain(m *testing.M) { netns.Main(m) }
//
// Without it namespaces still go away when their test ends, but not when the
// binary is interrupted (the next binary's first [New] sweeps those).
func Main(m *testing.M) {
	stop := testenv.OnInterrupt(deleteAllNetns)
	code := m.Run()
	stop()
	deleteAllNetns()
	os.Exit(code)
}
