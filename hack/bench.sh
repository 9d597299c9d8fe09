#!/usr/bin/env bash
# `make bench`: runs every benchmark of the operator's performance targets and
# writes bench/results.md, with the machine, the Go version, the date and the
# exact commands, so that every number can be reproduced:
#
#   1. engine micro-benchmarks        go test ./internal/residency -bench .
#   2. the webhook's HTTP handler     go test ./internal/webhook -bench ...; the
#      latency test (p50/p99, sequential and parallel); CPU profiles, and the
#      same for the handler before the fast path (BENCH_BASELINE)
#   3. end-to-end admission           go run ./test/bench/admission (a real
#      kube-apiserver: no webhook / this webhook / a ValidatingAdmissionPolicy)
#   4. scale                          go run ./test/bench/scale
#
# Each table row gives the measured value, the target, and whether it is met.
# Micro-benchmarks run BENCH_RUNS times (default 5) and report medians: the
# development machine has 2 shared cores, so single runs are noise. The load
# average is recorded at the start and the end of each section.
#
# Environment:
#   BENCH_RUNS      repetitions of the micro-benchmarks and latency test (5)
#   BENCH_BASELINE  commit of the handler "before" (d3ca3a6: before Issue 8's
#                   fast path); empty to skip
#   BENCH_SKIP      comma-separated sections to skip: engine,webhook,baseline,admission,scale
#   BENCH_OUT       where to write (bench/results.md)
#   ADMISSION_ARGS  extra flags for test/bench/admission (e.g. -creates 600)
#   ADMISSION_RUNS  whole end-to-end runs (3); the median one is shown in full
#   SCALE_ARGS      extra flags for test/bench/scale
#
# Needs: go, jq, and for sections 3 and 4 the control plane (make envtest).
# Nothing is left running: the benchmarks stop their clusters and managers
# themselves (also on Ctrl-C), and the temporary directory is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

RUNS=${BENCH_RUNS:-5}
BASELINE=${BENCH_BASELINE-d3ca3a6}
SKIP=",${BENCH_SKIP:-},"
OUT=${BENCH_OUT:-bench/results.md}
ADMISSION_ARGS=${ADMISSION_ARGS:-}
SCALE_ARGS=${SCALE_ARGS:-}

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
  ok = (op == "<") ? (v+0 < t+0) : (op == "<=") ? (v+0 <= t+0) : 0
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
    NR > 5 && ($6 in w) {v = $5; sub("%", "", v); if (v+0 > best) best = v+0; found = 1}
    END {if (found) printf "%.1f%%", best; else print "no samples"}'
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
      else
        echo "| $b | $(fmt1 "$ns") | $by | $al | | |"
      fi
    done
    echo
  } > "$work/section-engine.md"
  sections+=("$work/section-engine.md")
fi

# ---------------------------------------------------------------- 2. webhook
# webhookbench DIR TAG: benchmarks, latency runs and a CPU profile of the
# handler in the source tree DIR.
WEBHOOK_BENCH='BenchmarkHandleDeployment|BenchmarkParseReview|BenchmarkDecodeDeployment|BenchmarkEvaluateDeployment|BenchmarkSnapshot'
webhookbench() {
  local dir=$1 tag=$2 i
  (cd "$dir" && go test ./internal/webhook -run '^$' -bench "$WEBHOOK_BENCH" -benchmem -count "$RUNS") | tee "$work/$tag-bench.txt" >&2
  for i in $(seq "$RUNS"); do
    (cd "$dir" && WEBHOOK_LATENCY=1 go test ./internal/webhook -run '^TestHandleDeploymentLatency$' -count=1 -v) > "$work/$tag-latency-$i.txt" 2>&1 || true
    grep -hE 'latency|HandleDeployment over' "$work/$tag-latency-$i.txt" >&2 || true
  done
  (cd "$dir" && go test ./internal/webhook -run '^$' -bench 'BenchmarkHandleDeployment/sequential' -benchtime 5s \
    -cpuprofile "$work/$tag.cpu" -o "$work/$tag.test") >&2
}

