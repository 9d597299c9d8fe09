package observe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the collector received and what became of it.
type Metrics struct {
	Frames       prometheus.Counter
	Dropped      *prometheus.CounterVec
	Attributed   prometheus.Counter
	Unattributed *prometheus.CounterVec
	Connections  prometheus.Gauge
}

// Reasons a frame or a resolution is dropped (label values of
// dataresidency_dnstap_frames_dropped_total).
const (
	DropMalformed   = "malformed"
	DropNotDNS      = "not-dns"
	DropNoMessage   = "no-message"
	DropOversized   = "oversized"
	DropPendingFull = "pending-full"
	DropConnections = "too-many-connections"
)

// Reasons a resolution is not attributed to a Pod.
const (
	UnattributedUnknownIP   = "unknown-ip"
	UnattributedHostNetwork = "host-network"
)

// NewMetrics returns the collector's metrics, unregistered.
func NewMetrics() *Metrics {
	m := &Metrics{
		Frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dataresidency_dnstap_frames_received_total",
			Help: "dnstap data frames received from the cluster DNS.",
		}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dataresidency_dnstap_frames_dropped_total",
			Help: "dnstap frames (or connections) dropped, by reason: malformed, not-dns, no-message (CoreDNS's dnstap line lacks \"full\"), oversized, pending-full (too many names awaiting a flush), too-many-connections.",
		}, []string{"reason"}),
		Attributed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dataresidency_dnstap_resolutions_attributed_total",
			Help: "Answered queries for external names attributed to a Pod.",
		}),
		Unattributed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dataresidency_dnstap_resolutions_unattributed_total",
			Help: "Answered queries for external names from an address no Pod held at the time (unknown-ip) or from a host-network Pod (host-network).",
		}, []string{"reason"}),
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dataresidency_dnstap_connections",
			Help: "Open dnstap connections.",
		}),
	}
	for _, r := range []string{DropMalformed, DropNotDNS, DropNoMessage, DropOversized, DropPendingFull, DropConnections} {
		m.Dropped.WithLabelValues(r)
	}
	for _, r := range []string{UnattributedUnknownIP, UnattributedHostNetwork} {
		m.Unattributed.WithLabelValues(r)
	}
	return m
}

// Register registers the metrics with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Frames, m.Dropped, m.Attributed, m.Unattributed, m.Connections} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Pair is a name one Pod resolved.
type Pair struct {
	Pod  *Pod
	Name string
}

// Tally is what was seen of a pair since the last flush.
type Tally struct {
	Count       int64
	First, Last time.Time
}

func (t *Tally) add(o Tally) {
	if t.Count == 0 || o.First.Before(t.First) {
		t.First = o.First
	}
	if o.Last.After(t.Last) {
		t.Last = o.Last
	}
	t.Count += o.Count
}

// Collector receives dnstap frames and tallies what each Pod resolved until
// the flusher takes it.
type Collector struct {
	Pods          *PodIPs
	ClusterDomain string
	Metrics       *Metrics
	// MaxPending bounds the pairs awaiting a flush: a Pod resolving random
	// names cannot grow the manager's memory without bound.
	MaxPending int
	// MaxConnections bounds concurrent dnstap connections.
	MaxConnections int
	Log            logr.Logger

	mu      sync.Mutex
	pending map[Pair]*Tally
	conns   int
}

// NewCollector returns a collector with the default bounds.
func NewCollector(pods *PodIPs, clusterDomain string, m *Metrics) *Collector {
	return &Collector{Pods: pods, ClusterDomain: clusterDomain, Metrics: m, MaxPending: 100_000, MaxConnections: 64,
		Log: logr.Discard(), pending: map[Pair]*Tally{}}
}

// Ingest handles one frame read by d.
func (c *Collector) Ingest(d *Decoder, frame []byte) Outcome {
	c.Metrics.Frames.Inc()
	res, out := d.Decode(frame)
	switch out {
	case Malformed:
		c.Metrics.Dropped.WithLabelValues(DropMalformed).Inc()
	case NotDNS:
		c.Metrics.Dropped.WithLabelValues(DropNotDNS).Inc()
	case NoMessage:
		c.Metrics.Dropped.WithLabelValues(DropNoMessage).Inc()
	case Resolved:
		c.Record(res)
	}
	return out
}

