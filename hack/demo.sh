#!/usr/bin/env bash
# The one-command tour of the data residency operator (make demo).
#
#   hack/demo.sh [run]   build, start a local cluster and the operator, apply the
#                        seed catalog and workloads, print the tour, clean up
#   hack/demo.sh down    stop what a kept demo (DEMO_KEEP=1, make demo-up) runs
#   hack/demo.sh status  the kept demo's processes and kubeconfig
#
# What runs: the local cluster of docs/dev-cluster.md (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok nodes in eu-north-1,
# europe-west3 and us-east-1), but its own copy in $DEMO_DIR/cluster on free
# ports, so it never touches a `make dev-cluster` (bin/dev-cluster, port
# 16443) running beside it; and the manager (bin/manager) as a process on the
# host, serving its admission webhooks on 127.0.0.1 with a certificate made
# for the demo (--webhook-cert-dir, --disable-cert-rotation). The webhook
# configuration is derived from config/webhook/manifests.yaml (the rules the
# markers generate) and config/default's namespaceSelector, with a url and a
# caBundle instead of a Service.
#
# Every process is started by this script and stopped by pid (checked against
# its start time) when it exits, fails or is interrupted (Ctrl-C), and
# $DEMO_DIR is removed, unless DEMO_KEEP=1 (make demo-up) keeps it running.
#
# Environment:
#   DEMO_DIR      state directory (default bin/demo): cluster, certificates,
#                 logs, pid files. Removed at the end unless DEMO_KEEP=1.
#   DEMO_KEEP=1   leave the cluster and the operator running; `make demo-down`
#                 (hack/demo.sh down) stops them.
#   DEMO_PID_LOG  append "name pid starttime" of every process the demo starts
#                 to this file (test/demo checks /proc with it).
#   KUBECTL       the kubectl to use (default: kubectl on PATH, else one built
#                 from the module proxy into bin/k8s/$K8S_VERSION).
#   NO_COLOR      plain section headers.
set -Eeuo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
K8S_VERSION=${K8S_VERSION:-v1.37.2}
export K8S_VERSION
bindir=$root/bin/k8s/$K8S_VERSION
DEMO_DIR=${DEMO_DIR:-$root/bin/demo}
mkdir -p "$(dirname "$DEMO_DIR")"
DEMO_DIR=$(cd "$(dirname "$DEMO_DIR")" && pwd)/$(basename "$DEMO_DIR")
DEMO_KEEP=${DEMO_KEEP:-0}
marker=.dataresidency-demo
manifests=hack/demo/manifests
democtl=$root/bin/democtl
devcluster=$root/bin/devcluster
cmd=${1:-run}

# ---------------------------------------------------------------- output

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$'\033[1m' dim=$'\033[2m' red=$'\033[31m' reset=$'\033[0m'
else
  bold='' dim='' red='' reset=''
fi
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(now_ms)
secs() { # milliseconds -> "12.3s"
  local ms=$1
  printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}
since() { secs $(($(now_ms) - $1)); }
step() { printf '%s[%7s]%s %s\n' "$dim" "$(since "$t0")" "$reset" "$*"; }
section() { printf '\n%s━━ %s ━━%s\n\n' "$bold" "$*" "$reset"; }
shown() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; } # a command as the reader would type it
die() {
  printf '%sdemo: %s%s\n' "$red" "$*" "$reset" >&2
  exit 1
}

# poll DESCRIPTION TIMEOUT_SECONDS COMMAND...: run COMMAND until it succeeds.
poll() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- processes

