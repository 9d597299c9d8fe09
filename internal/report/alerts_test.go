package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
)

// TestAlertRulesWithPromtool checks config/prometheus/rules.yaml with
// Prometheus's own tool (bin/promtool, `make promtool`): `check rules` on the
// PrometheusRule's groups, and `test rules` with the unit tests of
// config/prometheus/rules_test.yaml (each alert fires when it should, and
// stays silent when it should not).
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool := filepath.Join(testenv.Root(), "bin", "promtool")
	if _, err := os.Stat(promtool); err != nil {
		testenv.MissingTool(t, "no %s (make promtool)", promtool)
	}
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A PrometheusRule's spec is a Prometheus rule file.
	var rule struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &rule); err != nil {
		t.Fatal(err)
	}
	groups, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), groups, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "prometheus", "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "rules_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		} else {
			t.Logf("promtool %v:\n%s", args, out)
		}
	}

	// Every alert has a unit test.
	var alerts struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
			} `json:"rules"`
		} `json:"groups"`
	}
	var cases struct {
		Tests []struct {
			AlertRuleTest []struct {
				AlertName string `json:"alertname"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(groups, &alerts); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(tests, &cases); err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, c := range cases.Tests {
		for _, a := range c.AlertRuleTest {
			tested[a.AlertName] = true
		}
	}
	for _, g := range alerts.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !tested[r.Alert] {
				t.Errorf("alert %s has no test in config/prometheus/rules_test.yaml", r.Alert)
			}
		}
	}
}
