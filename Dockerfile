# The operator image: a static manager on distroless, running as non-root.
# Build: docker build -t dataresidency-operator:dev .
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
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/residencyctl ./cmd/residencyctl

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/manager /out/residencyctl /
USER 65532:65532
ENTRYPOINT ["/manager"]
