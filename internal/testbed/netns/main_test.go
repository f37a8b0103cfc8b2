//go:build linux

package netns_test

import (
	"testing"

	"github.com/originguard/originguard/internal/testbed/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }
