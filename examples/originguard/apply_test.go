package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/originguard/originguard/internal/testbed"
)

// TestAuditReadsClusterThroughKubeconfig applies the fixture cluster to a
// real kube-apiserver and audits it through a kubeconfig, as a user would
// their cluster: the same planted problems as the -f test, and explain
// judges a flow the same way. $KUBECONFIG and $HOME point nowhere useful,
// so an ignored --kubeconfig fails.
func TestAuditReadsClusterThroughKubeconfig(t *testing.T) {
	cfg := testbed.APIServer(t)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDs(t)...)
	applyFixture(t, cfg)
	dir := t.TempDir()
	path := writeKubeconfig(t, cfg, dir)
	env := map[string]string{"KUBECONFIG": filepath.Join(dir, "absent"), "HOME": dir}

	out, _, err := runCLI(t, env, "audit", "--kubeconfig", path, "-o", "json", "-cluster", "10.244.0.0/16")
	checkPlanted(t, out, err, true)

	const decided = "decided by: ingress of host endpoint node-2-all: deny (rule: tier default, GlobalNetworkPolicy host-deny rule 3: Deny)"
	out, _, err = runCLI(t, env, "explain", "--kubeconfig", path, "--from", "node/node-1", "--to", "node/node-2:10250")
	if err != nil || !strings.Contains(out, "TCP/10250: DENY") || !strings.Contains(out, decided) {
		t.Errorf("explain --kubeconfig: err = %v\n%s", err, out)
	}
	// $KUBECONFIG, and --context naming the context to read.
	env["KUBECONFIG"] = path
	out, _, err = runCLI(t, env, "explain", "--context", "testbed", "--from", "198.51.100.7", "--to", "node/node-2:30080/tcp")
	if err != nil || !strings.Contains(out, "via NodePort 30080 on node-2: ALLOW") {
		t.Errorf("explain with $KUBECONFIG: err = %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, env, "audit", "--context", "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an unknown --context: err = %v", err)
	}
}

// applyFixture server-side applies the fixture cluster's objects, and the
// status of its Nodes and Pods (their addresses, Running) through the
// status subresource, as the kubelet would. The test binary shares one
// API server: cluster-wide Calico objects other tests left (the render
// test's pre-DNAT and host policies) would judge the fixture's flows too,
// so they are deleted first.
func applyFixture(t *testing.T, cfg *rest.Config) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"projectcalico.org/v3", "crd.projectcalico.org/v1"} {
		gv, _ := schema.ParseGroupVersion(g)
		for _, r := range []string{"globalnetworkpolicies", "globalnetworksets", "hostendpoints", "tiers"} {
			err := dyn.Resource(gv.WithResource(r)).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("delete %s %s: %v", g, r, err)
			}
		}
	}
	mapper := testbed.RESTMapper(t, cfg)
	var objs []*unstructured.Unstructured
	for _, f := range []string{"dump.yaml", "calico.yaml"} {
		data, err := os.ReadFile(filepath.Join(fixture, f))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := testbed.DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range docs {
			if !d.IsList() {
				objs = append(objs, d)
				continue
			}
			d.EachListItem(func(o runtime.Object) error {
				objs = append(objs, o.(*unstructured.Unstructured))
				return nil
			})
		}
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("no resource for %v: %v", gvk, err)
		}
		body, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		opts := metav1.PatchOptions{FieldManager: "originguard-fixture", Force: new(true)}
		if _, err := ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body, opts); err != nil {
			t.Fatalf("%s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		if gvk.Kind == "Node" || gvk.Kind == "Pod" {
			if _, err := ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body, opts, "status"); err != nil {
				t.Fatalf("%s %s/%s status: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
			}
		}
	}
}

