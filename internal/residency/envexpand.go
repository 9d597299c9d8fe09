package residency

import "strings"

// envExpander expands $(VAR) references in a container's env values,
// command and args as the kubelet does (Kubernetes API reference, EnvVar
// "value"): $(NAME) is the value of NAME as defined before the reference
// (earlier env entries, then envFrom sources), $$ is a literal $, and a
// reference to an undefined variable stays as written. A variable whose value
// discovery cannot know (from a Secret, a field, an unknown ConfigMap) also
// stays as written: the entry holding it is then not read.
type envExpander struct {
	ctx *PodContext
	c   *Container
	// vals and state memoise each env entry's expanded value.
	vals  []string
	state []uint8
}

const (
	expandTodo uint8 = iota
	expandKnown
	expandUnknown
)

// expand expands the references of v as seen by env entry before (len(env)
// for command and args). It reports false when the result would be longer
// than maxScannedValueBytes.
func (x *envExpander) expand(v string, before int) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if b.Len() > maxScannedValueBytes {
			return "", false
		}
		c := v[i]
		if c != '$' || i+1 == len(v) {
			b.WriteByte(c)
			continue
		}
		switch v[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(v[i+2:], ')')
			if end < 0 {
				b.WriteString(v[i:])
				i = len(v)
				continue
			}
			name := v[i+2 : i+2+end]
			if val, ok := x.lookup(name, before); ok {
				b.WriteString(val)
			} else {
				b.WriteString(v[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	if b.Len() > maxScannedValueBytes {
		return "", false
	}
	return b.String(), true
}

// lookup returns the value of a variable as defined before env entry i.
func (x *envExpander) lookup(name string, i int) (string, bool) {
	env := x.c.Env
	for j := min(i, len(env)) - 1; j >= 0; j-- {
		if env[j].Name == name {
			return x.valueAt(j)
		}
	}
	for k := len(x.c.EnvFrom) - 1; k >= 0; k-- {
		ef := &x.c.EnvFrom[k]
		if !strings.HasPrefix(name, ef.Prefix) {
			continue
		}
		if ef.ConfigMapRef == nil {
			return "", false // a Secret may define it
		}
		data, ok := x.ctx.ConfigMaps[ef.ConfigMapRef.Name]
		if !ok {
			return "", false
		}
		if v, ok := data[name[len(ef.Prefix):]]; ok {
			return v, true
		}
	}
	return "", false
}

// valueAt returns env entry j's value, expanded, if discovery can know it.
func (x *envExpander) valueAt(j int) (string, bool) {
	if x.state == nil {
		x.vals = make([]string, len(x.c.Env))
		x.state = make([]uint8, len(x.c.Env))
	}
	switch x.state[j] {
	case expandKnown:
		return x.vals[j], true
	case expandUnknown:
		return "", false
	}
	x.state[j] = expandUnknown
	ev := &x.c.Env[j]
	switch {
	case ev.ValueFrom == nil:
		if v, ok := x.expand(ev.Value, j); ok {
			x.vals[j], x.state[j] = v, expandKnown
		}
	case ev.ValueFrom.ConfigMapKeyRef != nil:
		ref := ev.ValueFrom.ConfigMapKeyRef
		if v, ok := x.ctx.ConfigMaps[ref.Name][ref.Key]; ok {
			x.vals[j], x.state[j] = v, expandKnown
		}
	}
	return x.vals[j], x.state[j] == expandKnown
}
