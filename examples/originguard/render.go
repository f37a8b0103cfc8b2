package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/ingress"
	"github.com/originguard/originguard/netpol"
	"github.com/originguard/originguard/origincert"
)

// layer is the output of one layer of the defence.
type layer struct {
	name  string // "networkpolicies", for -layer
	title string // for a person
	file  string // its file in a directory
	kube  bool   // Kubernetes objects, listed in kustomization.yaml
	text  []byte
	files map[string][]byte // for the firewall: more than one file
}

// ownedFiles are every file render -out may write.
var ownedFiles = []string{"networkpolicies.yaml", "calico.yaml", "ingress.yaml", "kustomization.yaml",
	"firewall.nft", "firewall.ipset", "firewall.ipv4.rules", "firewall.ipv6.rules"}

// Layer names, for render -layer.
var layerNames = []string{"networkpolicies", "calico", "ingress", "firewall"}

// form is the Calico API form the spec asks for.
func (s *spec) form() netpol.Form {
	if s.Calico.API == "api" {
		return netpol.CalicoAPI
	}
	return netpol.CalicoCRD
}

// netpolSpecs returns the Kubernetes NetworkPolicy spec and the Calico one.
// What connects to the controller's pods and to the NodePorts is the edge
// and, when one proxies in front of the nodes, the load balancer: a
// NodeBalancer or a proxying cloud load balancer connects from its own
// addresses, and a policy admitting only the edge would lock it out.
func (s *spec) netpolSpecs(edge []netip.Prefix) (kube, calico netpol.Spec) {
	edge = append(slices.Clip(edge), prefixes(s.Nodes.Balancer)...)
	for _, ns := range s.Namespaces {
		n := netpol.Namespace{Name: ns.Name}
		if ns.NodeLocalDNS {
			n.NodeLocalDNS = []netip.Addr{netpol.NodeLocalDNS}
		}
		kube = netpol.Join(kube, n.Spec())
		if ns.BlockMetadata {
			kube.BlockMetadata = append(kube.BlockMetadata, netpol.BlockMetadata{Namespace: ns.Name})
		}
	}
	if in := s.Ingress; in != nil {
		ports := in.ControllerPorts
		if len(ports) == 0 {
			ports = []uint16{80, 443}
		}
		var pp []netpol.Port
		for _, p := range ports {
			pp = append(pp, netpol.TCPPort(p))
		}
		kube.FromEdge = append(kube.FromEdge, netpol.FromEdge{
			Namespace:  in.ControllerNamespace,
			Controller: metav1.LabelSelector{MatchLabels: in.ControllerPods},
			Edge:       edge,
			Ports:      pp,
		})
		podPort := in.Backend.PodPort
		if podPort == 0 {
			podPort = uint16(in.Backend.Port)
		}
		kube.FromIngressController = append(kube.FromIngressController, netpol.FromIngressController{
			Namespace:           in.Namespace,
			ControllerNamespace: metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": in.ControllerNamespace}},
			ControllerPods:      metav1.LabelSelector{MatchLabels: in.ControllerPods},
			Ports:               []netpol.Port{netpol.TCPPort(podPort)},
		})
	}
	if !s.Calico.Enabled {
		return kube, calico
	}
	h := netpol.Hosts{
		Cluster:         prefixes(s.Cluster.Networks),
		ControlPlane:    prefixes(s.Cluster.ControlPlane),
		Edge:            edge,
		WireGuard:       s.Nodes.Overlay == "wireguard",
		VXLAN:           s.Nodes.Overlay == "vxlan",
		KubeProxyHealth: true,
		Interface:       s.Calico.Interface,
		Log:             s.Calico.Log,
	}
	if s.Cluster.NodePorts != "" {
		a, b, _ := portRange(s.Cluster.NodePorts) // checked by spec.check
		h.NodePorts = netpol.PortRange(netpol.TCP, a, b)
	}
	for _, he := range s.Calico.HostEndpoints {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: he.Node, Labels: map[string]string{"kubernetes.io/hostname": he.Node}}}
		for _, a := range he.Addresses {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a})
		}
		h.Nodes = append(h.Nodes, n)
	}
	return kube, h.Spec()
}

