#!/usr/bin/env bash
# `make bench`: runs every benchmark of the operator's performance targets and
# writes bench/results.md, with the machine, the Go version, the date and the
# exact commands, so that every number can be reproduced:
#
#   1. engine micro-benchmarks        go test ./internal/residency -bench .
#   1b. observed egress ingestion     go test ./internal/observe -bench . -cpu 1
#   2. the webhook's HTTP handler     go test ./internal/webhook -bench ...;
#      a CPU profile (information: the handler's own latency is no target)
#   3. end-to-end admission           go run ./test/bench/admission (a real
#      kube-apiserver: no webhook / this webhook / a ValidatingAdmissionPolicy /
#      Kyverno's admission controller),
#      with this tree's manager and with BENCH_BEFORE's, runs alternating
#   4. scale                          go run ./test/bench/scale: 10,000
#      workloads with this tree's manager and BENCH_BEFORE's, one namespace of
#      5,000, and 100,000 workloads in 1,000 namespaces
#   5. offline CI step                go run ./test/bench/offline: residencyctl
#      scan and kyverno apply (KYVERNO, built by make) over the same manifests
#
# Each table row gives the measured value, the target, and whether it is met.
# Micro-benchmarks run BENCH_RUNS times (default 5) and report medians: the
# development machine has 2 shared cores, so single runs are noise. The load
# average is recorded at the start and the end of each section.
#
# Environment:
#   BENCH_RUNS      repetitions of the micro-benchmarks (5)
#   BENCH_BEFORE    commit whose manager is measured beside this tree's in
#                   sections 3 and 4 (e8ab370: before the webhook's hand-written
#                   JSON reader was replaced by the library decode); empty to skip
#   BENCH_SKIP      comma-separated sections to skip: engine,observe,webhook,admission,scale,scale100k,offline
#   BENCH_OUT       where to write (bench/results.md)
#   ADMISSION_ARGS  extra flags for test/bench/admission (e.g. -creates 600)
#   ADMISSION_RUNS  whole end-to-end runs per manager (2); the median one is shown in full
#   SCALE_ARGS      extra flags for test/bench/scale (the 10,000 run)
#   SCALE_100K_ARGS extra flags for the 100,000 run
#   KYVERNO         Kyverno's CLI for section 5 (make bench builds bin/kyverno-v1.19.1)
#   KYVERNO_ADMISSION  Kyverno's admission controller for section 3 (make bench
#                   builds bin/kyverno-admission-v1.19.1); empty: no Kyverno phase
#   OFFLINE_ARGS    extra flags for test/bench/offline
#
# Needs: go, jq, and for sections 3 and 4 the control plane (make envtest).
# Nothing is left running: the benchmarks stop their clusters and managers
# themselves (also on Ctrl-C), and the temporary directory is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

RUNS=${BENCH_RUNS:-5}
BEFORE=${BENCH_BEFORE-e8ab370}
SKIP=",${BENCH_SKIP:-},"
OUT=${BENCH_OUT:-bench/results.md}
ADMISSION_ARGS=${ADMISSION_ARGS:-}
SCALE_ARGS=${SCALE_ARGS:-}
SCALE_100K_ARGS=${SCALE_100K_ARGS:-}
OFFLINE_ARGS=${OFFLINE_ARGS:-}
KYVERNO=${KYVERNO:-$root/bin/kyverno-v1.19.1}
KYVERNO_ADMISSION=${KYVERNO_ADMISSION:-$root/bin/kyverno-admission-v1.19.1}

command -v jq >/dev/null || { echo "bench: jq is required" >&2; exit 1; }
skip() { [[ $SKIP == *",$1,"* ]]; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
log() { echo "bench: $(date +%H:%M:%S) $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# median of the numbers on stdin
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "n/a"; exit} if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
# fmt N: a number with at most one decimal (or as is when not a number)
fmt1() { awk -v x="$1" 'BEGIN {if (x ~ /^-?[0-9.eE+-]+$/) printf (x >= 100 ? "%.0f" : "%.1f"), x; else printf "%s", x}'; }
# met VALUE OP TARGET: "met" or "**missed**"
met() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
  if (v !~ /^-?[0-9.eE+-]+$/) {print "n/a"; exit}
  ok = (op == "<") ? (v+0 < t+0) : (op == "<=") ? (v+0 <= t+0) : (op == ">=") ? (v+0 >= t+0) : 0
  print (ok ? "met" : "**missed**") }'; }

# benchcol FILE NAME COLUMN-UNIT: median over runs of the value before UNIT
# (ns/op, B/op, allocs/op, MB/s) on the lines of benchmark NAME.
benchcol() {
  awk -v name="$2" -v unit="$3" '$1 == name || $1 ~ "^" name "-[0-9]+$" {
    for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$1" | median
}