# stop_all stops the manager and the cluster (CoreDNS included) of $DEMO_DIR by pid, checks that
# none of their processes is left, and removes $DEMO_DIR.
stop_all() {
  [ -d "$DEMO_DIR" ] || return 0
  if [ ! -e "$DEMO_DIR/$marker" ]; then
    echo "demo: $DEMO_DIR is not a demo state directory (no $marker): not touching it" >&2
    return 1
  fi
  local list="$DEMO_DIR/processes" begin
  begin=$(now_ms)
  if [ ! -x "$democtl" ] || [ ! -x "$devcluster" ]; then
    echo "demo: bin/democtl or bin/devcluster missing: build them with 'go build -o bin/ ./hack/demo/democtl ./test/cluster/cmd/devcluster'" >&2
    return 1
  fi
  "$democtl" pids "$DEMO_DIR/manager.pid" "$DEMO_DIR/cluster/state.json" >"$list" 2>/dev/null || true
  local n
  n=$(grep -c . "$list" || true)
  local ok=1
  "$democtl" stop "$DEMO_DIR/manager.pid" >/dev/null || ok=0
  if [ -e "$DEMO_DIR/cluster/state.json" ]; then
    "$devcluster" down --dir "$DEMO_DIR/cluster" >"$DEMO_DIR/cluster-down.log" 2>&1 || {
      ok=0
      cat "$DEMO_DIR/cluster-down.log" >&2
    }
  fi
  if ! "$democtl" alive "$list" >&2; then
    ok=0
  fi
  if [ $ok = 1 ]; then
    rm -rf "$DEMO_DIR"
    echo "stopped $n processes by pid (none left running), removed ${DEMO_DIR#"$root"/} in $(since "$begin")"
  else
    echo "demo: could not stop everything; state kept in $DEMO_DIR: retry with 'make demo-down'" >&2
    return 1
  fi
}

record_pids() { # append the processes started so far to $DEMO_PID_LOG
  [ -n "${DEMO_PID_LOG:-}" ] || return 0
  "$democtl" pids "$DEMO_DIR/manager.pid" "$DEMO_DIR/cluster/state.json" >>"$DEMO_PID_LOG" 2>/dev/null || true
}

# ---------------------------------------------------------------- down / status

case "$cmd" in
  run) ;;
  down)
    if [ ! -d "$DEMO_DIR" ]; then
      echo "no demo running (no $DEMO_DIR)"
      exit 0
    fi
    stop_all
    exit
    ;;
  status)
    if [ ! -e "$DEMO_DIR/$marker" ]; then
      echo "no demo running (no $DEMO_DIR)"
      exit 0
    fi
    "$devcluster" status --dir "$DEMO_DIR/cluster" || true
    "$democtl" pids "$DEMO_DIR/manager.pid" | while read -r name pid _; do
      echo "$name: pid $pid, log $DEMO_DIR/manager.log"
    done
    echo "export KUBECONFIG=$DEMO_DIR/cluster/kubeconfig"
    exit 0
    ;;
  *)
    echo "usage: $0 [run|down|status]" >&2
    exit 2
    ;;
esac

# ---------------------------------------------------------------- run

# One demo per state directory at a time.
if command -v flock >/dev/null; then
  exec 9>"$(dirname "$DEMO_DIR")/.$(basename "$DEMO_DIR").lock"
  flock -n 9 || die "another demo is running with $DEMO_DIR"
fi

interrupted=0
started=0
on_exit() {
  local rc=$?
  trap - EXIT INT TERM ERR
  if [ $started = 0 ]; then
    exit $rc
  fi
  if [ "$DEMO_KEEP" = 1 ] && [ $interrupted = 0 ]; then
    if [ $rc != 0 ]; then
      echo "demo failed; DEMO_KEEP=1: everything is left running for a look (manager log: $DEMO_DIR/manager.log); make demo-down stops it" >&2
    fi
    exit $rc
  fi
  if [ $rc != 0 ] && [ -f "$DEMO_DIR/manager.log" ]; then
    echo "--- last lines of the manager's log ($DEMO_DIR/manager.log):" >&2
    tail -n 15 "$DEMO_DIR/manager.log" >&2 || true
  fi
  section "Cleaning up"
  stop_all || rc=1
  exit $rc
}
trap on_exit EXIT
trap 'interrupted=1; echo; echo "demo: interrupted, cleaning up" >&2; exit 130' INT TERM
# Say where it failed, once: at the top level, not in every function and
# command substitution the failure passes through.
trap 'if [ -z "${FUNCNAME[0]:-}" ] && [ "$BASH_SUBSHELL" = 0 ]; then echo "demo: failed at line $LINENO: $BASH_COMMAND" >&2; fi' ERR

printf '%sData residency operator: the tour%s\n' "$bold" "$reset"
if [ "$DEMO_KEEP" = 1 ]; then
  printf '%sstate in %s; DEMO_KEEP=1: left running at the end (make demo-down stops it)%s\n\n' "$dim" "${DEMO_DIR#"$root"/}" "$reset"
