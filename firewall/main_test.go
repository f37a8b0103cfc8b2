//go:build linux

package firewall_test

import (
	"testing"

	"github.com/originguard/originguard/internal/testbed/netns"
)

// TestMain deletes the namespaces of an interrupted run (see netns.Main).
func TestMain(m *testing.M) { netns.Main(m) }
