// Command admission measures what the workloads webhook adds to admission
// through a real kube-apiserver (test/cluster: etcd and kube-apiserver only;
// Deployments are just stored), against no admission check at all and
// against an in-tree ValidatingAdmissionPolicy doing the comparable CEL
// checks (policy.yaml). It creates Deployments (a realistic ~10 KB pod
// template, compliant, so every create is admitted: the point is the added
// latency) at a fixed concurrency in three phases, all in one run against
// the same API server:
//
//	none     no webhook configuration, no policy binding
//	webhook  the operator (bin/manager, its own process) as a
//	         ValidatingWebhookConfiguration on https://127.0.0.1:<port>,
//	         in namespaces labelled dataresidency.io/enforcement=deny
//	vap      the ValidatingAdmissionPolicy and its binding
//	kyverno  (with -kyverno) Kyverno's admission controller, its own
//	         process with webhooks registered by URL, enforcing the same
//	         checks as a Kyverno ValidatingPolicy (benchdata.KyvernoPolicy)
//
// in rounds, each round running the three in a random order (seeded), so
// that drift (the store growing, a neighbour's load) spreads over all three.
// The manager runs during all phases (its controllers reconcile every
// Deployment created, whichever phase created it, and write the namespaces'
// Reports); only the admission configuration changes, and each change is
// confirmed by a server-side dry run of a violating Deployment before the
// phase starts. Every phase starts from the same state: the Deployments of
// the previous one deleted, the manager idle (queues empty, Report batches
// written).
//
// It prints one JSON object on stdout (hack/bench.sh writes it into
// bench/results.md) and leaves nothing running: the cluster and the manager
// are stopped on return, on SIGINT/SIGTERM, and (parent-death signal) if the
// program itself dies.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/testcerts"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/bench/benchdata"
	"github.com/dataresidency/operator/test/cluster"
)

const (
	operatorNS    = "dataresidency-system"
	webhookConfig = "dataresidency-bench"
	policyName    = "dataresidency-bench"
	webhookName   = "workloads.dataresidency.io"
)

// Phases.
const (
	phaseNone    = "none"
	phaseWebhook = "webhook"
	phaseVAP     = "vap"
	phaseKyverno = "kyverno"
)

// phases are the phases of a run (phaseKyverno added with -kyverno).
var phases = []string{phaseNone, phaseWebhook, phaseVAP}

type phaseStats struct {
	Creates   int     `json:"creates"`
	P50Ms     float64 `json:"p50Ms"`
	P90Ms     float64 `json:"p90Ms"`
	P99Ms     float64 `json:"p99Ms"`
	MeanMs    float64 `json:"meanMs"`
	MaxMs     float64 `json:"maxMs"`
	PerSecond float64 `json:"createsPerSecond"`
	// RoundP50Ms and RoundP99Ms are each round's percentiles, in round order.
	RoundP50Ms []float64 `json:"roundP50Ms"`
	RoundP99Ms []float64 `json:"roundP99Ms"`
	// CPU per create (ms of CPU time, user+system) of the API server, etcd,
	// the manager and this client, over the phase's measured creates.
	CPUMsPerCreate map[string]float64 `json:"cpuMsPerCreate"`
}