else
  printf '%sstate in %s; every process it starts is stopped at the end%s\n\n' "$dim" "${DEMO_DIR#"$root"/}" "$reset"
fi

command -v go >/dev/null || die "go is not on PATH"

# --- build (each step is a no-op when up to date)
begin=$(now_ms)
# The operator's binaries build beside the control plane's: on a cold cache
# both are long, and neither keeps two cores busy all the time (linking is
# single-threaded).
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
mkdir -p "$root/bin"
gobuild_log=$root/bin/.demo-go-build.log
(go build -o "$root/bin/" ./cmd/manager ./hack/demo/democtl ./test/cluster/cmd/devcluster &&
  make --no-print-directory coredns &&
  go build -ldflags "-X github.com/dataresidency/operator/internal/cli.Version=$VERSION" -o "$root/bin/residencyctl" ./cmd/residencyctl) \
  >"$gobuild_log" 2>&1 &
gobuild_pid=$!
if [ ! -x "$bindir/kube-apiserver" ] || [ ! -x "$bindir/kwok" ] || [ ! -x "$bindir/kube-controller-manager" ] ||
  [ ! -x "$bindir/kube-scheduler" ] || [ ! -x "$bindir/etcd" ]; then
  step "building the control-plane binaries into bin/k8s/$K8S_VERSION (once: about 6 minutes on 2 cores with an empty Go cache; shared with make dev-cluster and make test)"
fi
if command -v flock >/dev/null; then
  flock "$root/bin/.controlplane-build.lock" hack/controlplane/build.sh cluster
else
  hack/controlplane/build.sh cluster
fi
if ! wait "$gobuild_pid"; then
  cat "$gobuild_log" >&2
  die "building the operator failed"
fi
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
if [ -z "$KUBECTL" ]; then
  KUBECTL=$bindir/kubectl
  if [ ! -x "$KUBECTL" ]; then
    step "no kubectl on PATH: building kubectl $K8S_VERSION into bin/k8s/$K8S_VERSION (once, 1-2 min once the control plane is built)"
    major=${K8S_VERSION#v}; major=${major%%.*}
    minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
    pkg=k8s.io/component-base/version
    # The module of hack/controlplane/kube pins k8s.io/kubernetes and its
    # staging modules; kubectl needs a few more go.sum lines, which a copy of
    # it gets from the module proxy (the checked-in go.sum stays as it is).
    work=$root/bin/.kubectl-build
    rm -rf "$work" && mkdir -p "$work"
    cp hack/controlplane/kube/go.mod hack/controlplane/kube/go.sum "$work/"
    (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
      -o "$KUBECTL.tmp" k8s.io/kubernetes/cmd/kubectl)
    mv "$KUBECTL.tmp" "$KUBECTL"
    rm -rf "$work"
  fi
fi
kubectl() { "$KUBECTL" "$@"; }
residencyctl() { "$root/bin/residencyctl" "$@"; }
build_ms=$(($(now_ms) - begin))
step "built bin/manager, bin/residencyctl, bin/democtl, bin/devcluster, bin/coredns in $(secs $build_ms) (kubectl: $KUBECTL)"

# --- a demo left running by DEMO_KEEP=1 is replaced
if [ -d "$DEMO_DIR" ]; then
  step "stopping the demo left running in ${DEMO_DIR#"$root"/}"
  stop_all
fi
mkdir -p "$DEMO_DIR"
touch "$DEMO_DIR/$marker"
started=1

# --- the cluster
# Its DNS is CoreDNS (bin/coredns), authoritative for the vendor name of the
# tour (a documentation address; any other name NXDOMAIN, nothing forwarded),
# streaming every answer to the operator (dnstap), as the Corefile line of
# docs/observed-egress.md makes a cluster's CoreDNS do.
read -r webhook_port probe_port dnstap_port dns_port < <("$democtl" ports 4)
begin=$(now_ms)
if ! "$devcluster" up --dir "$DEMO_DIR/cluster" --bin-dir "$bindir" \
  --apiserver-port 0 --etcd-port 0 --etcd-peer-port 0 --controller-manager-port 0 --scheduler-port 0 \
  --coredns "$root/bin/coredns" --dns-port "$dns_port" --dnstap "127.0.0.1:$dnstap_port" \
  --dns-record api.sendgrid.com=192.0.2.20 \
  >"$DEMO_DIR/cluster-up.log" 2>&1; then
  record_pids
  cat "$DEMO_DIR/cluster-up.log" >&2
  die "the local cluster did not start"
fi
record_pids
cluster_ms=$(($(now_ms) - begin))
export KUBECONFIG=$DEMO_DIR/cluster/kubeconfig
server=$(kubectl config view -o jsonpath='{.clusters[0].cluster.server}')
nodes=$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.labels.topology\.kubernetes\.io/region}{" "}{end}')
step "local cluster up in $(secs $cluster_ms): kube-apiserver $server, kwok nodes in: $nodes, DNS (CoreDNS) 127.0.0.1:$dns_port"

