# The operator image: a static manager (and residencyctl) on distroless, as
# the numeric non-root user the Deployment's runAsNonRoot can verify.
# Build: docker build -t dataresidency-operator:dev --build-arg VERSION=$(git describe --tags --always) .
# config/default and the Helm chart (dist/chart) run it with a read-only root
# filesystem, no capabilities, seccomp RuntimeDefault (docs/install.md).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
# -buildvcs=false: .git is not in the build context (.dockerignore).
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X github.com/dataresidency/operator/internal/cli.Version=${VERSION}" -o /out/residencyctl ./cmd/residencyctl

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="dataresidency-operator" \
      org.opencontainers.image.description="Kubernetes operator keeping GDPR data residency promises: transfer bases, subprocessors, workload flows, admission" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/manager /out/residencyctl /
# distroless's nonroot user, by number: runAsNonRoot needs a numeric UID to check.
USER 65532:65532
ENTRYPOINT ["/manager"]