# pprofshare PROFILE BINARY FUNC...: the largest cumulative share (%) of
# samples among the functions named (exact pprof names), or "-".
pprofshare() {
  local prof=$1 bin=$2; shift 2
  go tool pprof -top -cum -nodecount=100000 "$bin" "$prof" 2>/dev/null | awk -v names="$(printf '%s\n' "$@")" '
    BEGIN {n = split(names, want, "\n"); for (i = 1; i <= n; i++) if (want[i] != "") w[want[i]] = 1}
    NR > 5 {name = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +/, "", name)
      if (name in w) {v = $5; sub("%", "", v); if (v+0 > best) best = v+0; found = 1}}
    END {if (found) printf "%.1f%%", best; else print "no samples"}'
}

# pproffocus PROFILE BINARY REGEX [IGNORE]: the share of the samples whose
# stack has a frame matching REGEX and none matching IGNORE (work handed to
# other goroutines, such as a request's storage step, included when their
# frames match too).
pproffocus() {
  go tool pprof -top -focus="$3" ${4:+-ignore="$4"} "$2" "$1" 2>/dev/null | awk '/^Showing nodes accounting for/ {v = $(NF-3); sub(",", "", v); print v; found = 1} END {if (!found) print "no samples"}'
}

machine() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
  cat <<EOF
| | |
|---|---|
| CPUs (nproc) | $(nproc) |
| CPU model | ${cpu} |
| memory | ${mem} |
| kernel | $(uname -sr) |
| Go | $(go env GOVERSION) $(go env GOOS)/$(go env GOARCH) |
| date | $(date -u +%Y-%m-%dT%H:%M:%SZ) |
| commit | $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo " (with uncommitted changes)") |
| load average (1, 5, 15 min) at the start | ${LOAD_START} |
EOF
}

LOAD_START=$(loadavg)
log "load average at the start: $LOAD_START"
sections=()

# ---------------------------------------------------------------- 1. engine
if ! skip engine; then
  log "engine micro-benchmarks ($RUNS runs)"
  l0=$(loadavg)
  go test ./internal/residency -run '^$' -bench . -benchmem -count "$RUNS" | tee "$work/engine.txt" >&2
  l1=$(loadavg)
  {
    echo "## 1. Engine micro-benchmarks"
    echo
    echo "\`go test ./internal/residency -run '^\$' -bench . -benchmem -count $RUNS\`: medians of $RUNS runs (load average $l0 before, $l1 after)."
    echo
    echo "| benchmark | ns/op | B/op | allocs/op | target | met? |"
    echo "|---|---|---|---|---|---|"
    for b in $(awk '/^Benchmark/ {sub(/-[0-9]+$/, "", $1); print $1}' "$work/engine.txt" | sort -u); do
      ns=$(benchcol "$work/engine.txt" "$b" ns/op); by=$(benchcol "$work/engine.txt" "$b" B/op); al=$(benchcol "$work/engine.txt" "$b" allocs/op)
      if [[ $b == BenchmarkEvaluateWorkload ]]; then
        echo "| $b | $(fmt1 "$ns") | $by | $al | < 5000 ns/op | $(met "$ns" "<" 5000) |"
        echo "| | | | | < 10 allocs/op | $(met "$al" "<" 10) |"
      elif [[ $b == BenchmarkDiscoverEgress/deployment ]]; then
        # 2x the 10 KB Deployment's time before discovery read files, commands
        # and connection strings (17.9 us, median of 5 at 05384e7 on this machine kind).
        echo "| $b | $(fmt1 "$ns") | $by | $al | <= 35800 ns/op (2x 17.9 us at 05384e7) | $(met "$ns" "<=" 35800) |"
      else
        echo "| $b | $(fmt1 "$ns") | $by | $al | | |"
      fi
    done
    echo
    p=$(benchcol "$work/engine.txt" BenchmarkDiscoveryCorpus precision); r=$(benchcol "$work/engine.txt" BenchmarkDiscoveryCorpus recall)
    echo "Endpoint discovery on the labelled corpus (test/fixtures/discovery/corpus.yaml): precision $p (target >= 0.98: $(met "$p" ">=" 0.98)), recall $r (target >= 0.95: $(met "$r" ">=" 0.95))."
    echo
  } > "$work/section-engine.md"
  sections+=("$work/section-engine.md")
fi

