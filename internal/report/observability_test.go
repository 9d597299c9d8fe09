package report

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/residency"
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
	go func() { m.Describe(descs); m.evaluations.Describe(descs); m.latency.Describe(descs); close(descs) }()
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		if s := re.FindStringSubmatch(d.String()); s != nil {
			known[s[1]] = true
			known[s[1]+"_bucket"] = true
		}
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	used := regexp.MustCompile(`dataresidency_[a-z_]+`)
	for _, f := range []string{"config/grafana/dashboard.json", "config/prometheus/rules.yaml"} {
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		names := used.FindAllString(string(raw), -1)
		if len(names) == 0 {
			t.Errorf("%s uses no dataresidency metric", f)
		}
		for _, n := range names {
			if strings.HasPrefix(n, "dataresidency_operator") {
				continue // object names, not metrics
			}
			if !known[n] {
				t.Errorf("%s uses %s, which the manager does not export (known: %v)", f, n, known)
			}
		}
	}
}
