package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// clusterRBAC is the least a kubeconfig's user needs for audit and explain
// to read a cluster: get and list on exactly the kinds they read, nothing
// else (no Secrets, no writes). Printed by -h.
const clusterRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: originguard-audit}
rules:
- {apiGroups: [""], resources: [namespaces, nodes, pods, services, configmaps], verbs: [get, list]}
- {apiGroups: [networking.k8s.io], resources: [networkpolicies, ingresses], verbs: [get, list]}
- apiGroups: [projectcalico.org, crd.projectcalico.org]
  resources: [tiers, globalnetworkpolicies, networkpolicies, globalnetworksets, networksets, hostendpoints, profiles]
  verbs: [get, list]
- {apiGroups: [gateway.networking.k8s.io], resources: [gateways, httproutes], verbs: [get, list]}
- {apiGroups: [gateway.envoyproxy.io], resources: [clienttrafficpolicies, securitypolicies], verbs: [get, list]}
- {apiGroups: [traefik.io], resources: [middlewares, tlsoptions, ingressroutes], verbs: [get, list]}
- {apiGroups: [configuration.konghq.com], resources: [kongplugins, kongclusterplugins], verbs: [get, list]}
`

// clusterSource is a group's kinds audit reads from a live cluster: the
// kinds netpol.Load and ingress.AuditYAML read from files. version is the
// one the loader accepts; empty means the group's preferred version (the
// ingress audit matches on the group alone).
type clusterSource struct {
	group, version string
	resources      []string
}

var clusterSources = []clusterSource{
	{"", "v1", []string{"namespaces", "nodes", "pods", "services", "configmaps"}},
	{"networking.k8s.io", "v1", []string{"networkpolicies", "ingresses"}},
	// Calico's API server serves projectcalico.org/v3 from the same
	// storage as the crd.projectcalico.org/v1 CRDs: the first group served
	// is read, so no policy is read twice.
	{"projectcalico.org", "v3", calicoResources},
	{"crd.projectcalico.org", "v1", calicoResources},
	{"gateway.networking.k8s.io", "", []string{"gateways", "httproutes"}},
	{"gateway.envoyproxy.io", "", []string{"clienttrafficpolicies", "securitypolicies"}},
	{"traefik.io", "", []string{"middlewares", "tlsoptions", "ingressroutes"}},
	{"configuration.konghq.com", "", []string{"kongplugins", "kongclusterplugins"}},
}

var calicoResources = []string{"tiers", "globalnetworkpolicies", "networkpolicies", "globalnetworksets", "networksets", "hostendpoints", "profiles"}

// kubeconfig finds the kubeconfig as kubectl does: --kubeconfig, else
// $KUBECONFIG (a list of files), else ~/.kube/config. explicit reports
// whether the user asked for a cluster (--kubeconfig or --context); found
// whether there is a file to read.
func (c *cli) kubeconfig(in *inputFlags) (rules *clientcmd.ClientConfigLoadingRules, explicit, found bool) {
	rules = &clientcmd.ClientConfigLoadingRules{}
	switch {
	case *in.kubeconfig != "":
		rules.ExplicitPath = *in.kubeconfig
		return rules, true, true
	case c.getenv("KUBECONFIG") != "":
		rules.Precedence = filepath.SplitList(c.getenv("KUBECONFIG"))
	case c.getenv("HOME") != "":
		rules.Precedence = []string{filepath.Join(c.getenv("HOME"), ".kube", "config")}
	}
	for _, p := range rules.Precedence {
		if _, err := os.Stat(p); err == nil {
			found = true
		}
	}
	return rules, *in.context != "", found
}

// restConfig is the client config of the kubeconfig's current context, or
// of --context.
func (c *cli) restConfig(in *inputFlags, rules *clientcmd.ClientConfigLoadingRules) (*rest.Config, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: *in.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "originguard-audit (read-only)"
	return cfg, nil
}

// readCluster lists every kind of clusterSources the cluster serves (get
// and list only: it never writes), and appends each as a v1 List in JSON,
// the form `kubectl get -o json` prints and the -f path reads, so a live
// cluster and a dump go through one audit. Groups the cluster does not
// serve are skipped.
func readCluster(ctx context.Context, cfg *rest.Config, add func([]byte)) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		return fmt.Errorf("cluster %s: discovery: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	calicoRead := false
	for _, src := range clusterSources {
		version, ok := served(groups, src.group, src.version)
		if !ok {
			continue
		}
		calico := src.group == "projectcalico.org" || src.group == "crd.projectcalico.org"
		if calico && calicoRead {
			continue
		}
		gv := schema.GroupVersion{Group: src.group, Version: version}
		res, err := dc.ServerResourcesForGroupVersion(gv.String())
		if err != nil {
			return fmt.Errorf("cluster %s: discovery of %s: %w", cfg.Host, gv, err)
		}
		for _, name := range src.resources {
			i := slices.IndexFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Name == name })
			if i < 0 {
				continue
			}
			calicoRead = calicoRead || calico
			b, err := listAll(ctx, dyn.Resource(gv.WithResource(name)), gv.String(), res.APIResources[i].Kind)
			if err != nil {
				return fmt.Errorf("cluster %s: list %s: %w", cfg.Host, gv.WithResource(name), err)
			}
			add(b)
		}
	}
	return nil
}

// served returns the version of group to read: want, when the cluster
// serves it, or else (want empty) the group's preferred one.
func served(groups *metav1.APIGroupList, group, want string) (string, bool) {
	for _, g := range groups.Groups {
		if g.Name != group {
			continue
		}
		if want == "" {
			return g.PreferredVersion.Version, g.PreferredVersion.Version != ""
		}
		for _, v := range g.Versions {
			if v.Version == want {
				return want, true
			}
		}
	}
	return "", false
}

// listAll lists every object of a resource in every namespace, page by
// page, as one v1 List whose items carry their apiVersion and kind.
func listAll(ctx context.Context, ri dynamic.ResourceInterface, apiVersion, kind string) ([]byte, error) {
	items := []any{}
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := ri.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			it := &l.Items[i]
			it.SetAPIVersion(apiVersion)
			it.SetKind(kind)
			items = append(items, it.Object)
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			break
		}
	}
	return json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
}

// errNoInput says audit or explain has nothing to read.
var errNoInput = errors.New("no input: give -f with a kubectl get -o yaml dump or a directory of manifests, or a kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config; none found)")
