package report

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/residency"
)

// Metrics are the operator's Prometheus metrics. Gauges are computed from the
// findings store and the latest snapshot when scraped, so they never go stale.
type Metrics struct {
	evaluations *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	store       *findings.Store
	snapshot    func() *residency.Snapshot

	workloads   *prometheus.Desc
	declaration *prometheus.Desc
	transfers   *prometheus.Desc
	bases       *prometheus.Desc
	excepted    *prometheus.Desc
	exceptions  *prometheus.Desc
	egress      *prometheus.Desc
	egressCut   *prometheus.Desc
}

// NewMetrics creates the metrics; register them with Register.
func NewMetrics(store *findings.Store, snapshot func() *residency.Snapshot) *Metrics {
	return &Metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dataresidency_workload_evaluations_total",
			Help: "Workload evaluations by the engine, by workload kind.",
		}, []string{"kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dataresidency_evaluation_duration_seconds",
			Help:    "Time the engine takes to evaluate one workload.",
			Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}, []string{"kind"}),
		store:    store,
		snapshot: snapshot,
		workloads: prometheus.NewDesc("dataresidency_workloads",
			"Workloads by namespace and worst verdict.", []string{"namespace", "verdict"}, nil),
		declaration: prometheus.NewDesc("dataresidency_workload_declarations",
			"Workloads by namespace and whether they declare what they send (dataresidency.io/subprocessors, none included, or dataresidency.io/data-categories), whatever the policy's requireDeclaration: the adoption of declarations.",
			[]string{"namespace", "declared"}, nil),
		transfers: prometheus.NewDesc("dataresidency_transfers",
			"Subprocessor transfer routes by subprocessor, destination country and whether a valid basis covers them.",
			[]string{"subprocessor", "country", "covered"}, nil),
		bases: prometheus.NewDesc("dataresidency_transfer_basis_valid_until_seconds",
			"When a TransferBasis next changes state by itself (Unix seconds), for alerts on expiry.",
			[]string{"transferbasis", "state"}, nil),
		excepted: prometheus.NewDesc("dataresidency_excepted_workloads",
			"Workloads with a finding a ResidencyException accepts, by namespace (their verdict does not count it).",
			[]string{"namespace"}, nil),
		exceptions: prometheus.NewDesc("dataresidency_exception_expires_seconds",
			"When each ResidencyException stops applying (Unix seconds: expiresOn, or the policy's maxDays cap), by state as of the snapshot (Active, Expired, NotYetApproved), for alerts on expiry.",
			[]string{"exception", "state"}, nil),
		egress: prometheus.NewDesc("dataresidency_egress_policy_workloads",
			"Workloads under an egress policy (namespace label dataresidency.io/egress), by namespace, mode (enforce, audit) and backend.",
			[]string{"namespace", "mode", "backend"}, nil),
		egressCut: prometheus.NewDesc("dataresidency_egress_cut_flows",
			"Flows the egress policies leave out (denied under enforce, would be under audit), by namespace, mode and backend.",
			[]string{"namespace", "mode", "backend"}, nil),
	}
}

// Register adds the metrics to a registry.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.evaluations, m.latency, m} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ObserveEvaluation counts one evaluation and its duration.
func (m *Metrics) ObserveEvaluation(kind string, d time.Duration) {
	if m == nil {
		return
	}
	m.evaluations.WithLabelValues(kind).Inc()
	m.latency.WithLabelValues(kind).Observe(d.Seconds())
}

// Evaluations is the total of evaluations so far (for tests).
func (m *Metrics) Evaluations() float64 {
	ch := make(chan prometheus.Metric, 16)
	go func() { m.evaluations.Collect(ch); close(ch) }()
	var total float64
	for mt := range ch {
		total += counterValue(mt)
	}
	return total
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.workloads
	ch <- m.declaration
	ch <- m.transfers
	ch <- m.bases
	ch <- m.excepted
	ch <- m.exceptions
	ch <- m.egress
	ch <- m.egressCut
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for k, n := range m.store.ByNamespaceVerdict() {
		ch <- prometheus.MustNewConstMetric(m.workloads, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	// Both series of every namespace, zero included, so that the share of
	// declared workloads is defined (0) where none declares.
	for ns, c := range m.store.ByNamespaceDeclared() {
		ch <- prometheus.MustNewConstMetric(m.declaration, prometheus.GaugeValue, float64(c[0]), ns, "true")
		ch <- prometheus.MustNewConstMetric(m.declaration, prometheus.GaugeValue, float64(c[1]-c[0]), ns, "false")
	}
	for ns, n := range m.store.ByNamespaceExcepted() {
		ch <- prometheus.MustNewConstMetric(m.excepted, prometheus.GaugeValue, float64(n), ns)
	}
	for k, c := range m.store.ByNamespaceEgress() {
		ch <- prometheus.MustNewConstMetric(m.egress, prometheus.GaugeValue, float64(c.Workloads), k[0], k[1], k[2])
		ch <- prometheus.MustNewConstMetric(m.egressCut, prometheus.GaugeValue, float64(c.Cut), k[0], k[1], k[2])
	}
	snap := m.snapshot()
	if snap == nil {
		return
	}
	for _, name := range snap.ExceptionNames() {
		xr, _ := snap.Exception(name)
		if xr.ExpiresOn.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.exceptions, prometheus.GaugeValue, float64(xr.ExpiresOn.Unix()), name, string(xr.State))
	}
	type key struct{ sub, country, covered string }
	counts := map[key]int{}
	for _, name := range snap.SubprocessorNames() {
		sr, ok := snap.Subprocessor(name)
		if !ok {
			continue
		}
		for _, t := range sr.Transfers {
			covered := "false"
			if t.Covered {
				covered = "true"
			}
			counts[key{name, string(t.Country), covered}]++
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.transfers, prometheus.GaugeValue, float64(n), k.sub, k.country, k.covered)
	}
	for _, name := range snap.BasisNames() {
		br, _ := snap.Basis(name)
		if br.ValidUntil.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.bases, prometheus.GaugeValue, float64(br.ValidUntil.Unix()), name, string(br.State))
	}
}

func counterValue(m prometheus.Metric) float64 {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil || pb.Counter == nil {
		return 0
	}
	return pb.Counter.GetValue()
}