type result struct {
	CreatesPerPhase int    `json:"createsPerPhase"`
	Concurrency     int    `json:"concurrency"`
	Rounds          int    `json:"rounds"`
	Seed            int64  `json:"seed"`
	Namespaces      int    `json:"namespaces"`
	ObjectBytes     int    `json:"objectBytes"`
	Order           string `json:"order"`

	Phases map[string]*phaseStats `json:"phases"`

	// Pooled over all rounds.
	WebhookOverNoneP50 float64 `json:"webhookOverNoneP50"`
	WebhookOverNoneP99 float64 `json:"webhookOverNoneP99"`
	WebhookOverVAPP50  float64 `json:"webhookOverVapP50"`
	WebhookOverVAPP99  float64 `json:"webhookOverVapP99"`
	// The median over rounds of each round's ratio (drift-robust).
	RoundMedianWebhookOverNoneP99 float64 `json:"roundMedianWebhookOverNoneP99"`
	RoundMedianWebhookOverVAPP99  float64 `json:"roundMedianWebhookOverVapP99"`
	// Against Kyverno (with -kyverno): latency, kube-apiserver's CPU per
	// create, and each engine's own CPU per create (the manager's in the
	// webhook phase, Kyverno's in its phase, each less its CPU in the none
	// phase, where both run idle or reconciling).
	WebhookOverKyvernoP50            float64 `json:"webhookOverKyvernoP50,omitempty"`
	WebhookOverKyvernoP99            float64 `json:"webhookOverKyvernoP99,omitempty"`
	RoundMedianWebhookOverKyvernoP99 float64 `json:"roundMedianWebhookOverKyvernoP99,omitempty"`
	WebhookOverKyvernoAPIServerCPU   float64 `json:"webhookOverKyvernoApiserverCpu,omitempty"`
	ManagerAddedCPUMsPerCreate       float64 `json:"managerAddedCpuMsPerCreate,omitempty"`
	KyvernoAddedCPUMsPerCreate       float64 `json:"kyvernoAddedCpuMsPerCreate,omitempty"`
	WebhookOverKyvernoEngineCPU      float64 `json:"webhookOverKyvernoEngineCpu,omitempty"`
	KyvernoWebhooks                  string  `json:"kyvernoWebhooks,omitempty"`
	KyvernoVersion                   string  `json:"kyvernoVersion,omitempty"`
	APIServerKyvernoMeanMs           float64 `json:"apiserverKyvernoMeanMs,omitempty"`

	// As the API server measured the admission step itself (its metrics):
	// the webhook call (TLS round trip included) and the policy's check.
	APIServerWebhookMeanMs float64 `json:"apiserverWebhookMeanMs"`
	APIServerVAPMeanMs     float64 `json:"apiserverVapMeanMs"`
	// As the manager measured its handler (controller_runtime_webhook_latency_seconds).
	ManagerHandlerMeanMs float64 `json:"managerHandlerMeanMs"`

	LoadAvgBefore string  `json:"loadavgBefore"`
	LoadAvgAfter  string  `json:"loadavgAfter"`
	Seconds       float64 `json:"seconds"`
}

func main() {
	var o options
	flag.IntVar(&o.creates, "creates", 2000, "measured creates per phase")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent creates")
	flag.IntVar(&o.rounds, "rounds", 10, "rounds; each runs every phase once, in a random order, creates/rounds each")
	flag.IntVar(&o.warmup, "warmup", 100, "unmeasured creates per phase before the first round")
	flag.IntVar(&o.namespaces, "namespaces", 20, "namespaces the creates are spread over (keeps each namespace's Report small)")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the phase order")
	flag.StringVar(&o.manager, "manager", filepath.Join(testenv.Root(), "bin", "manager"), "manager binary (go build -o bin/manager ./cmd/manager)")
	flag.StringVar(&o.kyverno, "kyverno", "", "Kyverno's admission controller (hack/kyverno/build.sh, cmd/kyverno "+kyvernoVersion+"): adds the kyverno phase")
	flag.BoolVar(&o.verbose, "v", false, "progress on stderr")
	flag.StringVar(&o.pprofDir, "pprof-dir", "", "after the measured rounds, profile kube-apiserver and the manager while creating in each phase, into this directory (<component>-<phase>.pprof)")
	flag.DurationVar(&o.pprofFor, "pprof-seconds", 10*time.Second, "how long each phase is profiled")
	flag.Parse()
	if o.rounds < 1 || o.creates < o.rounds || o.concurrency < 1 {
		fmt.Fprintln(os.Stderr, "admission: need creates >= rounds >= 1 and concurrency >= 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	res, err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "admission:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
}

type options struct {
	creates, concurrency, rounds, warmup, namespaces int
	seed                                             int64
	manager                                          string
	kyverno                                          string
	verbose                                          bool
	pprofDir                                         string
	pprofFor                                         time.Duration
}

var verbose bool

func logf(format string, args ...any) {
	if verbose {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

func run(ctx context.Context, o options) (*result, error) {
	verbose = o.verbose
	began := time.Now()
	if _, err := os.Stat(o.manager); err != nil {
		return nil, fmt.Errorf("%w (build it: go build -o bin/manager ./cmd/manager)", err)
	}
	res := &result{CreatesPerPhase: o.creates, Concurrency: o.concurrency, Rounds: o.rounds, Seed: o.seed, Namespaces: o.namespaces,
		Phases: map[string]*phaseStats{}, LoadAvgBefore: loadavg()}
	dir, err := os.MkdirTemp("", "admission-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	logf("starting etcd and kube-apiserver in %s", dir)
	cl, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster"), SkipControllerManager: true, SkipScheduler: true, SkipKwok: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = cl.Stop() }()
	cfg := rest.CopyConfig(cl.RESTConfig())
	cfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter() // the client must not be what limits
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		return nil, err
	}
	if err := installCRDs(ctx, c); err != nil {
		return nil, err
	}
	cat := benchdata.NewCatalog()
	nss := make([]string, o.namespaces)
	for i := range nss {
		nss[i] = fmt.Sprintf("bench-%02d", i)
	}
	if err := seed(ctx, c, cat, nss); err != nil {
		return nil, err
	}

	// The operator, serving the webhook from a certificate made here.
	certDir := filepath.Join(dir, "certs")
	serving, err := testcerts.NewLocalServing()
	if err != nil {
		return nil, err
	}
	if err := serving.WriteDir(certDir); err != nil {
		return nil, err
	}
	caPEM := serving.CAPEM
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	mgr, err := startManager(ctx, o.manager, cl.Kubeconfig(), certDir, ports, filepath.Join(dir, "manager.log"), o.pprofDir != "")
	if err != nil {
		return nil, err
	}
	defer mgr.stop()
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])

	// The admission configurations the phases switch between.
	vwc := webhookConfiguration(ports[0], caPEM)
	policy, binding, err := benchdata.AdmissionPolicy(cat)
	if err != nil {
		return nil, err
	}
	if err := c.Create(ctx, policy); err != nil {
		return nil, fmt.Errorf("creating the ValidatingAdmissionPolicy: %w", err)
	}
	sw := &switcher{c: c, cs: cs, vwc: vwc, binding: binding, probeNS: nss[0]}
	if o.kyverno != "" {
		kp, err := benchdata.KyvernoPolicy(policy, binding)
		if err != nil {
			return nil, err
		}
		logf("starting Kyverno's admission controller")
		ky, err := startKyverno(ctx, o.kyverno, cl.Kubeconfig(), dir, c, cs)
		if err != nil {
			return nil, err
		}
		defer ky.stop(context.Background())
		sw.kyverno, sw.kyvernoPolicy = ky, kp
		phases = append(phases, phaseKyverno)
		res.KyvernoVersion = kyvernoVersion
	}

	tmpl := benchdata.RealisticDeployment()
	raw, _ := json.Marshal(tmpl)
	res.ObjectBytes = len(raw)
	cr := &creator{cs: cs, tmpl: tmpl, namespaces: nss, concurrency: o.concurrency}

	// Warm up every path (connections, caches, the policy's compiled
	// programs, the manager's informers) before measuring.
	for _, p := range phases {
		if err := sw.set(ctx, p); err != nil {
			return nil, err
		}
		logf("warm-up: %d creates, %s", o.warmup, p)
		if _, err := cr.creates(ctx, "warm-"+p, o.warmup); err != nil {
			return nil, err
		}
		if err := reset(ctx, cs, nss, metricsURL); err != nil {
			return nil, err
		}
	}

	pids := map[string]int{"manager": mgr.cmd.Process.Pid, "client": os.Getpid()}
	if sw.kyverno != nil {
		pids["kyverno"] = sw.kyverno.cmd.Process.Pid
	}
	for _, p := range cl.Processes() {
		pids[p.Name] = p.Pid
	}
	apiBefore, err := apiserverMetrics(ctx, cs)
	if err != nil {
		return nil, err
	}
	mgrBefore := scrape(metricsURL)

	rng := rand.New(rand.NewSource(o.seed))
	durations := map[string][]time.Duration{}
	cpu := map[string]map[string]float64{}
	elapsed := map[string]time.Duration{}
	var order []string
	perRound := o.creates / o.rounds
	for r := 0; r < o.rounds; r++ {
		n := perRound
		if r == o.rounds-1 {
			n = o.creates - perRound*(o.rounds-1)
		}
		var names []string
		for _, i := range rng.Perm(len(phases)) {
			p := phases[i]
			names = append(names, p)
			if err := sw.set(ctx, p); err != nil {
				return nil, err
			}
			if err := reset(ctx, cs, nss, metricsURL); err != nil {
				return nil, err
			}
			before := cpuSeconds(pids)
			start := time.Now()
			d, err := cr.creates(ctx, fmt.Sprintf("%s-r%02d", p, r), n)
			if err != nil {
				return nil, err
			}
			elapsed[p] += time.Since(start)
			after := cpuSeconds(pids)
			if cpu[p] == nil {
				cpu[p] = map[string]float64{}
			}
			for k := range after {
				cpu[p][k] += after[k] - before[k]
			}
			durations[p] = append(durations[p], d...)
			st := res.phase(p)
			st.RoundP50Ms = append(st.RoundP50Ms, ms(percentile(d, 50)))
			st.RoundP99Ms = append(st.RoundP99Ms, ms(percentile(d, 99)))
			logf("round %d %-7s p50 %.2fms p99 %.2fms", r, p, ms(percentile(d, 50)), ms(percentile(d, 99)))
		}
		order = append(order, strings.Join(names, ","))
	}
	res.Order = strings.Join(order, " | ")

	apiAfter, err := apiserverMetrics(ctx, cs)
	if err != nil {
		return nil, err
	}
	mgrAfter := scrape(metricsURL)
	res.APIServerWebhookMeanMs = meanMs(apiBefore, apiAfter, "apiserver_admission_webhook_admission_duration_seconds", `name="`+webhookName+`"`)
	res.APIServerVAPMeanMs = meanMs(apiBefore, apiAfter, "apiserver_validating_admission_policy_check_duration_seconds", `policy="`+policyName+`"`)
	res.ManagerHandlerMeanMs = meanMs(mgrBefore, mgrAfter, "controller_runtime_webhook_latency_seconds", `webhook="/validate-workloads"`)
	if sw.kyverno != nil {
		res.KyvernoWebhooks = strings.Join(sw.kyvernoWebhooks, ",")
		for _, name := range sw.kyvernoWebhooks {
			res.APIServerKyvernoMeanMs += meanMs(apiBefore, apiAfter, "apiserver_admission_webhook_admission_duration_seconds", `name="`+name+`"`)
		}
	}

	for _, p := range phases {
		d := durations[p]
		st := res.phase(p)
		st.Creates = len(d)
		st.P50Ms, st.P90Ms, st.P99Ms = ms(percentile(d, 50)), ms(percentile(d, 90)), ms(percentile(d, 99))
		st.MaxMs = ms(percentile(d, 100))
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		st.MeanMs = ms(sum / time.Duration(len(d)))
		st.PerSecond = round2(float64(len(d)) / elapsed[p].Seconds())
		st.CPUMsPerCreate = map[string]float64{}
		for k, v := range cpu[p] {
			st.CPUMsPerCreate[k] = round2(v * 1000 / float64(len(d)))
		}
	}
	none, wh, vap := res.Phases[phaseNone], res.Phases[phaseWebhook], res.Phases[phaseVAP]
	res.WebhookOverNoneP50, res.WebhookOverNoneP99 = ratio(wh.P50Ms, none.P50Ms), ratio(wh.P99Ms, none.P99Ms)
	res.WebhookOverVAPP50, res.WebhookOverVAPP99 = ratio(wh.P50Ms, vap.P50Ms), ratio(wh.P99Ms, vap.P99Ms)
	var rn, rv []float64
	for i := range wh.RoundP99Ms {
		rn = append(rn, wh.RoundP99Ms[i]/none.RoundP99Ms[i])
		rv = append(rv, wh.RoundP99Ms[i]/vap.RoundP99Ms[i])
	}
	res.RoundMedianWebhookOverNoneP99, res.RoundMedianWebhookOverVAPP99 = round2(median(rn)), round2(median(rv))
	if ky := res.Phases[phaseKyverno]; ky != nil {
		res.WebhookOverKyvernoP50, res.WebhookOverKyvernoP99 = ratio(wh.P50Ms, ky.P50Ms), ratio(wh.P99Ms, ky.P99Ms)
		var rk []float64
		for i := range wh.RoundP99Ms {
			rk = append(rk, wh.RoundP99Ms[i]/ky.RoundP99Ms[i])
		}
		res.RoundMedianWebhookOverKyvernoP99 = round2(median(rk))
		res.WebhookOverKyvernoAPIServerCPU = ratio(wh.CPUMsPerCreate["kube-apiserver"], ky.CPUMsPerCreate["kube-apiserver"])
		res.ManagerAddedCPUMsPerCreate = round2(wh.CPUMsPerCreate["manager"] - none.CPUMsPerCreate["manager"])
		res.KyvernoAddedCPUMsPerCreate = round2(ky.CPUMsPerCreate["kyverno"] - none.CPUMsPerCreate["kyverno"])
		res.WebhookOverKyvernoEngineCPU = ratio(res.ManagerAddedCPUMsPerCreate, res.KyvernoAddedCPUMsPerCreate)
	}

	if o.pprofDir != "" {
		if err := profilePhases(ctx, o, cs, sw, cr, metricsURL, fmt.Sprintf("http://127.0.0.1:%d", ports[3])); err != nil {
			return nil, err
		}
	}

	// Leave the API server as found: nothing in the way of the teardown.
	if err := sw.set(ctx, phaseNone); err != nil {
		return nil, err
	}
	res.LoadAvgAfter = loadavg()
	res.Seconds = round2(time.Since(began).Seconds())
	return res, nil
}

func (r *result) phase(p string) *phaseStats {
	if r.Phases[p] == nil {
		r.Phases[p] = &phaseStats{}
	}
	return r.Phases[p]
}

// creator creates copies of tmpl.
type creator struct {
	cs          kubernetes.Interface
	tmpl        *appsv1.Deployment
	namespaces  []string
	concurrency int
}

// creates makes n Deployments named <prefix>-<i>, concurrency at a time,
// and returns how long each create took.
func (c *creator) creates(ctx context.Context, prefix string, n int) ([]time.Duration, error) {
	out := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				d := c.tmpl.DeepCopy()
				d.Name = fmt.Sprintf("%s-%05d", prefix, i)
				d.Namespace = c.namespaces[i%len(c.namespaces)]
				start := time.Now()
				_, err := c.cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
				out[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("creating %s/%s: %w", d.Namespace, d.Name, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// switcher puts the API server in a phase's admission configuration and
// waits until a server-side dry run of a violating Deployment shows it in
// force.
type switcher struct {
	c       client.Client
	cs      kubernetes.Interface
	vwc     *admissionregistrationv1.ValidatingWebhookConfiguration
	binding *unstructured.Unstructured
	probeNS string
	// kyverno, when running, enforces kyvernoPolicy in the kyverno phase;
	// kyvernoWebhooks are the webhooks it registered for it.
	kyverno         *kyverno
	kyvernoPolicy   *unstructured.Unstructured
	kyvernoWebhooks []string
}

func (s *switcher) set(ctx context.Context, phase string) error {
	if err := s.ensure(ctx, s.vwc.DeepCopy(), phase == phaseWebhook); err != nil {
		return err
	}
	if err := s.ensure(ctx, s.binding.DeepCopy(), phase == phaseVAP); err != nil {
		return err
	}
	probe := benchdata.ViolatingDeployment(s.probeNS)
	deadline := time.Now().Add(60 * time.Second)
	if s.kyverno != nil {
		// Kyverno registers (and removes) its webhook for a policy itself:
		// wait for its configuration to follow the policy.
		if err := s.ensure(ctx, s.kyvernoPolicy.DeepCopy(), phase == phaseKyverno); err != nil {
			return err
		}
		for {
			serving, err := s.kyverno.serving(ctx)
			if err == nil && serving == (phase == phaseKyverno) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("kyverno's webhook configuration does not follow the %s phase after 60s (%v): %s", phase, err, tail(s.kyverno.log))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if phase == phaseKyverno && s.kyvernoWebhooks == nil {
			s.kyvernoWebhooks = s.kyverno.webhookNames(ctx)
		}
	}
	for {
		_, err := s.cs.AppsV1().Deployments(s.probeNS).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		var in bool
		switch phase {
		case phaseNone:
			in = err == nil
		case phaseWebhook:
			in = err != nil && strings.Contains(err.Error(), `admission webhook "`+webhookName+`" denied the request`) && strings.Contains(err.Error(), "[BasisNotValid]")
		case phaseVAP:
			in = err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policyName+"'") && strings.Contains(err.Error(), "[BasisNotValid]")
		case phaseKyverno:
			in = err != nil && strings.Contains(err.Error(), "kyverno") && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), "[BasisNotValid]")
		}
		if in {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s phase is not in force after 60s: the probe answered %v", phase, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ensure creates obj if want and it is missing, deletes it if not want.
func (s *switcher) ensure(ctx context.Context, obj client.Object, want bool) error {
	if want {
		if err := s.c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
		return nil
	}
	if err := s.c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
	}
	return nil
}

// reset deletes every Deployment of the bench namespaces and waits for the
// manager to be idle: each phase starts from the same state (no Deployment,
// small Reports), whatever ran before it.
func reset(ctx context.Context, cs kubernetes.Interface, nss []string, metricsURL string) error {
	for _, ns := range nss {
		if err := cs.AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("deleting the Deployments of %s: %w", ns, err)
		}
	}
	return benchdata.WaitQuiet(ctx, 3*time.Minute, func() map[string]float64 { return scrape(metricsURL) })
}

// manager is the operator's process.
type manager struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startManager(ctx context.Context, bin, kubeconfig, certDir string, ports []int, logPath string, pprof bool) (*manager, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--namespace="+operatorNS,
		"--webhook-port="+strconv.Itoa(ports[0]),
		"--webhook-cert-dir="+certDir,
		"--disable-cert-rotation",
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(ports[1]),
		"--metrics-secure=false",
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(ports[2]),
		"--zap-log-level=error",
	)
	if pprof {
		cmd.Args = append(cmd.Args, "--pprof-bind-address=127.0.0.1:"+strconv.Itoa(ports[3]))
	}
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "ENABLE_WEBHOOKS=true")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := spawn(cmd); err != nil {
		logFile.Close()
		return nil, err
	}
	m := &manager{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); logFile.Close(); close(m.done) }()
	logf("manager pid %d, webhook on 127.0.0.1:%d", cmd.Process.Pid, ports[0])
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[2])
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := http.Get(ready); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("the manager exited: %s", tail(logPath))
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("the manager is not ready after 90s: %s", tail(logPath))
		}
	}
}

// stop ends the manager (SIGTERM, then SIGKILL) and waits for it.
func (m *manager) stop() { terminate(m.cmd, m.done) }

// terminate sends SIGTERM, then SIGKILL after 10 s, and waits for done.
func terminate(cmd *exec.Cmd, done <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func installCRDs(ctx context.Context, c client.Client) error {
	var names []string
	for _, dir := range []string{"config/crd/bases", "config/crd/external"} {
		objs, err := testenv.ReadObjects(filepath.Join(testenv.Root(), dir))
		if err != nil {
			return err
		}
		for _, u := range objs {
			if err := c.Create(ctx, u); err != nil {
				return fmt.Errorf("installing CRD %s: %w", u.GetName(), err)
			}
			names = append(names, u.GetName())
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range names {
		for {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("apiextensions.k8s.io/v1")
			u.SetKind("CustomResourceDefinition")
			err := c.Get(ctx, client.ObjectKey{Name: name}, u)
			established := false
			if err == nil {
				conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
				for _, cond := range conds {
					m, _ := cond.(map[string]any)
					established = established || (m["type"] == "Established" && m["status"] == "True")
				}
			}
			if established {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// seed creates the operator's namespace, the catalog, and the bench
// namespaces (enforcement deny) with the ConfigMap and Services the
// Deployment's discovery reads.
func seed(ctx context.Context, c client.Client, cat *benchdata.Catalog, nss []string) error {
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}}}
	objs = append(objs, cat.Objects...)
	for _, ns := range nss {
		objs = append(objs,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{v1alpha1.LabelEnforcement: "deny"}}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mailer-config", Namespace: ns},
				Data: map[string]string{"SMTP_HOST": "smtp-relay.brevo.com:587", "LOG_LEVEL": "info", "FEATURE_FLAGS": "a,b,c"}})
		for i := 0; i < 30; i += 10 {
			objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%02d", i), Namespace: ns},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.vendor03.example.de"}})
		}
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func webhookConfiguration(port int, caPEM []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	url := fmt.Sprintf("https://127.0.0.1:%d/validate-workloads", port)
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookConfig},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			// As config/webhook/manifests.yaml and config/default have it.
			Name:                    webhookName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			TimeoutSeconds:          ptr.To[int32](5),
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", operatorNS}}}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{"", "apps", "batch"}, APIVersions: []string{"v1"},
					Resources: []string{"pods", "pods/ephemeralcontainers", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs"}},
			}},
		}},
	}
}