# --- CRDs
kubectl apply --server-side -f config/crd/bases -f config/crd/external >/dev/null
kubectl wait --for condition=established --timeout=60s crd --all >/dev/null
step "CRDs installed: config/crd/bases (4 residency kinds, ResidencyException, ObservedEgress), config/crd/external (OpenReports Report)"

# --- the operator
begin=$(now_ms)
"$democtl" certs "$DEMO_DIR/certs"
"$democtl" spawn -pidfile "$DEMO_DIR/manager.pid" -log "$DEMO_DIR/manager.log" -name manager -- \
  "$root/bin/manager" --namespace=dataresidency-system \
  --webhook-port="$webhook_port" --webhook-cert-dir="$DEMO_DIR/certs" --disable-cert-rotation \
  --health-probe-bind-address="127.0.0.1:$probe_port" --metrics-bind-address=0 \
  --dnstap-bind-address="127.0.0.1:$dnstap_port" >/dev/null
record_pids
manager_pid=$("$democtl" pids "$DEMO_DIR/manager.pid" | awk '{print $2}')
"$democtl" wait-http -timeout 120s -pidfile "$DEMO_DIR/manager.pid" "http://127.0.0.1:$probe_port/readyz" ||
  die "the manager did not become ready"
"$democtl" webhook-config -manifests config/webhook/manifests.yaml \
  -patch config/default/webhook_namespace_selector_patch.yaml \
  -url "https://127.0.0.1:$webhook_port" -ca "$DEMO_DIR/certs/ca.crt" >"$DEMO_DIR/webhook.yaml"
kubectl apply -f "$DEMO_DIR/webhook.yaml" >/dev/null
manager_ms=$(($(now_ms) - begin))
step "operator running in $(secs $manager_ms): bin/manager pid $manager_pid, webhooks https://127.0.0.1:$webhook_port/validate-{workloads,catalog}, dnstap 127.0.0.1:$dnstap_port, log ${DEMO_DIR#"$root"/}/manager.log"

# --- the catalog
begin=$(now_ms)
# The shared ProcessingLocations first, so that each Subprocessor of the seed
# files finds its locations when it is first reconciled.
kubectl apply -f config/samples/shared-locations.yaml >/dev/null
kubectl apply -f config/samples >/dev/null
kubectl wait --for condition=Ready --timeout=60s residencypolicy/default >/dev/null
subs=$(kubectl get subprocessors --no-headers | wc -l)
# Every residency object has been reconciled once it has a Ready condition.
all_reconciled() {
  [ "$(kubectl get residency -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c .)" = \
    "$(kubectl get residency --no-headers | wc -l)" ]
}
poll "the catalog's status" 60 all_reconciled
catalog_ms=$(($(now_ms) - begin))
step "catalog applied in $(secs $catalog_ms): config/samples, five real agreements ($(kubectl get residency --no-headers | wc -l) objects, $subs Subprocessors)"

# --- namespaces and workloads
begin=$(now_ms)
kubectl apply -f $manifests/namespaces.yaml >/dev/null
for ns in demo-deny demo-warn demo-audit; do
  poll "the default ServiceAccount of $ns" 60 kubectl get serviceaccount default -n "$ns"
