#!/usr/bin/env bash
# Regenerates internal/testbed/crds/calico.yaml and calico-crd.yaml, the
# projectcalico.org/v3 and crd.projectcalico.org/v1 CustomResourceDefinitions
# (same kinds and schemas, the two ways clusters serve Calico's API) the test
# bed installs, from the
# github.com/projectcalico/api types pinned in hack/crd/go.mod: controller-gen
# (crd:allowDangerousTypes=true, because `order` is a float) derives the
# schemas, and main.go fixes what controller-gen cannot see (scope from
# +genclient:nonNamespaced, int-or-string ports and protocols).
#
# Run after changing the pin; internal/testbed's tests check the file names
# the pinned version.
set -euo pipefail
cd "$(dirname "$0")"
pkg=github.com/projectcalico/api/pkg/apis/projectcalico/v3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go tool controller-gen crd:allowDangerousTypes=true paths="$pkg" output:crd:dir="$tmp"
src=$(go list -f '{{.Dir}}' "$pkg")
generator="controller-gen $(go list -m -f '{{.Version}}' sigs.k8s.io/controller-tools)"
mkdir -p ../../internal/testbed/crds
go run . -in "$tmp" -src "$src" -generator "$generator" -out ../../internal/testbed/crds/calico.yaml
go run . -in "$tmp" -src "$src" -generator "$generator" -group crd.projectcalico.org -version v1 -out ../../internal/testbed/crds/calico-crd.yaml
echo "wrote internal/testbed/crds/calico.yaml and calico-crd.yaml"