// admissionPolicy renders policy.yaml with the catalog's lists.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// apiserverMetrics scrapes the API server's /metrics.
func apiserverMetrics(ctx context.Context, cs kubernetes.Interface) (map[string]float64, error) {
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	return parseMetrics(string(raw)), nil
}

func scrape(url string) map[string]float64 {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return parseMetrics(string(raw))
}

// parseMetrics reads the Prometheus text format into "name{labels}" -> value.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] += v
		}
	}
	return out
}

// meanMs is the mean of a histogram's observations between two scrapes,
// over the series whose labels contain match.
func meanMs(before, after map[string]float64, name, match string) float64 {
	var sum, count float64
	for k, v := range after {
		if !strings.Contains(k, match) {
			continue
		}
		switch {
		case strings.HasPrefix(k, name+"_sum{"):
			sum += v - before[k]
		case strings.HasPrefix(k, name+"_count{"):
			count += v - before[k]
		}
	}
	if count == 0 {
		return 0
	}
	return round2(sum / count * 1000)
}

// cpuSeconds reads the user+system CPU time of each process.
func cpuSeconds(pids map[string]int) map[string]float64 {
	out := map[string]float64{}
	for name, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		out[name] = (ut + st) / 100 // USER_HZ
	}
	return out
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s) * p) / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return round2(float64(d) / float64(time.Millisecond)) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round2(a / b)
}

