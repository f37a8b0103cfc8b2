#!/usr/bin/env bash
# Regenerates ingress/testdata/crds/*.yaml, the CustomResourceDefinitions of
# the ingress controllers the ingress package emits objects for, copied
# verbatim from the controllers' own Go modules at the versions in pins.txt
# (fetched through the Go module proxy and checked against go.sum's database,
# never written by hand).
#
# Run after changing pins.txt; ingress's tests check that every file names
# its pin and that the Gateway API CRDs match the library's go.mod.
set -euo pipefail
cd "$(dirname "$0")"
go run . -pins pins.txt -out ../../ingress/testdata/crds
