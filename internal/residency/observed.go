package residency

import (
	"fmt"
	"strconv"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// ObservedHost is a DNS name a workload's pods resolved, as the cluster DNS
// reported it (an ObservedEgress entry).
type ObservedHost struct {
	Name                string
	Count               int64
	FirstSeen, LastSeen time.Time
}

// Origin says how the engine learnt of an endpoint.
type Origin uint8

const (
	// OriginDiscovered: read in the pod spec or what it references.
	OriginDiscovered Origin = iota
	// OriginDeclared: written in the dataresidency.io/egress annotation.
	OriginDeclared
	// OriginObserved: resolved by the workload's pods (ObservedEgress).
	OriginObserved
)

func (o Origin) String() string {
	switch o {
	case OriginDeclared:
		return "declared"
	case OriginObserved:
		return "observed"
	}
	return "discovered"
}

// observedTimeLayout is how findings write when a name was last resolved:
// to the minute, in UTC.
const observedTimeLayout = "2006-01-02T15:04Z"

// LiveObservations returns the observations that still count at now under
// the retention (a name counts until retention after it was last resolved),
// and the instant the earliest of them expires (zero if none): the caller
// re-evaluates then. hosts is not modified.
func LiveObservations(hosts []ObservedHost, retention time.Duration, now time.Time) (live []ObservedHost, expires time.Time) {
	for _, h := range hosts {
		end := h.LastSeen.Add(retention)
		if !end.After(now) {
			continue
		}
		live = append(live, h)
		if expires.IsZero() || end.Before(expires) {
			expires = end
		}
	}
	return live, expires
}

// observedInto appends w's observed names as endpoints, after the discovered
// and declared ones, so that each is attributed and judged as they are. A
// name that is not a host name (an edited object) is skipped; the
// resolutions of names not kept are where observation stopped.
func observedInto(eps []Endpoint, w *Workload, incomplete []string) ([]Endpoint, []string) {
	for i := range w.Observed {
		o := &w.Observed[i]
		ep, problem := parseEndpoint(o.Name)
		if problem != "" || ep.Host == "" || ep.Port != 0 {
			continue
		}
		ep.Raw, ep.Origin = o.Name, OriginObserved
		ep.Source = "resolved " + ep.Host + " " + strconv.FormatInt(o.Count, 10) + times(o.Count) +
			", last " + o.LastSeen.UTC().Format(observedTimeLayout)
		eps = append(eps, ep)
	}
	if w.ObservedDropped > 0 {
		incomplete = append(incomplete, fmt.Sprintf("observed egress: %d resolutions of names beyond the %d an ObservedEgress keeps were not recorded",
			w.ObservedDropped, v1alpha1.MaxObservedHosts))
	}
	return eps, incomplete
}

func times(n int64) string {
	if n == 1 {
		return " time"
	}
	return " times"
}

// origin is where a finding's endpoint comes from, as the finding's source
// says it: "discovered: env SMTP_HOST of container \"app\"", "declared:
// annotation dataresidency.io/egress", "observed: resolved api.stripe.com 214
// times, last 2026-12-06T10:02Z".
func (e *Endpoint) origin() string {
	if e.Source == "" {
		return e.Origin.String()
	}
	return e.Origin.String() + ": " + e.Source
}
