package residency

import "sync"

// Bounds on the parsed-annotation cache of a Snapshot: values longer than
// maxCachedValue are parsed every time, and once a table holds
// maxCachedValues values new ones are no longer added.
const (
	maxCachedValue  = 1024
	maxCachedValues = 4096
)

// annotationCache remembers what the annotation parsers made of a value. The
// same values come back again and again (a Deployment, its ReplicaSets and
// their Pods carry the same template annotations), and a snapshot lives only
// until the residency objects or the time change, so parsing them once per
// snapshot keeps Evaluate free of parsing allocations. Cached slices are shared:
// Evaluate treats them as read-only.
type annotationCache struct {
	mu        sync.RWMutex
	names     map[string]cachedList
	cats      map[string]cachedList
	endpoints map[string]cachedEndpoints
}

type cachedList struct {
	list []string
	errs []ParseError
}

type cachedEndpoints struct {
	eps  []Endpoint
	errs []ParseError
}

func newAnnotationCache() *annotationCache {
	return &annotationCache{
		names:     map[string]cachedList{},
		cats:      map[string]cachedList{},
		endpoints: map[string]cachedEndpoints{},
	}
}

// withAnnotation sets the annotation key on errors that lack it.
func withAnnotation(errs []ParseError, key string) []ParseError {
	for i := range errs {
		if errs[i].Annotation == "" {
			errs[i].Annotation = key
		}
	}
	return errs
}

// list parses a list annotation (subprocessors or data-categories) through the cache.
func (c *annotationCache) list(key, value string) ([]string, []ParseError) {
	table, parse := c.cats, ParseDataCategories
	if key == AnnotationSubprocessors {
		table, parse = c.names, ParseSubprocessorNames
	}
	if len(value) <= maxCachedValue {
		c.mu.RLock()
		v, ok := table[value]
		c.mu.RUnlock()
		if ok {
			return v.list, v.errs
		}
	}
	list, errs := parse(value)
	errs = withAnnotation(errs, key)
	if len(value) <= maxCachedValue {
		c.mu.Lock()
		if len(table) < maxCachedValues {
			table[value] = cachedList{list, errs}
		}
		c.mu.Unlock()
	}
	return list, errs
}

// egress parses the egress annotation through the cache.
func (c *annotationCache) egress(value string) ([]Endpoint, []ParseError) {
	if len(value) <= maxCachedValue {
		c.mu.RLock()
		v, ok := c.endpoints[value]
		c.mu.RUnlock()
		if ok {
			return v.eps, v.errs
		}
	}
	eps, errs := ParseEndpoints(value)
	errs = withAnnotation(errs, AnnotationEgress)
	if len(value) <= maxCachedValue {
		c.mu.Lock()
		if len(c.endpoints) < maxCachedValues {
			c.endpoints[value] = cachedEndpoints{eps, errs}
		}
		c.mu.Unlock()
	}
	return eps, errs
}
