//go:build linux

package ingress_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/originguard/originguard/ingress"
	"github.com/originguard/originguard/internal/testbed/netns"
)

// This file is a STAND-IN, not ingress-nginx: Debian's nginx (the same
// ngx_http_realip_module and ngx_http_access_module ingress-nginx builds on)
// runs the directives ingress-nginx's nginx.tmpl writes for the ConfigMap
// keys and annotations under test — real_ip_header, real_ip_recursive on,
// set_real_ip_from for each proxy-real-ip-cidr (default 0.0.0.0/0), and
// allow/deny for allowlist-source-range — translated by standInConfig below.
// It checks the semantics this package relies on with real packets: which
// address the allowlist judges. The controller itself (its Lua, its
// template) does not run.

// nginxBinary finds nginx: $ORIGINGUARD_NGINX (set by hack/test.sh from
// hack/provision.sh), else $PATH and /usr/sbin. Missing, the test skips, or
// fails under CI=true.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORIGINGUARD_NGINX"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	msg := "nginx not found: run bash hack/provision.sh and export ORIGINGUARD_NGINX=$(bash hack/provision.sh --print-nginx)"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + " (CI=true: a missing prerequisite fails the test)")
	}
	t.Skip(msg)
	return ""
}

// standInConfig is what ingress-nginx's template makes of the controller
// ConfigMap's real-IP keys and an Ingress's allowlist annotation, for one
// plain-HTTP server on listen that answers with X-Remote-Addr: the address
// nginx judged.
func standInConfig(dir, listen string, cm map[string]string, ann map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n", dir)
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s/%s;\n", tmp, dir, tmp)
	}
	on := func(k string) bool { v, _ := strconv.ParseBool(cm[k]); return v }
	if on(ingress.ConfigUseForwardedHeaders) || on(ingress.ConfigEnableRealIP) {
		header := cm[ingress.ConfigForwardedForHeader]
		if header == "" {
			header = "X-Forwarded-For"
		}
		cidrs := cm[ingress.ConfigProxyRealIPCIDR]
		if cidrs == "" {
			cidrs = "0.0.0.0/0" // ingress-nginx's default
		}
		fmt.Fprintf(&b, "  real_ip_header %s;\n  real_ip_recursive on;\n", header)
		for _, c := range strings.Split(cidrs, ",") {
			fmt.Fprintf(&b, "  set_real_ip_from %s;\n", strings.TrimSpace(c))
		}
	}
	fmt.Fprintf(&b, "  server {\n    listen %s;\n    location / {\n", listen)
	allow := ann[ingress.AnnotationAllowlist]
	if allow == "" {
		allow = ann[ingress.AnnotationWhitelist]
	}
	if allow != "" {
		for _, c := range strings.Split(allow, ",") {
			fmt.Fprintf(&b, "      allow %s;\n", strings.TrimSpace(c))
		}
		b.WriteString("      deny all;\n")
	}
	fmt.Fprintf(&b, "      root %s/www;\n      add_header X-Remote-Addr $remote_addr always;\n    }\n  }\n}\n", dir)
	return b.String()
}

// origin is nginx in a namespace reached by an edge proxy (192.0.2.10, in
// the edge 192.0.2.0/24) and by a direct client (198.51.100.7, outside it).
type origin struct {
	edge, direct *netns.Namespace
}

const (
	originEdgeAddr   = "192.0.2.1"
	originDirectAddr = "198.51.100.1"
	standInPort      = 8080
)