// ingressSpec returns the ingress package's spec.
func (s *spec) ingressSpec(edge []netip.Prefix) ingress.Spec {
	in := s.Ingress
	name := in.Name
	if name == "" {
		name = in.Backend.Service
	}
	is := ingress.Spec{
		Controller:       ingress.Controller(in.Controller),
		Name:             name,
		Namespace:        in.Namespace,
		Hosts:            in.Hosts,
		Edge:             edge,
		ClientIPHeader:   in.ClientIPHeader,
		TLSSecret:        s.Secrets.OriginCert,
		Backend:          ingress.Backend{Name: in.Backend.Service, Port: in.Backend.Port},
		ClassName:        in.ClassName,
		SourceRangeLimit: in.SourceRangeLimit,
	}
	if s.Secrets.OriginPullCA != "" {
		is.OriginPullCA = &ingress.CARef{Kind: ingress.CASecret, Name: s.Secrets.OriginPullCA}
	}
	if in.Controller == string(ingress.IngressNGINX) {
		cm := in.ControllerConfig
		if cm == "" {
			cm = "ingress-nginx-controller"
		}
		is.ControllerConfig = types.NamespacedName{Namespace: in.ControllerNamespace, Name: cm}
	}
	if in.ControllerService != "" {
		is.ControllerService = &types.NamespacedName{Namespace: in.ControllerNamespace, Name: in.ControllerService}
	}
	return is
}

// firewallNode returns the node firewall's description.
func (s *spec) firewallNode(edge []netip.Prefix) firewall.Node {
	n := firewall.Node{
		Interfaces: s.Nodes.Interfaces,
		Cluster:    append(prefixes(s.Cluster.Networks), prefixes(s.Cluster.ControlPlane)...),
		Edge:       edge,
		Balancer:   prefixes(s.Nodes.Balancer),
		Admin:      prefixes(s.Nodes.Admin),
		BGP:        s.Nodes.BGP,
		WireGuard:  s.Nodes.Overlay == "wireguard",
		VXLAN:      s.Nodes.Overlay == "vxlan",
		IPIP:       s.Nodes.Overlay == "ipip",
		Typha:      s.Nodes.Typha,
	}
	if s.Cluster.NodePorts != "" {
		a, b, _ := portRange(s.Cluster.NodePorts)
		n.NodePorts = firewall.Ports(a, b)
	}
	return n
}

// render turns a spec and its edge into every layer. It validates every
// layer first and reports every problem of every layer at once, so that it
// never writes half a defence.
func render(s *spec, edge []netip.Prefix) ([]layer, error) {
	kube, calico := s.netpolSpecs(edge)
	var (
		is   ingress.Spec
		fw   firewall.Spec
		errs []error
	)
	wrap := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	wrap("namespaces and ingress (NetworkPolicies)", kube.Validate())
	wrap("calico (host policy)", calico.Validate())
	if s.Ingress != nil {
		is = s.ingressSpec(edge)
		if err := is.Validate(); err != nil {
			wrap("ingress", s.locateIngress(err))
		}
	}
	backend := s.backend()
	if backend != "" {
		fw = s.firewallNode(edge).Spec()
		wrap("nodes (firewall)", fw.Validate())
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var layers []layer
	if objs, _ := kube.Generate(); len(objs.NetworkPolicies) > 0 {
		text, err := netpol.Objects{NetworkPolicies: objs.NetworkPolicies}.YAML(s.form())
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer{name: "networkpolicies", title: "Kubernetes NetworkPolicies", file: "networkpolicies.yaml", kube: true, text: text})
	}
	if s.Calico.Enabled {
		text, err := calico.Render(s.form())
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer{name: "calico", title: "Calico network sets, host policies and host endpoints (" + string(s.form()) + ")", file: "calico.yaml", kube: true, text: text})
	}
	if s.Ingress != nil {
		text, err := renderIngress(s, is)
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer{name: "ingress", title: "ingress controller " + s.Ingress.Controller + ": objects and Service settings", file: "ingress.yaml", kube: true, text: text})
	}
	if backend != "" {
		script, err := fw.Render(backend)
		if err != nil {
			return nil, err
		}
		layers = append(layers, firewallLayer(backend, script))
	}
	if len(layers) == 0 {
		return nil, errors.New("nothing to render: no namespaces, no ingress, Calico off and nodes.firewall none")
	}
	return layers, nil
}

// renderIngress renders the ingress layer: the origin-pull CA Secret when
// asked for, the controller's objects, and, as comments, the static settings
// they rely on and what this layer leaves to others.
func renderIngress(s *spec, is ingress.Spec) ([]byte, error) {
	out, err := ingress.Generate(is)
	if err != nil {
		return nil, err
	}
	objs := out.Objects
	if s.Secrets.SharedOriginPull && s.Secrets.OriginPullCA != "" {
		sec, err := origincert.CASecret(is.Namespace, s.Secrets.OriginPullCA, origincert.OriginPullCAPEM())
		if err != nil {
			return nil, err
		}
		sec.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
		objs = append([]ingress.Object{sec}, objs...)
	}
	text, err := ingress.Render(objs...)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if len(out.Settings) > 0 {
		b.WriteString("# Static settings of the controller these objects rely on (flags, Helm values, environment):\n")
		for _, st := range out.Settings {
			fmt.Fprintf(&b, "#   %s   (%s)\n", st, st.Need)
		}
	}
	if len(out.Caveats) > 0 {
		b.WriteString("# What this layer does not meet, and where to meet it:\n")
		for _, c := range out.Caveats {
			fmt.Fprintf(&b, "#   %s: %s\n", c.Need, c.Message)
		}
	}
	b.Write(text)
	return b.Bytes(), nil
}