// Record tallies one resolution against the Pod that held its client address.
func (c *Collector) Record(res Resolution) {
	pod, hostNet := c.Pods.Lookup(res.Client, res.At)
	if pod == nil {
		reason := UnattributedUnknownIP
		if hostNet {
			reason = UnattributedHostNetwork
		}
		c.Metrics.Unattributed.WithLabelValues(reason).Inc()
		return
	}
	k := Pair{Pod: pod, Name: res.Name}
	c.mu.Lock()
	t, ok := c.pending[k]
	if !ok {
		if len(c.pending) >= c.MaxPending {
			c.mu.Unlock()
			c.Metrics.Dropped.WithLabelValues(DropPendingFull).Inc()
			return
		}
		t = &Tally{First: res.At}
		c.pending[k] = t
	}
	t.Count++
	if res.At.After(t.Last) {
		t.Last = res.At
	}
	if res.At.Before(t.First) {
		t.First = res.At
	}
	c.mu.Unlock()
	c.Metrics.Attributed.Inc()
}

// Take returns the pairs tallied since the last call and starts afresh.
func (c *Collector) Take() map[Pair]*Tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.pending
	c.pending = make(map[Pair]*Tally, len(out))
	return out
}

// Serve accepts dnstap connections on l (Frame Streams, bidirectional, as
// CoreDNS's dnstap plugin speaks it; wrap l with tls.NewListener for TLS)
// until ctx ends. Each connection is read on its own goroutine: a slow or
// hostile one does not hold up the others.
func (c *Collector) Serve(ctx context.Context, l net.Listener) error {
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			c.Log.Error(err, "dnstap: accept")
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.mu.Lock()
		full := c.conns >= c.MaxConnections
		if !full {
			c.conns++
		}
		c.mu.Unlock()
		if full {
			c.Metrics.Dropped.WithLabelValues(DropConnections).Inc()
			_ = conn.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				c.mu.Lock()
				c.conns--
				c.mu.Unlock()
			}()
			stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
			defer stop()
			c.serveConn(conn)
		}()
	}
}

// handshakeTimeout bounds the Frame Streams handshake (and TLS's).
const handshakeTimeout = 10 * time.Second

// maxFrame is the largest frame read: a DNS message is at most 64 KiB, and
// dnstap's metadata adds less than 1 KiB (golang-dnstap's own bound).
var maxFrame = int(dnstap.MaxPayloadSize)

func (c *Collector) serveConn(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	c.Metrics.Connections.Inc()
	defer c.Metrics.Connections.Dec()
	log := c.Log.WithValues("remote", conn.RemoteAddr().String())
	if tc, ok := conn.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			log.V(1).Info("dnstap: TLS handshake failed", "error", err.Error())
			c.Metrics.Dropped.WithLabelValues(DropMalformed).Inc()
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	r, err := dnstap.NewReader(conn, &dnstap.ReaderOptions{Bidirectional: true, Timeout: handshakeTimeout})
	if err != nil {
		log.V(1).Info("dnstap: handshake failed", "error", err.Error())
		c.Metrics.Dropped.WithLabelValues(DropMalformed).Inc()
		return
	}
	log.Info("dnstap connection open")
	d := &Decoder{ClusterDomain: c.ClusterDomain}
	buf := make([]byte, maxFrame)
	for {
		n, err := r.ReadFrame(buf)
		switch {
		case err == nil:
			c.Ingest(d, buf[:n])
		case errors.Is(err, framestream.ErrDataFrameTooLarge):
			c.Metrics.Frames.Inc()
			c.Metrics.Dropped.WithLabelValues(DropOversized).Inc()
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			log.Info("dnstap connection closed")
			return
		default:
			// A broken stream cannot be resynchronised: the connection goes,
			// CoreDNS reconnects.
			log.V(1).Info("dnstap: connection dropped", "error", err.Error())
			c.Metrics.Dropped.WithLabelValues(DropMalformed).Inc()
			return
		}
	}
}