# ---------------------------------------------------------------- 1b. observed egress
if ! skip observe; then
  log "observed egress: dnstap ingestion ($RUNS runs, one core)"
  l0=$(loadavg)
  go test ./internal/observe -run '^$' -bench . -benchmem -cpu 1 -count "$RUNS" | tee "$work/observe.txt" >&2
  l1=$(loadavg)
  fps=$(benchcol "$work/observe.txt" BenchmarkIngest frames/s)
  al=$(benchcol "$work/observe.txt" BenchmarkIngest allocs/op)
  by=$(benchcol "$work/observe.txt" BenchmarkIngest B/op)
  ns=$(benchcol "$work/observe.txt" BenchmarkIngest ns/op)
  pair=$(benchcol "$work/observe.txt" BenchmarkPairMemory B/pair)
  {
    echo "## 1b. Observed egress: dnstap ingestion"
    echo
    echo "\`go test ./internal/observe -run '^\$' -bench . -benchmem -cpu 1 -count $RUNS\`: medians of $RUNS runs on one core"
    echo "(load average $l0 before, $l1 after). One frame is a CoreDNS CLIENT_RESPONSE with its DNS message (two answers):"
    echo "decoded (golang-dnstap's protobuf, miekg/dns), its client address looked up among 10,000 Pods' address"
    echo "tenures, the (Pod, name) pair tallied. Large clusters resolve tens of thousands of names a second."
    echo
    echo "| measure | value | target | met? |"
    echo "|---|---|---|---|"
    echo "| frames ingested per second, one core | $(fmt1 "$fps") | >= 100000 | $(met "$fps" ">=" 100000) |"
    echo "| time per frame | $(fmt1 "$ns") ns | | |"
    echo "| allocations per frame | $al ($by B) | | |"
    echo "| memory per tracked (Pod, name) pair awaiting a flush (100,000 pairs) | $(fmt1 "$pair") B | < 512 B (100,000 pairs, the bound, under 50 MB) | $(met "$pair" "<" 512) |"
    echo
    echo "The end-to-end time from a query to the workload's Report is measured by test/observed (make test-e2e), which logs it."
    echo
  } > "$work/section-observe.md"
  sections+=("$work/section-observe.md")
fi

# ---------------------------------------------------------------- 2. webhook
WEBHOOK_BENCH='BenchmarkHandleDeployment|BenchmarkDecodeWorkload|BenchmarkEvaluateDeployment|BenchmarkSnapshot'
if ! skip webhook; then
  log "webhook handler ($RUNS runs)"
  l0=$(loadavg)
  go test ./internal/webhook -run '^$' -bench "$WEBHOOK_BENCH" -benchmem -count "$RUNS" | tee "$work/cur-bench.txt" >&2
  go test ./internal/webhook -run '^$' -bench 'BenchmarkHandleDeployment/sequential' -benchtime 5s \
    -cpuprofile "$work/cur.cpu" -o "$work/cur.test" >&2
  l1=$(loadavg)
  bytes=$(grep -m1 -oE 'AdmissionReview: [0-9]+ bytes' "$work/cur-bench.txt" | grep -oE '[0-9]+' || true)
  {
    echo "## 2. Webhook handler"
    echo
    echo "A ~${bytes:-10000}-byte AdmissionReview of a realistic Deployment (three containers, ~80 environment variables,"
    echo "a ConfigMap reference, probes, volumes; compliant, in a \`deny\` namespace; catalog of 45 subprocessors)"
    echo "through the HTTP handler (controller-runtime's \`admission.Webhook\`): decode the review and the object, look up"
    echo "the snapshot, the Namespace, the ConfigMap and the Services (from an in-memory stand-in for the cache; the snapshot"
    echo "provider reads informer stores as in the manager), evaluate, encode the answer. Medians of $RUNS runs (load"
    echo "average $l0 before, $l1 after). This is information, not a target: kube-apiserver measures the whole webhook"
    echo "call at milliseconds (section 3), and the end-to-end cost is what a user sees."
    echo
    echo "| benchmark | µs/op | B/op | allocs/op |"
    echo "|---|---|---|---|"
    for b in $(awk '/^Benchmark/ {sub(/-[0-9]+$/, "", $1); print $1}' "$work/cur-bench.txt" | sort -u); do
      echo "| $b | $(fmt1 "$(awk -v x="$(benchcol "$work/cur-bench.txt" "$b" ns/op)" 'BEGIN {print x/1000}')") | $(benchcol "$work/cur-bench.txt" "$b" B/op) | $(benchcol "$work/cur-bench.txt" "$b" allocs/op) |"
    done
    echo
    echo "Where the time goes: share of the CPU samples (cumulative) of \`BenchmarkHandleDeployment/sequential\` under"
    echo "\`-cpuprofile\`, by part of the request."
    echo
    echo "| part | share |"
    echo "|---|---|"
    share() { echo "| $1 | $(pprofshare "$work/cur.cpu" "$work/cur.test" "${@:2}") |"; }
    share "the whole request (admission.Webhook.ServeHTTP)" 'sigs.k8s.io/controller-runtime/pkg/webhook/admission.(*Webhook).ServeHTTP'
    share "the handler (WorkloadValidator.Handle)" 'github.com/dataresidency/operator/internal/webhook.(*WorkloadValidator).Handle'
    share "decoding the object into the engine's input (residency.DecodeWorkload)" 'github.com/dataresidency/operator/internal/residency.DecodeWorkload'
    share "snapshot lookup" 'github.com/dataresidency/operator/internal/state.(*Provider).Snapshot'
    share "Namespace labels from the cache" 'github.com/dataresidency/operator/internal/webhook.(*WorkloadValidator).namespaceLabels'
    share "ConfigMaps and Services (state.PodContext)" 'github.com/dataresidency/operator/internal/state.PodContext'
    share "evaluation (residency.Snapshot.Evaluate)" 'github.com/dataresidency/operator/internal/residency.(*Snapshot).Evaluate'
    share "garbage collection (background marking)" 'runtime.gcBgMarkWorker'
    share "allocation (runtime.mallocgc)" 'runtime.mallocgc'
    echo
  } > "$work/section-webhook.md"
  sections+=("$work/section-webhook.md")
