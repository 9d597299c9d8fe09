# The data residency operator. `make help` lists the targets.

K8S_VERSION        ?= v1.37.2
CONTROLLER_TOOLS   ?= v0.23.0
# golangci-lint's version, with Kube API Linter, is pinned in hack/tools/lint/go.mod.
# promtool (Prometheus's own rule checker) for the alert rules' tests.
PROMETHEUS_VERSION ?= v0.316.0
# The oldest Kubernetes release of the supported range (the three newest minors):
# CI runs the CRD, webhook and cluster tests on it too (make test-oldest).
K8S_OLDEST         ?= v1.35.4
# Helm v3.21 is built with Go 1.26 against k8s.io/client-go v0.36 (its own build; the operator is on v0.37).
HELM_VERSION       ?= v3.21.4
FUZZTIME           ?= 20000x

LOCALBIN           := $(CURDIR)/bin
CONTROLLER_GEN     := $(LOCALBIN)/controller-gen
GOLANGCI           := $(LOCALBIN)/golangci-lint-kal
PROMTOOL           := $(LOCALBIN)/promtool
HELM               := $(LOCALBIN)/helm
# Defined before any rule names it: make expands prerequisites as it reads them.
COREDNS            := $(LOCALBIN)/coredns
# kube-network-policies with its nftables queue expression as an xtables
# NFQUEUE target (hack/kube-network-policies): the dataplane of test-dataplane.
KNP                := $(LOCALBIN)/kube-network-policies-xt
# Kyverno's CLI, for the offline comparison of `make bench` (section 5).
KYVERNO            := $(LOCALBIN)/kyverno-v1.19.1
KYVERNO_ADMISSION  := $(LOCALBIN)/kyverno-admission-v1.19.1
ENVTEST_ASSETS     := $(LOCALBIN)/k8s/$(K8S_VERSION)
export KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS)

