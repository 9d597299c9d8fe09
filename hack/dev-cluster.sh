#!/usr/bin/env bash
# A local Kubernetes cluster without a container runtime: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler as processes on 127.0.0.1 and kwok
# simulating nodes in eu-north-1 (SE), europe-west3 (DE) and us-east-1 (US),
# and CoreDNS (bin/coredns) as the cluster DNS on 127.0.0.1:16053, streaming
# dnstap to 127.0.0.1:6000 (a manager run with --dnstap-bind-address there).
# See docs/dev-cluster.md.
#
#   hack/dev-cluster.sh up      build what is missing, start (idempotent)
#   hack/dev-cluster.sh status  pids, ports, logs, kubeconfig
#   hack/dev-cluster.sh down    stop every process by pid, remove the state
#
# State (pids, logs, certificates, etcd data) lives in $DEV_CLUSTER_DIR
# (default bin/dev-cluster); the admin kubeconfig is $DEV_CLUSTER_DIR/kubeconfig.
# The logic is Go (test/cluster, the package the e2e tests use); this script
# only builds the binaries and the small devcluster program.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
K8S_VERSION=${K8S_VERSION:-v1.37.2}
export K8S_VERSION
dir=${DEV_CLUSTER_DIR:-$root/bin/dev-cluster}
bindir=$root/bin/k8s/$K8S_VERSION
cmd=${1:-}

case "$cmd" in
  up)
    # Idempotent: returns at once when the binaries are there. The lock keeps
    # two concurrent `up`s from building the same binary twice.
    mkdir -p "$root/bin"
    if command -v flock >/dev/null; then
      flock "$root/bin/.controlplane-build.lock" hack/controlplane/build.sh cluster
    else
      hack/controlplane/build.sh cluster
    fi
    make --no-print-directory coredns
    ;;
  down|status) ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac

# go build is incremental: relinks only when test/cluster changed.
go build -o "$root/bin/devcluster" ./test/cluster/cmd/devcluster
if [ "$cmd" = up ]; then
  # DEV_CLUSTER_DNS_RECORDS: more NAME=IPV4 the cluster DNS answers, space-separated.
  dns=(--coredns "$root/bin/coredns")
  for r in ${DEV_CLUSTER_DNS_RECORDS:-}; do dns+=(--dns-record "$r"); done
  exec "$root/bin/devcluster" up --dir "$dir" --bin-dir "$bindir" "${dns[@]}"
fi
exec "$root/bin/devcluster" "$cmd" --dir "$dir" --bin-dir "$bindir"
