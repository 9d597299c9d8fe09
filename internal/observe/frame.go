// Package observe turns what the cluster DNS reports into observed egress:
// CoreDNS's dnstap plugin streams every response to the manager (Frame
// Streams over TCP or TLS), each answered name is attributed to the Pod that
// asked (by its IP at the time of the query) and so to its workload, and the
// (workload, name) pairs are aggregated and written to one ObservedEgress per
// workload, which the workload reconciler feeds to the engine.
package observe

import (
	"net/netip"
	"strings"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"
)

// Outcome is what became of one frame.
type Outcome uint8

const (
	// Resolved: a client's query for a name outside the cluster was answered.
	Resolved Outcome = iota
	// Ignored: a well-formed frame that is not an answered query for an
	// external name (a query, NXDOMAIN, an empty answer, a cluster name).
	Ignored
	// Malformed: not a dnstap message, or one without a client address.
	Malformed
	// NotDNS: the message it carries is not a DNS message.
	NotDNS
	// NoMessage: CoreDNS was not told to send messages ("full" is missing
	// from its dnstap line), so no name can be read.
	NoMessage
)

// Resolution is an answered query: who asked, for what, when.
type Resolution struct {
	Client netip.Addr
	Name   string // lower case, no trailing dot
	At     time.Time
}

// Decoder reads dnstap frames. It reuses its buffers: one per connection.
type Decoder struct {
	// ClusterDomain names are the cluster's own ("cluster.local").
	ClusterDomain string
	tap           dnstap.Dnstap
	msg           dns.Msg
}

// Decode reads one frame; the Resolution is valid when the outcome is Resolved.
func (d *Decoder) Decode(frame []byte) (Resolution, Outcome) {
	if err := proto.Unmarshal(frame, &d.tap); err != nil || d.tap.GetType() != dnstap.Dnstap_MESSAGE || d.tap.Message == nil {
		return Resolution{}, Malformed
	}
	m := d.tap.Message
	if m.GetType() != dnstap.Message_CLIENT_RESPONSE {
		return Resolution{}, Ignored
	}
	client, ok := netip.AddrFromSlice(m.QueryAddress)
	if !ok {
		return Resolution{}, Malformed
	}
	if m.ResponseMessage == nil {
		return Resolution{}, NoMessage
	}
	if err := d.msg.Unpack(m.ResponseMessage); err != nil || !d.msg.Response {
		return Resolution{}, NotDNS
	}
	if d.msg.Rcode != dns.RcodeSuccess || len(d.msg.Answer) == 0 || len(d.msg.Question) != 1 {
		return Resolution{}, Ignored
	}
	name := strings.ToLower(strings.TrimSuffix(d.msg.Question[0].Name, "."))
	if !External(name, d.ClusterDomain) {
		return Resolution{}, Ignored
	}
	at := time.Unix(int64(m.GetResponseTimeSec()), int64(m.GetResponseTimeNsec()))
	if m.ResponseTimeSec == nil {
		at = time.Unix(int64(m.GetQueryTimeSec()), int64(m.GetQueryTimeNsec()))
	}
	return Resolution{Client: client.Unmap(), Name: name, At: at}, Resolved
}

// External reports whether a resolved name can be egress: not a name of the
// cluster (the cluster domain, and so every search-path expansion of the
// pods' resolv.conf that resolved), not a single label, not a reverse lookup
// or localhost.
func External(name, clusterDomain string) bool {
	switch {
	case name == "" || !strings.Contains(name, "."):
		return false
	case clusterDomain != "" && (name == clusterDomain || strings.HasSuffix(name, "."+clusterDomain)):
		return false
	case strings.HasSuffix(name, ".arpa"), name == "localhost", strings.HasSuffix(name, ".localhost"):
		return false
	}
	return true
}
