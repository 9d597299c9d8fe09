// Command scale measures the operator at cluster scale, against a real
// kube-apiserver (test/cluster, control plane only) and the manager as its own
// process: the time until every namespace's Report is current after the
// operator starts over 10,000 existing Deployments, the time until the Reports
// reflect the invalidation of a TransferBasis that 1,000 of them rest on, the
// manager's peak RSS and its memory per cached workload. It prints one JSON
// object on stdout; hack/bench.sh writes it into bench/results.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/bench/benchdata"
	"github.com/dataresidency/operator/test/cluster"
)

type result struct {
	Deployments           int     `json:"deployments"`
	Namespaces            int     `json:"namespaces"`
	Subprocessors         int     `json:"subprocessors"`
	Bases                 int     `json:"bases"`
	Locations             int     `json:"locations"`
	CreateSeconds         float64 `json:"createSeconds"`
	ColdStartSeconds      float64 `json:"coldStartSeconds"`
	InvalidationWorkloads int     `json:"invalidationWorkloads"`
	InvalidationSeconds   float64 `json:"invalidationSeconds"`
	EvaluationSeconds     float64 `json:"evaluationSeconds"`
	PeakRSSMiB            float64 `json:"peakRssMiB"`
	RSSMiBAfter           float64 `json:"rssMiBAfter"`
	RSSBytesPerWorkload   float64 `json:"rssBytesPerWorkload"`
	ManagerCPUSeconds     float64 `json:"managerCpuSeconds"`
	// Where the RSS is, at the end: anonymous memory (the Go heap and
	// runtime) and file-backed pages (the binary), and the Go heap as the
	// manager's metrics report it: in use, and the size at which the
	// garbage collector runs next (GOGC, GOMEMLIMIT).
	RSSAnonMiB   float64 `json:"rssAnonMiB"`
	RSSFileMiB   float64 `json:"rssFileMiB"`
	HeapInuseMiB float64 `json:"heapInuseMiB"`
	NextGCMiB    float64 `json:"nextGcMiB"`
	// LiveHeapMiB is the Go heap right after a collection (forced through
	// pprof): what the manager keeps, the informer cache first;
	// LiveHeapBytesPerWorkload divides it by the workloads (fixed costs included).
	LiveHeapMiB              float64 `json:"liveHeapMiB"`
	LiveHeapBytesPerWorkload float64 `json:"liveHeapBytesPerWorkload"`
	ReportsChecked           int     `json:"reportsChecked"`
	// The Reports as stored, after the cold start: the largest one's JSON
	// and the average bytes per result (what each Report write costs the
	// API server grows with them).
	LargestReportKiB float64 `json:"largestReportKiB"`
	BytesPerResult   float64 `json:"bytesPerResult"`
	Results          int     `json:"results"`
	Reports          int     `json:"reports"`
	// LargestReportKiBAfter is the largest Report once the affected
	// workloads fail (their messages are longer).
	LargestReportKiBAfter float64 `json:"largestReportKiBAfter"`
	// CPU seconds each process spent from the invalidation until every
	// affected Report was current (kube-apiserver, etcd, the manager), and
	// the requests the API server served in that time by verb and resource.
	InvalidationCPU      map[string]float64 `json:"invalidationCpuSeconds"`
	InvalidationRequests map[string]float64 `json:"invalidationRequests"`
}

var (
	waitLimit = 5 * time.Minute
	pprofDir  string
	memLimit  string
	extraArgs string
)

const (
	pprofAddr   = "127.0.0.1:18089"
	metricsAddr = "127.0.0.1:18090"
)

// evaluations reads the manager's evaluation counter.
func evaluations() float64 {
	return managerMetric("dataresidency_workload_evaluations_total{")
}

// managerMetric sums the samples of the manager's metrics whose line starts
// with prefix (a metric name followed by "{" or " "); -1 when unreadable.
func managerMetric(prefix string) float64 {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var total float64
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// managerMetrics reads the manager's samples, by name and labels (nil when unreadable).
func managerMetrics() map[string]float64 {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			v, _ := strconv.ParseFloat(line[i+1:], 64)
			out[line[:i]] += v
		}
	}
	return out
}