fi

# ---------------------------------------------------------------- manager binary
if ! skip admission || ! skip scale; then
  log "building bin/manager and the benchmark programs"
  go build -o bin/manager ./cmd/manager
  go build -o "$work/admission" ./test/bench/admission
  if [[ -n $BEFORE ]]; then
    log "building the manager at $BEFORE (the \"before\" of sections 3 and 4)"
    mkdir -p "$work/before"
    git archive "$BEFORE" | tar -x -C "$work/before"
    (cd "$work/before" && go build -o "$work/manager-before" ./cmd/manager)
  fi
fi

# ---------------------------------------------------------------- 3. admission
if ! skip admission; then
  log "end-to-end admission (a real kube-apiserver; a few minutes)"
  l0=$(loadavg)
  # Tail ratios on two shared cores move a lot from run to run (every hop
  # queues for the same saturated cores): ADMISSION_RUNS whole runs, each
  # with all three phases interleaved; the run with the median
  # webhook/none p99 ratio is shown in full, every run in the table after it.
  runs=${ADMISSION_RUNS:-2}
  kyv=()
  [[ -n $KYVERNO_ADMISSION ]] && kyv=(-kyverno "$KYVERNO_ADMISSION")
  for i in $(seq 1 "$runs"); do
    log "end-to-end admission, run $i of $runs"
    prof=()
    [[ $i == 1 ]] && prof=(-pprof-dir "$work/pprof")
    # shellcheck disable=SC2086
    "$work/admission" -v "${prof[@]}" "${kyv[@]}" $ADMISSION_ARGS > "$work/admission-$i.json" 2> >(tee "$work/admission-$i.log" >&2)
    if [[ -n $BEFORE ]]; then
      log "end-to-end admission, run $i of $runs, with the manager at $BEFORE"
      # shellcheck disable=SC2086
      "$work/admission" -v -manager "$work/manager-before" "${kyv[@]}" $ADMISSION_ARGS > "$work/before-admission-$i.json" 2> >(tee "$work/before-admission-$i.log" >&2)
    fi
  done
  median_run=$(for i in $(seq 1 "$runs"); do echo "$(jq -r .webhookOverNoneP99 "$work/admission-$i.json") $i"; done | sort -g | awk '{a[NR]=$2} END {print a[int((NR+1)/2)]}')
  cp "$work/admission-$median_run.json" "$work/admission.json"
  l1=$(loadavg)
  j() { jq -r "$1" "$work/admission.json"; }
  {
    echo "## 3. End-to-end admission through kube-apiserver"
    echo
    echo "\`go run ./test/bench/admission${ADMISSION_ARGS:+ $ADMISSION_ARGS}\` (after \`go build -o bin/manager ./cmd/manager\`): etcd and kube-apiserver"
    echo "(test/cluster, no controller manager), $(j .createsPerPhase) Deployment creates per phase ($(j .objectBytes)-byte objects,"
    echo "compliant, spread over $(j .namespaces) namespaces labelled \`dataresidency.io/enforcement: deny\`) at concurrency $(j .concurrency),"
    echo "in $(j .rounds) rounds, each running every phase in a random order (seed $(j .seed): $(j .order)):"
    echo "**none** (no admission check), **webhook** (this operator's workloads webhook: bin/manager as its own process,"
    echo "a ValidatingWebhookConfiguration on https://127.0.0.1 with the caBundle, failurePolicy Fail), **vap** (the"
    echo "ValidatingAdmissionPolicy of test/bench/benchdata/policy.yaml: the same annotations checked in CEL), and with"
    echo "Kyverno's admission controller built, **kyverno** ($(j '.kyvernoVersion // "not run"'), cmd/kyverno from the module proxy, its own process outside"
    echo "the cluster with its webhooks registered by URL, enforcing the same CEL checks as a Kyverno ValidatingPolicy,"
    echo "\`validationActions: [Deny]\`: benchdata.KyvernoPolicy). The manager, and Kyverno, run in all phases; the manager's"
    echo "work queues drain before each. Latency is the client's, per create."
    echo "Load average $l0 before, $l1 after (the program saw $(j .loadavgBefore) / $(j .loadavgAfter)); $(j .seconds) s."
    echo
    echo "| phase | p50 (ms) | p90 (ms) | p99 (ms) | mean (ms) | creates/s | kube-apiserver CPU ms/create | manager CPU ms/create | Kyverno CPU ms/create |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for p in none webhook vap kyverno; do
      [[ $(j ".phases.$p // empty") == "" ]] && continue
      echo "| $p | $(j ".phases.$p.p50Ms") | $(j ".phases.$p.p90Ms") | $(j ".phases.$p.p99Ms") | $(j ".phases.$p.meanMs") | $(j ".phases.$p.createsPerSecond") | $(j ".phases.$p.cpuMsPerCreate[\"kube-apiserver\"]") | $(j ".phases.$p.cpuMsPerCreate.manager") | $(j ".phases.$p.cpuMsPerCreate.kyverno // \"\"") |"
    done
    echo
    echo "| ratio | value | target | met? |"
    echo "|---|---|---|---|"
    echo "| webhook / none, p50 | $(j .webhookOverNoneP50) | | |"
    echo "| **webhook / none, p99** | **$(j .webhookOverNoneP99)** | ≤ 1.15 | $(met "$(j .webhookOverNoneP99)" "<=" 1.15) |"
    echo "| webhook / none, p99, median of the per-round ratios | $(j .roundMedianWebhookOverNoneP99) | ≤ 1.15 | $(met "$(j .roundMedianWebhookOverNoneP99)" "<=" 1.15) |"
    echo "| webhook / vap, p50 | $(j .webhookOverVapP50) | | |"
    echo "| **webhook / vap, p99** | **$(j .webhookOverVapP99)** | ≤ 1 | $(met "$(j .webhookOverVapP99)" "<=" 1) |"
    echo "| webhook / vap, p99, median of the per-round ratios | $(j .roundMedianWebhookOverVapP99) | ≤ 1 | $(met "$(j .roundMedianWebhookOverVapP99)" "<=" 1) |"
    if [[ $(j '.webhookOverKyvernoP99 // empty') != "" ]]; then
      # The target: no higher than Kyverno's (<= 1); the aim: half.
      kmet() { echo "$(met "$1" "<=" 1); half: $(met "$1" "<=" 0.5)"; }
      echo "| webhook / kyverno, p50 | $(j .webhookOverKyvernoP50) | ≤ 1 (aim 0.5) | $(kmet "$(j .webhookOverKyvernoP50)") |"
      echo "| **webhook / kyverno, p99** | **$(j .webhookOverKyvernoP99)** | ≤ 1 (aim 0.5) | $(kmet "$(j .webhookOverKyvernoP99)") |"
      echo "| webhook / kyverno, p99, median of the per-round ratios | $(j .roundMedianWebhookOverKyvernoP99) | ≤ 1 (aim 0.5) | $(kmet "$(j .roundMedianWebhookOverKyvernoP99)") |"
      echo "| **webhook / kyverno, kube-apiserver CPU per create** | **$(j .webhookOverKyvernoApiserverCpu)** | ≤ 1 (aim 0.5) | $(kmet "$(j .webhookOverKyvernoApiserverCpu)") |"
      echo "| the engine's own CPU per create: the manager's added in the webhook phase / Kyverno's in its phase (ms) | $(j .managerAddedCpuMsPerCreate) / $(j .kyvernoAddedCpuMsPerCreate) = $(j .webhookOverKyvernoEngineCpu) | ≤ 1 (aim 0.5) | $(kmet "$(j .webhookOverKyvernoEngineCpu)") |"
    fi
    echo
    echo "Each of the $runs runs (the table above is run $median_run, the median by webhook / none p99):"
    echo
    echo "| run | p99 none / webhook / vap (ms) | webhook / none p99 | per-round median | webhook / vap p99 | per-round median |"
    echo "|---|---|---|---|---|---|"
    for i in $(seq 1 "$runs"); do
      f="$work/admission-$i.json"
      echo "| $i | $(jq -r '"\(.phases.none.p99Ms) / \(.phases.webhook.p99Ms) / \(.phases.vap.p99Ms)"' "$f") | $(jq -r .webhookOverNoneP99 "$f") | $(jq -r .roundMedianWebhookOverNoneP99 "$f") | $(jq -r .webhookOverVapP99 "$f") | $(jq -r .roundMedianWebhookOverVapP99 "$f") |"
    done
    echo
    if [[ -n $BEFORE ]]; then
      echo "**Before and after.** The same runs with the manager built from commit $BEFORE (\`git archive $BEFORE\`), alternating"
      echo "with this tree's (run 1 now, run 1 before, run 2 now...): the same client, cluster setup and phases; only the manager"
      echo "binary differs. Added CPU per admission is the webhook phase's minus the none phase's, per create."
      echo
      echo "| run | manager | webhook / none p99 | webhook / vap p99 | kube-apiserver CPU added per create (ms) | manager CPU added per create (ms) | handler mean inside the manager (ms) | webhook call as kube-apiserver saw it (ms) |"
      echo "|---|---|---|---|---|---|---|---|"
      added='(.phases.webhook.cpuMsPerCreate["kube-apiserver"] - .phases.none.cpuMsPerCreate["kube-apiserver"] | .*1000 | round / 1000) as $a | (.phases.webhook.cpuMsPerCreate.manager - .phases.none.cpuMsPerCreate.manager | .*1000 | round / 1000) as $m | "\(.webhookOverNoneP99) | \(.webhookOverVapP99) | \($a) | \($m) | \(.managerHandlerMeanMs) | \(.apiserverWebhookMeanMs)"'
      for i in $(seq 1 "$runs"); do
        echo "| $i | this tree | $(jq -r "$added" "$work/admission-$i.json") |"
        echo "| $i | $BEFORE | $(jq -r "$added" "$work/before-admission-$i.json") |"
      done
      echo
    fi
    echo "The admission step alone, as the servers measured it (means over the measured phases): the webhook call as"
    echo "kube-apiserver saw it (\`apiserver_admission_webhook_admission_duration_seconds\`, TLS round trip included)"
    echo "$(j .apiserverWebhookMeanMs) ms; the handler inside the manager (\`controller_runtime_webhook_latency_seconds\`)"
    echo "$(j .managerHandlerMeanMs) ms; the policy's check (\`apiserver_validating_admission_policy_check_duration_seconds\`)"
    echo "$(j .apiserverVapMeanMs) ms; Kyverno's webhook call ($(j '.kyvernoWebhooks // "-"')) as kube-apiserver saw it $(j '.apiserverKyvernoMeanMs // "-"') ms."
    echo
    api="bin/k8s/${K8S_VERSION:-$(awk -F'"' '/K8sVersion =/ {print $2}' internal/testenv/testenv.go)}/kube-apiserver"
    pshare() { pprofshare "$work/pprof/$1-$2.pprof" "$3" "${@:4}"; }
    echo "Where the CPU goes, from profiles taken after the measured rounds (\`-pprof-dir\`: 10 s of creates in each"
    echo "phase; shares of each process's samples):"
    echo
    mgr_loop='sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller[go.shape.struct { k8s.io/apimachinery/pkg/types.NamespacedName }]).processNextWorkItem'
    pfocus() { pproffocus "$work/pprof/$1-$2.pprof" "$api" "$3" "${4:-}"; }
    crd='apiextensions-apiserver/pkg/apiserver.*crdHandler'
    create='endpoints/handlers.CreateResource'
    hook='k8s.io/apiserver/pkg/admission/plugin/webhook/validating.(*validatingDispatcher).callHook'
    echo "| | none | webhook | vap | kyverno |"
    echo "|---|---|---|---|---|"
    echo "| kube-apiserver: creating the Deployments and Events (\`CreateResource\` outside \`crdHandler\`; the webhooks are called from goroutines of their own) | $(pfocus kube-apiserver none "$create" crdHandler) | $(pfocus kube-apiserver webhook "$create" crdHandler) | $(pfocus kube-apiserver vap "$create" crdHandler) | $(pfocus kube-apiserver kyverno "$create" crdHandler) |"
    echo "| kube-apiserver: calling the webhook (\`validatingDispatcher.callHook\`: encoding the review, the HTTPS round trip) | | $(pshare kube-apiserver webhook "$api" "$hook") | | $(pshare kube-apiserver kyverno "$api" "$hook") |"
    echo "| kube-apiserver: the policy (\`policy/validating.dispatcher.Dispatch\`) | | | $(pshare kube-apiserver vap "$api" 'k8s.io/apiserver/pkg/admission/plugin/policy/validating.(*dispatcher).Dispatch') | |"
    echo "| ... of which evaluating CEL | | | $(pshare kube-apiserver vap "$api" 'github.com/google/cel-go/cel.(*prog).ContextEval') | |"
    echo "| kube-apiserver: the manager's Report writes (\`crdHandler\`: the CRD's schema, validation, storage) | $(pfocus kube-apiserver none "$crd") | $(pfocus kube-apiserver webhook "$crd") | $(pfocus kube-apiserver vap "$crd") | $(pfocus kube-apiserver kyverno "$crd") |"
    echo "| manager: the webhook (\`admission.Webhook.ServeHTTP\`) | | $(pshare manager webhook bin/manager 'sigs.k8s.io/controller-runtime/pkg/webhook/admission.(*Webhook).ServeHTTP') | | |"
    echo "| manager: reconciling the new Deployments and their Reports | $(pshare manager none bin/manager "$mgr_loop") | $(pshare manager webhook bin/manager "$mgr_loop") | $(pshare manager vap bin/manager "$mgr_loop") | $(pshare manager kyverno bin/manager "$mgr_loop") |"
    echo
    echo "<details><summary>raw JSON</summary>"
    echo
    echo '```json'
    cat "$work/admission.json"
    echo '```'
    echo
    echo "</details>"
    echo
  } > "$work/section-admission.md"
  sections+=("$work/section-admission.md")
