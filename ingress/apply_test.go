package ingress_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/originguard/originguard/ingress"
	"github.com/originguard/originguard/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

const fieldManager = "originguard-ingress-test"

// crdFiles are the controllers' own CRDs, copied from their Go modules by
// hack/ingresscrd (Kong's modules are not on the module proxy: no file).
var crdFiles = []string{"gatewayapi.yaml", "envoygateway.yaml", "traefik.yaml"}

var installCRDs sync.Once

// cluster is a kube-apiserver with the controllers' CRDs installed.
type cluster struct {
	cfg    *rest.Config
	dyn    *dynamic.DynamicClient
	cs     *kubernetes.Clientset
	mapper meta.RESTMapper
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	cfg := testbed.APIServer(t)
	installCRDs.Do(func() {
		for _, f := range crdFiles {
			data, err := os.ReadFile(filepath.Join("testdata", "crds", f))
			if err != nil {
				t.Fatal(err)
			}
			crds, err := testbed.DecodeObjects(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			testbed.InstallCRDs(t, cfg, crds...)
		}
	})
	c := &cluster{cfg: cfg}
	var err error
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	c.mapper = testbed.RESTMapper(t, cfg)
	return c
}

// apply server-side applies one object with fieldValidation=Strict, so an
// unknown or duplicate field is an error, as are the CRDs' schema and CEL
// rules.
func (c *cluster) apply(t *testing.T, obj *unstructured.Unstructured) error {
	t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("no resource for %v: %v", gvk, err)
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	_, err = ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: fieldManager, Force: new(true), FieldValidation: "Strict",
	})
	return err
}

func errCode(err error) int32 {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code
	}
	return 0
}

// controllerService creates the LoadBalancer Service a controller's
// installation would, for the generated patch to apply onto.
func (c *cluster) controllerService(t *testing.T, name types.NamespacedName) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name.Name, Namespace: name.Namespace},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)},
			},
			Selector: map[string]string{"app": "controller"},
		},
	}
	if _, err := c.cs.CoreV1().Services(name.Namespace).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// testSpec is a Spec for the controller with every need asked for, in fresh
// namespaces of the cluster (or fixed names without one).
func testSpec(controller ingress.Controller, header string, ns, system string) ingress.Spec {
	return ingress.Spec{
		Controller:        controller,
		Name:              "shop",
		Namespace:         ns,
		Hosts:             []string{"shop.example.com", "*.shop.example.com"},
		Edge:              []netip.Prefix{netip.MustParsePrefix("173.245.48.0/20"), netip.MustParsePrefix("2400:cb00::/32"), netip.MustParsePrefix("103.21.244.0/22")},
		ClientIPHeader:    header,
		TLSSecret:         "shop-origin-tls",
		OriginPullCA:      &ingress.CARef{Kind: ingress.CASecret, Name: "cloudflare-origin-pull-ca"},
		Backend:           ingress.Backend{Name: "shop", Port: 8080},
		ControllerService: &types.NamespacedName{Namespace: system, Name: "controller"},
		ControllerConfig:  types.NamespacedName{Namespace: system, Name: "ingress-nginx-controller"},
		ClassName:         className[controller],
	}
}

var className = map[ingress.Controller]string{ingress.GatewayAPI: "cilium"}