func round2(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// profilePhases creates Deployments for o.pprofFor in each phase while
// taking CPU profiles of kube-apiserver and the manager (not measured).
func profilePhases(ctx context.Context, o options, cs kubernetes.Interface, sw *switcher, cr *creator, metricsURL, managerPprof string) error {
	if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
		return err
	}
	secs := strconv.Itoa(int(o.pprofFor.Seconds()))
	for _, p := range phases {
		if err := sw.set(ctx, p); err != nil {
			return err
		}
		if err := reset(ctx, cs, cr.namespaces, metricsURL); err != nil {
			return err
		}
		logf("profiling the %s phase for %s", p, o.pprofFor)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			raw, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", secs).DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(filepath.Join(o.pprofDir, "kube-apiserver-"+p+".pprof"), raw, 0o644)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			resp, err := http.Get(managerPprof + "/debug/pprof/profile?seconds=" + secs)
			if err == nil {
				var raw []byte
				raw, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					err = os.WriteFile(filepath.Join(o.pprofDir, "manager-"+p+".pprof"), raw, 0o644)
				}
			}
			errs <- err
		}()
		deadline := time.Now().Add(o.pprofFor)
		for i := 0; time.Now().Before(deadline); i++ {
			if _, err := cr.creates(ctx, fmt.Sprintf("prof-%s-%03d", p, i), 4*o.concurrency); err != nil {
				return err
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return fmt.Errorf("profiling the %s phase: %w", p, err)
			}
		}
	}
	return nil
}
