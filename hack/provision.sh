#!/usr/bin/env bash
# Provisions what the real-component tests need. Issue 3 (the test bed) grows
# this into the full set: firewall tools, etcd and kube-apiserver.
set -euo pipefail
exit 0