# latencyfield TAG MODE FIELD: median over runs of e.g. wall_p99_us.
latencyfield() {
  cat "$work/$1"-latency-*.txt | awk -v mode="latency $2:" -v f="$3" 'index($0, mode) {
    for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2 && kv[1] == f) print kv[2] }' | median
}

# baselinelatency P: median over runs of the baseline test's "p50 612µs"
# style figures, in µs.
baselinelatency() {
  cat "$work"/base-latency-*.txt | awk -v p="$1" '/HandleDeployment over/ {
    for (i = 1; i <= NF; i++) if ($i == p) { v = $(i+1); sub(",", "", v);
      if (v ~ /µs$/) { sub("µs", "", v); print v } else if (v ~ /ms$/) { sub("ms", "", v); print v*1000 }
      else if (v ~ /ns$/) { sub("ns", "", v); print v/1000 } else if (v ~ /s$/) { sub("s", "", v); print v*1e6 } } }' | median
}

if ! skip webhook; then
  log "webhook handler ($RUNS runs)"
  l0=$(loadavg)
  webhookbench "$root" cur
  l1=$(loadavg)
  havebase=
  if [[ -n $BASELINE ]] && ! skip baseline; then
    log "the handler before, at $BASELINE"
    mkdir -p "$work/base"
    git archive "$BASELINE" | tar -x -C "$work/base"
    webhookbench "$work/base" base
    havebase=1
  fi
  l2=$(loadavg)
  seqns=$(benchcol "$work/cur-bench.txt" BenchmarkHandleDeployment/sequential ns/op)
  parns=$(benchcol "$work/cur-bench.txt" BenchmarkHandleDeployment/parallel ns/op)
  wp50=$(latencyfield cur sequential wall_p50_us); wp99=$(latencyfield cur sequential wall_p99_us)
  cp50=$(latencyfield cur sequential cpu_p50_us); cp99=$(latencyfield cur sequential cpu_p99_us)
  pwp50=$(latencyfield cur parallel wall_p50_us); pwp99=$(latencyfield cur parallel wall_p99_us)
  pcp50=$(latencyfield cur parallel cpu_p50_us); pcp99=$(latencyfield cur parallel cpu_p99_us)
  awp50=$(latencyfield cur as-admitted wall_p50_us); awp99=$(latencyfield cur as-admitted wall_p99_us)
  acp50=$(latencyfield cur as-admitted cpu_p50_us); acp99=$(latencyfield cur as-admitted cpu_p99_us)
  abytes=$(cat "$work"/cur-latency-*.txt | grep -m1 'latency as-admitted' | grep -oE 'bytes=[0-9]+' | cut -d= -f2 || true)
  bytes=$(cat "$work"/cur-latency-*.txt | grep -m1 -oE 'bytes=[0-9]+' | cut -d= -f2 || true)
  {
    echo "## 2. Webhook handler"
    echo
    echo "A ~${bytes:-10000}-byte AdmissionReview of a realistic Deployment (three containers, ~80 environment variables,"
    echo "a ConfigMap reference, probes, volumes; compliant, in a \`deny\` namespace; catalog of 45 subprocessors)"
    echo "through the HTTP handler: read the body, decode the review and the object, look up the snapshot, the Namespace,"
    echo "the ConfigMap and the Services (from an in-memory stand-in for the informer cache; the snapshot provider reads"
    echo "informer stores as in the manager), evaluate, encode the answer. The latency test times $((2000)) requests one"
    echo "after the other (sequential) and from 2 goroutines (parallel), in wall-clock time and in the CPU time of the"
    echo "calling thread; medians of $RUNS runs of each percentile (load average $l0 before, $l1 after)."
    echo
    echo "| measure | now | target | met? |$( [[ -n $havebase ]] && echo " before ($BASELINE) |")"
    echo "|---|---|---|---|$( [[ -n $havebase ]] && echo "---|")"
    bseq=; bpar=; bp50=; bp99=; bal=; bby=
    if [[ -n $havebase ]]; then
      bseq=$(benchcol "$work/base-bench.txt" BenchmarkHandleDeployment/sequential ns/op)
      bpar=$(benchcol "$work/base-bench.txt" BenchmarkHandleDeployment/parallel ns/op)
      bal=$(benchcol "$work/base-bench.txt" BenchmarkHandleDeployment/sequential allocs/op)
      bby=$(benchcol "$work/base-bench.txt" BenchmarkHandleDeployment/sequential B/op)
      bp50=$(baselinelatency p50); bp99=$(baselinelatency p99)
    fi
    col() { [[ -n $havebase ]] && echo " $1 |" || true; }
    echo "| sequential p50, wall clock (µs) | $(fmt1 "$wp50") | | |$(col "$(fmt1 "$bp50")")"
    echo "| **sequential p99, wall clock (µs)** | **$(fmt1 "$wp99")** | < 200 | $(met "$wp99" "<" 200) |$(col "$(fmt1 "$bp99")")"
    echo "| sequential p50 / p99, thread CPU time (µs) | $(fmt1 "$cp50") / $(fmt1 "$cp99") | (p99 < 200) | $(met "$cp99" "<" 200) |$(col "not measured")"
    echo "| parallel (2 goroutines) p50 / p99, wall clock (µs) | $(fmt1 "$pwp50") / $(fmt1 "$pwp99") | p99 < 200 | $(met "$pwp99" "<" 200) |$(col "not measured")"
    echo "| parallel p50 / p99, thread CPU time (µs) | $(fmt1 "$pcp50") / $(fmt1 "$pcp99") | | |$(col "not measured")"
    echo "| as kube-apiserver sends it (${abytes:-?} bytes: defaults, managedFields), sequential p50 / p99, wall clock (µs) | $(fmt1 "$awp50") / $(fmt1 "$awp99") | p99 < 200 | $(met "$awp99" "<" 200) |$(col "not measured")"
    echo "| ... thread CPU time (µs) | $(fmt1 "$acp50") / $(fmt1 "$acp99") | | |$(col "not measured")"
    echo "| BenchmarkHandleDeployment/sequential (µs/op) | $(fmt1 "$(awk -v x="$seqns" 'BEGIN {print x/1000}')") | | |$(col "$(fmt1 "$(awk -v x="$bseq" 'BEGIN {print x/1000}')")")"
    echo "| BenchmarkHandleDeployment/parallel (µs/op) | $(fmt1 "$(awk -v x="$parns" 'BEGIN {print x/1000}')") | | |$(col "$(fmt1 "$(awk -v x="$bpar" 'BEGIN {print x/1000}')")")"
    echo "| bytes / allocations per request | $(benchcol "$work/cur-bench.txt" BenchmarkHandleDeployment/sequential B/op) / $(benchcol "$work/cur-bench.txt" BenchmarkHandleDeployment/sequential allocs/op) | | |$(col "$bby / $bal")"
    echo
    echo "Parts, each alone (\`-bench '$WEBHOOK_BENCH'\`, medians):"
    echo
    echo "| benchmark | ns/op | B/op | allocs/op |"
    echo "|---|---|---|---|"
    for b in $(awk '/^Benchmark/ {sub(/-[0-9]+$/, "", $1); print $1}' "$work/cur-bench.txt" | sort -u); do
      echo "| $b | $(fmt1 "$(benchcol "$work/cur-bench.txt" "$b" ns/op)") | $(benchcol "$work/cur-bench.txt" "$b" B/op) | $(benchcol "$work/cur-bench.txt" "$b" allocs/op) |"
    done
    echo
    echo "Where the time goes: share of the CPU samples (cumulative) of \`BenchmarkHandleDeployment/sequential\` under"
    echo "\`-cpuprofile\`, by part of the request."
    echo
    echo "| part | now |$( [[ -n $havebase ]] && echo " before |")"
    echo "|---|---|$( [[ -n $havebase ]] && echo "---|")"
    share() { # LABEL "now functions" "before functions"
      local now before=
      # shellcheck disable=SC2086
      now=$(pprofshare "$work/cur.cpu" "$work/cur.test" $2)
      # shellcheck disable=SC2086
      [[ -n $havebase ]] && before=" $(pprofshare "$work/base.cpu" "$work/base.test" $3) |"
      echo "| $1 | $now |$before"
    }
    share "read and decode the review and the object" \
      "github.com/dataresidency/operator/internal/webhook.parseReview" \
      "sigs.k8s.io/json.UnmarshalCaseSensitivePreserveInts"
    share "... of which the object" \
      "github.com/dataresidency/operator/internal/webhook.parseObject" \
      "github.com/dataresidency/operator/internal/webhook.decodeInto"
    share "snapshot lookup" \
      "github.com/dataresidency/operator/internal/state.(*Provider).Snapshot" \
      "github.com/dataresidency/operator/internal/state.(*Provider).Snapshot"
    share "Namespace labels from the cache" \
      "github.com/dataresidency/operator/internal/webhook.(*WorkloadValidator).namespaceLabels" \
      "github.com/dataresidency/operator/internal/webhook.(*WorkloadValidator).namespaceLabels"
    share "ConfigMaps and Services (state.PodContext)" \
      "github.com/dataresidency/operator/internal/state.PodContext" \
      "github.com/dataresidency/operator/internal/state.PodContext"
    share "evaluation (residency.Snapshot.Evaluate)" \
      "github.com/dataresidency/operator/internal/residency.(*Snapshot).Evaluate" \
      "github.com/dataresidency/operator/internal/residency.(*Snapshot).Evaluate"
    share "... of which endpoint discovery" \
      "github.com/dataresidency/operator/internal/residency.DiscoverEgress" \
      "github.com/dataresidency/operator/internal/residency.DiscoverEgress"
    share "encode the answer" \
      "github.com/dataresidency/operator/internal/webhook.writeReview" \
      "encoding/json.Marshal"
    share "garbage collection (background marking)" "runtime.gcBgMarkWorker" "runtime.gcBgMarkWorker"
    share "allocation (runtime.mallocgc)" "runtime.mallocgc" "runtime.mallocgc"
    share "the benchmark's own request and recorder (httptest)" \
      "net/http/httptest.NewRequestWithContext net/http/httptest.NewRequest" \
      "net/http/httptest.NewRequestWithContext net/http/httptest.NewRequest"
    echo
    [[ -n $havebase ]] && echo "\"Before\" is commit $BASELINE, measured in the same run with its own benchmark and latency test (\`git archive $BASELINE\`; load average $l1 before, $l2 after). Its benchmark lists the catalog through its in-memory stand-in on every request (\`BenchmarkSnapshot/provider/cache-reader\` below), where the manager reads the informer stores (\`provider/informer-stores\`); that part of its time was the stand-in's." && echo
  } > "$work/section-webhook.md"
  sections+=("$work/section-webhook.md")
