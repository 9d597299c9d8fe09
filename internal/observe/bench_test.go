package observe

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkIngest is one frame's way through the collector on one core: a
// CoreDNS CLIENT_RESPONSE (with its DNS message) decoded, its client address
// looked up among 10,000 Pods, the (Pod, name) pair tallied. 100 Pods
// resolve 20 names each, repeatedly, as a busy cluster does.
func BenchmarkIngest(b *testing.B) {
	h := NewPodIPs()
	for i := range 10_000 {
		ip := netip.AddrFrom4([4]byte{127, 244, byte(i / 250), byte(1 + i%250)})
		h.Set(pod(fmt.Sprintf("p%d", i), fmt.Sprintf("uid-%d", i), ip.String(), "rs"), t0.Add(-time.Hour))
	}
	frames := make([][]byte, 0, 2000)
	for i := range 2000 {
		ip := netip.AddrFrom4([4]byte{127, 244, byte(i % 100 / 250), byte(1 + i%100%250)})
		frames = append(frames, frame(b, ip.String(), fmt.Sprintf("api%d.vendor%d.example.com", i%20, i%7), 0, 2, t0))
	}
	c := NewCollector(h, "cluster.local", NewMetrics())
	d := &Decoder{ClusterDomain: "cluster.local"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c.Ingest(d, frames[i%len(frames)]) != Resolved {
			b.Fatal("not resolved")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkPairMemory is the memory one tracked (Pod, name) pair holds while
// it waits for a flush, its name's string included.
func BenchmarkPairMemory(b *testing.B) {
	const pairs = 100_000
	for i := 0; i < b.N; i++ {
		h := NewPodIPs()
		for p := range 1000 {
			ip := netip.AddrFrom4([4]byte{127, 244, byte(p / 250), byte(1 + p%250)})
			h.Set(pod(fmt.Sprintf("p%d", p), fmt.Sprintf("uid-%d", p), ip.String(), "rs"), t0.Add(-time.Hour))
		}
		c := NewCollector(h, "cluster.local", NewMetrics())
		c.MaxPending = pairs
		names := make([]string, pairs/1000)
		for n := range names {
			names[n] = fmt.Sprintf("api%d.vendor.example.com", n)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for p := range 1000 {
			ip := netip.AddrFrom4([4]byte{127, 244, byte(p / 250), byte(1 + p%250)})
			for _, n := range names {
				c.Record(Resolution{Client: ip, Name: strings.Clone(n), At: t0}) // each decoded name is its own string
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/pairs, "B/pair")
		runtime.KeepAlive(c)
	}
}
