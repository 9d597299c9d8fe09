package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// RegisterSource is one place the register was read from: a cluster or files.
type RegisterSource struct {
	Name string `json:"name"`
	// Error says why it could not be read; such a source is named, never
	// silently left out, and makes register exit non-zero.
	Error string `json:"error,omitempty"`
}

// RegisterPresence says where a Subprocessor is defined, and how many
// workloads there send it data (the operator's status.workloadCount; not
// known from files).
type RegisterPresence struct {
	Source    string `json:"source"`
	Workloads *int32 `json:"workloads,omitempty"`
}

// RegisterDrift is a catalog object that differs between sources.
type RegisterDrift struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

// registerInput is a register input: a bundle read from somewhere, or why not.
type registerInput struct {
	name     string
	bundle   *Bundle
	err      error
	clusters bool // read from a cluster: status counts are known
}

// BuildFleetRegister is the register of several sources (clusters and
// files) at once: each Subprocessor once, with the sources that define it
// and their workloads, each route with the sources it exists in, and the
// catalog drift between them. The first source that defines an object
// gives its entry.
func BuildFleetRegister(srcs []registerInput, at time.Time) *Register {
	merged := newBundle()
	type seen struct {
		source string
		spec   string
	}
	var regs []*Register
	firstSub, firstBasis, firstLoc := map[string]seen{}, map[string]seen{}, map[string]seen{}
	var drift []RegisterDrift
	presence := map[string][]RegisterPresence{}
	var sources []RegisterSource
	var ok []string
	for _, s := range srcs {
		rs := RegisterSource{Name: s.name}
		if s.err != nil {
			rs.Error = s.err.Error()
			sources = append(sources, rs)
			continue
		}
		sources = append(sources, rs)
		ok = append(ok, s.name)
		b := s.bundle
		regs = append(regs, BuildRegister(b, at, s.name))
		for _, sp := range b.Subprocessors {
			spec := specJSON(sp.Spec)
			p := RegisterPresence{Source: s.name}
			if s.clusters {
				n := sp.Status.WorkloadCount
				p.Workloads = &n
			}
			presence[sp.Name] = append(presence[sp.Name], p)
			if f, dup := firstSub[sp.Name]; !dup {
				firstSub[sp.Name] = seen{s.name, spec}
				merged.Subprocessors = append(merged.Subprocessors, sp)
			} else if f.spec != spec {
				drift = append(drift, RegisterDrift{"Subprocessor", sp.Name, fmt.Sprintf("spec in %s differs from %s", s.name, f.source)})
			}
		}
		for _, tb := range b.Bases {
			spec := specJSON(tb.Spec)
			if f, dup := firstBasis[tb.Name]; !dup {
				firstBasis[tb.Name] = seen{s.name, spec}
				merged.Bases = append(merged.Bases, tb)
			} else if f.spec != spec {
				drift = append(drift, RegisterDrift{"TransferBasis", tb.Name, fmt.Sprintf("spec in %s differs from %s", s.name, f.source)})
			}
		}
		for _, l := range b.Locations {
			spec := specJSON(l.Spec)
			if f, dup := firstLoc[l.Name]; !dup {
				firstLoc[l.Name] = seen{s.name, spec}
			} else if f.spec != spec {
				drift = append(drift, RegisterDrift{"ProcessingLocation", l.Name, fmt.Sprintf("spec in %s differs from %s", s.name, f.source)})
			}
		}
		merged.Locations = appendNew(merged.Locations, b.Locations)
		merged.Exceptions = appendNew(merged.Exceptions, b.Exceptions)
		if merged.Policy == nil {
			merged.Policy = b.Policy
		}
	}
	// Present in some sources only.
	for name, ps := range presence {
		if len(ps) < len(ok) {
			drift = append(drift, RegisterDrift{"Subprocessor", name, "defined in " + presenceNames(ps) + " only"})
		}
	}
	basesIn := map[string][]string{}
	for _, s := range srcs {
		if s.err == nil {
			for _, tb := range s.bundle.Bases {
				basesIn[tb.Name] = append(basesIn[tb.Name], s.name)
			}
		}
	}
	for name, in := range basesIn {
		if len(in) < len(ok) {
			drift = append(drift, RegisterDrift{"TransferBasis", name, "defined in " + strings.Join(in, ", ") + " only"})
		}
	}
	sort.Slice(drift, func(i, j int) bool {
		if drift[i].Kind != drift[j].Kind {
			return drift[i].Kind < drift[j].Kind
		}
		return drift[i].Name < drift[j].Name
	})

	reg := BuildRegister(merged, at, strings.Join(ok, ", "))
	reg.Sources, reg.Drift = sources, drift
	// Each route with the sources in which it exists, as each source's own
	// register has it (a drifted basis may cover a route in one cluster only).
	for i := range reg.Subprocessors {
		e := &reg.Subprocessors[i]
		e.Presence = presence[e.Name]
		for j := range e.Routes {
			rt := &e.Routes[j]
			for _, r := range regs {
				for _, se := range r.Subprocessors {
					if se.Name != e.Name {
						continue
					}
					for _, o := range se.Routes {
						if o.Route == rt.Route && o.Type == rt.Type && o.Via == rt.Via && o.Country == rt.Country {
							state := "covered"
							if !o.Covered {
								state = "NOT covered"
							}
							rt.Sources = append(rt.Sources, r.Source+": "+state)
						}
					}
				}
			}
		}
	}
	return reg
}

func specJSON(spec any) string {
	b, _ := json.Marshal(spec)
	return string(b)
}

func appendNew[T interface{ GetName() string }](to, from []T) []T {
	have := map[string]bool{}
	for _, o := range to {
		have[o.GetName()] = true
	}
	for _, o := range from {
		if !have[o.GetName()] {
			have[o.GetName()] = true
			to = append(to, o)
		}
	}
	return to
}

func presenceNames(ps []RegisterPresence) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Source)
	}
	return strings.Join(names, ", ")
}