// fetchProfile saves a pprof profile of the manager.
func fetchProfile(path, file string) {
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/" + path)
	if err != nil {
		logf("pprof %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(pprofDir, file))
	if err != nil {
		logf("pprof: %v", err)
		return
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		logf("pprof: %v", err)
	}
	if err := f.Close(); err != nil {
		logf("pprof: %v", err)
	}
}

func main() {
	var (
		deployments = flag.Int("deployments", 10000, "Deployments to create")
		namespaces  = flag.Int("namespaces", 100, "namespaces to spread them over")
		subs        = flag.Int("subprocessors", 200, "Subprocessors in the catalog")
		affected    = flag.Int("affected", 1000, "Deployments resting on the basis that is invalidated")
		manager     = flag.String("manager", filepath.Join(testenv.Root(), "bin", "manager"), "manager binary")
		workers     = flag.Int("concurrency", 32, "concurrent creates")
	)
	flag.StringVar(&extraArgs, "manager-args", "", "extra space-separated flags for the manager")
	flag.StringVar(&memLimit, "gomemlimit", "", "GOMEMLIMIT for the manager (as a Deployment would set from its memory limit); empty: none")
	flag.DurationVar(&waitLimit, "wait", waitLimit, "how long to wait for the Reports (each phase)")
	flag.StringVar(&pprofDir, "pprof-dir", "", "write the manager's CPU profile (cold start) and heap profile (after it) here")
	flag.Parse()
	if err := run(*deployments, *namespaces, *subs, *affected, *workers, *manager); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(nDeploy, nNS, nSubs, nAffected, workers int, managerBin string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "scale-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cl, err := cluster.Start(ctx, cluster.Options{Dir: dir, SkipControllerManager: true, SkipScheduler: true, SkipKwok: true})
	if err != nil {
		return err
	}
	defer func() {
		if err := cl.Stop(); err != nil {
			logf("stopping the control plane: %v", err)
		}
	}()
	if err := installCRDs(cl.Kubeconfig()); err != nil {
		return err
	}
	cfg := rest.CopyConfig(cl.RESTConfig())
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		return err
	}
	res := result{Deployments: nDeploy, Namespaces: nNS, Subprocessors: nSubs, Bases: nSubs / 2, Locations: 50, InvalidationWorkloads: nAffected}

	// The catalog: 50 locations (half EEA, half US), 100 SCC bases, 200 subprocessors.
	logf("creating the catalog")
	var objs []client.Object
	for i := 0; i < res.Locations; i++ {
		country := "DE"
		if i%2 == 1 {
			country = "US"
		}
		objs = append(objs, &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("loc-%03d", i)},
			Spec: v1alpha1.ProcessingLocationSpec{Country: v1alpha1.CountryCode(country)}})
	}
	for i := 0; i < res.Bases; i++ {
		objs = append(objs, &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("basis-%03d", i)},
			Spec: v1alpha1.TransferBasisSpec{Mechanism: v1alpha1.MechanismStandardContractualClauses, Countries: []v1alpha1.CountryCode{"US"}}})
	}
	for i := 0; i < nSubs; i++ {
		objs = append(objs, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sub-%03d", i)},
			Spec: v1alpha1.SubprocessorSpec{
				LegalName: fmt.Sprintf("Vendor %d Inc.", i), Country: "US", Purpose: "benchmark",
				DataCategories:      []v1alpha1.DataCategory{"user.contact", "user.name"},
				ProcessingLocations: []v1alpha1.ObjectName{v1alpha1.ObjectName(fmt.Sprintf("loc-%03d", i%res.Locations))},
				TransferBases:       []v1alpha1.ObjectName{v1alpha1.ObjectName(fmt.Sprintf("basis-%03d", basisOf(i, res.Bases)))},
				Egress:              &v1alpha1.Egress{Hosts: []string{fmt.Sprintf("*.vendor-%d.example", i)}},
			}})
	}
	objs = append(objs, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	for i := 0; i < nNS; i++ {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%03d", i),
			Labels: map[string]string{v1alpha1.LabelEnforcement: "audit"}}})
	}
	if err := createAll(ctx, c, objs, workers); err != nil {
		return err
	}

	// The workloads: the first nAffected use sub-001, the only subprocessor
	// resting on basis-001; the others spread over sub-002..sub-199.
	logf("creating %d Deployments in %d namespaces", nDeploy, nNS)
	objs = objs[:0]
	affectedSet := map[string]bool{}
	for i := 0; i < nDeploy; i++ {
		sub := 2 + i%(nSubs-2) // never sub-000/sub-001 by default
		if i < nAffected {
			sub = 1 // sub-001 rests on basis-001
		}
		ns := fmt.Sprintf("team-%03d", i%nNS)
		name := fmt.Sprintf("app-%05d", i)
		if i < nAffected {
			affectedSet[ns+"/"+name] = true
		}
		objs = append(objs, benchDeployment(ns, name, sub))
	}
	start := time.Now()
	if err := createAll(ctx, c, objs, workers); err != nil {
		return err
	}
	res.CreateSeconds = time.Since(start).Seconds()
	logf("created in %.1fs", res.CreateSeconds)

	// Cold start of the operator.
	logf("starting the manager")
	args := []string{"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=0", "--zap-log-level=error",
		"--pprof-bind-address=" + pprofAddr}
	args = append(args, strings.Fields(extraArgs)...)
	mgr := exec.Command(managerBin, args...)
	mgr.Env = append(os.Environ(), "KUBECONFIG="+cl.Kubeconfig(), "ENABLE_WEBHOOKS=false")
	if memLimit != "" {
		mgr.Env = append(mgr.Env, "GOMEMLIMIT="+memLimit)
	}
	mgr.Stderr = os.Stderr
	start = time.Now()
	if err := mgr.Start(); err != nil {
		return err
	}
	defer func() { _ = mgr.Process.Kill(); _ = mgr.Wait() }()
	var profiling sync.WaitGroup
	if pprofDir != "" {
		profiling.Add(1)
		go func() {
			defer profiling.Done()
			time.Sleep(500 * time.Millisecond)
			fetchProfile("profile?seconds=25", "cpu-coldstart.pprof")
		}()
	}
	var peak atomic.Int64
	stopRSS := watchRSS(mgr.Process.Pid, &peak)
	defer stopRSS()
	// Reports are watched through an informer, so that checking them costs the
	// API server (on the same two cores) one event per changed Report.
	reports, err := ctrlcache.New(cfg, ctrlcache.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		return err
	}
	if _, err := reports.GetInformer(ctx, &openreports.Report{}); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = reports.Start(cctx) }()
	reports.WaitForCacheSync(cctx)
	if err := waitReports(ctx, reports, nDeploy, nil, &res); err != nil {
		return err
	}
	res.ColdStartSeconds = time.Since(start).Seconds()
	logf("every Report current %.1fs after start", res.ColdStartSeconds)
	if res.Reports, res.Results, res.BytesPerResult, res.LargestReportKiB, err = measureReports(ctx, cfg); err != nil {
		return err
	}
	if pprofDir != "" {
		fetchProfile("heap", "heap-after-coldstart.pprof")
		profiling.Wait()
		if os.Getenv("SCALE_DEBUG") != "" {
			if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, line := range strings.Split(string(raw), "\n") {
					if strings.Contains(line, `controller="report"`) && (strings.Contains(line, "_sum") || strings.Contains(line, "_count") || strings.Contains(line, "total")) {
						logf("%s", line)
					}
				}
			}
		}
	}

	// The invalidation meets an idle operator, as a legal event would: the
	// cold start's own status writes (batched counts) are done.
	if err := benchdata.WaitQuiet(ctx, waitLimit, managerMetrics); err != nil {
		return err
	}

	// Invalidate basis-001: the affected Deployments must all fail.
	var tb v1alpha1.TransferBasis
	if err := c.Get(ctx, types.NamespacedName{Name: "basis-001"}, &tb); err != nil {
		return err
	}
	tb.Spec.Mechanism = v1alpha1.MechanismPrivacyShield
	if pprofDir != "" {
		profiling.Add(1)
		go func() {
			defer profiling.Done()
			fetchProfile("profile?seconds=8", "cpu-invalidation.pprof")
		}()
		profiling.Add(1)
		go func() {
			defer profiling.Done()
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return
			}
			raw, err := cs.RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "8").DoRaw(ctx)
			if err != nil {
				logf("apiserver profile: %v", err)
				return
			}
			_ = os.WriteFile(filepath.Join(pprofDir, "apiserver-cpu-invalidation.pprof"), raw, 0o644)
		}()
		time.Sleep(100 * time.Millisecond)
	}
	reqBefore := apiserverRequests(ctx, cfg)
	pids := map[string]int{"manager": mgr.Process.Pid}
	for _, p := range cl.Processes() {
		pids[p.Name] = p.Pid
	}
	cpuBefore := map[string]float64{}
	for name, pid := range pids {
		cpuBefore[name], _ = cpuSeconds(pid)
	}
	evalBefore := evaluations()
	start = time.Now()
	if err := c.Update(ctx, &tb); err != nil {
		return err
	}
	go func() {
		for time.Since(start) < 30*time.Second {
			if e := evaluations(); e-evalBefore >= float64(nAffected) {
				logf("the manager evaluated the %d affected workloads %.2fs after the invalidation", nAffected, time.Since(start).Seconds())
				res.EvaluationSeconds = time.Since(start).Seconds()
				return
			}
			// Each scrape computes the manager's metrics over every
			// workload (about 50 ms of CPU at 100,000): poll less often at scale,
			// or the polling itself slows the evaluations it times.
			time.Sleep(time.Duration(max(1, nDeploy/10000)) * 50 * time.Millisecond)
		}
	}()
	if err := waitReports(ctx, reports, nDeploy, affectedSet, &res); err != nil {
		return err
	}
	res.InvalidationSeconds = time.Since(start).Seconds()
	res.InvalidationCPU = map[string]float64{}
	for name, pid := range pids {
		if v, err := cpuSeconds(pid); err == nil {
			res.InvalidationCPU[name] = v - cpuBefore[name]
		}
	}
	res.InvalidationRequests = map[string]float64{}
	for k, v := range apiserverRequests(ctx, cfg) {
		if d := v - reqBefore[k]; d >= 10 && !strings.HasPrefix(k, "WATCH") && !strings.HasPrefix(k, "GET ") {
			res.InvalidationRequests[k] = d
		}
	}
	if _, _, _, res.LargestReportKiBAfter, err = measureReports(ctx, cfg); err != nil {
		return err
	}
	logf("during the invalidation: CPU seconds %v, requests %v", res.InvalidationCPU, res.InvalidationRequests)
	logf("the %d affected workloads fail in their Reports %.2fs after the invalidation", nAffected, res.InvalidationSeconds)
	profiling.Wait()

	res.PeakRSSMiB = float64(peak.Load()) / (1 << 20)
	if cpu, err := cpuSeconds(mgr.Process.Pid); err == nil {
		res.ManagerCPUSeconds = cpu
	}
	if rss, err := statusKB(mgr.Process.Pid, "VmRSS:"); err == nil {
		res.RSSMiBAfter = float64(rss) / 1024
		res.RSSBytesPerWorkload = float64(rss*1024) / float64(nDeploy)
	}
	if v, err := statusKB(mgr.Process.Pid, "RssAnon:"); err == nil {
		res.RSSAnonMiB = float64(v) / 1024
	}
	if v, err := statusKB(mgr.Process.Pid, "RssFile:"); err == nil {
		res.RSSFileMiB = float64(v) / 1024
	}
	res.HeapInuseMiB = managerMetric("go_memstats_heap_inuse_bytes ") / (1 << 20)
	res.NextGCMiB = managerMetric("go_memstats_next_gc_bytes ") / (1 << 20)
	if resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?gc=1"); err == nil {
		w := io.Writer(io.Discard)
		if pprofDir != "" {
			// The live heap, after a collection: what the manager keeps.
			if f, err := os.Create(filepath.Join(pprofDir, "heap-live.pprof")); err == nil {
				defer f.Close()
				w = f
			}
		}
		_, _ = io.Copy(w, resp.Body)
		_ = resp.Body.Close()
		live := managerMetric("go_memstats_heap_alloc_bytes ")
		res.LiveHeapMiB = live / (1 << 20)
		res.LiveHeapBytesPerWorkload = live / float64(nDeploy)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// benchDeployment declares subprocessor sub and talks to its API (discovered