// firewallLayer holds the node firewall's script, in the files its tools
// load.
func firewallLayer(b firewall.Backend, sc firewall.Script) layer {
	l := layer{name: "firewall", title: "node firewall (" + string(b) + ")", files: map[string][]byte{}}
	var text bytes.Buffer
	switch b {
	case firewall.NFTables:
		l.files["firewall.nft"] = []byte(sc.NFT)
		text.WriteString("# firewall.nft: load on each node with nft -f\n" + sc.NFT)
	default:
		if sc.IPSet != "" {
			l.files["firewall.ipset"] = []byte(sc.IPSet)
			text.WriteString("# firewall.ipset: load first, with ipset restore\n" + sc.IPSet)
		}
		l.files["firewall.ipv4.rules"] = []byte(sc.IPv4)
		l.files["firewall.ipv6.rules"] = []byte(sc.IPv6)
		text.WriteString("# firewall.ipv4.rules: iptables-restore --noflush\n" + sc.IPv4)
		text.WriteString("# firewall.ipv6.rules: ip6tables-restore --noflush\n" + sc.IPv6)
		text.WriteString("# The jumps from the built-in chains into the ORIGINGUARD-* chains are not in\n" +
			"# this text: firewall's Applier adds exactly one per chain (examples/nodefirewall -apply).\n")
	}
	l.text = text.Bytes()
	return l
}

// writeStream writes every layer as one stream that kubectl apply
// --server-side -f reads: the Kubernetes layers as YAML documents, the node
// firewall as comment lines (it is for the nodes, not the API server; render
// -layer firewall prints it as its tools read it).
func writeStream(w *bytes.Buffer, header string, layers []layer) {
	w.WriteString(header)
	for _, l := range layers {
		fmt.Fprintf(w, "#\n# ==== layer %s: %s ====\n", l.name, l.title)
		if l.kube {
			w.Write(l.text)
			continue
		}
		for line := range strings.Lines(string(l.text)) {
			switch {
			case strings.HasPrefix(line, "#"):
				w.WriteString(line)
			case strings.TrimSpace(line) == "":
				w.WriteString("#\n")
			default:
				w.WriteString("# " + line)
			}
		}
	}
}

// writeDir writes one file per layer into dir, and a kustomization.yaml
// listing the Kubernetes layers in apply order. Only these files are
// written; others in dir are left alone.
func writeDir(dir, header string, layers []layer) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var kust bytes.Buffer
	kust.WriteString(header)
	kust.WriteString("# Apply with: kubectl apply --server-side -k " + "<this directory>\n" +
		"# (server-side: the controller Service patch sets only the fields it owns).\n" +
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"# Keep the order of the files and of the objects in them (kustomize's\n" +
		"# default sorts by kind, and puts the policies before the network set they\n" +
		"# select): sets, then policies, then the host endpoints that deny their\n" +
		"# node's traffic until a policy allows it.\n" +
		"sortOptions:\n  order: fifo\nresources:\n")
	files := map[string][]byte{}
	for _, l := range layers {
		if l.kube {
			files[l.file] = append([]byte(header), l.text...)
			fmt.Fprintf(&kust, "- %s\n", l.file)
			continue
		}
		for name, text := range l.files {
			files[name] = text
		}
	}
	files["kustomization.yaml"] = kust.Bytes()
	// A file this command wrote before and does not write now (the calico
	// layer after Calico was turned off, firewall.nft after a switch to
	// iptables) would be stale and still look current: remove it.
	for _, name := range ownedFiles {
		if _, ok := files[name]; !ok {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	var names []string
	for name, text := range files {
		if err := writeFile(filepath.Join(dir, name), text); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// writeFile replaces path with text atomically: a reader (kubectl, a GitOps
// agent, a node's loader) sees the old file or the new one, never half of
// one, and a symbolic link at path is replaced, not followed.
func writeFile(path string, text []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(text)
	if errC := f.Close(); err == nil {
		err = errC
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
