package residency

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// discoveryCorpus is test/fixtures/discovery/corpus.yaml: values as
// workloads give them, each labelled with the external endpoints a reviewer
// would want checked.
const discoveryCorpus = "../../test/fixtures/discovery/corpus.yaml"

// corpusEntry is one labelled value (the file's header explains the fields).
type corpusEntry struct {
	Key        string   `json:"key"`
	Value      string   `json:"value"`
	File       string   `json:"file"`
	Args       []string `json:"args"`
	Label      string   `json:"label"`
	Expect     []string `json:"expect"`
	Namespace  string   `json:"namespace"`
	Namespaces []string `json:"namespaces"`
	Served     []string `json:"served"`
	From       string   `json:"from"`
}

func loadDiscoveryCorpus(tb testing.TB) []corpusEntry {
	tb.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(discoveryCorpus))
	if err != nil {
		tb.Fatal(err)
	}
	var entries []corpusEntry
	if err := yaml.UnmarshalStrict(raw, &entries); err != nil {
		tb.Fatalf("%s: %v", discoveryCorpus, err)
	}
	for i, e := range entries {
		switch {
		case e.Label != "external" && e.Label != "internal" && e.Label != "not-an-endpoint":
			tb.Fatalf("entry %d: label %q", i, e.Label)
		case (e.Label == "external") != (len(e.Expect) > 0):
			tb.Fatalf("entry %d (%q): label %s with expect %q", i, e.Value, e.Label, e.Expect)
		case (e.File != "") && len(e.Args) > 0, e.Value == "" && len(e.Args) == 0:
			tb.Fatalf("entry %d: one of value (with key or file) or args", i)
		}
	}
	return entries
}

// pod builds the pod that gives the entry's value: an env var, a mounted
// ConfigMap file or the container's args.
func (e *corpusEntry) pod() (*PodSpec, PodContext) {
	c := corev1.Container{Name: "app"}
	ctx := PodContext{Namespace: "web"}
	if e.Namespace != "" {
		ctx.Namespace = e.Namespace
	}
	var vols []corev1.Volume
	switch {
	case len(e.Args) > 0:
		c.Args = e.Args
	case e.File != "":
		c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}
		vols = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}}}
		ctx.ConfigMaps = map[string]map[string]string{"app-config": {e.File: e.Value}}
	default:
		key := e.Key
		if key == "" {
			key = "VALUE"
		}
		c.Env = []corev1.EnvVar{{Name: key, Value: e.Value}}
	}
	if len(e.Namespaces) > 0 || len(e.Served) > 0 {
		ctx.Cluster = fakeCluster{namespaces: e.Namespaces, hosts: e.Served}
	}
	return PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: vols}), ctx
}

// corpusScore is discovery's precision and recall over the corpus, counted
// per endpoint: a found endpoint not expected is a false positive, an
// expected one not found a false negative.
type corpusScore struct {
	tp, fp, fn int
	misses     []string
}

func (s corpusScore) precision() float64 { return float64(s.tp) / float64(max(1, s.tp+s.fp)) }
func (s corpusScore) recall() float64    { return float64(s.tp) / float64(max(1, s.tp+s.fn)) }

func scoreDiscoveryCorpus(entries []corpusEntry) corpusScore {
	var s corpusScore
	for i := range entries {
		e := &entries[i]
		spec, ctx := e.pod()
		found := map[string]bool{}
		for _, ep := range DiscoverEgress(spec, ctx) {
			found[ep.String()] = true
		}
		want := map[string]bool{}
		for _, w := range e.Expect {
			want[w] = true
			if found[w] {
				s.tp++
			} else {
				s.fn++
				s.misses = append(s.misses, fmt.Sprintf("missed %s in %s", w, e.describe()))
			}
		}
		for f := range found {
			if !want[f] {
				s.fp++
				s.misses = append(s.misses, fmt.Sprintf("wrongly found %s in %s", f, e.describe()))
			}
		}
	}
	return s
}

func (e *corpusEntry) describe() string {
	switch {
	case e.File != "":
		return "file " + e.File
	case len(e.Args) > 0:
		return fmt.Sprintf("args %q", e.Args)
	}
	return fmt.Sprintf("%s=%q", e.Key, e.Value)
}

// TestDiscoveryCorpus measures discovery against the labelled corpus;
// `go test -run TestDiscoveryCorpus -v` prints precision and recall.
func TestDiscoveryCorpus(t *testing.T) {
	entries := loadDiscoveryCorpus(t)
	if len(entries) < 250 {
		t.Errorf("the corpus has %d values, want at least 250", len(entries))
	}
	s := scoreDiscoveryCorpus(entries)
	t.Logf("values=%d endpoints=%d precision=%.3f recall=%.3f", len(entries), s.tp+s.fn, s.precision(), s.recall())
	for _, m := range s.misses {
		t.Log(m)
	}
	if s.precision() < 0.98 || s.recall() < 0.95 {
		t.Errorf("precision %.3f (want >= 0.98), recall %.3f (want >= 0.95):\n%s", s.precision(), s.recall(), strings.Join(s.misses, "\n"))
	}
}

// BenchmarkDiscoveryCorpus reads the whole corpus per iteration and reports
// its precision and recall beside the time.
func BenchmarkDiscoveryCorpus(b *testing.B) {
	entries := loadDiscoveryCorpus(b)
	var s corpusScore
	for b.Loop() {
		s = scoreDiscoveryCorpus(entries)
	}
	b.ReportMetric(s.precision(), "precision")
	b.ReportMetric(s.recall(), "recall")
}
