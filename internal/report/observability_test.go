package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/observe"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/testenv"
)

// TestDashboardAndAlertsUseRealMetrics keeps config/grafana and
// config/prometheus in step with the metrics the manager exports.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	m := NewMetrics(findings.New(), func() *residency.Snapshot { return nil })
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	m.ObserveEvaluation("Deployment", 0)
	known := map[string]bool{}
	descs := make(chan *prometheus.Desc, 16)
	// Observed egress's metrics (internal/observe), registered beside these.
	om := observe.NewMetrics()
	go func() {
		m.Describe(descs)
		m.evaluations.Describe(descs)
		m.latency.Describe(descs)
		for _, c := range []prometheus.Collector{om.Frames, om.Dropped, om.Attributed, om.Unattributed, om.Connections} {
			c.Describe(descs)
		}
		close(descs)
	}()
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		if s := re.FindStringSubmatch(d.String()); s != nil {
			known[s[1]] = true
			known[s[1]+"_bucket"] = true
		}
	}
	used, err := testenv.UsedMetricNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range testenv.MonitoringFiles {
		if len(used[f]) == 0 {
			t.Errorf("%s uses no metric", f)
		}
		for _, n := range used[f] {
			if strings.HasPrefix(n, "controller_runtime_") {
				continue // controller-runtime's own: checked against a real scrape (test/faults TestTwoReplicas)
			}
			if !known[n] {
				t.Errorf("%s uses %s, which the manager does not export (known: %v)", f, n, known)
			}
		}
	}
}

// dataresidency_workload_declarations gives, per namespace, the workloads that
// declare what they send and those that do not, both series always, so that
// the dashboard's share is 0 (not missing) where nobody declares.
func TestDeclarationMetric(t *testing.T) {
	store := findings.New()
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i, w := range []struct {
		ns       string
		declared bool
	}{{"shop", true}, {"shop", false}, {"shop", true}, {"blog", false}} {
		store.Set(findings.Entry{Key: findings.Key{Kind: "Deployment", Namespace: w.ns, Name: fmt.Sprint("w", i)},
			Result: residency.Result{Verdict: residency.Compliant, Declared: w.declared}}, now)
	}
	m := NewMetrics(store, func() *residency.Snapshot { return nil })
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "dataresidency_workload_declarations" {
			continue
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["namespace"]+"/"+labels["declared"]] = mt.GetGauge().GetValue()
		}
	}
	want := map[string]float64{"shop/true": 2, "shop/false": 1, "blog/true": 0, "blog/false": 1}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
