package webhook

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
)

// jreader is a minimal JSON reader over one byte slice, for the admission
// fast path (fastreview.go): the caller walks the members it wants and skips
// the others. It validates everything it reads or skips as encoding/json's
// scanner does (strings, escapes, numbers, literals, nesting, nothing but
// white space after the value), so a body that encoding/json rejects is
// rejected here too. String values decode exactly as encoding/json decodes
// them: verbatim when they hold no escape and valid UTF-8, through
// encoding/json itself otherwise.
//
// Two kinds of error are kept apart: err, the body is not JSON (the whole
// review is unreadable); terr, a value the caller asked for has the wrong
// JSON type (only the object under review is unreadable, and the caller
// skips it and goes on).
type jreader struct {
	b     []byte
	i     int
	depth int
	err   error
	terr  error

	// arena holds the bytes of strings made by str(false): one allocation
	// for most of a request's strings instead of one each. When it is full a
	// new one is made (the strings of the old one keep it alive as long as
	// they live). The pooled reader's arena is reused by the next request
	// (reviewBuffers.release), so its strings must not outlive the request
	// they were read for: nothing the webhook keeps (caches, metrics labels,
	// goroutines) may hold one. Strings that are kept (annotation values,
	// which the engine's parse cache keeps as map keys) are allocated on their
	// own (str(true)). Tests poison a released arena (poisonReleased) so that
	// a string kept by mistake shows up as a wrong answer.
	arena []byte

	// envScratch collects a container's env before it is copied out at its
	// size: one allocation instead of one per doubling. It survives reset
	// (but not its contents: readEnv clears what it used).
	envScratch []corev1.EnvVar

	// envSlab and containerSlab hold the env and containers of the pod spec
	// under review. They live as long as the request's view and no longer
	// (the engine keeps strings of what it evaluates, never these slices),
	// so they are reused across requests with the pooled reader, cleared of
	// the request's strings in between (reviewBuffers.release).
	envSlab       []corev1.EnvVar
	containerSlab []corev1.Container
}

// keepEnv copies a container's env into the reader's slab. A full slab is
// not grown but replaced (the slices already handed out keep the old one), so
// nothing handed out is ever moved or overwritten before release.
func (r *jreader) keepEnv(env []corev1.EnvVar) []corev1.EnvVar {
	if len(r.envSlab)+len(env) > cap(r.envSlab) {
		r.envSlab = make([]corev1.EnvVar, 0, max(min(2*cap(r.envSlab), maxEnvSlab), 128, len(env)))
	}
	start := len(r.envSlab)
	r.envSlab = append(r.envSlab, env...)
	return r.envSlab[start:len(r.envSlab):len(r.envSlab)]
}

// newContainer appends a zero container to the reader's slab (replaced, not
// grown, when full: see keepEnv) and returns the slab and its index.
func (r *jreader) newContainer(start int) (slab []corev1.Container, from int) {
	if len(r.containerSlab) == cap(r.containerSlab) {
		// Move this list's containers read so far to the new slab.
		old := r.containerSlab[start:]
		r.containerSlab = make([]corev1.Container, 0, max(min(2*cap(r.containerSlab), maxContainerSlab), 4, 2*len(old)+1))
		r.containerSlab = append(r.containerSlab, old...)
		start = 0
	}
	r.containerSlab = append(r.containerSlab, corev1.Container{})
	return r.containerSlab, start
}

// Bounds on the slabs a pooled reader keeps between requests.
const (
	maxEnvSlab       = 4096
	maxContainerSlab = 64
)

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// strPlain marks the bytes a string can hold that need no decoding: not the
// quote, the backslash, control characters or non-ASCII bytes.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (r *jreader) reset(b []byte) {
	// The arena and the slabs carry on (what was handed out from them stays
	// as it is); reviewBuffers.release empties them once the request is answered.
	*r = jreader{b: b, envScratch: r.envScratch[:0], envSlab: r.envSlab, containerSlab: r.containerSlab, arena: r.arena}
}

// syntax records that the body is not JSON, in encoding/json's words.
func (r *jreader) syntax(msg string) bool {
	if r.err == nil {
		r.err = errors.New(msg)
	}
	return false
}

func (r *jreader) invalidChar(context string) bool {
	if r.i >= len(r.b) {
		return r.syntax("unexpected end of JSON input")
	}
	return r.syntax(fmt.Sprintf("invalid character %s %s", quoteChar(r.b[r.i]), context))
}

// quoteChar formats c as encoding/json's errors do.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// mismatch records that the value at the cursor is not of the wanted type
// (or, if no value starts there, that the body is not JSON).
func (r *jreader) mismatch(field, want string) bool {
	switch c := r.next(); {
	case c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || c >= '0' && c <= '9':
	default:
		return r.invalidChar("looking for beginning of value")
	}
	if r.terr == nil {
		r.terr = fmt.Errorf("json: cannot unmarshal %s into Go struct field %s of type %s", tokenName(r.next()), field, want)
	}
	return false
}

func tokenName(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// ws skips white space (the API server sends none: one comparison).
func (r *jreader) ws() {
	for r.i < len(r.b) && r.b[r.i] <= ' ' {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// Words of eight bytes, for scanning strings eight bytes at a time.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	slashs = '\\' * ones
)

// plain8 reports whether none of the eight bytes of x needs attention in a
// string: no quote, no backslash, no control character, nothing but ASCII.
func plain8(x uint64) bool {
	q, s := x^quotes, x^slashs
	special := (q-ones)&^q | (s-ones)&^s | (x - 0x20*ones) | x
	return special&highs == 0
}

// next returns the first byte of the next token (0 at the end).
func (r *jreader) next() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

// end checks that nothing but white space follows the top-level value.
func (r *jreader) end() bool {
	if r.err != nil {
		return false
	}
	r.ws()
	if r.i < len(r.b) {
		return r.invalidChar("after top-level value")
	}
	return true
}

// enter consumes the opening '{' or '[' at the cursor.
func (r *jreader) enter() bool {
	r.depth++
	if r.depth > maxJSONDepth {
		return r.syntax("exceeded max depth")
	}
	r.i++
	return true
}

// member advances to the next member of the object being read and returns
// its key (valid until the next read), or false at the closing '}' or on an
// error (r.err). n counts the members read so far; start it at 0.
func (r *jreader) member(n *int) ([]byte, bool) {
	return r.nextMember(n, true)
}

// nextMember is member; with decode false, a key with escapes is validated
// but not decoded (skip never reads keys: managedFields are full of
// "k:{\"name\":...}" keys).
func (r *jreader) nextMember(n *int, decode bool) ([]byte, bool) {
	if r.err != nil || r.terr != nil {
		return nil, false
	}
	c := r.next()
	if c == '}' {
		r.i++
		r.depth--
		return nil, false
	}
	if *n > 0 {
		if c != ',' {
			return nil, r.invalidChar("after object key:value pair")
		}
		r.i++
		c = r.next()
	}
	if c != '"' {
		return nil, r.invalidChar("looking for beginning of object key string")
	}
	*n++
	raw, esc, ok := r.strToken()
	if !ok {
		return nil, false
	}
	if esc && decode {
		var k string
		if err := json.Unmarshal(r.b[r.i-len(raw)-2:r.i], &k); err != nil {
			return nil, r.syntax(err.Error())
		}
		raw = []byte(k)
	}
	if r.next() != ':' {
		return nil, r.invalidChar("after object key")
	}
	r.i++
	return raw, true
}

// elem advances to the next element of the array being read: false at the
// closing ']' or on an error.
func (r *jreader) elem(n *int) bool {
	if r.err != nil || r.terr != nil {
		return false
	}
	c := r.next()
	if c == ']' {
		r.i++
		r.depth--
		return false
	}
	if *n > 0 {
		if c != ',' {
			return r.invalidChar("after array element")
		}
		r.i++
		if r.next() == ']' {
			return r.invalidChar("looking for beginning of value")
		}
	}
	*n++
	return true
}

// strToken reads the string token at the cursor ('"') and returns its raw
// contents, and whether they need decoding: escapes, or bytes that are not
// valid UTF-8 (which encoding/json replaces with U+FFFD).
func (r *jreader) strToken() (raw []byte, esc bool, ok bool) {
	b := r.b
	start := r.i + 1
	i := start
	nonASCII := false
	for {
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			r.i = i
			return nil, false, r.syntax("unexpected end of JSON input")
		}
		switch c := b[i]; {
		case c == '"':
			r.i = i + 1
			raw = b[start:i]
			return raw, esc || nonASCII && !utf8.Valid(raw), true
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				r.i = i
				return nil, false, r.syntax("unexpected end of JSON input")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for k := 0; k < 4; k++ {
					if i >= len(b) {
						r.i = i
						return nil, false, r.syntax("unexpected end of JSON input")
					}
					if !isHex(b[i]) {
						r.i = i
						return nil, false, r.invalidChar("in \\u hexadecimal character escape")
					}
					i++
				}
			default:
				r.i = i
				return nil, false, r.invalidChar("in string escape code")
			}
		case c < 0x20:
			r.i = i
			return nil, false, r.invalidChar("in string literal")
		default: // not ASCII
			nonASCII = true
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// str reads a string value at the cursor. own: allocate it on its own
// rather than in the arena (for strings that may outlive the request).
func (r *jreader) str(own bool) (string, bool) {
	raw, esc, ok := r.strToken()
	if !ok {
		return "", false
	}
	if esc {
		var s string
		if err := json.Unmarshal(r.b[r.i-len(raw)-2:r.i], &s); err != nil {
			return "", r.syntax(err.Error())
		}
		return s, true
	}
	if len(raw) == 0 {
		return "", true
	}
	if own {
		return string(raw), true
	}
	return r.intern(raw), true
}

// intern copies b into the arena and returns it as a string.
func (r *jreader) intern(b []byte) string {
	if len(r.arena)+len(b) > cap(r.arena) {
		n := len(r.b) / 2
		if n < 1024 {
			n = 1024
		}
		if n < len(b) {
			n = len(b)
		}
		r.arena = make([]byte, 0, n)
	}
	off := len(r.arena)
	r.arena = append(r.arena, b...)
	return unsafe.String(&r.arena[off], len(b))
}

// literal consumes the literal lit (true, false, null) at the cursor.
func (r *jreader) literal(lit string) bool {
	if len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit {
		r.i += len(lit)
		return true
	}
	// Find the first byte that differs, for the message.
	for k := 0; k < len(lit); k++ {
		if r.i+k >= len(r.b) {
			r.i += k
			return r.syntax("unexpected end of JSON input")
		}
		if r.b[r.i+k] != lit[k] {
			r.i += k
			return r.invalidChar("in literal " + lit + " (expecting " + quoteChar(lit[k]) + ")")
		}
	}
	return false
}

// number consumes a number at the cursor.
func (r *jreader) number() bool {
	b, i := r.b, r.i
	digits := func() bool {
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			r.i = i
			return r.invalidChar("in numeric literal")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return true
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	r.i = i
	return true
}

// skip consumes one value of any type, validating it.
func (r *jreader) skip() bool {
	switch c := r.next(); {
	case c == '"':
		_, _, ok := r.strToken()
		return ok
	case c == '{':
		if !r.enter() {
			return false
		}
		for n := 0; ; {
			if _, ok := r.nextMember(&n, false); !ok {
				break
			}
			if !r.skip() {
				return false
			}
		}
		return r.err == nil
	case c == '[':
		if !r.enter() {
			return false
		}
		for n := 0; r.elem(&n); {
			if !r.skip() {
				return false
			}
		}
		return r.err == nil
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	}
	return r.invalidChar("looking for beginning of value")
}

// skipValue consumes one value and returns its bytes.
func (r *jreader) skipValue() ([]byte, bool) {
	r.ws()
	start := r.i
	if !r.skip() {
		return nil, false
	}
	return r.b[start:r.i], true
}

// stringInto reads a string (or null, which leaves *dst as it is, as
// encoding/json does) into *dst.
func (r *jreader) stringInto(dst *string, field string, own bool) bool {
	switch r.next() {
	case '"':
		s, ok := r.str(own)
		if ok {
			*dst = s
		}
		return ok
	case 'n':
		return r.literal("null")
	}
	return r.mismatch(field, "string")
}

// boolInto reads a bool or null into *dst (null: nil).
func (r *jreader) boolInto(dst **bool, field string) bool {
	switch r.next() {
	case 't':
		v := true
		*dst = &v
		return r.literal("true")
	case 'f':
		v := false
		*dst = &v
		return r.literal("false")
	case 'n':
		*dst = nil
		return r.literal("null")
	}
	return r.mismatch(field, "bool")
}

// checkString checks that the value is a string or null and skips it.
func (r *jreader) checkString(field string) bool {
	switch r.next() {
	case '"', 'n':
		return r.skip()
	}
	return r.mismatch(field, "string")
}

// open reads the start of an object or array (want '{' or '['): null
// answers (false, true); another type is a mismatch.
func (r *jreader) open(want byte, field, typ string) (opened, ok bool) {
	switch r.next() {
	case want:
		return true, r.enter()
	case 'n':
		return false, r.literal("null")
	}
	return false, r.mismatch(field, typ)
}
