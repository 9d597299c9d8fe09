// Command offline measures the offline CI step side by side: residencyctl
// scan and Kyverno's CLI (kyverno apply) over the same workload manifests,
// with comparable checks: residencyctl reads the residency catalog, kyverno
// applies the ValidatingAdmissionPolicy of the admission benchmark (the same
// CEL checks, the catalog written into it). Each runs as a whole process,
// alternately, several times; wall time and peak RSS (the kernel's
// ru_maxrss of the child) are reported as medians, with what each found, so
// that both are seen to judge the same workloads alike.
//
//	go run ./test/bench/offline -kyverno bin/kyverno-v1.19.1 -residencyctl bin/residencyctl
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/test/bench/benchdata"
)

type tool struct {
	WallMs     float64   `json:"wallMs"`
	PeakRSSMiB float64   `json:"peakRssMiB"`
	Violations int       `json:"violations"`
	RunsMs     []float64 `json:"runsMs"`
}

type result struct {
	Workloads    int     `json:"workloads"`
	Violating    int     `json:"violating"`
	Runs         int     `json:"runs"`
	InputMiB     float64 `json:"inputMiB"`
	Residencyctl tool    `json:"residencyctl"`
	Kyverno      tool    `json:"kyverno"`
	WallRatio    float64 `json:"residencyctlOverKyvernoWall"`
	RSSRatio     float64 `json:"residencyctlOverKyvernoRss"`
}

func main() {
	var (
		workloads = flag.Int("workloads", 1000, "Deployment manifests")
		violating = flag.Int("violating", 100, "of which send data to the vendor resting only on Privacy Shield")
		runs      = flag.Int("runs", 5, "runs of each tool, alternating")
		kyverno   = flag.String("kyverno", "", "Kyverno CLI binary")
		rctl      = flag.String("residencyctl", "bin/residencyctl", "residencyctl binary")
	)
	flag.Parse()
	if *kyverno == "" {
		fail(fmt.Errorf("-kyverno is required"))
	}
	dir, err := os.MkdirTemp("", "offline-bench")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	size, err := write(dir, *workloads, *violating)
	if err != nil {
		fail(err)
	}
	res := result{Workloads: *workloads, Violating: *violating, Runs: *runs, InputMiB: round(float64(size) / (1 << 20))}
	manifests := filepath.Join(dir, "workloads.yaml")
	var rWall, kWall, rRSS, kRSS []float64
	for i := 0; i < *runs; i++ {
		out, wall, rss, err := run(*rctl, "scan", "-f", manifests, "-f", filepath.Join(dir, "catalog.yaml"), "-o", "json", "--fail-on", "never")
		if err != nil {
			fail(fmt.Errorf("residencyctl: %w\n%s", err, out))
		}
		var scan struct{ Summary struct{ Violations int } }
		if err := json.Unmarshal(out, &scan); err != nil {
			fail(fmt.Errorf("residencyctl output: %w", err))
		}
		res.Residencyctl.Violations = scan.Summary.Violations
		rWall, rRSS = append(rWall, wall), append(rRSS, rss)

		out, wall, rss, err = run(*kyverno, "apply", filepath.Join(dir, "policy.yaml"), "--resource", manifests)
		if err != nil {
			if _, exit := err.(*exec.ExitError); !exit { // it exits 1 when a resource fails
				fail(fmt.Errorf("kyverno: %w\n%s", err, out))
			}
		}
		m := regexp.MustCompile(`pass: (\d+), fail: (\d+), warn: \d+, error: (\d+)`).FindSubmatch(out)
		if m == nil {
			fail(fmt.Errorf("kyverno printed no summary:\n%s", tail(out)))
		}
		if string(m[3]) != "0" {
			fail(fmt.Errorf("kyverno reported errors:\n%s", tail(out)))
		}
		res.Kyverno.Violations, _ = strconv.Atoi(string(m[2]))
		kWall, kRSS = append(kWall, wall), append(kRSS, rss)
	}
	res.Residencyctl.WallMs, res.Residencyctl.PeakRSSMiB, res.Residencyctl.RunsMs = median(rWall), median(rRSS), rWall
	res.Kyverno.WallMs, res.Kyverno.PeakRSSMiB, res.Kyverno.RunsMs = median(kWall), median(kRSS), kWall
	res.WallRatio = round(res.Residencyctl.WallMs / res.Kyverno.WallMs)
	res.RSSRatio = round(res.Residencyctl.PeakRSSMiB / res.Kyverno.PeakRSSMiB)
	if res.Residencyctl.Violations != *violating || res.Kyverno.Violations != *violating {
		fail(fmt.Errorf("the tools disagree with the input: %d violating workloads, residencyctl found %d, kyverno %d",
			*violating, res.Residencyctl.Violations, res.Kyverno.Violations))
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// write puts the catalog, the policy and the manifests in dir and returns
// the manifests' size.
func write(dir string, n, violating int) (int, error) {
	cat := benchdata.NewCatalog()
	var buf bytes.Buffer
	for _, o := range cat.Objects {
		o.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(reflect.TypeOf(o).Elem().Name()))
		if err := doc(&buf, o); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog.yaml"), buf.Bytes(), 0o644); err != nil {
		return 0, err
	}
	// Offline there are no Namespace labels to bind by: the policy and its
	// binding match every namespace.
	pol, bind, err := benchdata.AdmissionPolicy(cat)
	if err != nil {
		return 0, err
	}
	unstructured.RemoveNestedField(pol.Object, "spec", "matchConstraints", "namespaceSelector")
	unstructured.RemoveNestedField(bind.Object, "spec", "matchResources")
	buf.Reset()
	for _, o := range []any{pol.Object, bind.Object} {
		if err := doc(&buf, o); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), buf.Bytes(), 0o644); err != nil {
		return 0, err
	}
	buf.Reset()
	every := n / max(violating, 1)
	bad := 0
	for i := 0; i < n; i++ {
		d := benchdata.RealisticDeployment()
		if violating > 0 && i%every == 0 && bad < violating {
			d = benchdata.ViolatingDeployment("shop")
			bad++
		}
		d.APIVersion, d.Kind = "apps/v1", "Deployment"
		d.Name, d.Namespace = fmt.Sprintf("app-%05d", i), "shop"
		if err := doc(&buf, d); err != nil {
			return 0, err
		}
	}
	return buf.Len(), os.WriteFile(filepath.Join(dir, "workloads.yaml"), buf.Bytes(), 0o644)
}

func doc(buf *bytes.Buffer, o any) error {
	b, err := yaml.Marshal(o)
	if err != nil {
		return err
	}
	buf.WriteString("---\n")
	buf.Write(b)
	return nil
}

// run runs a command to its end and returns its output, wall time (ms) and
// peak RSS (MiB).
func run(name string, args ...string) ([]byte, float64, float64, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := float64(time.Since(start).Microseconds()) / 1000
	var rss float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return out.Bytes(), round(wall), round(rss), err
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return round((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "offline:", err)
	os.Exit(1)
}
