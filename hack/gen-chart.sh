#!/usr/bin/env bash
# Regenerates the Helm chart's templates (dist/chart/templates/*.yaml) from
# what kustomize renders of config/: config/default (every object, the chart's
# defaults), config/default-certmanager (certManager.enabled) and
# config/default-monitoring (metrics.serviceMonitor, metrics.prometheusRule).
# Chart.yaml, values.yaml, values.schema.json and templates/_helpers.tpl are
# written by hand. test/chart fails when the templates are out of date, and
# checks that the chart renders what kustomize renders. kubebuilder's own
# helm/v2-alpha plugin cannot express the chart's values and variants:
# docs/install.md#how-the-chart-is-made.
#
#   hack/gen-chart.sh            regenerate dist/chart/templates
#   hack/gen-chart.sh --check    exit 1 if they are out of date
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v kubectl >/dev/null 2>&1; then
  kustomize() { kubectl kustomize "$@"; }
elif command -v kustomize >/dev/null 2>&1; then
  kustomize() { command kustomize build "$@"; }
else
  echo "gen-chart: needs kubectl (kubectl kustomize) or kustomize on PATH" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for overlay in default default-certmanager default-monitoring; do
  kustomize "config/$overlay" > "$tmp/$overlay.yaml"
done

out=dist/chart/templates
if [ "${1:-}" = --check ]; then
  mkdir -p "$tmp/templates"
  cp dist/chart/templates/_helpers.tpl "$tmp/templates/"
  out=$tmp/templates
fi
go run ./hack/genchart -default "$tmp/default.yaml" -certmanager "$tmp/default-certmanager.yaml" \
  -monitoring "$tmp/default-monitoring.yaml" -out "$out"

if [ "${1:-}" = --check ]; then
  if ! diff -r dist/chart/templates "$out" >&2; then
    echo "gen-chart: dist/chart/templates is out of date: run hack/gen-chart.sh (make chart)" >&2
    exit 1
  fi
  echo "gen-chart: dist/chart/templates is up to date"
else
  echo "gen-chart: wrote $(ls "$out"/*.yaml | wc -l) templates to $out"
fi