done
# The API server picks a new webhook configuration up within a moment: wait
# until a dry run of the Privacy Shield deployment is denied.
webhook_denies() {
  local out
  out=$(kubectl apply --dry-run=server -f $manifests/rejected.yaml 2>&1 || true)
  grep -q "denied the request" <<<"$out"
}
poll "the admission webhook to answer" 60 webhook_denies
out_deny=$(kubectl apply -f $manifests/deny.yaml 2>&1)
rc=0
out_rejected=$(kubectl apply -f $manifests/rejected.yaml 2>&1) || rc=$?
[ $rc != 0 ] || die "the Privacy Shield deployment was admitted in demo-deny: $out_rejected"
out_warn=$(kubectl apply -f $manifests/warn.yaml 2>&1)
out_audit=$(kubectl apply -f $manifests/audit.yaml 2>&1)
expected=$(cat $manifests/deny.yaml $manifests/warn.yaml $manifests/audit.yaml |
  grep -cE '^kind: (Pod|Deployment|StatefulSet|DaemonSet|ReplicaSet|Job|CronJob)$')
step "namespaces demo-deny, demo-warn, demo-audit; $expected workloads admitted, 1 rejected"

kubectl wait --for condition=Available --timeout=90s deployment --all -n demo-deny >/dev/null
kubectl wait --for condition=Available --timeout=90s deployment --all -n demo-warn >/dev/null
kubectl wait --for condition=Available --timeout=90s deployment --all -n demo-audit >/dev/null
kubectl wait --for condition=Complete --timeout=90s job --all -n demo-audit >/dev/null
evaluated() {
  local s
  s=$(kubectl get residencypolicy default -o jsonpath='{.status.summary.workloads} {.status.summary.compliant} {.status.summary.warnings} {.status.summary.violations}')
  read -r w c wa v <<<"$s"
  [ "$w" = "$expected" ] && [ $((c + wa + v)) = "$expected" ] &&
    [ "$(kubectl get reports -A -l app.kubernetes.io/managed-by=dataresidency-operator --no-headers | wc -l)" -ge 3 ]
}
poll "the operator to evaluate the workloads" 90 evaluated
workloads_ms=$(($(now_ms) - begin))
step "pods running on the kwok nodes, workloads evaluated, Reports written in $(secs $workloads_ms)"
setup_ms=$(($(now_ms) - t0))

# ---------------------------------------------------------------- the tour

section "1. The catalog: kubectl get residency"
echo "Every ProcessingLocation, TransferBasis, Subprocessor and the ResidencyPolicy, with the"
echo "state the operator computed (as of today) and how many workloads use each."
echo
shown kubectl get residency
kubectl get residency

section "2. The register of transfers (GDPR Art. 30(1)(e)): residencyctl register"
shown "residencyctl register        # from the cluster of \$KUBECONFIG; markdown"
register=$(residencyctl register)
# The header, then the entry of the subprocessor the Privacy Shield workload uses.
awk '/^## /{exit} {print}' <<<"$register" | sed '/^$/N;/^\n$/D'
echo "[...]"
awk '/^### mailmojo-2018-sendgrid:/{p=1; print; next} p && /^##/{exit} p' <<<"$register"
echo "[... $(wc -l <<<"$register") lines in all: every subprocessor, location, route and basis]"

section "3. deny: a deployment resting on Privacy Shield is rejected"
shown "kubectl get namespace demo-deny -L dataresidency.io/enforcement"
kubectl get namespace demo-deny -L dataresidency.io/enforcement
echo
shown "kubectl apply -f $manifests/deny.yaml          # data stays in the EEA"
echo "$out_deny"
echo
shown "kubectl apply -f $manifests/rejected.yaml      # e-mail addresses to SendGrid (US) on Privacy Shield"
echo "$out_rejected"

section "4. warn: admitted, and kubectl prints the findings"
shown "kubectl apply -f $manifests/warn.yaml"
echo "$out_warn"
echo
echo "pdf-renderer declares nothing and nothing is discovered in it. That is not \"compliant\":"
echo "the ResidencyPolicy's requireDeclaration is warn, so it is Undeclared, and the finding says"
echo "what to add. thumbnailer declares dataresidency.io/subprocessors: none and passes silently."
echo
undeclared_jsonpath='{range .results[?(@.rule=="Undeclared")]}{.resources[0].kind}/{.resources[0].name}{"\t"}{.rule}{"\t"}{.message}{"\n"}{end}'
shown "kubectl get report data-residency -n demo-warn -o jsonpath='{range .results[?(@.rule==\"Undeclared\")]}...'"
kubectl get report data-residency -n demo-warn -o jsonpath="$undeclared_jsonpath" |
  awk -F'\t' '{printf "%-36s %s\n    %s\n", $1, $2, $3}'

