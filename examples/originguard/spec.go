package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/ingress"
)

// spec is the whole defence of one cluster, as the YAML file describes it.
// sample.yaml documents every field. Field names are lowerCamelCase, as in
// Kubernetes manifests; a field the spec does not have is an error naming
// it and its line, never a setting silently ignored.
type spec struct {
	Cluster    clusterSpec     `yaml:"cluster"`
	Edge       edgeSpec        `yaml:"edge"`
	Namespaces []namespaceSpec `yaml:"namespaces"`
	Ingress    *ingressSpec    `yaml:"ingress"`
	Secrets    secretsSpec     `yaml:"secrets"`
	Nodes      nodesSpec       `yaml:"nodes"`
	Calico     calicoSpec      `yaml:"calico"`

	// file and root are where the spec came from, for errors found later
	// (by the packages' Validate) to name their line too.
	file string
	root *yaml.Node
}

type clusterSpec struct {
	// Networks are the nodes' and the pods' networks.
	Networks []prefix `yaml:"networks"`
	// ControlPlane are the API servers' addresses (they call kubelets).
	ControlPlane []prefix `yaml:"controlPlane"`
	// NodePorts is the API server's --service-node-port-range.
	NodePorts string `yaml:"nodePorts"`
}

type edgeSpec struct {
	// Source is embedded (the default), file or fetch.
	Source string `yaml:"source"`
	// File is the allowlist-format file for source: file.
	File string `yaml:"file"`
}

type namespaceSpec struct {
	Name          string `yaml:"name"`
	NodeLocalDNS  bool   `yaml:"nodeLocalDNS"`
	BlockMetadata bool   `yaml:"blockMetadata"`
}

type ingressSpec struct {
	Controller     string   `yaml:"controller"`
	Name           string   `yaml:"name"`
	Namespace      string   `yaml:"namespace"`
	Hosts          []string `yaml:"hosts"`
	ClientIPHeader string   `yaml:"clientIPHeader"`
	ClassName      string   `yaml:"className"`
	Backend        struct {
		Service string `yaml:"service"`
		Port    int32  `yaml:"port"`
		PodPort uint16 `yaml:"podPort"`
	} `yaml:"backend"`
	ControllerNamespace string            `yaml:"controllerNamespace"`
	ControllerPods      map[string]string `yaml:"controllerPods"`
	ControllerService   string            `yaml:"controllerService"`
	ControllerConfig    string            `yaml:"controllerConfig"`
	ControllerPorts     []uint16          `yaml:"controllerPorts"`
	SourceRangeLimit    int               `yaml:"sourceRangeLimit"`
}

type secretsSpec struct {
	OriginCert       string `yaml:"originCert"`
	OriginPullCA     string `yaml:"originPullCA"`
	SharedOriginPull bool   `yaml:"renderSharedOriginPullCA"`
}

type nodesSpec struct {
	Interfaces []string `yaml:"interfaces"`
	Overlay    string   `yaml:"overlay"`
	BGP        bool     `yaml:"bgp"`
	Typha      bool     `yaml:"typha"`
	Admin      []prefix `yaml:"admin"`
	Balancer   []prefix `yaml:"balancer"`
	Firewall   string   `yaml:"firewall"`
}

type calicoSpec struct {
	Enabled       bool               `yaml:"enabled"`
	API           string             `yaml:"api"`
	Interface     string             `yaml:"hostEndpointInterface"`
	HostEndpoints []hostEndpointNode `yaml:"hostEndpoints"`
	Log           bool               `yaml:"log"`
}

type hostEndpointNode struct {
	Node      string   `yaml:"node"`
	Addresses []string `yaml:"addresses"`
}

// prefix is a CIDR prefix in the spec: parsed, with its line, while the
// spec is read, so that a bad one is reported where it is.
type prefix struct{ netip.Prefix }

func (p *prefix) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	x, err := netip.ParsePrefix(s)
	if err != nil {
		if a, errA := netip.ParseAddr(s); errA == nil {
			x, err = a.Prefix(a.BitLen())
		}
	}
	if err != nil {
		return &lineError{n.Line, fmt.Sprintf("%q is not a CIDR prefix such as 10.0.0.0/8 or fd00::/8", s)}
	}
	if x != x.Masked() {
		return &lineError{n.Line, fmt.Sprintf("%q has host bits set: write %s", s, x.Masked())}
	}
	p.Prefix = x
	return nil
}

// lineError is a problem at one line of the spec.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func prefixes(ps []prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Prefix
	}
	return out
}

var notFound = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .*$`)

// parseSpec reads a spec strictly: an unknown or repeated field, a value of
// the wrong type, or a value outside a field's vocabulary is an error that
// names the field and its line. name is the file's name, for the messages.
func parseSpec(name string, data []byte) (*spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %w", name, err)
	}
	var s spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var errs []error
			for _, e := range te.Errors {
				if m := notFound.FindStringSubmatch(e); m != nil {
					e = fmt.Sprintf("line %s: unknown field %q (see examples/originguard/sample.yaml for the fields)", m[1], m[2])
				}
				errs = append(errs, fmt.Errorf("%s %s", name, e))
			}
			return nil, errors.Join(errs...)
		}
		if le := (*lineError)(nil); errors.As(err, &le) {
			return nil, fmt.Errorf("%s %w", name, le)
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty spec (see %s for one)", name, samplePath)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// A second document would be silently ignored: refuse it.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s line %d: a second YAML document (a spec is one document: the rest would be ignored)", name, extra.Line)
	}
	if err := s.check(name, &root); err != nil {
		return nil, err
	}
	s.file, s.root = name, &root
	return &s, nil
}

// lineOf returns the line of the value at path (map keys; list indexes as
// numbers), or of the deepest part of it that exists.
func lineOf(root *yaml.Node, path ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(p); err == nil && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

// Vocabularies of the spec's closed fields.
var (
	edgeSources = []string{"embedded", "file", "fetch"}
	overlays    = []string{"none", "vxlan", "ipip", "wireguard"}
	firewalls   = []string{"nftables", "iptables", "ipset", "none"}
	calicoAPIs  = []string{"crd", "api"}
)

// check reports every problem the spec's own fields have (the packages'
// Validate report the rest), each with its field path and line.
func (s *spec) check(name string, root *yaml.Node) error {
	var errs []error
	bad := func(msg string, path ...string) {
		errs = append(errs, fmt.Errorf("%s line %d: %s: %s", name, lineOf(root, path...), strings.Join(path, "."), msg))
	}
	oneOf := func(v string, vocab []string, path ...string) {
		if v != "" && !slices.Contains(vocab, v) {
			bad(fmt.Sprintf("%q is not one of %s", v, strings.Join(vocab, ", ")), path...)
		}
	}
	if len(s.Cluster.Networks) == 0 {
		bad("required: the nodes' and pods' networks (without them the host policy and the node firewall would cut the cluster apart)", "cluster", "networks")
	}
	if len(s.Cluster.ControlPlane) == 0 {
		bad("required: the API servers' addresses (they call the kubelet on 10250/tcp)", "cluster", "controlPlane")
	}
	if s.Cluster.NodePorts != "" {
		if _, _, err := portRange(s.Cluster.NodePorts); err != nil {
			bad(err.Error(), "cluster", "nodePorts")
		}
	}
	oneOf(s.Edge.Source, edgeSources, "edge", "source")
	if s.Edge.Source == "file" && s.Edge.File == "" {
		bad("source is file but no file is named", "edge", "file")
	}
	if s.Edge.File != "" && s.Edge.Source != "file" {
		bad("a file is named but source is not file", "edge", "file")
	}
	seen := map[string]bool{}
	for i, ns := range s.Namespaces {
		if ns.Name == "" {
			bad("a namespace needs a name", "namespaces", strconv.Itoa(i))
		} else if msgs := validation.IsDNS1123Label(ns.Name); len(msgs) > 0 {
			bad(fmt.Sprintf("%q is not a namespace name: %s", ns.Name, strings.Join(msgs, "; ")), "namespaces", strconv.Itoa(i), "name")
		} else if seen[ns.Name] {
			bad(fmt.Sprintf("%q is listed twice", ns.Name), "namespaces", strconv.Itoa(i), "name")
		}
		seen[ns.Name] = true
	}
	if in := s.Ingress; in != nil {
		if in.Controller == "" {
			bad("required", "ingress", "controller")
		} else if !slices.Contains(ingress.Controllers, ingress.Controller(in.Controller)) {
			var names []string
			for _, c := range ingress.Controllers {
				names = append(names, string(c))
			}
			bad(fmt.Sprintf("%q is not one of %s", in.Controller, strings.Join(names, ", ")), "ingress", "controller")
		}
		if in.Namespace == "" {
			bad("required: the namespace of the routing objects, the Secrets and the backend", "ingress", "namespace")
		} else if msgs := validation.IsDNS1123Label(in.Namespace); len(msgs) > 0 {
			bad(fmt.Sprintf("%q is not a namespace name: %s", in.Namespace, strings.Join(msgs, "; ")), "ingress", "namespace")
		}
		if in.ControllerNamespace == "" {
			bad("required: the namespace the controller's pods run in", "ingress", "controllerNamespace")
		} else if msgs := validation.IsDNS1123Label(in.ControllerNamespace); len(msgs) > 0 {
			bad(fmt.Sprintf("%q is not a namespace name: %s", in.ControllerNamespace, strings.Join(msgs, "; ")), "ingress", "controllerNamespace")
		}
		if len(in.ControllerPods) == 0 {
			bad("required: labels that select the controller's pods (an empty selector would open every pod to the edge)", "ingress", "controllerPods")
		}
		if in.Backend.Port <= 0 || in.Backend.Port > 65535 {
			bad("required: the Service port, 1 to 65535", "ingress", "backend", "port")
		}
		for i, p := range in.ControllerPorts {
			if p == 0 {
				bad("port 0", "ingress", "controllerPorts", strconv.Itoa(i))
			}
		}
	}
	oneOf(s.Nodes.Overlay, overlays, "nodes", "overlay")
	oneOf(s.Nodes.Firewall, firewalls, "nodes", "firewall")
	if s.Nodes.Firewall != "none" && len(s.Nodes.Interfaces) == 0 {
		bad("required for the node firewall: the nodes' outward-facing interfaces, such as eth0 (or set firewall: none)", "nodes", "interfaces")
	}
	oneOf(s.Calico.API, calicoAPIs, "calico", "api")
	for i, h := range s.Calico.HostEndpoints {
		if h.Node == "" {
			bad("a host endpoint needs its node's name", "calico", "hostEndpoints", strconv.Itoa(i), "node")
		}
		for j, a := range h.Addresses {
			if _, err := netip.ParseAddr(a); err != nil {
				bad(fmt.Sprintf("%q is not an address", a), "calico", "hostEndpoints", strconv.Itoa(i), "addresses", strconv.Itoa(j))
			}
		}
	}
	if len(s.Calico.HostEndpoints) > 0 && !s.Calico.Enabled {
		bad("host endpoints are Calico objects, but calico.enabled is false", "calico", "hostEndpoints")
	}
	return errors.Join(errs...)
}

// portRange parses "30000-32767" or "8080".
func portRange(s string) (uint16, uint16, error) {
	first, last, isRange := strings.Cut(s, "-")
	a, errA := strconv.ParseUint(strings.TrimSpace(first), 10, 16)
	b := a
	var errB error
	if isRange {
		b, errB = strconv.ParseUint(strings.TrimSpace(last), 10, 16)
	}
	if errA != nil || errB != nil || a == 0 || b < a {
		return 0, 0, fmt.Errorf("%q is not a port range such as 30000-32767", s)
	}
	return uint16(a), uint16(b), nil
}

// backend returns the firewall backend, or "" for none.
func (s *spec) backend() firewall.Backend {
	switch s.Nodes.Firewall {
	case "none":
		return ""
	case "":
		return firewall.NFTables
	}
	return firewall.Backend(s.Nodes.Firewall)
}

// ingressFields maps package ingress's Spec fields to the spec's paths.
var ingressFields = map[string][]string{
	"Controller":        {"ingress", "controller"},
	"Name":              {"ingress", "name"},
	"Namespace":         {"ingress", "namespace"},
	"Hosts":             {"ingress", "hosts"},
	"Edge":              {"edge"},
	"ClientIPHeader":    {"ingress", "clientIPHeader"},
	"TLSSecret":         {"secrets", "originCert"},
	"OriginPullCA":      {"secrets", "originPullCA"},
	"Backend":           {"ingress", "backend"},
	"Backend.Name":      {"ingress", "backend", "service"},
	"Backend.Port":      {"ingress", "backend", "port"},
	"ClassName":         {"ingress", "className"},
	"ControllerService": {"ingress", "controllerService"},
	"ControllerConfig":  {"ingress", "controllerConfig"},
	"SourceRangeLimit":  {"ingress", "sourceRangeLimit"},
}

var fieldIndex = regexp.MustCompile(`^([A-Za-z.]+?)(?:\[(\d+)\])?(?:\..*)?$`)

// locateIngress rewrites package ingress's field errors as the spec's
// fields with their lines: "Hosts[1]" becomes "line 46: ingress.hosts.1".
// Validate's error wraps ErrInvalidSpec and the joined field errors.
func (s *spec) locateIngress(err error) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if m, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range m.Unwrap() {
				walk(e)
			}
			return
		}
		if e == ingress.ErrInvalidSpec {
			return
		}
		fe, ok := e.(*ingress.FieldError)
		if !ok {
			out = append(out, e)
			return
		}
		path, known := ingressFields[fe.Field]
		if m := fieldIndex.FindStringSubmatch(fe.Field); !known && m != nil {
			if path, known = ingressFields[m[1]]; known && m[2] != "" {
				path = append(slices.Clip(path), m[2])
			}
		}
		if !known || s.root == nil {
			out = append(out, fe)
			return
		}
		out = append(out, fmt.Errorf("%s line %d: %s: %s", s.file, lineOf(s.root, path...), strings.Join(path, "."), fe))
	}
	walk(err)
	if len(out) == 0 {
		return err
	}
	return errors.Join(out...)
}
