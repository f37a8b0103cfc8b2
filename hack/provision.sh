#!/usr/bin/env bash
# Provisions what the real-component tests need, idempotently:
#
#   1. Debian packages for the firewall tests (iptables, ip6tables, ipset, nft,
#      ip), installed only when missing; `apt-get update` runs only then.
#   2. (next) etcd and kube-apiserver for the Kubernetes tests.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'provision: %s\n' "$*" >&2; }

# --- 1. Debian packages -----------------------------------------------------
packages=(iptables ipset nftables iproute2)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages ${missing[*]}; run as root to install them (skipping)"
  else
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

