#!/usr/bin/env bash
# The whole test suite, as CI runs it: provision the test bed, then vet, gofmt,
# go mod tidy, and go test -race over every package (examples and Example
# functions included) in the library module, the bench module and hack/oracle.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "provision the test bed"
bash hack/provision.sh
# internal/testbed finds kube-apiserver and etcd here (see hack/provision.sh).
ORIGINGUARD_KUBE_BIN="$(bash hack/provision.sh --print-bin-dir)"
export ORIGINGUARD_KUBE_BIN
# ingress's stand-in test runs this nginx (see hack/provision.sh).
ORIGINGUARD_NGINX="$(bash hack/provision.sh --print-nginx)"
export ORIGINGUARD_NGINX

modules=(. bench hack/crd hack/ingresscrd hack/oracle)
for m in "${modules[@]}"; do
  [ -f "$m/go.mod" ] || continue
  step "go vet ($m)"
  (cd "$m" && go vet ./...)
  step "gofmt ($m)"
  unformatted=$(cd "$m" && gofmt -l .)
  if [ -n "$unformatted" ]; then
    printf 'gofmt would change:\n%s\n' "$unformatted" >&2
    exit 1
  fi
  step "go mod tidy -diff ($m)"
  (cd "$m" && go mod tidy -diff)
done

step "go test -race (library)"
go test -race -count=1 -timeout=40m ./...

if [ -f bench/go.mod ]; then
  step "go test (bench module: tests, and every benchmark once)"
  (cd bench && go test -count=1 -run=. -bench=. -benchtime=1x -timeout=20m ./...)
fi

if [ -f hack/oracle/go.mod ]; then
  step "go test -race (hack/oracle: netpol against kube-network-policies, and every benchmark once)"
  (cd hack/oracle && go test -race -count=1 -run=. -bench=. -benchtime=1x -timeout=20m ./...)
fi
