// Package testbed runs a real kube-apiserver (with etcd) for this module's
// tests, so Kubernetes objects are checked against the component they are
// meant for instead of against fakes.
//
// It is for this module's tests only; it is not a general test framework
// (see controller-runtime's envtest for that). Network namespaces for
// firewall rules and TLS peers live in the Linux-only package
// internal/testbed/netns, so a test binary that needs them links no
// Kubernetes package; what both harnesses share (the prerequisites a test
// states) is in internal/testbed/testenv.
//
// # Prerequisites
//
// `bash hack/provision.sh` builds kube-apiserver and etcd from the Go module
// proxy (pinned by hack/kube), into a cache outside the repository. A test
// states what it needs with [Require]: run by hand without it, the test
// skips with one line saying how to provision; under CI=true it fails, so
// CI never passes by skipping.
//
// # Kubernetes
//
// One etcd and one kube-apiserver per test binary, on loopback with random
// ports, a throw-away CA, an admin client identity (group system:masters) and
// RBAC on. [APIServer] starts them on first use and returns a *rest.Config;
// [Main] tears them down. [Namespace] gives each test its own namespace;
// [InstallCRDs] applies CustomResourceDefinitions and waits until they are
// Established.
//
//	func TestMain(m *testing.M) { testbed.Main(m) }
//
//	func TestPolicy(t *testing.T) {
//		cfg := testbed.APIServer(t)
//		ns := testbed.Namespace(t, cfg)
//		// apply objects in ns with a client built from cfg
//	}
package testbed
