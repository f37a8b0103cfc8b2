package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/originguard/originguard/internal/testbed/testenv"
)

// ServiceClusterIPRange is the apiserver's service range. Nothing routes it:
// it is data the apiserver allocates from, taken from a documentation range.
const ServiceClusterIPRange = "198.51.100.0/24"

// controlPlane is one etcd and one kube-apiserver on loopback.
type controlPlane struct {
	dir            string
	etcd, api      *process
	cfg            *rest.Config
	ready          time.Duration // from start to /readyz answering ok
	apiserverFlags []string
}

var (
	mainUsed  bool // set by Main before any test runs
	cpOnce    sync.Once
	cpErr     error
	sharedCP  *controlPlane
	cleanupMu sync.Mutex
)

// Main runs the tests of a package, then tears down the shared control
// plane. Use it as
//
//	func TestMain(m *testing.M) { testbed.Main(m) }
//
// An interrupt (SIGINT, SIGTERM) tears down the same way before the binary
// exits.
func Main(m *testing.M) {
	mainUsed = true
	stop := testenv.OnInterrupt(teardown)
	code := m.Run()
	stop()
	teardown()
	os.Exit(code)
}

// teardown stops the shared control plane.
func teardown() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	if sharedCP != nil {
		sharedCP.stop()
		sharedCP = nil
	}
}

// APIServer returns an admin client config for the test binary's
// kube-apiserver, starting it (and etcd) on first use and waiting until it
// is ready. The package's TestMain must call [Main], which tears it down.
// It skips or fails the test as [Require] does when the binaries are missing.
func APIServer(t testing.TB) *rest.Config {
	t.Helper()
	Require(t, NeedKubeAPIServer)
	if !mainUsed {
		t.Fatal("testbed: APIServer needs `func TestMain(m *testing.M) { testbed.Main(m) }` in the package, which tears the control plane down")
	}
	cpOnce.Do(func() {
		cp, err := startControlPlaneRetry()
		cleanupMu.Lock()
		sharedCP, cpErr = cp, err
		cleanupMu.Unlock()
		if err == nil {
			fmt.Fprintf(os.Stderr, "testbed: etcd + kube-apiserver ready in %v\n", cp.ready.Round(time.Millisecond))
		}
	})
	if cpErr != nil {
		t.Fatalf("testbed: start kube-apiserver: %v", cpErr)
	}
	return rest.CopyConfig(sharedCP.cfg)
}

// startControlPlaneRetry starts a control plane, trying again with fresh
// ports when a port was taken between choosing and binding it.
func startControlPlaneRetry() (*controlPlane, error) {
	var errs []error
	for range 3 {
		cp, err := startControlPlane()
		if err == nil {
			return cp, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

var errPortTaken = errors.New("port taken")

// startControlPlane starts etcd, waits for it, starts kube-apiserver and
// waits for /readyz.
func startControlPlane() (_ *controlPlane, err error) {
	start := time.Now()
	apiserverBin, etcdBin, err := testenv.KubeBinaries()
	if err != nil {
		return nil, err
	}
	sweepStaleDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("originguard-testbed-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{dir: dir}
	defer func() {
		if err != nil {
			cp.stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cp.etcd, err = startProcess("etcd", etcdBin, []string{
		"--name=testbed",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testbed=" + peerURL,
		"--unsafe-no-fsync", // throw-away data: no fsync makes writes cheap
		"--log-level=warn",
	}, filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(cp.etcd, http.DefaultClient, etcdURL+"/health", 30*time.Second); err != nil {
		return nil, err
	}

	p, err := newPKI()
	if err != nil {
		return nil, err
	}
	files, err := p.write(dir)
	if err != nil {
		return nil, err
	}
	port := ports[2]
	cp.apiserverFlags = []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--tls-cert-file=" + files["server.crt"],
		"--tls-private-key-file=" + files["server.key"],
		"--client-ca-file=" + files["ca.crt"],
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + files["sa.pub"],
		"--service-account-signing-key-file=" + files["sa.key"],
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--authorization-mode=RBAC",
		// No controller-manager runs, so no service-account tokens exist.
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	cp.api, err = startProcess("kube-apiserver", apiserverBin, cp.apiserverFlags, filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	cp.cfg = &rest.Config{
		Host: fmt.Sprintf("https://127.0.0.1:%d", port),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   p.caCert,
			CertData: p.adminCert,
			KeyData:  p.adminKey,
		},
		QPS:       200,
		Burst:     400,
		UserAgent: "originguard-testbed",
	}
	hc, err := rest.HTTPClientFor(cp.cfg)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(cp.api, hc, cp.cfg.Host+"/readyz", 90*time.Second); err != nil {
		return nil, err
	}
	cp.ready = time.Since(start)
	return cp, nil
}

// waitHTTP polls url until it answers 200, the process exits, or the time
// is up.
func waitHTTP(p *process, hc *http.Client, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last := "no answer yet"
	for {
		if done, err := p.exited(); done {
			tail := p.logTail(20)
			err = fmt.Errorf("%s exited (%v) before %s answered; log %s ends:\n%s", p.name, err, url, p.logPath, tail)
			if strings.Contains(tail, "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body := make([]byte, 512)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body[:n])
		} else {
			last = err.Error()
		}
		cancel()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (last: %s); log %s ends:\n%s", url, limit, last, p.logPath, p.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills both processes and removes the data directory.
func (cp *controlPlane) stop() {
	cp.api.kill()
	cp.etcd.kill()
	if cp.dir != "" {
		os.RemoveAll(cp.dir)
	}
}

// sweepStaleDirs removes data directories of test binaries that died
// without tearing down (their pid is gone).
func sweepStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "originguard-testbed-*-*"))
	for _, m := range matches {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(m), "originguard-testbed-"), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || testenv.PIDAlive(pid) {
			continue
		}
		os.RemoveAll(m)
	}
}

var nsNameDisallowed = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh, uniquely named Kubernetes namespace for the
// test and returns its name. Namespaces are not deleted: without a
// controller-manager a deleted namespace never finishes terminating, and the
// whole control plane is thrown away at the end of the test binary.
func Namespace(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("testbed: client: %v", err)
	}
	base := strings.Trim(nsNameDisallowed.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-")
	}
	var suffix [3]byte
	rand.Read(suffix[:])
	name := base + "-" + hex.EncodeToString(suffix[:])
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testbed: create namespace %q: %v", name, err)
	}
	return name
}