// TestApplyGenerated applies everything Generate emits, for every
// controller, with and without a client-address header and with either kind
// of CA reference, to a kube-apiserver that runs the controllers' own CRD
// schemas and CEL rules.
func TestApplyGenerated(t *testing.T) {
	c := newCluster(t)
	for _, controller := range ingress.Controllers {
		for _, header := range []string{"", ingress.DefaultClientIPHeader} {
			for _, kind := range []ingress.CAKind{ingress.CASecret, ingress.CAConfigMap} {
				name := string(controller) + "/header=" + header + "/ca=" + string(kind)
				t.Run(name, func(t *testing.T) {
					if kind == ingress.CAConfigMap && (controller == ingress.IngressNGINX || controller == ingress.TraefikNGINX || controller == ingress.Traefik) {
						s := testSpec(controller, header, "shop", "ingress")
						s.OriginPullCA.Kind = kind
						if _, err := ingress.Generate(s); err == nil {
							t.Fatalf("Generate accepted a ConfigMap CA for %s, which reads only Secrets", controller)
						}
						return
					}
					ns, system := testbed.Namespace(t, c.cfg), testbed.Namespace(t, c.cfg)
					s := testSpec(controller, header, ns, system)
					s.OriginPullCA.Kind = kind
					out, err := ingress.Generate(s)
					if err != nil {
						t.Fatal(err)
					}
					c.controllerService(t, *s.ControllerService)
					data, err := ingress.Render(out.Objects...)
					if err != nil {
						t.Fatal(err)
					}
					objs, err := testbed.DecodeObjects(data)
					if err != nil {
						t.Fatal(err)
					}
					if len(objs) != len(out.Objects) {
						t.Fatalf("rendered %d documents for %d objects", len(objs), len(out.Objects))
					}
					applied := 0
					for _, obj := range objs {
						if obj.GetKind() == "KongPlugin" {
							continue // no Kong CRD available: see crdFiles
						}
						if err := c.apply(t, obj); err != nil {
							t.Errorf("apply %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
						}
						applied++
					}
					if applied == 0 {
						t.Fatal("nothing applied")
					}
					c.checkService(t, s)
				})
			}
		}
	}
}

// checkService reads back the controller Service after the patch: the
// generated fields are set and the installation's ports survive.
func (c *cluster) checkService(t *testing.T, s ingress.Spec) {
	t.Helper()
	got, err := c.cs.CoreV1().Services(s.ControllerService.Namespace).Get(context.Background(), s.ControllerService.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Controller == ingress.EnvoyGateway {
		return // Envoy Gateway shapes its own Service through EnvoyProxy
	}
	if got.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("externalTrafficPolicy %q, want Local", got.Spec.ExternalTrafficPolicy)
	}
	if want := "103.21.244.0/22,173.245.48.0/20,2400:cb00::/32"; strings.Join(got.Spec.LoadBalancerSourceRanges, ",") != want {
		t.Errorf("loadBalancerSourceRanges %v, want %s", got.Spec.LoadBalancerSourceRanges, want)
	}
	if len(got.Spec.Ports) != 2 {
		t.Errorf("ports %v: the patch must leave the installation's ports alone", got.Spec.Ports)
	}
}

// TestApplyRejects shows the apiserver checks are real: objects broken the
// way a hand edit breaks them are refused by the CRDs' schemas and CEL
// rules, and by strict field validation.
func TestApplyRejects(t *testing.T) {
	c := newCluster(t)
	ns, system := testbed.Namespace(t, c.cfg), testbed.Namespace(t, c.cfg)
	generated := func(controller ingress.Controller, header, kind string) *unstructured.Unstructured {
		t.Helper()
		out, err := ingress.Generate(testSpec(controller, header, ns, system))
		if err != nil {
			t.Fatal(err)
		}
		data, err := ingress.Render(out.Objects...)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := testbed.DecodeObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == kind {
				return o
			}
		}
		t.Fatalf("%s emitted no %s", controller, kind)
		return nil
	}
	tests := []struct {
		name       string
		controller ingress.Controller
		header     string
		kind       string
		breakIt    func(o map[string]any)
		want       string // in the error
	}{
		{
			name: "HTTPS listener without certificate", controller: ingress.GatewayAPI, kind: "Gateway",
			breakIt: func(o map[string]any) {
				l := o["spec"].(map[string]any)["listeners"].([]any)[1].(map[string]any)
				delete(l["tls"].(map[string]any), "certificateRefs")
			},
			want: "certificateRefs or options must be specified",
		},
		{
			name: "frontend validation mode misspelt", controller: ingress.GatewayAPI, kind: "Gateway",
			breakIt: func(o map[string]any) {
				v := o["spec"].(map[string]any)["tls"].(map[string]any)["frontend"].(map[string]any)["default"].(map[string]any)["validation"].(map[string]any)
				v["mode"] = "AllowInsecure"
			},
			want: "Unsupported value",
		},
		{
			name: "trustedCIDRs and numTrustedHops together", controller: ingress.EnvoyGateway, header: "CF-Connecting-IP", kind: "ClientTrafficPolicy",
			breakIt: func(o map[string]any) {
				x := o["spec"].(map[string]any)["clientIPDetection"].(map[string]any)["xForwardedFor"].(map[string]any)
				x["numTrustedHops"] = int64(1)
			},
			want: "only one of numTrustedHops or trustedCIDRs",
		},
		{
			name: "authorization action misspelt", controller: ingress.EnvoyGateway, kind: "SecurityPolicy",
			breakIt: func(o map[string]any) {
				o["spec"].(map[string]any)["authorization"].(map[string]any)["defaultAction"] = "Reject"
			},
			want: "Unsupported value",
		},
		{
			name: "ipAllowList field misspelt", controller: ingress.Traefik, kind: "Middleware",
			breakIt: func(o map[string]any) {
				a := o["spec"].(map[string]any)["ipAllowList"].(map[string]any)
				a["sourceRanges"] = a["sourceRange"]
				delete(a, "sourceRange")
			},
			want: "field not declared in schema",
		},
		{
			name: "clientAuthType unknown", controller: ingress.Traefik, kind: "TLSOption",
			breakIt: func(o map[string]any) {
				o["spec"].(map[string]any)["clientAuth"].(map[string]any)["clientAuthType"] = "RequireAndVerify"
			},
			want: "Unsupported value",
		},
		{
			name: "Service source range not a CIDR", controller: ingress.IngressNGINX, kind: "Service",
			breakIt: func(o map[string]any) {
				o["spec"].(map[string]any)["loadBalancerSourceRanges"] = []any{"173.245.48.1/20x"}
			},
			want: "LoadBalancerSourceRanges[0]",
		},
	}
	c.controllerService(t, types.NamespacedName{Namespace: system, Name: "controller"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := generated(tt.controller, tt.header, tt.kind)
			if err := c.apply(t, o.DeepCopy()); err != nil {
				t.Fatalf("the unbroken %s does not apply: %v", tt.kind, err)
			}
			tt.breakIt(o.Object)
			err := c.apply(t, o)
			if err == nil {
				t.Fatalf("broken %s applied", tt.kind)
			}
			// An unknown field fails server-side apply's typed conversion
			// before validation, with a 500 and no reason.
			if code := errCode(err); code != 400 && code != 422 && code != 500 {
				t.Errorf("err = %v (code %d), want a refusal", err, code)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