fi

# ---------------------------------------------------------------- 4. scale
# scale_table JSON RSS_TARGET INVALIDATION_TARGET COLD_START_TARGET: the rows of one run.
# A target of "-" is none.
scale_table() {
  local f=$1 rss=$2 inv=$3 cold=$4
  sv() { jq -r "$1" "$f"; }
  tgt() { [[ $2 == - ]] && echo "| | |" || echo "| <= $2 | $(met "$1" "<=" "$2") |"; }
  echo "| measure | value | target | met? |"
  echo "|---|---|---|---|"
  echo "| cold start: every Report current after the manager starts over $(sv .deployments) workloads (s) | $(fmt1 "$(sv .coldStartSeconds)") $(tgt "$(sv .coldStartSeconds)" "$cold")"
  echo "| invalidation: every affected Report current after a basis used by $(sv .invalidationWorkloads) workloads is invalidated (s) | $(fmt1 "$(sv .invalidationSeconds)") $(tgt "$(sv .invalidationSeconds)" "$inv")"
  echo "| ... of which: the manager evaluated the affected workloads (s) | $(fmt1 "$(sv .evaluationSeconds)") | | |"
  echo "| ... CPU during the invalidation (s): kube-apiserver / etcd / manager | $(fmt1 "$(sv '.invalidationCpuSeconds["kube-apiserver"]')") / $(fmt1 "$(sv '.invalidationCpuSeconds.etcd')") / $(fmt1 "$(sv '.invalidationCpuSeconds.manager')") | | |"
  echo "| ... writes the API server served meanwhile | $(jq -r '.invalidationRequests // {} | to_entries | map("\(.key) \(.value)") | join(", ")' "$f") | | |"
  echo "| manager peak RSS (MiB) | $(fmt1 "$(sv .peakRssMiB)") $(tgt "$(sv .peakRssMiB)" "$rss")"
  echo "| manager RSS after (MiB) | $(fmt1 "$(sv .rssMiBAfter)") $(tgt "$(sv .rssMiBAfter)" "$rss")"
  echo "| ... of which anonymous (the Go heap and runtime) / file-backed (the binary) (MiB) | $(fmt1 "$(sv .rssAnonMiB)") / $(fmt1 "$(sv .rssFileMiB)") | | |"
  echo "| Go heap live after a collection (MiB): the informer cache, the findings, the catalog | $(fmt1 "$(sv .liveHeapMiB)") | | |"
  echo "| ... per workload (bytes; fixed costs included) | $(fmt1 "$(sv .liveHeapBytesPerWorkload)") | | |"
  echo "| Reports: count, results, bytes per result (JSON as stored) | $(sv .reports), $(sv .results), $(fmt1 "$(sv .bytesPerResult)") | | |"
  echo "| largest Report (KiB), before / after the invalidation | $(fmt1 "$(sv .largestReportKiB)") / $(fmt1 "$(sv .largestReportKiBAfter)") | < 1536 (etcd's limit) | $(met "$(sv .largestReportKiBAfter)" "<" 1536) |"
  echo "| manager CPU (s) over the run | $(fmt1 "$(sv .managerCpuSeconds)") | | |"
  echo "| creating the Deployments (s) | $(fmt1 "$(sv .createSeconds)") | | |"
}
raw_json() {
  echo "<details><summary>raw JSON ($2)</summary>"
  echo
  echo '```json'
  cat "$1"
  echo '```'
  echo
  echo "</details>"
  echo
}
if ! skip scale; then
  log "scale (10,000 Deployments; several minutes)"
  l0=$(loadavg)
  go build -o "$work/scale" ./test/bench/scale
  # shellcheck disable=SC2086
  "$work/scale" $SCALE_ARGS > "$work/scale.json" 2> >(tee "$work/scale.log" >&2)
  if [[ -n $BEFORE ]]; then
    log "scale, with the manager at $BEFORE"
    # shellcheck disable=SC2086
    "$work/scale" -manager "$work/manager-before" $SCALE_ARGS > "$work/before-scale.json" 2> >(tee "$work/before-scale.log" >&2)
  fi
  log "scale: one namespace of 5,000 workloads (how its Reports are split)"
  "$work/scale" -deployments 5000 -namespaces 1 -affected 500 > "$work/scale-ns.json" 2> >(tee "$work/scale-ns.log" >&2)
  if ! skip scale100k; then
    log "scale (100,000 Deployments in 1,000 namespaces; about 15 minutes)"
    # shellcheck disable=SC2086
    "$work/scale" -deployments 100000 -namespaces 1000 -subprocessors 500 -affected 10000 -wait 20m $SCALE_100K_ARGS > "$work/scale-100k.json" 2> >(tee "$work/scale-100k.log" >&2)
  fi
  l1=$(loadavg)
  s() { jq -r "$1" "$work/scale.json"; }
  {
    echo "## 4. Scale"
    echo
    echo "\`go run ./test/bench/scale${SCALE_ARGS:+ $SCALE_ARGS}\` (after \`go build -o bin/manager ./cmd/manager\`): $(s .deployments) Deployments in"
    echo "$(s .namespaces) namespaces, a catalog of $(s .subprocessors) subprocessors, $(s .bases) bases and $(s .locations) locations; the manager as its own"
    echo "process against etcd and kube-apiserver (load average $l0 before, $l1 after the whole section)."
    echo
    scale_table "$work/scale.json" 100 2 30
    echo
    if [[ -n $BEFORE ]]; then
      b() { jq -r "$1" "$work/before-scale.json"; }
      echo "The same run with the manager built from commit $BEFORE, right after this tree's:"
      echo
      echo "| measure | this tree | $BEFORE |"
      echo "|---|---|---|"
      for m in coldStartSeconds:"cold start (s)" invalidationSeconds:"invalidation (s)" peakRssMiB:"manager peak RSS (MiB)" rssMiBAfter:"manager RSS after (MiB)" liveHeapMiB:"Go heap live after a collection (MiB)" liveHeapBytesPerWorkload:"... per workload (bytes)" managerCpuSeconds:"manager CPU (s)"; do
        echo "| ${m#*:} | $(fmt1 "$(s ".${m%%:*}")") | $(fmt1 "$(b ".${m%%:*}")") |"
      done
      echo
    fi
    raw_json "$work/scale.json" "10,000"
    if [[ -f $work/scale-100k.json ]]; then
      echo "### 100,000 workloads"
      echo
      echo "\`go run ./test/bench/scale -deployments 100000 -namespaces 1000 -subprocessors 500 -affected 10000 -wait 20m${SCALE_100K_ARGS:+ $SCALE_100K_ARGS}\`:"
      echo
      scale_table "$work/scale-100k.json" 300 15 120
      echo
      raw_json "$work/scale-100k.json" "100,000"
    fi
    echo "### One namespace of 5,000 workloads"
    echo
    echo "\`go run ./test/bench/scale -deployments 5000 -namespaces 1 -affected 500\`: how a large namespace is reported."
    echo "Each Report holds at most 500 results (\`data-residency\`, \`data-residency-2\`, ...)."
    echo
    scale_table "$work/scale-ns.json" - - -
    echo
  } > "$work/section-scale.md"
  sections+=("$work/section-scale.md")
