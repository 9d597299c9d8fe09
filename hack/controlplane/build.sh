#!/usr/bin/env bash
# Builds the control-plane binaries that envtest and the local cluster run, from
# the Go module proxy only, into bin/k8s/<version>/. Idempotent: a binary that is
# already there (stamped with the same version) is not rebuilt.
#
#   hack/controlplane/build.sh [envtest|cluster]
#     envtest: kube-apiserver, etcd
#     cluster: envtest + kube-controller-manager, kube-scheduler, kwok
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/hack/controlplane"
out="$root/bin/k8s/$K8S_VERSION"
mkdir -p "$out"

major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
kube_ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

build() { # name dir package ldflags
  local name=$1 dir=$2 pkg=$3 ldflags=$4
  if [ -x "$out/$name" ]; then return 0; fi
  echo "building $name into $out (once; cached afterwards)" >&2
  local start=$SECONDS
  (cd "$here/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "built $name in $((SECONDS - start))s" >&2
}

# One module per supported minor release (hack/controlplane/kube/v1.NN), pinning
# the patch release; the version asked for must be the one that module pins.
kube="kube/v$major.$minor"
if ! grep -q "k8s.io/kubernetes $K8S_VERSION\$" "$here/$kube/go.mod" 2>/dev/null; then
  echo "no control-plane module pins k8s.io/kubernetes $K8S_VERSION (supported: $(cd "$here" && grep -ho 'k8s.io/kubernetes v[0-9.]*$' kube/*/go.mod | cut -d' ' -f2 | tr '\n' ' '))" >&2
  exit 2
fi

what=${1:-envtest}
build etcd etcd . "-s -w"
build kube-apiserver "$kube" k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
if [ "$what" = cluster ]; then
  build kube-controller-manager "$kube" k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
  build kube-scheduler "$kube" k8s.io/kubernetes/cmd/kube-scheduler "$kube_ldflags"
  build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
fi
# Record what was built so a version bump invalidates nothing silently.
echo "kubernetes=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION" > "$out/VERSION"
