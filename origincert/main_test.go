package origincert_test

import (
	"testing"

	"github.com/originguard/originguard/internal/testbed"
)

// TestMain tears down the test bed's kube-apiserver after the tests.
func TestMain(m *testing.M) { testbed.Main(m) }
