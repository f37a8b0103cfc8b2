#!/usr/bin/env bash
# Provisions what the real-component tests need, idempotently:
#
#   1. Debian packages for the firewall tests (iptables, ip6tables, ipset, nft,
#      ip, conntrack; GNU time for the scale benchmark), installed only when
#      missing; `apt-get update` runs only then.
#   2. etcd and kube-apiserver, built from the Go module proxy through the
#      pinned wrapper module in hack/kube (go.mod/go.sum are the pin). The
#      binaries are cached outside the repo, keyed by the Kubernetes version
#      and a hash of the pin, so a fresh clone on the same machine (CI) reuses
#      them and only the first run pays the cold build.
#
# Usage:
#   bash hack/provision.sh                 provision (a no-op when warm)
#   bash hack/provision.sh --print-bin-dir print where the binaries are (or
#                                          will be) and do nothing else
#   bash hack/provision.sh --print-nginx   print where the stand-in nginx is
#                                          (or will be) and do nothing else
#
# The cache root is $ORIGINGUARD_CACHE, else /var/cache/originguard for root,
# else ${XDG_CACHE_HOME:-~/.cache}/originguard. internal/testbed finds the
# binaries through $ORIGINGUARD_KUBE_BIN (exported by hack/test.sh) or, when run
# by hand, through <cache>/kube/current.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bump when the build recipe below changes, so cached binaries are rebuilt.
recipe=1

if [ -n "${ORIGINGUARD_CACHE:-}" ]; then
  cache=$ORIGINGUARD_CACHE
elif [ "$(id -u)" -eq 0 ]; then
  cache=/var/cache/originguard
else
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/originguard
fi

kube_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' hack/kube/go.mod)
if [ -z "$kube_version" ]; then
  echo "provision: no k8s.io/kubernetes requirement in hack/kube/go.mod" >&2
  exit 1
fi
pin_hash=$( (echo "recipe $recipe"; cat hack/kube/go.mod hack/kube/go.sum) | sha256sum | cut -c1-12)
bin_dir=$cache/kube/$kube_version-$pin_hash

if [ "${1:-}" = "--print-bin-dir" ]; then
  echo "$bin_dir"
  exit 0
fi
nginx_bin=$cache/nginx/usr/sbin/nginx
if [ "${1:-}" = "--print-nginx" ]; then
  echo "$nginx_bin"
  exit 0
fi

log() { printf 'provision: %s\n' "$*" >&2; }

# --- 1. Debian packages -----------------------------------------------------
packages=(iptables ipset nftables iproute2 conntrack time)
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

# --- 1b. nginx, the stand-in for ingress-nginx in ingress's tests -------------
# Debian's nginx binary, unpacked from its .deb into the cache rather than
# installed: installing the package would start a system nginx on port 80.
if [ ! -x "$nginx_bin" ]; then
  log "unpacking Debian's nginx into $cache/nginx"
  mkdir -p "$cache"
  tmp_deb=$(mktemp -d "$cache/.nginx.XXXXXX")
  if ! (cd "$tmp_deb" && apt-get download -qq nginx 2>/dev/null); then
    [ "$(id -u)" -eq 0 ] && apt-get update -qq
    (cd "$tmp_deb" && apt-get download -qq nginx 2>/dev/null)
  fi
  dpkg-deb -x "$tmp_deb"/nginx_*.deb "$tmp_deb/root"
  "$tmp_deb/root/usr/sbin/nginx" -v
  rm -rf "$cache/nginx"
  mv "$tmp_deb/root" "$cache/nginx"
  rm -rf "$tmp_deb"
fi

# --- 2. etcd and kube-apiserver -----------------------------------------------
# Point <cache>/kube/current at this pin's binaries (for tests run by hand),
# atomically: a test starting meanwhile sees the old link or the new one.
link_current() {
  if [ "$(readlink "$cache/kube/current" 2>/dev/null)" != "$bin_dir" ]; then
    ln -sfn "$bin_dir" "$cache/kube/.current.$$"
    mv -T "$cache/kube/.current.$$" "$cache/kube/current"
  fi
}

if [ -x "$bin_dir/kube-apiserver" ] && [ -x "$bin_dir/etcd" ]; then
  link_current
  exit 0
fi

mkdir -p "$cache/kube"
exec 9>"$cache/kube/.lock"
log "waiting for the build lock $cache/kube/.lock"
flock 9
if [ ! -x "$bin_dir/kube-apiserver" ] || [ ! -x "$bin_dir/etcd" ]; then
  log "building kube-apiserver and etcd $kube_version into $bin_dir (cold: 7-14 minutes on 2 cores)"
  start=$(date +%s)
  tmp=$(mktemp -d "$cache/kube/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (
    cd hack/kube
    # The version the server reports comes from these variables; without them
    # it says v0.0.0-master. Build date is the module's release time, so the
    # build is reproducible.
    minor=${kube_version#v1.}
    minor=${minor%%.*}
    build_date=$(go list -m -f '{{.Time.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
      ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
    done
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  )
  "$tmp/kube-apiserver" --version >&2
  "$tmp/etcd" --version | head -1 >&2
  rm -rf "$bin_dir"
  mv "$tmp" "$bin_dir"
  chmod 755 "$bin_dir"
  trap - EXIT
  log "built in $(($(date +%s) - start))s"
fi
link_current
