// Package oracle holds the tests that judge package netpol's evaluator
// against other implementations: a differential test against the
// Kubernetes reference implementation, sigs.k8s.io/kube-network-policies,
// on seeded random NetworkPolicies and flows, and benchmarks side by side
// with it and with cyclonus' matcher. It is a module of its own so that
// importing originguard never pulls them in. It has no non-test code.
package oracle