fi

# ---------------------------------------------------------------- 5. offline
if ! skip offline; then
  log "offline: residencyctl scan and kyverno apply over the same manifests"
  l0=$(loadavg)
  go build -o "$work/residencyctl" ./cmd/residencyctl
  # shellcheck disable=SC2086
  go run ./test/bench/offline -kyverno "$KYVERNO" -residencyctl "$work/residencyctl" $OFFLINE_ARGS > "$work/offline.json"
  l1=$(loadavg)
  o() { jq -r "$1" "$work/offline.json"; }
  {
    echo "## 5. The offline CI step: residencyctl scan and kyverno apply"
    echo
    echo "\`go run ./test/bench/offline -kyverno $(basename "$KYVERNO")${OFFLINE_ARGS:+ $OFFLINE_ARGS}\`: $(o .workloads) Deployment manifests ($(o .inputMiB) MiB, the"
    echo "~10 KB Deployment of the webhook benchmark; $(o .violating) of them send e-mail addresses to the vendor resting only on Privacy"
    echo "Shield). \`residencyctl scan\` reads them with the residency catalog of the admission benchmark; Kyverno's CLI"
    echo "(github.com/kyverno/kyverno v1.19.1, cmd/cli/kubectl-kyverno, built unchanged by hack/kyverno/build.sh)"
    echo "applies the admission benchmark's ValidatingAdmissionPolicy (the same CEL checks, the catalog written into it, bound to every"
    echo "namespace). Each tool runs as a whole process, $(o .runs) times, alternating; medians. Both found the $(o .violating) violating"
    echo "workloads (residencyctl $(o .residencyctl.violations), kyverno $(o .kyverno.violations)). Load average $l0 before, $l1 after."
    echo
    echo "| measure | residencyctl scan | kyverno apply | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    echo "| wall time (ms) | $(fmt1 "$(o .residencyctl.wallMs)") | $(fmt1 "$(o .kyverno.wallMs)") | $(o .residencyctlOverKyvernoWall) | residencyctl faster | $(met "$(o .residencyctlOverKyvernoWall)" "<" 1) |"
    echo "| peak RSS (MiB) | $(fmt1 "$(o .residencyctl.peakRssMiB)") | $(fmt1 "$(o .kyverno.peakRssMiB)") | $(o .residencyctlOverKyvernoRss) | | |"
    echo
    echo "<details><summary>raw JSON</summary>"
    echo
    echo '```json'
    cat "$work/offline.json"
    echo '```'
    echo
    echo "</details>"
    echo
  } > "$work/section-offline.md"
  sections+=("$work/section-offline.md")
fi

LOAD_END=$(loadavg)
mkdir -p "$(dirname "$OUT")"
{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` (hack/bench.sh); do not edit by hand. Every number below comes from the commands"
  echo "shown with it, run on this machine:"
  echo
  machine
  echo "| load average at the end | $LOAD_END |"
  echo
  echo "The machine's two cores are shared with other work (the load average says how much): wall-clock tails"
  echo "measure the neighbours as much as the code, so the webhook section also gives thread CPU time, and the"
  echo "end-to-end section interleaves its phases and gives CPU per create."
  echo
  if [[ -f bench/notes.md ]]; then cat bench/notes.md; echo; fi
  for f in "${sections[@]}"; do cat "$f"; done
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT (load average at the end: $LOAD_END)"