// from the environment and attributed to it by its egress claim).
func benchDeployment(ns, name string, sub int) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: map[string]string{
			v1alpha1.AnnotationSubprocessors:  fmt.Sprintf("sub-%03d", sub),
			v1alpha1.AnnotationDataCategories: "user.contact.email,user.name",
		}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					Env: []corev1.EnvVar{
						{Name: "DATABASE_URL", Value: "postgres://db." + ns + ".svc.cluster.local:5432/app"},
						{Name: "API_ENDPOINT", Value: fmt.Sprintf("https://api.vendor-%d.example/v1", sub)},
						{Name: "LOG_LEVEL", Value: "info"},
					},
				}}},
			},
		},
	}
}

func createAll(ctx context.Context, c client.Client, objs []client.Object, workers int) error {
	var wg sync.WaitGroup
	ch := make(chan client.Object)
	var firstErr error
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range ch {
				if err := c.Create(ctx, o); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("create %s: %w", o.GetName(), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, o := range objs {
		ch <- o
	}
	close(ch)
	wg.Wait()
	return firstErr
}

// waitReports polls the Reports until every Deployment has results and, when
// failing is given, exactly those workloads fail.
func waitReports(ctx context.Context, c client.Reader, n int, failing map[string]bool, res *result) error {
	deadline := time.Now().Add(waitLimit)
	debug, lastFails := os.Getenv("SCALE_DEBUG") != "", -1
	for {
		var list openreports.ReportList
		if err := c.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		seen := map[string]bool{}
		fails := 0
		wrong := 0
		var sample string
		for _, r := range list.Items {
			for _, rr := range r.Results {
				key := r.Namespace + "/" + rr.Subjects[0].Name
				seen[key] = true
				if rr.Result == "fail" {
					if failing[key] {
						fails++
					} else {
						wrong++
						sample = key + " " + rr.Rule + ": " + rr.Description
					}
				}
			}
		}
		res.ReportsChecked = len(list.Items)
		if debug && failing != nil && fails != lastFails {
			logf("progress: %d of %d affected workloads fail", fails, len(failing))
			lastFails = fails
		}
		done := len(seen) == n && wrong == 0 && (failing == nil || fails >= len(failing))
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reports not current after %s: %d of %d workloads seen, %d of %d failing, %d unexpected failures (e.g. %s)",
				waitLimit, len(seen), n, fails, len(failing), wrong, sample)
		}
		// Reading every result costs this process (on the same cores) about
		// a millisecond per thousand workloads: poll less often at scale.
		time.Sleep(time.Duration(max(1, n/10000)) * 50 * time.Millisecond)
	}
}