// writeKubeconfig writes a kubeconfig with one context, testbed, for cfg.
func writeKubeconfig(t *testing.T, cfg *rest.Config, dir string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testbed"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["testbed"] = &clientcmdapi.AuthInfo{ClientCertificate: cfg.CertFile, ClientCertificateData: cfg.CertData,
		ClientKey: cfg.KeyFile, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["testbed"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: "testbed"}
	kc.CurrentContext = "testbed"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRenderAppliesToAPIServer renders the sample spec, in both Calico API
// forms and for every ingress controller, to a directory, and server-side
// applies every object of every file kustomization.yaml names, in its
// order, to a real kube-apiserver with fieldValidation=Strict: Calico's
// kinds through the CRDs generated from the pinned projectcalico/api
// types, the controllers' kinds through their own CRDs (the ingress
// package's copies, taken from the controllers' Go modules). Kong's CRDs
// are not on the module proxy, so its KongPlugin is checked by the ingress
// package's golden files only.
func TestRenderAppliesToAPIServer(t *testing.T) {
	cfg := testbed.APIServer(t)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDs(t)...)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDGroupCRDs(t)...)
	for _, f := range []string{"gatewayapi.yaml", "envoygateway.yaml", "traefik.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "ingress", "testdata", "crds", f))
		if err != nil {
			t.Fatal(err)
		}
		crds, err := testbed.DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		testbed.InstallCRDs(t, cfg, crds...)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := testbed.RESTMapper(t, cfg)

	for _, api := range []string{"crd", "api"} {
		for _, controller := range []string{"ingress-nginx", "gateway-api", "envoy-gateway", "traefik-nginx-provider", "traefik", "kong"} {
			t.Run(api+"/"+controller, func(t *testing.T) {
				app, sys := testbed.Namespace(t, cfg), testbed.Namespace(t, cfg)
				spec := string(sampleSpec)
				for _, r := range [][2]string{
					{"  api: crd", "  api: " + api},
					{"  controller: ingress-nginx", "  controller: " + controller},
					{"  namespace: shop", "  namespace: " + app},
					{"  - name: shop\n", "  - name: " + app + "\n"},
					{"  controllerNamespace: ingress-nginx", "  controllerNamespace: " + sys},
					{`  className: ""`, "  className: eg"},
				} {
					if !strings.Contains(spec, r[0]) {
						t.Fatalf("the sample has no %q", r[0])
					}
					spec = strings.Replace(spec, r[0], r[1], 1)
				}
				dir := t.TempDir()
				path := filepath.Join(dir, "spec.yaml")
				os.WriteFile(path, []byte(spec), 0o644)
				out := filepath.Join(dir, "out")
				if _, err := runCLIOrErr(t, "render", "-f", path, "-out", out); err != nil {
					t.Fatal(err)
				}
				// The controller's LoadBalancer Service exists before the
				// patch that guards it, as its installation creates it.
				svc := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx-controller", Namespace: sys},
					Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "controller"},
						Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(443)}}},
				}
				if _, err := cs.CoreV1().Services(sys).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				kust, err := os.ReadFile(filepath.Join(out, "kustomization.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				applied := 0
				for line := range strings.Lines(string(kust)) {
					file, ok := strings.CutPrefix(strings.TrimSpace(line), "- ")
					if !ok {
						continue
					}
					data, err := os.ReadFile(filepath.Join(out, file))
					if err != nil {
						t.Fatal(err)
					}
					objs, err := testbed.DecodeObjects(data)
					if err != nil {
						t.Fatalf("%s: %v", file, err)
					}
					for _, obj := range objs {
						gvk := obj.GroupVersionKind()
						if gvk.Group == "configuration.konghq.com" {
							continue // no CRD to check against (see above)
						}
						m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
						if err != nil {
							t.Fatalf("%s: no resource for %v: %v", file, gvk, err)
						}
						body, err := json.Marshal(obj.Object)
						if err != nil {
							t.Fatal(err)
						}
						var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
						if m.Scope.Name() == meta.RESTScopeNameNamespace {
							ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
						}
						if _, err := ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
							FieldManager: "originguard-render-test", Force: new(true), FieldValidation: "Strict",
						}); err != nil {
							t.Errorf("%s: %s %s/%s: %v", file, gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
						}
						applied++
					}
				}
				// What the API server now holds, listed as kubectl get -o yaml
				// prints it (a List, with every field the server adds), is
				// audit's input: it must read it strictly, and find nothing
				// serious in the rendered ingress layer.
				auditServerState(t, dyn, mapper, out)
				if applied < 10 {
					t.Errorf("applied only %d objects", applied)
				}
				got, err := cs.CoreV1().Services(sys).Get(context.Background(), svc.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if controller != "envoy-gateway" && (got.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal || len(got.Spec.LoadBalancerSourceRanges) != 22) {
					t.Errorf("the controller Service is not guarded: %s, %d source ranges", got.Spec.ExternalTrafficPolicy, len(got.Spec.LoadBalancerSourceRanges))
				}
			})
		}
	}
}

// auditServerState reads back every object the ingress and NetworkPolicy
// layers wrote, as one List, and audits it.
func auditServerState(t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, out string) {
	t.Helper()
	list := map[string]any{"apiVersion": "v1", "kind": "List"}
	var items []any
	for _, file := range []string{"networkpolicies.yaml", "ingress.yaml"} {
		data, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := testbed.DecodeObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				continue // Kong's, see above
			}
			got, err := dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Get(context.Background(), obj.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, got.Object)
		}
	}
	list["items"] = items
	data, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(path, data, 0o644)
	stdout, _, err := runCLI(t, nil, "audit", "-f", path, "-o", "json")
	if err != nil && !errors.Is(err, errFindings) {
		t.Fatalf("audit cannot read the server's objects: %v", err)
	}
	var got struct{ Findings []finding }
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	for _, f := range got.Findings {
		if f.Source == "ingress" || f.Severity == high {
			t.Errorf("the rendered defence, as the server holds it, has a finding: %+v", f)
		}
	}
}
