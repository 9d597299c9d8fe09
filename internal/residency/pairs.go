package residency

import (
	"slices"
	"sort"
	"unique"
)

// Pairs is a small string map kept as key, value, key, value... sorted by
// key: what the informer cache keeps of a workload's labels and annotations.
// A Go map of one entry costs over 300 bytes before its strings; Pairs cost
// 16 bytes a string. It implements labels.Labels, so selectors match it as
// it is; Map gives readers that want a map their own copy.
type Pairs []string

// PairsOf returns m's entries as Pairs (nil when m is empty). Keys are
// interned (the same few label and annotation keys recur on every object),
// and values too when shared is true (vocabulary such as the
// dataresidency.io/ annotations' Subprocessor names and data categories).
func PairsOf(m map[string]string, shared bool) Pairs {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p := make(Pairs, 0, 2*len(m))
	for _, k := range keys {
		v := m[k]
		if shared {
			v = Intern(v)
		}
		p = append(p, Intern(k), v)
	}
	return p
}

// Intern returns the canonical copy of s: one allocation for a string that
// thousands of cached objects repeat (a namespace, a label key).
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// Lookup returns the value of key k and whether it is there.
func (p Pairs) Lookup(k string) (string, bool) {
	i := sort.Search(len(p)/2, func(i int) bool { return p[2*i] >= k })
	if 2*i < len(p) && p[2*i] == k {
		return p[2*i+1], true
	}
	return "", false
}

// Has reports whether key k is there (labels.Labels).
func (p Pairs) Has(k string) bool {
	_, ok := p.Lookup(k)
	return ok
}

// Get returns the value of key k, or "" (labels.Labels).
func (p Pairs) Get(k string) string {
	v, _ := p.Lookup(k)
	return v
}

// Len is the number of entries.
func (p Pairs) Len() int { return len(p) / 2 }

// Map returns the entries as a new map (nil when there are none).
func (p Pairs) Map() map[string]string {
	if len(p) == 0 {
		return nil
	}
	m := make(map[string]string, len(p)/2)
	for i := 0; i < len(p); i += 2 {
		m[p[i]] = p[i+1]
	}
	return m
}

// Equal reports whether p and q hold the same entries.
func (p Pairs) Equal(q Pairs) bool { return slices.Equal(p, q) }