section "5. audit: admitted silently; the Report says what is wrong"
shown "kubectl apply -f $manifests/audit.yaml"
echo "$out_audit"
echo
shown "kubectl get reports -A"
kubectl get reports -A
echo
fail_jsonpath='{range .results[?(@.result=="fail")]}{.resources[0].kind}/{.resources[0].name}{"\t"}{.rule}{"\t"}{.message}{"\n"}{end}'
shown "kubectl get report data-residency -n demo-audit -o jsonpath='{range .results[?(@.result==\"fail\")]}...'"
kubectl get report data-residency -n demo-audit -o jsonpath="$fail_jsonpath" |
  awk -F'\t' '{printf "%-36s %s\n    %s\n", $1, $2, $3}'
echo
shown "kubectl get events -n demo-audit --field-selector reason=ResidencyViolation"
kubectl get events -n demo-audit --field-selector reason=ResidencyViolation \
  -o custom-columns='OBJECT:.involvedObject.name,MESSAGE:.message' | cut -c1-220

section "6. Observed egress: what a workload actually resolves"
echo "newsletter in demo-audit declares nothing and its pod spec names no endpoint: its"
echo "SendGrid SDK calls api.sendgrid.com by default. Its Pod (a kwok Pod, address in"
echo "127.244.0.0/16) resolves the name through the cluster DNS, which reports the answer to"
echo "the operator (dnstap); the operator attributes it to the Pod, the Pod to its Deployment."
echo
kubectl apply -f $manifests/observed.yaml >/dev/null
kubectl wait --for condition=Available --timeout=90s deployment/newsletter -n demo-audit >/dev/null
newsletter_ip=$(kubectl get pods -n demo-audit -l app=newsletter -o jsonpath='{.items[0].status.podIP}')
sleep 1 # the operator's Pod informer sees the address
shown "democtl resolve -from $newsletter_ip -server 127.0.0.1:$dns_port api.sendgrid.com api.sendgrid.com.demo-audit.svc.cluster.local"
"$democtl" resolve -from "$newsletter_ip" -server "127.0.0.1:$dns_port" api.sendgrid.com api.sendgrid.com.demo-audit.svc.cluster.local
begin=$(now_ms)
observed_jsonpath='{range .results[?(@.resources[0].name=="newsletter")]}{.rule}{"\t"}{.properties.source}{"\t"}{.message}{"\n"}{end}'
observed_violation() {
  kubectl get report data-residency -n demo-audit -o jsonpath="$observed_jsonpath" 2>/dev/null |
    grep -q $'^BasisNotValid\tobserved: resolved api.sendgrid.com'
}
poll "the observed flow in the Report" 30 observed_violation
observed_ms=$(($(now_ms) - begin))
echo
shown "kubectl get observedegresses -n demo-audit"
kubectl get observedegresses -n demo-audit
echo
shown "kubectl get report data-residency -n demo-audit -o jsonpath='{range .results[?(@.resources[0].name==\"newsletter\")]}...'"
kubectl get report data-residency -n demo-audit -o jsonpath="$observed_jsonpath" | grep -v '^Compliant' |
  awk -F'\t' '{printf "%-16s %s\n    %s\n", $1, $2, $3}'
echo
echo "The search-path expansion (NXDOMAIN) is not egress; the answered name is, with the"
echo "same legal verdict as if the spec named it, in the Report $(secs $observed_ms) after the query."