func watchRSS(pid int, peak *atomic.Int64) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v, err := statusKB(pid, "VmHWM:"); err == nil && v*1024 > peak.Load() {
					peak.Store(v * 1024)
				}
			}
		}
	}()
	return func() { close(done) }
}

func statusKB(pid int, field string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not found", field)
}

func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil
}

// basisOf gives subprocessor i its basis; only sub-001 rests on basis-001.
func basisOf(i, bases int) int {
	b := i % bases
	if b == 1 && i != 1 {
		b = 2
	}
	return b
}

func installCRDs(kubeconfig string) error {
	for _, dir := range []string{"config/crd/bases", "config/crd/external"} {
		cmd := exec.Command("kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", filepath.Join(testenv.Root(), dir))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("installing CRDs: %v\n%s", err, out)
		}
	}
	time.Sleep(2 * time.Second) // let the CRDs be established
	return nil
}

// measureReports reads every Report as the API server stores it (JSON): how
// many, their results, the average bytes per result and the largest Report.
func measureReports(ctx context.Context, cfg *rest.Config) (reports, results int, bytesPerResult, largestKiB float64, err error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	raw, err := cs.RESTClient().Get().AbsPath("/apis/openreports.io/v1alpha1/reports").DoRaw(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return 0, 0, 0, 0, err
	}
	var total int
	for _, item := range list.Items {
		var r struct {
			Results []json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(item, &r); err != nil {
			return 0, 0, 0, 0, err
		}
		if os.Getenv("SCALE_DEBUG") != "" && len(r.Results) > 0 && total == 0 {
			logf("a result: %s", r.Results[0])
		}
		results += len(r.Results)
		total += len(item)
		largestKiB = max(largestKiB, float64(len(item))/1024)
	}
	if results > 0 {
		bytesPerResult = float64(total) / float64(results)
	}
	logf("%d Reports, %d results, %.0f bytes per result, the largest %.0f KiB", len(list.Items), results, bytesPerResult, largestKiB)
	return len(list.Items), results, bytesPerResult, largestKiB, nil
}

// apiserverRequests reads apiserver_request_total by verb and resource.
func apiserverRequests(ctx context.Context, cfg *rest.Config) map[string]float64 {
	out := map[string]float64{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return out
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[strings.Index(line, "{")+1:strings.Index(line, "}")], ",") {
			if i := strings.Index(kv, "="); i > 0 {
				labels[kv[:i]] = strings.Trim(kv[i+1:], `"`)
			}
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		out[labels["verb"]+" "+labels["resource"]+"/"+labels["subresource"]] += v
	}
	return out
}
