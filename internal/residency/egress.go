package residency

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
)

// PodContext is what discovery may look at beyond the pod spec. Secrets are
// never read: a value in a Secret is not discovered.
type PodContext struct {
	// Namespace is the pod's namespace; single-label service names resolve in it.
	Namespace string
	// ConfigMaps maps a ConfigMap name to its data, in the pod's namespace:
	// those ReferencedConfigMaps names. Absent means unknown or missing:
	// nothing is discovered from it.
	ConfigMaps map[string]map[string]string
	// ExternalNames maps "name.namespace" of an ExternalName Service to its spec.externalName.
	ExternalNames map[string]string
	// Cluster answers what discovery asks about the rest of the cluster; nil
	// means unknown, and names are judged by their form alone.
	Cluster ClusterFacts
}

// ClusterFacts are the cluster-wide facts that tell a cluster name from a
// host of the internet. Host names are passed lower-case, without trailing dot.
type ClusterFacts interface {
	// NamespaceExists reports whether a Namespace of that name exists: then
	// "mysql.shop:3306" names Service mysql of namespace shop, although .shop
	// is a top-level domain.
	NamespaceExists(name string) bool
	// ServesHost reports whether the cluster serves the host (an Ingress; in
	// residencyctl's input also a Gateway API route): it is a workload's own
	// public name (APP_URL, CORS_ORIGINS), not egress.
	ServesHost(host string) bool
}

// Bounds on discovery: a pod spec (and the ConfigMaps it names) comes from
// users and is read on the admission path. Reaching one is reported
// (DiscoveryIncomplete), never a silent cut.
const (
	// maxDiscoveredEndpoints bounds the endpoints discovered for one pod.
	maxDiscoveredEndpoints = 512
	// maxScannedValueBytes bounds one value: an environment value, an
	// argument or a mounted file. A longer one is not read.
	maxScannedValueBytes = 256 << 10
	// maxScannedBytes bounds what is read for one pod, all values together.
	maxScannedBytes = 1 << 20
	// maxValueDepth bounds values nested in values: quoted, in JSON, key=value.
	maxValueDepth = 4
	// maxNotes bounds the places a DiscoveryIncomplete message names.
	maxNotes = 3
)

// eachContainer calls fn for init containers, containers and ephemeral
// containers, in that order, until fn returns false.
func eachContainer(spec *PodSpec, fn func(*Container) bool) {
	for _, cs := range [...][]Container{spec.InitContainers, spec.Containers, spec.EphemeralContainers} {
		for i := range cs {
			if !fn(&cs[i]) {
				return
			}
		}
	}
}

// volume returns the pod volume of that name, or nil.
func (s *PodSpec) volume(name string) *Volume {
	for i := range s.Volumes {
		if s.Volumes[i].Name == name {
			return &s.Volumes[i]
		}
	}
	return nil
}

// eachConfigMap calls fn for the volume's ConfigMap sources, in order.
func (v *Volume) eachConfigMap(fn func(*ConfigMapVolume)) {
	if v.ConfigMap != nil {
		fn(v.ConfigMap)
	}
	if v.Projected != nil {
		for i := range v.Projected.Sources {
			if cm := v.Projected.Sources[i].ConfigMap; cm != nil {
				fn(cm)
			}
		}
	}
}

// ReferencedConfigMaps returns, sorted and deduplicated, the names of the
// ConfigMaps the pod spec references through env valueFrom.configMapKeyRef,
// envFrom.configMapRef and volumes (configMap, or projected configMap
// sources) that a container mounts, in all containers, init containers and
// ephemeral containers: the ConfigMaps a caller should put in PodContext.ConfigMaps.
func ReferencedConfigMaps(spec *PodSpec) []string {
	if spec == nil {
		return nil
	}
	var names []string
	eachContainer(spec, func(c *Container) bool {
		for i := range c.Env {
			if vf := c.Env[i].ValueFrom; vf != nil && vf.ConfigMapKeyRef != nil && vf.ConfigMapKeyRef.Name != "" {
				names = append(names, vf.ConfigMapKeyRef.Name)
			}
		}
		for i := range c.EnvFrom {
			if ref := c.EnvFrom[i].ConfigMapRef; ref != nil && ref.Name != "" {
				names = append(names, ref.Name)
			}
		}
		for i := range c.VolumeMounts {
			if v := spec.volume(c.VolumeMounts[i].Name); v != nil {
				v.eachConfigMap(func(cm *ConfigMapVolume) {
					if cm.Name != "" {
						names = append(names, cm.Name)
					}
				})
			}
		}
		return true
	})
	return sortedUnique(names)
}

// DiscoverEgress finds the external endpoints a pod talks to, deduplicated by
// String(), in a deterministic order: containers as listed (init, regular,
// ephemeral), and in each the envFrom ConfigMaps (keys sorted), env, command,
// args, then the files of the ConfigMaps it mounts (mounts as listed, files
// sorted by path).
//
// Only what the container really sees is read: an envFrom key overridden by a
// later envFrom source or by env, or an env entry overridden by a later one of
// the same name, is skipped; $(VAR) references are expanded as the kubelet
// does. A value is read as a whole when it is quoted, JSON, an Oracle Net
// descriptor or a key=value connection string, and otherwise as a list of
// entries (separated by commas, semicolons or white space), each judged
// alone: a URL (multi-host ones too), host:port, a JDBC, MySQL or scp-like
// address, a fully qualified host name or an IP address. Cluster-internal
// names, reserved names (RFC 2606, RFC 6761) and non-public addresses are not
// egress, except that a name of an ExternalName Service yields the service's
// externalName. A name is only egress under a public top-level domain:
// "kafka-0.kafka:9092" or "http://otel.observability:4317" reach a Service
// through the cluster's search domains. docs/workloads.md says what is read.
func DiscoverEgress(spec *PodSpec, ctx PodContext) []Endpoint {
	out, _ := discoverEgressInto(nil, spec, ctx)
	if len(out) == 0 {
		return nil
	}
	return out
}

// discoverEgressInto is DiscoverEgress appending to dst. It also returns, when
// a bound stopped discovery or kept a value from being read, where and why:
// the endpoints found are then not all the pod's.
func discoverEgressInto(dst []Endpoint, spec *PodSpec, ctx PodContext) ([]Endpoint, []string) {
	if spec == nil {
		return dst, nil
	}
	d := discoverer{ctx: ctx, spec: spec, out: dst, base: len(dst)}
	eachContainer(spec, func(c *Container) bool {
		d.container(c)
		return !d.stopped
	})
	if d.moreNotes > 0 {
		d.notes = append(d.notes, fmt.Sprintf("and %d more", d.moreNotes))
	}
	return d.out, d.notes
}

type discoverer struct {
	ctx  PodContext
	spec *PodSpec
	out  []Endpoint
	// base is where this pod's endpoints start in out.
	base int
	// scanned counts the bytes of the values read so far (maxScannedBytes).
	scanned int
	// stopped is set when a bound ends discovery.
	stopped bool
	// src is where the value being read comes from.
	src valueSource
	// notes say where bounds kept values from being read; moreNotes counts
	// those beyond maxNotes.
	notes     []string
	moreNotes int
}

// note records that a bound kept something from being read.
func (d *discoverer) note(msg string) {
	if len(d.notes) < maxNotes {
		d.notes = append(d.notes, msg)
		return
	}
	d.moreNotes++
}

// stop ends discovery, saying why.
func (d *discoverer) stop(msg string) {
	if !d.stopped {
		d.stopped = true
		d.note(msg)
	}
}

// budget accounts for a value of n bytes about to be read, and reports
// whether it may be.
func (d *discoverer) budget(n int) bool {
	switch {
	case d.stopped:
		return false
	case n > maxScannedValueBytes:
		d.note(fmt.Sprintf("%s is %d bytes, over the %d read per value: not read", &d.src, n, maxScannedValueBytes))
		return false
	case d.scanned+n > maxScannedBytes:
		d.stop(fmt.Sprintf("read %d bytes, the most read per workload: stopped at %s", d.scanned, &d.src))
		return false
	}
	d.scanned += n
	return true
}

// add records an endpoint found in a value named key, unless it is known
// already or the key lists who may call in (keyInbound).
func (d *discoverer) add(ep Endpoint, key valueKey) {
	if d.stopped || d.seen(&ep) || key.class() == keyInbound {
		return
	}
	if len(d.out)-d.base >= maxDiscoveredEndpoints {
		d.stop(fmt.Sprintf("found more than %d endpoints, the most read per workload: stopped at %s", maxDiscoveredEndpoints, &d.src))
		return
	}
	if ep.Source == "" {
		ep.Source = d.src.String()
	}
	d.out = append(d.out, ep)
}

// envIndexes are the maps from env name to its last index that containers
// with many variables use, reused across evaluations (bench/notes.md, round 2).
var envIndexes = sync.Pool{New: func() any { return make(map[string]int, 64) }}

// sameEndpoint reports whether two endpoints are the same place (what
// String() prints), without building the strings.
func sameEndpoint(a, b *Endpoint) bool {
	return a.Host == b.Host && a.Addr == b.Addr && a.Prefix == b.Prefix && a.Port == b.Port
}

// seen reports whether an endpoint was already discovered. The list is
// bounded (maxDiscoveredEndpoints), so a scan beats a map here.
func (d *discoverer) seen(ep *Endpoint) bool {
	for i := d.base; i < len(d.out); i++ {
		if sameEndpoint(&d.out[i], ep) {
			return true
		}
	}
	return false
}

func (d *discoverer) container(c *Container) {
	// Names set by env: they override every envFrom source; and the last
	// entry of a name wins over earlier ones. Containers have few variables:
	// scan them rather than build a map, unless there are many.
	var lastEnv map[string]int
	if len(c.Env) > 32 {
		lastEnv = envIndexes.Get().(map[string]int)
		defer func() {
			clear(lastEnv)
			envIndexes.Put(lastEnv)
		}()
		for i := range c.Env {
			lastEnv[c.Env[i].Name] = i
		}
	}
	isLast := func(i int) bool {
		if lastEnv != nil {
			return lastEnv[c.Env[i].Name] == i
		}
		for j := i + 1; j < len(c.Env); j++ {
			if c.Env[j].Name == c.Env[i].Name {
				return false
			}
		}
		return true
	}
	setByEnv := func(name string) bool {
		if lastEnv != nil {
			_, ok := lastEnv[name]
			return ok
		}
		for j := range c.Env {
			if c.Env[j].Name == name {
				return true
			}
		}
		return false
	}
	// $(VAR) references, expanded only when a value has one.
	var x *envExpander
	expand := func(v string, before int) (string, bool) {
		if strings.IndexByte(v, '$') < 0 {
			return v, true
		}
		if x == nil {
			x = &envExpander{ctx: &d.ctx, c: c}
		}
		out, ok := x.expand(v, before)
		if !ok {
			d.note(fmt.Sprintf("%s expands to more than %d bytes: not read", &d.src, maxScannedValueBytes))
		}
		return out, ok
	}
	// envFrom: the last source that defines a name wins. Walk backwards to know
	// what later sources define, then emit forwards.
	type kv struct{ cm, key, name, value string }
	var perSource [][]kv
	var definedLater map[string]struct{}
	if len(c.EnvFrom) > 0 {
		perSource = make([][]kv, len(c.EnvFrom))
		definedLater = map[string]struct{}{}
	}
	for i := len(c.EnvFrom) - 1; i >= 0; i-- {
		ef := c.EnvFrom[i]
		if ef.ConfigMapRef == nil {
			continue // Secrets are never read; what they override stays unknown
		}
		data, ok := d.ctx.ConfigMaps[ef.ConfigMapRef.Name]
		if !ok {
			continue // missing (optional or not) or unknown: nothing to read
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := ef.Prefix + k
			if setByEnv(name) {
				continue
			}
			if _, ok := definedLater[name]; ok {
				continue
			}
			perSource[i] = append(perSource[i], kv{ef.ConfigMapRef.Name, k, name, data[k]})
		}
		for _, k := range keys {
			definedLater[ef.Prefix+k] = struct{}{}
		}
	}
	for _, src := range perSource {
		for _, e := range src {
			d.src = valueSource{kind: sourceConfigMapKey, configMap: e.cm, key: e.key, container: c.Name}
			d.readTop(e.value, e.name)
		}
	}
	for i := range c.Env {
		ev := &c.Env[i]
		if !isLast(i) {
			continue
		}
		switch {
		case ev.ValueFrom == nil:
			d.src = valueSource{kind: sourceEnv, key: ev.Name, container: c.Name}
			if v, ok := expand(ev.Value, i); ok {
				d.readTop(v, ev.Name)
			}
		case ev.ValueFrom.ConfigMapKeyRef != nil:
			ref := ev.ValueFrom.ConfigMapKeyRef
			if v, ok := d.ctx.ConfigMaps[ref.Name][ref.Key]; ok {
				d.src = valueSource{kind: sourceConfigMapKey, configMap: ref.Name, key: ref.Key, container: c.Name}
				d.readTop(v, ev.Name)
			}
		}
	}
	// The kubelet expands command and args with the container's whole environment.
	for _, w := range [...]struct {
		kind  sourceKind
		words []string
	}{{sourceCommand, c.Command}, {sourceArgs, c.Args}} {
		if len(w.words) == 0 {
			continue
		}
		d.src = valueSource{kind: w.kind, container: c.Name}
		d.readWords(w.words, func(v string) (string, bool) { return expand(v, len(c.Env)) })
	}
	d.mountedFiles(c)
}

// readTop reads a value as the container sees it, named key.
func (d *discoverer) readTop(v string, key string) {
	if !d.budget(len(v)) || (!hasDotOrColon(v) && len(d.ctx.ExternalNames) == 0) {
		return // see readValue: no endpoint without a dot or a colon
	}
	d.readValue(v, valueKey{name: key}, 0)
}

// readWords reads a command or its arguments: "--endpoint=https://x" is
// read as a value named endpoint, "-h host" as a value named by its flag, and
// any other word (a "sh -c" script too) as a value of its own.
func (d *discoverer) readWords(words []string, expand func(string) (string, bool)) {
	flag := ""
	for _, w := range words {
		w, ok := expand(w)
		if !ok {
			flag = ""
			continue
		}
		if !d.budget(len(w)) {
			return
		}
		if len(w) > 1 && w[0] == '-' && !strings.ContainsAny(w, " \t\n") {
			if k, v, ok := strings.Cut(w, "="); ok {
				d.readValue(v, valueKey{name: k}, 1)
				flag = ""
			} else {
				flag = w
			}
			continue
		}
		d.readValue(w, valueKey{name: flag}, 0)
		flag = ""
	}
}

// mountedFiles reads the files of the ConfigMaps a container mounts.
func (d *discoverer) mountedFiles(c *Container) {
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		v := d.spec.volume(m.Name)
		if v == nil || d.stopped {
			continue
		}
		v.eachConfigMap(func(cm *ConfigMapVolume) {
			data, ok := d.ctx.ConfigMaps[cm.Name]
			if !ok || d.stopped {
				return
			}
			for _, f := range configMapFiles(cm, data) {
				p, ok := mountedPath(m, f.path)
				if !ok {
					continue
				}
				d.src = valueSource{kind: sourceFile, configMap: cm.Name, key: f.key, path: p, container: c.Name}
				if d.budget(len(data[f.key])) {
					d.readFile(data[f.key], p)
				}
			}
		})
	}
}

// volumeFile is one file a ConfigMap volume holds: the key's data at a path
// relative to the volume's root.
type volumeFile struct{ path, key string }

// configMapFiles lists the files a ConfigMap source projects, sorted by path:
// each key under its own name, or the keys of items at their paths (an item
// whose key the ConfigMap lacks makes no file).
func configMapFiles(cm *ConfigMapVolume, data map[string]string) []volumeFile {
	var files []volumeFile
	if len(cm.Items) == 0 {
		files = make([]volumeFile, 0, len(data))
		for k := range data {
			files = append(files, volumeFile{k, k})
		}
	} else {
		for _, it := range cm.Items {
			if _, ok := data[it.Key]; ok && it.Path != "" {
				files = append(files, volumeFile{path.Clean(it.Path), it.Key})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files
}

// mountedPath is where the container sees a file of the volume, if it does:
// under the mount path, or at it when subPath selects the file.
func mountedPath(m *VolumeMount, rel string) (string, bool) {
	if m.SubPath == "" {
		return path.Join(m.MountPath, rel), true
	}
	sub := path.Clean(m.SubPath)
	switch {
	case rel == sub:
		return path.Clean(m.MountPath), true
	case strings.HasPrefix(rel, sub+"/"):
		return path.Join(m.MountPath, rel[len(sub)+1:]), true
	}
	return "", false
}

// sourceKind is where in the pod a value was read.
type sourceKind uint8

const (
	sourceEnv          sourceKind = iota // a literal env value
	sourceConfigMapKey                   // a ConfigMap key through env or envFrom
	sourceFile                           // a ConfigMap key mounted as a file
	sourceCommand                        // the container's command
	sourceArgs                           // the container's args
)

// valueSource says where a value was read; it becomes Endpoint.Source only
// when the value holds an endpoint.
type valueSource struct {
	kind      sourceKind
	configMap string
	key       string // the env var name, or the ConfigMap key
	path      string // where a file is mounted
	container string
	str       string // String(), once built
}

func (s *valueSource) String() string {
	if s.str != "" {
		return s.str
	}
	switch s.kind {
	case sourceEnv:
		s.str = "env " + s.key + ` of container "` + s.container + `"`
	case sourceConfigMapKey:
		s.str = `configmap "` + s.configMap + `" key ` + s.key + ` (container "` + s.container + `")`
	case sourceFile:
		s.str = `configmap "` + s.configMap + `" mounted at ` + s.path + ` (container "` + s.container + `")`
	case sourceCommand:
		s.str = `command of container "` + s.container + `"`
	case sourceArgs:
		s.str = `args of container "` + s.container + `"`
	}
	return s.str
}
