# The data residency operator. `make help` lists the targets.

K8S_VERSION        ?= v1.36.3
CONTROLLER_TOOLS   ?= v0.21.0
GOLANGCI_LINT      ?= v2.15.0
FUZZTIME           ?= 10s

LOCALBIN           := $(CURDIR)/bin
CONTROLLER_GEN     := $(LOCALBIN)/controller-gen
GOLANGCI           := $(LOCALBIN)/golangci-lint
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
lint: $(GOLANGCI) ## golangci-lint (installed from the module proxy into bin/).
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

.PHONY: run
run: manifests generate ## Run the manager against the current kubeconfig (ENABLE_WEBHOOKS=false to skip the webhook).
	go run ./cmd/manager $(ARGS)

##@ Tests

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from the module proxy into bin/k8s/$(K8S_VERSION) (once).
	K8S_VERSION=$(K8S_VERSION) hack/controlplane/build.sh envtest

.PHONY: test
test: envtest ## Unit tests, envtest integration tests against a real API server, short fuzz runs.
	go test ./... -count=1
	hack/fuzz.sh $(FUZZTIME)

##@ Local cluster

.PHONY: dev-cluster
dev-cluster: ## Start the local cluster (etcd, apiserver, controller-manager, scheduler, kwok nodes); KUBECONFIG=bin/dev-cluster/kubeconfig.
	K8S_VERSION=$(K8S_VERSION) hack/dev-cluster.sh up

.PHONY: dev-cluster-down
dev-cluster-down: ## Stop every process of the local cluster (by pid) and remove bin/dev-cluster.
	K8S_VERSION=$(K8S_VERSION) hack/dev-cluster.sh down

.PHONY: dev-cluster-status
dev-cluster-status: ## Show the local cluster's processes, ports, logs and kubeconfig path.
	K8S_VERSION=$(K8S_VERSION) hack/dev-cluster.sh status

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS)

$(GOLANGCI):
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT)