fi

# ---------------------------------------------------------------- manager binary
if ! skip admission || ! skip scale; then
  log "building bin/manager"
  go build -o bin/manager ./cmd/manager
fi

# ---------------------------------------------------------------- 3. admission
if ! skip admission; then
  log "end-to-end admission (a real kube-apiserver; a few minutes)"
  go build -o "$work/admission" ./test/bench/admission
  l0=$(loadavg)
  # Tail ratios on two shared cores move a lot from run to run (every hop
  # queues for the same saturated cores): ADMISSION_RUNS whole runs, each
  # with all three phases interleaved; the run with the median
  # webhook/none p99 ratio is shown in full, every run in the table after it.
  runs=${ADMISSION_RUNS:-3}
  for i in $(seq 1 "$runs"); do
    log "end-to-end admission, run $i of $runs"
    prof=()
    [[ $i == 1 ]] && prof=(-pprof-dir "$work/pprof")
    # shellcheck disable=SC2086
    "$work/admission" -v "${prof[@]}" $ADMISSION_ARGS > "$work/admission-$i.json" 2> >(tee "$work/admission-$i.log" >&2)
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
    echo "in $(j .rounds) rounds, each running the three phases in a random order (seed $(j .seed): $(j .order)):"
    echo "**none** (no admission check), **webhook** (this operator's workloads webhook: bin/manager as its own process,"
    echo "a ValidatingWebhookConfiguration on https://127.0.0.1 with the caBundle, failurePolicy Fail), **vap** (the"
    echo "ValidatingAdmissionPolicy of test/bench/admission/policy.yaml: the same annotations checked in CEL). The manager"
    echo "runs in all phases; its work queues drain before each. Latency is the client's, per create."
    echo "Load average $l0 before, $l1 after (the program saw $(j .loadavgBefore) / $(j .loadavgAfter)); $(j .seconds) s."
    echo
    echo "| phase | p50 (ms) | p90 (ms) | p99 (ms) | mean (ms) | creates/s | kube-apiserver CPU ms/create | manager CPU ms/create |"
    echo "|---|---|---|---|---|---|---|---|"
    for p in none webhook vap; do
      echo "| $p | $(j ".phases.$p.p50Ms") | $(j ".phases.$p.p90Ms") | $(j ".phases.$p.p99Ms") | $(j ".phases.$p.meanMs") | $(j ".phases.$p.createsPerSecond") | $(j ".phases.$p.cpuMsPerCreate[\"kube-apiserver\"]") | $(j ".phases.$p.cpuMsPerCreate.manager") |"
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
    echo "The admission step alone, as the servers measured it (means over the measured phases): the webhook call as"
    echo "kube-apiserver saw it (\`apiserver_admission_webhook_admission_duration_seconds\`, TLS round trip included)"
    echo "$(j .apiserverWebhookMeanMs) ms; the handler inside the manager (\`controller_runtime_webhook_latency_seconds\`)"
    echo "$(j .managerHandlerMeanMs) ms; the policy's check (\`apiserver_validating_admission_policy_check_duration_seconds\`)"
    echo "$(j .apiserverVapMeanMs) ms."
    echo
    api=$(go run ./test/cluster/cmd/devcluster -h >/dev/null 2>&1; echo "bin/k8s/$(awk -F'"' '/KubernetesVersion =/ {print $2}' test/cluster/cluster.go)/kube-apiserver")
    pshare() { pprofshare "$work/pprof/$1-$2.pprof" "$3" "${@:4}"; }
    echo "Where the CPU goes, from profiles taken after the measured rounds (\`-pprof-dir\`: 10 s of creates in each"
    echo "phase; shares of each process's samples):"
    echo
    echo "| | none | webhook | vap |"
    echo "|---|---|---|---|"
    echo "| kube-apiserver: calling the webhook (\`validatingDispatcher.callHook\`: encoding the review, the HTTPS round trip) | | $(pshare kube-apiserver webhook "$api" 'k8s.io/apiserver/pkg/admission/plugin/webhook/validating.(*validatingDispatcher).callHook') | |"
    echo "| kube-apiserver: the policy (\`policy/validating.dispatcher.Dispatch\`) | | | $(pshare kube-apiserver vap "$api" 'k8s.io/apiserver/pkg/admission/plugin/policy/validating.(*dispatcher).Dispatch') |"
    echo "| ... of which converting the object for CEL (\`convertObjectToUnstructured\`) | | | $(pshare kube-apiserver vap "$api" 'k8s.io/apiserver/pkg/admission/plugin/cel.convertObjectToUnstructured') |"
    echo "| ... of which evaluating CEL | | | $(pshare kube-apiserver vap "$api" 'github.com/google/cel-go/cel.(*prog).ContextEval') |"
    echo "| kube-apiserver: decoding and validating the manager's Report writes (CRD schema) | $(pshare kube-apiserver none "$api" 'k8s.io/apiextensions-apiserver/pkg/apiserver.schemaCoercingDecoder.Decode') | $(pshare kube-apiserver webhook "$api" 'k8s.io/apiextensions-apiserver/pkg/apiserver.schemaCoercingDecoder.Decode') | $(pshare kube-apiserver vap "$api" 'k8s.io/apiextensions-apiserver/pkg/apiserver.schemaCoercingDecoder.Decode') |"
    echo "| manager: the webhook (\`workloadServer.ServeHTTP\`) | | $(pshare manager webhook bin/manager 'github.com/dataresidency/operator/internal/webhook.(*workloadServer).ServeHTTP') | |"
    echo "| manager: reconciling the new Deployments and their Reports | $(pshare manager none bin/manager 'sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller[go.shape.struct { k8s.io/apimachinery/pkg/types.NamespacedName }]).processNextWorkItem') | $(pshare manager webhook bin/manager 'sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller[go.shape.struct { k8s.io/apimachinery/pkg/types.NamespacedName }]).processNextWorkItem') | $(pshare manager vap bin/manager 'sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller[go.shape.struct { k8s.io/apimachinery/pkg/types.NamespacedName }]).processNextWorkItem') |"
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
if ! skip scale; then
  log "scale (10,000 Deployments; several minutes)"
  l0=$(loadavg)
  # shellcheck disable=SC2086
  go run ./test/bench/scale $SCALE_ARGS > "$work/scale.json" 2> >(tee "$work/scale.log" >&2)
  l1=$(loadavg)
  s() { jq -r "$1" "$work/scale.json"; }
  {
    echo "## 4. Scale"
    echo
    echo "\`go run ./test/bench/scale${SCALE_ARGS:+ $SCALE_ARGS}\` (after \`go build -o bin/manager ./cmd/manager\`): $(s .deployments) Deployments in"
    echo "$(s .namespaces) namespaces, a catalog of $(s .subprocessors) subprocessors, $(s .bases) bases and $(s .locations) locations; the manager as its own"
    echo "process against etcd and kube-apiserver (load average $l0 before, $l1 after)."
    echo
    echo "| measure | value | target | met? |"
    echo "|---|---|---|---|"
    echo "| cold start: every Report current after the manager starts over $(s .deployments) workloads (s) | $(fmt1 "$(s .coldStartSeconds)") | < 30 | $(met "$(s .coldStartSeconds)" "<" 30) |"
    echo "| invalidation: Reports current after a basis used by $(s .invalidationWorkloads) workloads is invalidated (s) | $(fmt1 "$(s .invalidationSeconds)") | < 5 | $(met "$(s .invalidationSeconds)" "<" 5) |"
    echo "| ... of which: the manager evaluated the affected workloads (s) | $(fmt1 "$(s .evaluationSeconds)") | | |"
    echo "| manager peak RSS (MiB) | $(fmt1 "$(s .peakRssMiB)") | < 150 | $(met "$(s .peakRssMiB)" "<" 150) |"
    echo "| manager RSS after (MiB) | $(fmt1 "$(s .rssMiBAfter)") | < 150 | $(met "$(s .rssMiBAfter)" "<" 150) |"
    echo "| ... of which anonymous (the Go heap and runtime) / file-backed (the binary) (MiB) | $(fmt1 "$(s .rssAnonMiB)") / $(fmt1 "$(s .rssFileMiB)") | | |"
    echo "| RSS per workload (bytes) | $(fmt1 "$(s .rssBytesPerWorkload)") | | |"
    echo "| Go heap live after a collection (MiB): the informer cache, the findings, the catalog | $(fmt1 "$(s .liveHeapMiB)") | | |"
    echo "| ... per workload (bytes; fixed costs included) | $(fmt1 "$(s .liveHeapBytesPerWorkload)") | | |"
    echo "| manager CPU (s) over the run | $(fmt1 "$(s .managerCpuSeconds)") | | |"
    echo "| creating the Deployments (s) | $(fmt1 "$(s .createSeconds)") | | |"
    echo
    echo "<details><summary>raw JSON</summary>"
    echo
    echo '```json'
    cat "$work/scale.json"
    echo '```'
    echo
    echo "</details>"
    echo
  } > "$work/section-scale.md"
  sections+=("$work/section-scale.md")
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