section "7. Egress policies: the network follows the law"
echo "Label demo-audit for egress policies in audit mode: the operator writes one"
echo "NetworkPolicy per workload that allows DNS, the cluster and the claims of its compliant"
echo "vendors, and lists in the Report what enforce would cut. In audit the policies select"
echo "only pods labelled dataresidency.io/egress-trial (none yet): nothing changes."
echo
shown "kubectl label namespace demo-audit dataresidency.io/egress=audit"
kubectl label namespace demo-audit dataresidency.io/egress=audit >/dev/null
begin=$(now_ms)
cut_jsonpath='{range .results[?(@.rule=="EgressWouldBeDenied")]}{.resources[0].kind}/{.resources[0].name}{"\t"}{.properties.hosts}{"\t"}{.message}{"\n"}{end}'
newsletter_cut() {
  kubectl get report data-residency -n demo-audit -o jsonpath="$cut_jsonpath" 2>/dev/null | grep -q $'^Deployment/newsletter\t'
}
poll "the egress policies and their Report results" 30 newsletter_cut
egress_ms=$(($(now_ms) - begin))
shown "kubectl get networkpolicies -n demo-audit -l app.kubernetes.io/managed-by=dataresidency-operator"
kubectl get networkpolicies -n demo-audit -l app.kubernetes.io/managed-by=dataresidency-operator
echo
shown "kubectl get report data-residency -n demo-audit -o jsonpath='{range .results[?(@.rule==\"EgressWouldBeDenied\")]}...'"
kubectl get report data-residency -n demo-audit -o jsonpath="$cut_jsonpath" |
  awk -F'\t' '{printf "%-36s %s\n    %s\n", $1, $2, $3}' | cut -c1-240
echo
echo "In $(secs $egress_ms). With dataresidency.io/egress=enforce a CNI that enforces"
echo "NetworkPolicy denies those flows; Cilium and ClusterNetworkPolicy backends also allow"
echo "vendors by host name (docs/egress-policies.md). bin/residencyctl egress writes the same"
echo "policies offline."

section "8. Where the pods run: the real scheduler, kwok nodes per region"
pods_columns='NAMESPACE:.metadata.namespace,POD:.metadata.name,STATUS:.status.phase,NODE:.spec.nodeName'
shown "kubectl get pods -A --sort-by=.metadata.namespace -o custom-columns=$pods_columns"
kubectl get pods -A -o custom-columns="$pods_columns" --sort-by=.metadata.namespace

section "Summary"
summary=$(kubectl get residencypolicy default -o jsonpath='{.status.summary.workloads} {.status.summary.compliant} {.status.summary.warnings} {.status.summary.violations} {.status.summary.undeclared} {.status.summary.uncoveredTransfers} {.status.summary.subprocessors}')
read -r w c wa v und unc subp <<<"$summary"
by_state='{{range $k, $v := .}}{{$v}} {{$k}}, {{end}}'
subs_by=$(kubectl get residencypolicy default -o go-template="{{with .status.summary.subprocessorsByState}}$by_state{{end}}")
tbs_by=$(kubectl get residencypolicy default -o go-template="{{with .status.summary.transferBasesByState}}$by_state{{end}}")
echo "From ResidencyPolicy/default status.summary:"
printf '  %-22s %s\n' "workloads" "$w" "compliant" "$c" "warnings" "$wa" "violations" "$v" \
  "undeclared" "$und (declare neither dataresidency.io/subprocessors nor data-categories)" \
  "uncovered transfers" "$unc" "subprocessors" "$subp (${subs_by%, })" "transfer bases" "${tbs_by%, }"
# What the API server refused, read from kubectl's output of step 3.
rejected=$(grep -oE '(Pod|Deployment|StatefulSet|DaemonSet|ReplicaSet|Job|CronJob) [a-z0-9.-]+/[a-z0-9.*-]+ violates' <<<"$out_rejected" |
  awk '{print $2}' | sort -u | paste -sd, - | sed 's/,/, /g' || true)
printf '  %-22s %s\n' "rejected at admission" "$(grep -c 'denied the request' <<<"$out_rejected" || true) (${rejected:-none named})"
echo
echo "Timings:"
printf '  %-22s %s\n' "go build" "$(secs $build_ms)" "cluster start" "$(secs $cluster_ms)" \
  "operator ready" "$(secs $manager_ms)" "catalog reconciled" "$(secs $catalog_ms)" \
  "workloads evaluated" "$(secs $workloads_ms)" "total until here" "$(secs $setup_ms)"

if [ "$DEMO_KEEP" = 1 ]; then
  section "Kept running (DEMO_KEEP=1)"
  echo "The cluster and the operator keep running. Explore:"
  echo
  echo "  export KUBECONFIG=$KUBECONFIG"
  echo "  kubectl get residency"
  echo "  kubectl get reports -A"
  echo "  bin/residencyctl register"
  echo "  tail -f ${DEMO_DIR#"$root"/}/manager.log"
  echo
  echo "Stop everything with: make demo-down"
fi