func startOrigin(t *testing.T, nginx, conf string, dir string) *origin {
	t.Helper()
	srv := netns.New(t, "origin")
	o := &origin{edge: netns.New(t, "edge"), direct: netns.New(t, "direct")}
	netns.Link(t, srv, []netip.Prefix{netip.MustParsePrefix(originEdgeAddr + "/24")}, o.edge, []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")})
	netns.Link(t, srv, []netip.Prefix{netip.MustParsePrefix(originDirectAddr + "/24")}, o.direct, []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")})
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command("ip", "netns", "exec", srv.Name, nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off; master_process off;")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("nginx stderr:\n%s\nconfig:\n%s", stderr.String(), conf)
		}
	})
	// Ready when the edge can connect.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := o.edge.Do(func() error {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(originEdgeAddr, strconv.Itoa(standInPort)), time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get sends GET / from the namespace to the origin with a CF-Connecting-IP
// header (when not empty) and returns the status and the address nginx
// judged.
func get(t *testing.T, from *netns.Namespace, to, cfConnectingIP string) (status int, judged string) {
	t.Helper()
	err := from.Do(func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(to, strconv.Itoa(standInPort)), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		req := "GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n"
		if cfConnectingIP != "" {
			req += "CF-Connecting-IP: " + cfConnectingIP + "\r\n"
		}
		if _, err := c.Write([]byte(req + "\r\n")); err != nil {
			return err
		}
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return fmt.Errorf("status line %q", line)
		}
		status, _ = strconv.Atoi(fields[1])
		for {
			h, err := r.ReadString('\n')
			if err != nil || strings.TrimSpace(h) == "" {
				return nil
			}
			if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "X-Remote-Addr") {
				judged = strings.TrimSpace(v)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return status, judged
}

// nginxObjects returns the controller ConfigMap data and the Ingress
// annotations in generated objects.
func nginxObjects(t *testing.T, out *ingress.Output) (map[string]string, map[string]string) {
	t.Helper()
	var cm, ann map[string]string
	for _, o := range out.Objects {
		switch o := o.(type) {
		case *corev1.ConfigMap:
			cm = o.Data
		case *networkingv1.Ingress:
			ann = o.Annotations
		}
	}
	if cm == nil || ann == nil {
		t.Fatal("no ConfigMap or Ingress generated")
	}
	return cm, ann
}

// TestNGINXStandIn runs the generated ingress-nginx configuration, and the
// typical broken one the audit reports, in a stand-in nginx with real
// packets: a direct client forging CF-Connecting-IP, and the edge carrying a
// real visitor.
func TestNGINXStandIn(t *testing.T) {
	nginx := nginxBinary(t)
	edge := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // the stand-in edge
	spec := func(header string) ingress.Spec {
		s := testSpec(ingress.IngressNGINX, header, "shop", "ingress")
		s.Edge = edge
		return s
	}
	listen := "0.0.0.0:" + strconv.Itoa(standInPort)

	t.Run("generated, real IP from CF-Connecting-IP", func(t *testing.T) {
		out, err := ingress.Generate(spec(ingress.DefaultClientIPHeader))
		if err != nil {
			t.Fatal(err)
		}
		cm, ann := nginxObjects(t, out)
		dir := t.TempDir()
		o := startOrigin(t, nginx, standInConfig(dir, listen, cm, ann), dir)
		if st, ip := get(t, o.edge, originEdgeAddr, "203.0.113.9"); st != 200 || ip != "203.0.113.9" {
			t.Errorf("edge carrying visitor 203.0.113.9: %d, judged %s; want 200 and the visitor", st, ip)
		}
		if _, ip := get(t, o.direct, originDirectAddr, "192.0.2.10"); ip != "198.51.100.7" {
			t.Errorf("direct client forging an edge address: judged %s, want its own address (header not believed)", ip)
		}
	})

	t.Run("generated, no header: the allowlist judges the peer", func(t *testing.T) {
		out, err := ingress.Generate(spec(""))
		if err != nil {
			t.Fatal(err)
		}
		cm, ann := nginxObjects(t, out)
		dir := t.TempDir()
		o := startOrigin(t, nginx, standInConfig(dir, listen, cm, ann), dir)
		if st, ip := get(t, o.edge, originEdgeAddr, "203.0.113.9"); st != 200 || ip != "192.0.2.10" {
			t.Errorf("edge: %d, judged %s; want 200 and the peer", st, ip)
		}
		if st, _ := get(t, o.direct, originDirectAddr, "192.0.2.10"); st != 403 {
			t.Errorf("direct client forging an edge address: %d, want 403", st)
		}
	})

	t.Run("broken: forwarded headers with the default proxy-real-ip-cidr", func(t *testing.T) {
		cm := map[string]string{ingress.ConfigUseForwardedHeaders: "true", ingress.ConfigForwardedForHeader: "CF-Connecting-IP"}
		ann := map[string]string{ingress.AnnotationWhitelist: "192.0.2.0/24"}
		// The audit reports both mistakes...
		findings := ingress.Audit(edge,
			&corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: objectMeta("ingress-nginx-controller", "ingress-nginx"), Data: cm},
			&networkingv1.Ingress{TypeMeta: typeMeta("networking.k8s.io/v1", "Ingress"), ObjectMeta: withAnnotations(objectMeta("shop", "shop"), ann)},
		)
		var fields []string
		for _, f := range findings {
			fields = append(fields, f.Field)
		}
		for _, want := range []string{"data[proxy-real-ip-cidr]", "metadata.annotations[" + ingress.AnnotationWhitelist + "]"} {
			if !strings.Contains(strings.Join(fields, " "), want) {
				t.Errorf("audit did not report %s: %v", want, findings)
			}
		}
		// ...and nginx shows both are real.
		dir := t.TempDir()
		o := startOrigin(t, nginx, standInConfig(dir, listen, cm, ann), dir)
		if st, ip := get(t, o.direct, originDirectAddr, "192.0.2.10"); st != 200 || ip != "192.0.2.10" {
			t.Errorf("direct client forging an edge address: %d, judged %s; want it let through (the bypass)", st, ip)
		}
		if st, _ := get(t, o.edge, originEdgeAddr, "203.0.113.9"); st != 403 {
			t.Errorf("edge carrying a real visitor: %d, want 403 (every visitor blocked)", st)
		}
	})
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func objectMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace}
}

func withAnnotations(m metav1.ObjectMeta, ann map[string]string) metav1.ObjectMeta {
	m.Annotations = ann
	return m
}
