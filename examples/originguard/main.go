// Command originguard renders, audits and explains the whole defence of a
// Kubernetes cluster behind Cloudflare, from one spec, offline by default.
//
//	go run ./examples/originguard render                      # the sample spec: every layer, no setup, no network
//	go run ./examples/originguard render -f my.yaml -out dir  # one file per layer and a kustomization.yaml
//	go run ./examples/originguard render -layer firewall      # one layer, as its tools read it
//	go run ./examples/originguard edge 104.16.0.1 192.0.2.7   # Cloudflare's ranges, their age; check addresses
//	go run ./examples/originguard audit -f cluster.yaml       # what is exposed, and by which rule
//	go run ./examples/originguard audit --context prod        # the same, read live through the kubeconfig
//	go run ./examples/originguard explain -f cluster.yaml --from 198.51.100.7 --to shop/web:8080/tcp
//
// # render
//
// One YAML spec in (sample.yaml documents every field): the cluster's
// networks, the edge (Cloudflare's embedded ranges, a file, or a live
// fetch), the namespaces to lock down, the ingress controller and its hosts,
// the Secrets holding the Origin CA certificate and the origin-pull CA, the
// nodes' interfaces and overlay, Calico on or off and which API form. Out,
// every layer, from the packages that own it:
//
//   - networkpolicies (package netpol): each namespace's default deny and DNS,
//     the edge to the ingress controller, the controller to the application;
//   - calico (package netpol): the edge GlobalNetworkSet, the pre-DNAT
//     NodePort policy, the host policies, HostEndpoints;
//   - ingress (packages ingress and origincert): the controller's objects,
//     its Service settings, the origin-pull CA Secret, and as comments the
//     static settings they rely on and what is left to other layers;
//   - firewall (package firewall): the node firewall, for nftables, iptables
//     or ipset.
//
// To stdout as one stream that kubectl apply --server-side -f reads (the
// firewall, which is for the nodes, as comments), or with -out to a
// directory, one file per layer and a kustomization.yaml for the Kubernetes
// ones. The output depends only on the spec and the edge, so a GitOps diff
// shows only what changed. Every layer is validated before anything is
// written: a spec that fails writes nothing and names every problem.
//
// A spec is read strictly: an unknown field, a field given twice or a value
// outside a field's vocabulary is an error naming the field and its line.
//
// # edge
//
// Cloudflare's ranges as originguard embeds them, where and when they were
// taken; -fetch asks the Cloudflare API for the live list and says what
// changed (it is the only subcommand that may use the network, and only
// when asked); addresses given are checked against the list.
//
// # audit and explain
//
// Both read a cluster as `kubectl get -o yaml` and `calicoctl get -o yaml`
// print it, or a directory of manifests (-f, repeatable; "-" is stdin).
// audit reports the exposure surface (every port reachable from outside the
// cluster, from where, and the rule that lets it in), namespaces without a
// default deny, the linter's lockouts (the kubelet closed to the API
// server, DNS cut) and the ingress audit's deviations, most serious first;
// -o json for pipelines. It exits 1 when it finds something serious, so CI
// can gate on it (every command exits 2 on an error: a bad spec, flag or
// input). explain judges one flow and names the rule that decided.
//
// With no -f, or with --kubeconfig or --context, they read the live
// cluster of the kubeconfig as kubectl finds it (--kubeconfig, else
// $KUBECONFIG, else ~/.kube/config; --context, else its current context),
// with get and list only: every kind below that the cluster serves (Calico's
// in projectcalico.org/v3, else crd.projectcalico.org/v1), listed into the
// same List documents -f reads, so one path audits both. The least the
// kubeconfig's user needs (audit -h prints it):
//
//	kind: ClusterRole   # get, list on:
//	""                         namespaces nodes pods services configmaps
//	networking.k8s.io          networkpolicies ingresses
//	projectcalico.org, crd.projectcalico.org
//	                           tiers globalnetworkpolicies networkpolicies globalnetworksets networksets hostendpoints profiles
//	gateway.networking.k8s.io  gateways httproutes
//	gateway.envoyproxy.io      clienttrafficpolicies securitypolicies
//	traefik.io                 middlewares tlsoptions ingressroutes
//	configuration.konghq.com   kongplugins kongclusterplugins
//
// Dumps work too, through kubectl and calicoctl; for example:
//
//	kubectl get namespaces,nodes,pods,services,networkpolicies,ingresses,configmaps -A -o yaml > cluster.yaml
//	calicoctl get tiers,globalnetworkpolicies,networkpolicies,globalnetworksets,networksets,hostendpoints,profiles -A -o yaml > calico.yaml
//	go run ./examples/originguard audit -f cluster.yaml -f calico.yaml -cluster 10.0.0.0/16 -cluster 10.244.0.0/16 \
//		-controller ingress-nginx/app.kubernetes.io/name=ingress-nginx
//
// (add gateways, httproutes and the controllers' own kinds to the kubectl
// list where they are installed; without calicoctl, kubectl get the
// crd.projectcalico.org kinds instead).
//
// The Cloudflare API base URL for -fetch and edge source fetch is -api, or
// the environment variable ORIGINGUARD_CLOUDFLARE_API, or Cloudflare's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// exitFindings is the exit status of an audit that found something serious.
const exitFindings = 1