.PHONY: all
all: build

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API types and markers.
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role webhook paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook
	# residencyctl validates residency objects against the CRDs it embeds.
	rm -f internal/cli/crds/*.yaml && cp config/crd/bases/*.yaml internal/cli/crds/

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI) ## golangci-lint with Kube API Linter on api/ (.golangci.yml; built from the module proxy into bin/).
	$(GOLANGCI) run ./...

.PHONY: build
build: ## Build the manager and residencyctl into bin/.
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -ldflags "$(RESIDENCYCTL_LDFLAGS)" -o $(LOCALBIN)/residencyctl ./cmd/residencyctl

# VERSION is stamped into residencyctl (`residencyctl version`).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
RESIDENCYCTL_LDFLAGS := -X github.com/dataresidency/operator/internal/cli.Version=$(VERSION)

.PHONY: residencyctl
residencyctl: ## Build only residencyctl into bin/.
	go build -ldflags "$(RESIDENCYCTL_LDFLAGS)" -o $(LOCALBIN)/residencyctl ./cmd/residencyctl

.PHONY: install-plugin
install-plugin: residencyctl ## Make residencyctl the kubectl plugin `kubectl residency`: bin/kubectl-residency (put bin/ on PATH, or copy it there).
	cp $(LOCALBIN)/residencyctl $(LOCALBIN)/kubectl-residency
	@echo "bin/kubectl-residency installed: with $(LOCALBIN) on PATH, run 'kubectl residency scan -f ...'"
	@echo "(or: ln -s $(LOCALBIN)/residencyctl /usr/local/bin/kubectl-residency)"

# A release's archives of residencyctl (dist/residencyctl_<version>_<os>_<arch>.tar.gz,
# .zip for windows, and dist/checksums.txt; reproducible) and the krew manifest
# plugins/residency.yaml with their URIs and SHA-256 (hack/release). test/krew,
# a module of its own, validates the manifest with krew. Cold: about 4 minutes
# per platform on 2 cores (each cross-build compiles everything), so about
# 20 minutes for the five; then seconds.
.PHONY: krew-manifest
krew-manifest: ## Build residencyctl's release archives into dist/ and write the krew manifest plugins/residency.yaml from them (VERSION=vX.Y.Z).
	go run ./hack/release -version $(VERSION)

.PHONY: test-krew
test-krew: ## The krew manifest: krew's validate-krew-manifest on plugins/residency.yaml, and a release archive installed with krew v0.4.3 (test/krew, its own module).
	cd test/krew && go test ./... -count=1

.PHONY: run
run: manifests generate ## Run the manager against the current kubeconfig (ENABLE_WEBHOOKS=false to skip the webhook).
	go run ./cmd/manager $(ARGS)

##@ Tests

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from the module proxy into bin/k8s/$(K8S_VERSION) (once).
	K8S_VERSION=$(K8S_VERSION) hack/controlplane/build.sh envtest

.PHONY: test
test: envtest helm-or-skip $(PROMTOOL) ## Unit tests, envtest integration tests against a real API server, the Helm chart checks, short fuzz runs.
	go test ./... -count=1
	hack/fuzz.sh $(FUZZTIME)

# The fault tests run the manager as its own process (built into a temporary
# directory) against a local control plane (etcd and kube-apiserver from
# `make envtest`) and break things under it: SIGKILL, an unreachable or a
# silent webhook, an API server restart. They are not part of `go test ./...`.
FAULTS_TIMEOUT ?= 20m
.PHONY: test-faults
test-faults: envtest ## Fault tests: the manager killed, the webhook down or silent, the API server restarted (real processes).
	DATARESIDENCY_FAULTS=1 go test ./test/faults/... -count=1 -v -timeout $(FAULTS_TIMEOUT)

.PHONY: test-chart
test-chart: envtest helm ## The Helm chart: helm lint, rendered objects equal to config/default's, server-side dry run.
	go test ./test/chart/... -count=1 -v

.PHONY: helm-lint
helm-lint: helm ## helm lint the chart in dist/chart.
	$(HELM) lint --strict dist/chart

# kubebuilder's helm/v2-alpha plugin (v4.16.0) was tried instead and cannot
# express the chart's values (docs/install.md#how-the-chart-is-made).
.PHONY: chart
chart: ## Regenerate dist/chart/templates from `kubectl kustomize` of config/default, default-certmanager, default-monitoring (hack/gen-chart.sh).
	hack/gen-chart.sh

.PHONY: test-e2e
test-e2e: $(COREDNS) ## Build the local cluster's binaries and CoreDNS (once) and run the tests that need a whole cluster (Deployments -> Pods on kwok nodes; observed egress through CoreDNS's dnstap).
	K8S_VERSION=$(K8S_VERSION) hack/controlplane/build.sh cluster
	E2E_REQUIRED=1 go test ./test/cluster/... ./test/observed/... -count=1 -run 'E2E|ControlPlane|ObservedEgress'

$(KNP): hack/kube-network-policies/build.sh hack/kube-network-policies/xt-nfqueue.patch
	hack/kube-network-policies/build.sh $@

.PHONY: test-dataplane
test-dataplane: envtest $(KNP) ## As root: an egress NetworkPolicy the operator writes, enforced by kube-network-policies for a pod in a network namespace (and the DPF drill on the wire); runs in namespaces of its own.
	go test -c -o $(LOCALBIN)/dataplane.test ./test/dataplane
	$(if $(filter 0,$(shell id -u)),,sudo) unshare --net --mount --propagation private env DATAPLANE_KNP=$(KNP) $(LOCALBIN)/dataplane.test -test.v -test.count=1 -test.timeout 10m

# The supported range is the three newest minor releases: `make test` runs
# everything on the newest (K8S_VERSION); this runs the CRD, RBAC, webhook,
# controller and cluster tests again on the oldest (K8S_OLDEST).
OLDEST_ASSETS := $(LOCALBIN)/k8s/$(K8S_OLDEST)
.PHONY: test-oldest
test-oldest: ## The CRD, RBAC, webhook, controller and cluster tests on the oldest supported release ($(K8S_OLDEST)).
	K8S_VERSION=$(K8S_OLDEST) hack/controlplane/build.sh cluster
	KUBEBUILDER_ASSETS=$(OLDEST_ASSETS) go test ./test/crd/... ./test/rbac/... ./test/webhook/... ./controllers/... -count=1
	KUBEBUILDER_ASSETS=$(OLDEST_ASSETS) DEV_CLUSTER_BIN_DIR=$(OLDEST_ASSETS) E2E_REQUIRED=1 go test ./test/cluster/... -count=1 -run 'E2E|ControlPlane'

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files (CRDs, RBAC, webhook, deepcopy) are not what the sources generate.
	@git diff --exit-code -- api config internal/cli/crds || { echo "generated files are out of date: run 'make manifests generate' and commit"; exit 1; }

##@ Benchmarks

.PHONY: bench
bench: envtest $(KYVERNO) $(KYVERNO_ADMISSION) ## Engine, webhook handler, end-to-end admission (vs no webhook, a ValidatingAdmissionPolicy and Kyverno), scale (10k, 100k) and offline (residencyctl scan vs kyverno apply) benchmarks into bench/results.md (~60 min; not part of `make test`).
	KYVERNO=$(KYVERNO) KYVERNO_ADMISSION=$(KYVERNO_ADMISSION) hack/bench.sh

$(KYVERNO): hack/kyverno/build.sh
	hack/kyverno/build.sh $@

$(KYVERNO_ADMISSION): hack/kyverno/build.sh
	hack/kyverno/build.sh $@ ./cmd/kyverno

##@ Local cluster

.PHONY: dev-cluster
dev-cluster: ## Start the local cluster (etcd, apiserver, controller-manager, scheduler, kwok nodes, CoreDNS with dnstap); KUBECONFIG=bin/dev-cluster/kubeconfig.
	K8S_VERSION=$(K8S_VERSION) hack/dev-cluster.sh up

.PHONY: dev-cluster-down
dev-cluster-down: ## Stop every process of the local cluster (by pid) and remove bin/dev-cluster.
	K8S_VERSION=$(K8S_VERSION) hack/dev-cluster.sh down

.PHONY: dev-cluster-status
dev-cluster-status: ## Show the local cluster's processes, ports, logs and kubeconfig path.
	K8S_VERSION=$(K8S_VERSION) hack/dev-cluster.sh status

##@ Demo

.PHONY: demo
demo: ## The tour: a local cluster of its own (bin/demo), the operator, the seed catalog, workloads in deny/warn/audit namespaces; cleans up after itself (DEMO_KEEP=1 keeps it).
	K8S_VERSION=$(K8S_VERSION) hack/demo.sh run

.PHONY: demo-up
demo-up: ## The tour, then leave the cluster and the operator running (export KUBECONFIG=bin/demo/cluster/kubeconfig).
	DEMO_KEEP=1 K8S_VERSION=$(K8S_VERSION) hack/demo.sh run

.PHONY: demo-down
demo-down: ## Stop what make demo-up left running (by pid) and remove bin/demo.
	K8S_VERSION=$(K8S_VERSION) hack/demo.sh down

.PHONY: demo-test
demo-test: ## Run the demo end to end twice (once interrupted) and check its output and that no process is left (test/demo).
	DEMO_E2E=1 go test ./test/demo -count=1 -v -timeout 20m

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS)

$(GOLANGCI): hack/tools/lint/go.mod
	cd hack/tools/lint && go build -trimpath -o $(GOLANGCI) sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter

# CoreDNS with only the plugins the observed-egress tests and the dev cluster
# use (hack/coredns: bind, file, hosts, dnstap, log, errors, metrics), pinned in
# hack/coredns/go.mod; its own module, so the operator's go.mod is untouched.
$(COREDNS): hack/coredns/go.mod hack/coredns/main.go
	cd hack/coredns && CGO_ENABLED=0 go build -trimpath -o $(COREDNS) .

.PHONY: coredns
coredns: $(COREDNS) ## Build CoreDNS (hack/coredns, pinned) from the module proxy into bin/ (once).

# remove_all_sd: Prometheus's own build tag that leaves out the service
# discovery plugins (cloud SDKs), which checking and testing rules never uses;
# the binary goes from 123 to 77 MB, and the cold build compiles that much less.
$(PROMTOOL):
	GOBIN=$(LOCALBIN) CGO_ENABLED=0 go install -trimpath -tags remove_all_sd github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool $(PROMETHEUS_VERSION) from the module proxy into bin/ (once).

# Helm is built from the Go module proxy with `go install`, in its own module
# context (the operator's go.mod is untouched), stamped as Helm's own Makefile
# stamps it: its version, and the Kubernetes version `helm template` and
# `helm lint` assume. Cold: about 5 minutes on 2 cores (~400 MB of modules,
# ~700 MB of build cache); afterwards nothing (the stamp file records it).
HELM_STAMP   := $(LOCALBIN)/.helm-$(HELM_VERSION)
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) -X helm.sh/helm/v3/internal/version.metadata= \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=36 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=36

.PHONY: helm
helm: ## Build helm $(HELM_VERSION) from the module proxy into bin/ (once).
	@[ -x $(HELM) ] || rm -f $(HELM_STAMP)
	@$(MAKE) --no-print-directory -q $(HELM_STAMP) || $(MAKE) --no-print-directory $(HELM_STAMP)
$(HELM_STAMP):
	@echo "building helm $(HELM_VERSION) into $(LOCALBIN) (once; about 5 minutes on a cold cache)"
	GOBIN=$(LOCALBIN) CGO_ENABLED=0 go install -trimpath -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@touch $@

# `make test` builds helm too, but a failed build (no module proxy) only
# skips the chart tests, which say so, instead of failing everything else.
.PHONY: helm-or-skip
helm-or-skip:
	@$(MAKE) --no-print-directory helm || echo "warning: helm $(HELM_VERSION) could not be built: the chart tests (test/chart) will be skipped"
