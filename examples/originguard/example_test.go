package main

import (
	"context"
	"os"
	"strings"
	"time"
)

// A spec with one namespace to lock down and no other layer: render
// -layer networkpolicies prints that layer alone, ready for kubectl apply.
func Example_render() {
	spec := `
cluster:
  networks: [10.0.0.0/16]
  controlPlane: [10.0.0.10/32]
namespaces:
  - name: shop
nodes:
  firewall: none
`
	c := &cli{stdout: os.Stdout, stderr: os.Stdout, stdin: strings.NewReader(spec), clock: time.Now, getenv: func(string) string { return "" }}
	if err := c.run(context.Background(), []string{"render", "-f", "-", "-layer", "networkpolicies"}); err != nil {
		println(err.Error())
	}
	// Output:
	// # Rendered by originguard render from stdin.
	// # edge: 15 IPv4 + 7 IPv6 Cloudflare ranges, embedded snapshot taken 2026-09-29
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: default-deny
	//   namespace: shop
	// spec:
	//   podSelector: {}
	//   policyTypes:
	//   - Ingress
	//   - Egress
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: allow-dns
	//   namespace: shop
	// spec:
	//   egress:
	//   - ports:
	//     - port: 53
	//       protocol: UDP
	//     - port: 53
	//       protocol: TCP
	//     to:
	//     - namespaceSelector:
	//         matchLabels:
	//           kubernetes.io/metadata.name: kube-system
	//       podSelector:
	//         matchLabels:
	//           k8s-app: kube-dns
	//   podSelector: {}
	//   policyTypes:
	//   - Egress
}

// A typo in a spec names the field and its line.
func Example_renderTypo() {
	spec := "cluster:\n  networks: [10.0.0.0/16]\n  controlplane: [10.0.0.10/32]\n"
	c := &cli{stdout: os.Stdout, stderr: os.Stdout, stdin: strings.NewReader(spec), clock: time.Now, getenv: func(string) string { return "" }}
	err := c.run(context.Background(), []string{"render", "-f", "-"})
	os.Stdout.WriteString(err.Error() + "\n")
	// Output:
	// stdin line 3: unknown field "controlplane" (see examples/originguard/sample.yaml for the fields)
}

// explain judges one flow over a cluster dump and names the rule that
// decided: here the host policy that forgot the kubelet.
func Example_explain() {
	c := &cli{stdout: os.Stdout, stderr: os.Stdout, stdin: strings.NewReader(""), clock: time.Now, getenv: func(string) string { return "" }}
	if err := c.run(context.Background(), []string{"explain", "-f", "testdata/cluster", "--from", "node/node-1", "--to", "node/node-2:10250/tcp"}); err != nil {
		println(err.Error())
	}
	// Output:
	// host node-1 (10.0.1.1) -> host node-2 (10.0.1.2) TCP/10250: DENY
	//   egress of host endpoint node-1-all: allow (rule: tier default, GlobalNetworkPolicy host-egress rule 0: Allow)
	//   ingress of host endpoint node-2-all: deny (rule: tier default, GlobalNetworkPolicy host-deny rule 3: Deny)
	// decided by: ingress of host endpoint node-2-all: deny (rule: tier default, GlobalNetworkPolicy host-deny rule 3: Deny)
}
