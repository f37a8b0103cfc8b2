package testbed

import (
	"testing"

	"github.com/originguard/originguard/internal/testbed/testenv"
)

// Need is a prerequisite of a real-component test: [testenv.Need], named
// here so that tests of the Kubernetes harness need one import.
type Need = testenv.Need

// NeedKubeAPIServer is kube-apiserver and etcd, built by hack/provision.sh.
const NeedKubeAPIServer = testenv.NeedKubeAPIServer

// EnvKubeBin names the directory holding kube-apiserver and etcd
// ([testenv.EnvKubeBin]).
const EnvKubeBin = testenv.EnvKubeBin

// Require is [testenv.Require]: it skips the test with one line saying how
// to provision when a need is missing, or fails it when CI=true.
func Require(t testing.TB, needs ...Need) {
	t.Helper()
	testenv.Require(t, needs...)
}