// errFindings says that audit found something serious; main exits 1.
var errFindings = errors.New("serious findings")

// cli is one invocation: where it writes, and what it reads from its
// environment, injected for tests.
type cli struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	clock          func() time.Time
	getenv         func(string) string
}

func main() {
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, clock: time.Now, getenv: os.Getenv}
	err := c.run(context.Background(), os.Args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errFindings):
		os.Exit(exitFindings)
	default:
		fmt.Fprintln(os.Stderr, "originguard:", err)
		os.Exit(2)
	}
}

const usage = `originguard renders, audits and explains the defence of a Kubernetes cluster behind Cloudflare.

Usage:
  originguard render  [-f spec.yaml] [-out dir] [-layer name]   every manifest of every layer, from one spec
  originguard edge    [-fetch] [address ...]                    Cloudflare's ranges, their age; check addresses
  originguard audit   [-f cluster.yaml|dir] [-o json]           what is exposed from outside, and by which rule
  originguard explain [-f cluster.yaml|dir] --from A --to B     one flow's verdict and the rule that decided

audit and explain read -f (kubectl get -o yaml dumps, manifests, - for stdin)
or, with no -f or with --kubeconfig/--context, the live cluster of the
kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.kube/config), read-only.
Exit status: 0 done; 1 audit found something serious; 2 an error (a bad spec,
flag or input), said on stderr.
Run "originguard <command> -h" for a command's flags. With no -f, render reads
examples/originguard/sample.yaml, a commented sample spec. Nothing talks to a
cluster or to Cloudflare unless asked (audit or explain without -f, --kubeconfig,
-fetch, or edge source: fetch).
`

func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return errors.New("no command given (want render, edge, audit or explain)")
	}
	switch args[0] {
	case "render":
		return c.render(ctx, args[1:])
	case "edge":
		return c.edge(ctx, args[1:])
	case "audit":
		return c.audit(ctx, args[1:])
	case "explain":
		return c.explain(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	fmt.Fprint(c.stderr, usage)
	return fmt.Errorf("unknown command %q (want render, edge, audit or explain)", args[0])
}

// flagSet is a flag set that returns its errors and prints its usage only
// when asked with -h (the flag package would print it on every error too).
type flagSet struct {
	*flag.FlagSet
	usage func()
	// more is printed after the flags by -h.
	more string
}

func (c *cli) flags(name, synopsis string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := &flagSet{FlagSet: fs}
	f.usage = func() {
		fmt.Fprintf(c.stderr, "usage: originguard %s %s\n", name, synopsis)
		fs.SetOutput(c.stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprint(c.stderr, f.more)
	}
	return f
}

// parse parses args, printing usage for -h.
func parse(fs *flagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.usage()
	}
	return err
}

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }
