package netpol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Inventory is what [Load] reads: policy objects, Calico profiles, and
// the cluster's namespaces, nodes, pods and services. The zero value is
// empty; an Inventory is a plain value, safe for concurrent reads.
type Inventory struct {
	Objects    Objects
	Profiles   []calicov3.Profile
	Namespaces []corev1.Namespace
	Nodes      []corev1.Node
	Pods       []corev1.Pod
	Services   []corev1.Service
	// Skipped names the objects of other kinds Load passed over, as
	// "apps/v1 Deployment shop/web".
	Skipped []string
}

// Load limits: a stream larger than MaxLoadBytes, or with more than
// MaxLoadObjects objects, is refused.
const (
	MaxLoadBytes   = 256 << 20
	MaxLoadObjects = 1_000_000
)

// Load reads Kubernetes and Calico objects from YAML or JSON, as kubectl
// get -o yaml or calicoctl get -o yaml prints them, or as kubectl apply
// -f reads them: documents separated by "---", each one object or a List
// of items. Policy kinds are networking.k8s.io/v1 NetworkPolicy and, in
// projectcalico.org/v3 or crd.projectcalico.org/v1, Tier,
// GlobalNetworkPolicy, NetworkPolicy, GlobalNetworkSet, NetworkSet,
// HostEndpoint and Profile; cluster kinds are v1 Namespace, Node, Pod and
// Service. Other kinds are skipped and named in [Inventory.Skipped].
//
// Fields are read strictly: a field the kind does not have, or a key
// given twice, is an error naming the document and the object, never a
// field silently dropped from policy.
func Load(r io.Reader) (Inventory, error) {
	var inv Inventory
	lr := &io.LimitedReader{R: r, N: MaxLoadBytes + 1}
	yr := k8syaml.NewYAMLReader(bufio.NewReader(lr))
	objects := 0
	for doc := 0; ; doc++ {
		data, err := yr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Inventory{}, fmt.Errorf("netpol: load: document %d: %w", doc, err)
		}
		if lr.N <= 0 {
			return Inventory{}, fmt.Errorf("netpol: load: input larger than %d bytes", MaxLoadBytes)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSONStrict(data)
		if err != nil {
			return Inventory{}, fmt.Errorf("netpol: load: document %d: %w", doc, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		if err := inv.add(js, fmt.Sprintf("document %d", doc), 0, &objects); err != nil {
			return Inventory{}, fmt.Errorf("netpol: load: %w", err)
		}
	}
	return inv, nil
}

type typeMeta struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func strict(js []byte, into any) error {
	d := json.NewDecoder(bytes.NewReader(js))
	d.DisallowUnknownFields()
	if err := d.Decode(into); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func (inv *Inventory) add(js []byte, at string, depth int, objects *int) error {
	var tm typeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return fmt.Errorf("%s: not an object: %w", at, err)
	}
	if tm.Kind == "" || tm.APIVersion == "" {
		return fmt.Errorf("%s: no apiVersion or kind", at)
	}
	if strings.HasSuffix(tm.Kind, "List") {
		if depth > 0 {
			return fmt.Errorf("%s: a %s inside a list", at, tm.Kind)
		}
		for i, it := range tm.Items {
			if err := inv.add(it, fmt.Sprintf("%s: items[%d]", at, i), depth+1, objects); err != nil {
				return err
			}
		}
		return nil
	}
	*objects++
	if *objects > MaxLoadObjects {
		return fmt.Errorf("%s: more than %d objects", at, MaxLoadObjects)
	}
	name := tm.Metadata.Name
	if tm.Metadata.Namespace != "" {
		name = tm.Metadata.Namespace + "/" + name
	}
	what := fmt.Sprintf("%s: %s %s %q", at, tm.APIVersion, tm.Kind, name)
	decode := func(into any) error {
		if err := strict(js, into); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	calico := tm.APIVersion == string(CalicoAPI) || tm.APIVersion == string(CalicoCRD)
	switch {
	case tm.APIVersion == "networking.k8s.io/v1" && tm.Kind == "NetworkPolicy":
		var x networkingv1.NetworkPolicy
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.NetworkPolicies = append(inv.Objects.NetworkPolicies, x)
	case calico && tm.Kind == calicov3.KindTier:
		var x calicov3.Tier
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.Tiers = append(inv.Objects.Tiers, x)
	case calico && tm.Kind == calicov3.KindGlobalNetworkPolicy:
		var x calicov3.GlobalNetworkPolicy
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.GlobalNetworkPolicies = append(inv.Objects.GlobalNetworkPolicies, x)
	case calico && tm.Kind == calicov3.KindNetworkPolicy:
		var x calicov3.NetworkPolicy
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.CalicoNetworkPolicies = append(inv.Objects.CalicoNetworkPolicies, x)
	case calico && tm.Kind == calicov3.KindGlobalNetworkSet:
		var x calicov3.GlobalNetworkSet
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.GlobalNetworkSets = append(inv.Objects.GlobalNetworkSets, x)
	case calico && tm.Kind == calicov3.KindNetworkSet:
		var x calicov3.NetworkSet
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.NetworkSets = append(inv.Objects.NetworkSets, x)
	case calico && tm.Kind == calicov3.KindHostEndpoint:
		var x calicov3.HostEndpoint
		if err := decode(&x); err != nil {
			return err
		}
		inv.Objects.HostEndpoints = append(inv.Objects.HostEndpoints, x)
	case calico && tm.Kind == calicov3.KindProfile:
		var x calicov3.Profile
		if err := decode(&x); err != nil {
			return err
		}
		inv.Profiles = append(inv.Profiles, x)
	case tm.APIVersion == "v1" && tm.Kind == "Namespace":
		var x corev1.Namespace
		if err := decode(&x); err != nil {
			return err
		}
		inv.Namespaces = append(inv.Namespaces, x)
	case tm.APIVersion == "v1" && tm.Kind == "Node":
		var x corev1.Node
		if err := decode(&x); err != nil {
			return err
		}
		inv.Nodes = append(inv.Nodes, x)
	case tm.APIVersion == "v1" && tm.Kind == "Pod":
		var x corev1.Pod
		if err := decode(&x); err != nil {
			return err
		}
		inv.Pods = append(inv.Pods, x)
	case tm.APIVersion == "v1" && tm.Kind == "Service":
		var x corev1.Service
		if err := decode(&x); err != nil {
			return err
		}
		inv.Services = append(inv.Services, x)
	default:
		inv.Skipped = append(inv.Skipped, fmt.Sprintf("%s %s %s", tm.APIVersion, tm.Kind, name))
	}
	return nil
}

// NodeEndpoint is node as a [Flow] endpoint: Host set, its first
// InternalIP (else ExternalIP) address of family v4 (true) or IPv6, and
// its labels. ok is false when the node has no such address.
func NodeEndpoint(node *corev1.Node, v4 bool) (e Endpoint, ok bool) {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type != t {
				continue
			}
			ip, err := netip.ParseAddr(a.Address)
			if err != nil || ip.Unmap().Is4() != v4 {
				continue
			}
			return Endpoint{Addr: ip.Unmap(), Host: true, Node: node.Name, Labels: node.Labels}, true
		}
	}
	return Endpoint{}, false
}

// PodEndpoint is pod as a [Flow] endpoint: its first address of family v4
// (true) or IPv6, labels, service account, node and named container
// ports, and its namespace's labels when ns is not nil. A pod with
// hostNetwork is its node (Host set): NetworkPolicy does not apply to it,
// host endpoint policy does. ok is false when the pod has no such address.
func PodEndpoint(pod *corev1.Pod, ns *corev1.Namespace, v4 bool) (e Endpoint, ok bool) {
	ips := []string{pod.Status.PodIP}
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Unmap().Is4() != v4 {
			continue
		}
		e = Endpoint{Addr: ip.Unmap(), Namespace: pod.Namespace, Labels: pod.Labels, ServiceAccount: pod.Spec.ServiceAccountName,
			Node: pod.Spec.NodeName, Host: pod.Spec.HostNetwork}
		if e.ServiceAccount == "" {
			e.ServiceAccount = "default"
		}
		if ns != nil {
			e.NamespaceLabels = ns.Labels
		}
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name != "" && p.ContainerPort > 0 && p.ContainerPort < 65536 {
					e.Ports = append(e.Ports, NamedPort{Name: p.Name, Protocol: Protocol(p.Protocol).orTCP(), Port: uint16(p.ContainerPort)})
				}
			}
		}
		return e, true
	}
	return Endpoint{}, false
}
