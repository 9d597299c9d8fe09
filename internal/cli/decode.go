package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// Origin says where an object was read: file, 1-based document, index in a
// List's items (-1 if not in a List) and the line it starts at.
type Origin struct {
	File     string `json:"file"`
	Document int    `json:"document"`
	Item     int    `json:"-"`
	Line     int    `json:"line,omitempty"`
}

func (o Origin) String() string {
	if o.Document == 0 {
		return o.File
	}
	s := fmt.Sprintf("%s: document %d", o.File, o.Document)
	if o.Item >= 0 {
		s += fmt.Sprintf(", items[%d]", o.Item)
	}
	if o.Line > 0 {
		s += fmt.Sprintf(" (line %d)", o.Line)
	}
	return s
}

// Notice is something worth saying about the input that does not stop the
// scan: a skipped file, a reference to an object that is not in the input, a
// namespace label that cannot be read.
type Notice struct {
	Origin Origin
	Kind   string
	Name   string
	Field  string
	// Rule is a CamelCase code (UnknownTransferBasis, InvalidEnforcementLabel...).
	Rule string
	Msg  string
}

func (n Notice) String() string {
	s := n.Origin.String()
	if n.Origin.File == "" {
		s = ""
	}
	if n.Kind != "" {
		s += ": " + strings.TrimSpace(n.Kind+" "+n.Name)
	}
	if n.Field != "" {
		s += ": " + n.Field
	}
	if s != "" {
		s += ": "
	}
	return s + n.Msg
}

// Workload is a workload read from the input.
type Workload struct {
	Origin Origin
	Object runtime.Object
	// Namespace is the object's namespace, or the default namespace when it has none.
	Namespace string
}

type objectKey struct{ kind, name string }

// Bundle is everything read from the input.
type Bundle struct {
	Policy        *v1alpha1.ResidencyPolicy
	Locations     []*v1alpha1.ProcessingLocation
	Bases         []*v1alpha1.TransferBasis
	Subprocessors []*v1alpha1.Subprocessor
	Exceptions    []*v1alpha1.ResidencyException
	// Origins locates each residency object by kind and name.
	Origins map[objectKey]Origin
	// Rejected locates the residency objects of the input that were not
	// read because they are invalid (an error says why), by kind and name.
	Rejected map[objectKey]Origin

	Workloads []Workload
	// Namespaces maps a Namespace's name to its labels (nil labels: none).
	Namespaces map[string]map[string]string
	// NamespaceOrigins locates each Namespace.
	NamespaceOrigins map[string]Origin
	// ConfigMaps maps namespace, then name, to the ConfigMap's data.
	ConfigMaps map[string]map[string]map[string]string
	// ExternalNames maps "name.namespace" of an ExternalName Service to its target.
	ExternalNames map[string]string
	// ServedHosts are the hosts the input's Ingresses and Gateway API routes
	// serve (residency.ServingKeys' spelling: "*.shop.io" for a wildcard).
	ServedHosts map[string]bool
	// Observed is what workloads' pods resolved: ObservedEgress objects of
	// the input, and --observed files.
	Observed map[observedKey]*v1alpha1.ObservedEgressStatus

	Errors  []*InputError
	Notices []Notice
	// Files are the files read, in order.
	Files []string
}

// Inputs are the residency objects as the engine takes them.
func (b *Bundle) Inputs() residency.Inputs {
	in := residency.Inputs{Locations: b.Locations, Bases: b.Bases, Subprocessors: b.Subprocessors, Exceptions: b.Exceptions}
	if b.Policy != nil {
		in.Policy = &b.Policy.Spec
	}
	return in
}

// ResidencyObjects counts the residency objects read.
func (b *Bundle) ResidencyObjects() int {
	n := len(b.Locations) + len(b.Bases) + len(b.Subprocessors) + len(b.Exceptions)
	if b.Policy != nil {
		n++
	}
	return n
}

// maxErrors bounds the errors collected before reading stops.
const maxErrors = 100

// loader reads sources into a Bundle.
type loader struct {
	stdin            io.Reader
	stdinName        string
	defaultNamespace string
	b                *Bundle
	// trees keeps the YAML tree of each residency object, to locate fields later.
	trees map[objectKey]treeRef
}

type treeRef struct {
	tree *docTree
	base *yamlv3.Node
}

func newBundle() *Bundle {
	return &Bundle{
		Origins:          map[objectKey]Origin{},
		Rejected:         map[objectKey]Origin{},
		Namespaces:       map[string]map[string]string{},
		NamespaceOrigins: map[string]Origin{},
		ConfigMaps:       map[string]map[string]map[string]string{},
		ExternalNames:    map[string]string{},
		ServedHosts:      map[string]bool{},
		Observed:         map[observedKey]*v1alpha1.ObservedEgressStatus{},
	}
}

// ClusterFacts answers discovery's questions about the cluster from the
// input: its Namespaces and the hosts its Ingresses and routes serve.
func (b *Bundle) ClusterFacts() residency.ClusterFacts {
	ns := make(map[string]bool, len(b.Namespaces))
	for n := range b.Namespaces {
		ns[n] = true
	}
	return residency.KnownFacts{Namespaces: ns, Hosts: b.ServedHosts}
}

// Load reads the -f arguments. Errors are collected in the Bundle (bad input);
// the error returned is for arguments that name nothing readable.
func Load(paths []string, stdin io.Reader, stdinName, defaultNamespace string) *Bundle {
	l := &loader{stdin: stdin, stdinName: stdinName, defaultNamespace: defaultNamespace, b: newBundle(), trees: map[objectKey]treeRef{}}
	if l.stdinName == "" {
		l.stdinName = StdinName
	}
	if l.defaultNamespace == "" {
		l.defaultNamespace = metav1.NamespaceDefault
	}
	srcs, err := expandSources(paths)
	if err != nil {
		l.fail(err)
		return l.b
	}
	for _, s := range srcs {
		if len(l.b.Errors) >= maxErrors {
			break
		}
		l.readSource(s)
	}
	l.checkReferences()
	return l.b
}

func (l *loader) fail(err error) {
	if ie, ok := err.(*InputError); ok {
		l.b.Errors = append(l.b.Errors, ie)
		return
	}
	l.b.Errors = append(l.b.Errors, &InputError{Item: -1, Msg: err.Error()})
}

func (l *loader) readSource(s source) {
	name := s.path
	var data []byte
	var err error
	if s.stdin {
		name = l.stdinName
		data, err = readBounded(l.stdin, name)
	} else {
		var f *os.File
		f, err = os.Open(s.path)
		if err != nil {
			l.fail(&InputError{File: name, Item: -1, Msg: pathError(err)})
			return
		}
		data, err = readBounded(f, name)
		_ = f.Close()
	}
	if err != nil {
		l.fail(err)
		return
	}
	docs, err := splitDocuments(name, data)
	if err != nil {
		l.fail(err)
		return
	}
	// Number the documents as kubectl reads them: those that decode to
	// nothing (white space, comments, null) are skipped, not counted.
	kept, parsed := docs[:0], make([]parsedDoc, 0, len(docs))
	typed := false
	for _, d := range docs {
		d.index = len(kept) + 1
		p := parseDocument(&d)
		if p.null {
			continue
		}
		kept, parsed = append(kept, d), append(parsed, p)
		// A document that is not even YAML may be a manifest with a typo:
		// found in a directory walk it is bad input, not a skipped file.
		if p.syntax || p.obj != nil && (p.obj["apiVersion"] != nil || p.obj["kind"] != nil) {
			typed = true
		}
	}
	docs = kept
	if !typed && !s.explicit {
		// Found in a directory walk and not a manifest at all (a values file,
		// an expected-results file): not input.
		if len(docs) > 0 {
			l.b.Notices = append(l.b.Notices, Notice{Origin: Origin{File: name, Item: -1}, Rule: "SkippedFile",
				Msg: "skipped: no document has an apiVersion or a kind, so this is not a Kubernetes manifest"})
		}
		return
	}
	l.b.Files = append(l.b.Files, name)
	for i := range docs {
		if len(l.b.Errors) >= maxErrors {
			return
		}
		l.handleDocument(&docs[i], &parsed[i])
	}
}

// parsedDoc is a document decoded into generic JSON values.
type parsedDoc struct {
	obj  map[string]interface{}
	json []byte
	err  *InputError
	null bool
	// syntax: the document is not valid YAML (err says where).
	syntax bool
	tree   *docTree
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseDocument decodes a document as kubectl does (YAML 1.1 into JSON). It
// never panics: a panic in the YAML library is bad input.
func parseDocument(d *document) (p parsedDoc) {
	p.tree = &docTree{raw: d.raw, offset: d.offset}
	origin := func(msg string) *InputError {
		return &InputError{File: d.file, Document: d.index, Item: -1, Line: d.line, Msg: msg}
	}
	defer func() {
		if r := recover(); r != nil {
			p = parsedDoc{err: origin(fmt.Sprintf("cannot be decoded (the YAML parser failed: %v)", r)), syntax: true, tree: p.tree}
		}
	}()
	js, err := yaml.YAMLToJSON(d.raw)
	if err != nil {
		p.err = origin(yamlErrorMessage(err, d.offset, d.offset+bytes.Count(d.raw, []byte("\n"))-1))
		p.syntax = true
		return p
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || bytes.Equal(js, []byte("null")) {
		p.null = true
		return p
	}
	if js[0] != '{' {
		p.err = origin("is not an object (a Kubernetes manifest is a mapping with apiVersion, kind and metadata)")
		return p
	}
	var obj map[string]interface{}
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		p.err = origin("cannot be decoded: " + err.Error())
		return p
	}
	p.obj, p.json = obj, js
	return p
}

// yamlErrorMessage rewrites a YAML error for the file: document lines become
// file lines, and the end of the stream becomes the document's last line.
func yamlErrorMessage(err error, offset, last int) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "unmarshal errors:", "")), " ")
	// The YAML library counts lines from 0 in parser errors ("did not find
	// expected ...") and from 1 in scanner errors.
	zeroBased := strings.Contains(msg, "did not find expected")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(s string) string {
		n, err := strconv.Atoi(s[len("line "):])
		if err != nil {
			return s
		}
		if zeroBased {
			n++
		}
		line := offset + n - 1
		if last >= offset && line > last {
			return "line " + strconv.Itoa(last) + " (the end of the document)"
		}
		return "line " + strconv.Itoa(line)
	})
	if strings.Contains(msg, "unexpected end of stream") {
		msg += " (an unterminated quoted string, flow sequence or mapping?)"
	}
	return "invalid YAML: " + msg
}

func (l *loader) handleDocument(d *document, p *parsedDoc) {
	if p.err != nil {
		l.fail(p.err)
		return
	}
	o := Origin{File: d.file, Document: d.index, Item: -1, Line: d.line}
	l.handleObject(o, p.tree, nil, p.obj, 0)
}

// handleObject dispatches one object (a document, or an item of a List). base
// is the object's node in the document's YAML tree (nil: the document root).
func (l *loader) handleObject(o Origin, tree *docTree, base *yamlv3.Node, obj map[string]interface{}, depth int) {
	defer func() {
		if r := recover(); r != nil {
			l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line,
				Msg: fmt.Sprintf("cannot be decoded (internal error: %v)\n%s", r, debug.Stack())})
		}
	}()
	errAt := func(kind, name, fld, msg string) {
		line := o.Line
		if fld != "" {
			if fl, _ := tree.fieldLine(base, fld); fl > 0 {
				line = fl
			}
		}
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: line, Kind: kind, Name: name, Field: fld, Msg: msg})
	}
	apiVersion, avOK := obj["apiVersion"].(string)
	kind, kOK := obj["kind"].(string)
	name := metadataString(obj, "name")
	switch {
	case obj["apiVersion"] != nil && !avOK:
		errAt(kind, name, "apiVersion", "must be a string")
		return
	case obj["kind"] != nil && !kOK:
		errAt("", name, "kind", "must be a string")
		return
	case apiVersion == "" && kind == "":
		errAt("", name, "", "apiVersion and kind are missing: not a Kubernetes object")
		return
	case apiVersion == "":
		errAt(kind, name, "apiVersion", "is missing")
		return
	case kind == "":
		errAt("", name, "kind", "is missing")
		return
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		errAt(kind, name, "apiVersion", err.Error())
		return
	}

	if strings.HasSuffix(kind, "List") {
		items, present := obj["items"]
		_, residencyList := residencyListKinds()[kind]
		if present || kind == "List" || gv.Group == v1alpha1.GroupVersion.Group && residencyList {
			l.handleList(o, tree, base, gv, kind, items, depth)
			return
		}
	}

	switch {
	case gv.Group == v1alpha1.GroupVersion.Group && kind == "ObservedEgress":
		l.handleObserved(o, obj)
	case gv.Group == v1alpha1.GroupVersion.Group:
		l.handleResidency(o, tree, base, gv, kind, obj)
	case isWorkloadKind(kind) && knownWorkloadGroups[gv.Group]:
		l.handleWorkload(o, tree, base, gv, kind, name, obj)
	case gv.Group == "" && gv.Version == "v1":
		switch kind {
		case "Namespace":
			l.handleNamespace(o, tree, base, name, obj)
		case "ConfigMap":
			l.handleConfigMap(o, tree, base, name, obj)
		case "Service":
			l.handleService(o, tree, base, name, obj)
		}
		// Secrets and everything else are not read.
	case gv.Group == networkingv1.GroupName && kind == "Ingress":
		l.handleIngress(o, tree, base, name, obj)
	case gv.Group == gatewayGroup && routeKinds[kind]:
		l.handleRoute(o, tree, base, kind, name, obj)
	}
}

func (l *loader) handleList(o Origin, tree *docTree, base *yamlv3.Node, gv schema.GroupVersion, kind string, items interface{}, depth int) {
	if items == nil {
		return
	}
	list, ok := items.([]interface{})
	if !ok {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Field: "items", Msg: "must be a list"})
		return
	}
	if depth > 0 {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Msg: "a List inside a List is not read"})
		return
	}
	var itemsNode *yamlv3.Node
	if root := base; root != nil || tree.node() != nil {
		if root == nil {
			root = tree.node()
		}
		if n, _, exact := lookup(root, []string{"items"}); exact && n.Kind == yamlv3.SequenceNode {
			itemsNode = n
		}
	}
	elemKind := strings.TrimSuffix(kind, "List")
	for i, it := range list {
		io := o
		io.Item = i
		var itemBase *yamlv3.Node
		if itemsNode != nil && i < len(itemsNode.Content) {
			itemBase = itemsNode.Content[i]
			io.Line = tree.offset + itemBase.Line - 1
		}
		m, ok := it.(map[string]interface{})
		if !ok {
			l.fail(&InputError{File: io.File, Document: io.Document, Item: io.Item, Line: io.Line, Msg: "is not an object"})
			continue
		}
		// Typed lists (SubprocessorList, DeploymentList) may leave the items' type implicit.
		if elemKind != "" {
			if _, ok := m["apiVersion"]; !ok {
				m["apiVersion"] = gv.String()
			}
			if _, ok := m["kind"]; !ok {
				m["kind"] = elemKind
			}
		}
		if itemBase == nil {
			itemBase = &yamlv3.Node{}
		}
		l.handleObject(io, tree, itemBase, m, depth+1)
		if len(l.b.Errors) >= maxErrors {
			return
		}
	}
}

// residencyListKinds are the list kinds of the residency group (SubprocessorList...).
func residencyListKinds() map[string]struct{} {
	out := map[string]struct{}{}
	for _, k := range residencyKinds() {
		out[k+"List"] = struct{}{}
	}
	return out
}

func metadataString(obj map[string]interface{}, key string) string {
	md, _ := obj["metadata"].(map[string]interface{})
	s, _ := md[key].(string)
	return s
}

// knownWorkloadGroups are the groups the governed workload kinds
// (residency.WorkloadKinds) live in, now or in the past (extensions/v1beta1
// Deployments).
var knownWorkloadGroups = map[string]bool{"": true, "apps": true, "batch": true, "extensions": true}

func isWorkloadKind(kind string) bool {
	_, ok := residency.LookupWorkloadKind(kind)
	return ok
}

func (l *loader) handleWorkload(o Origin, tree *docTree, base *yamlv3.Node, gv schema.GroupVersion, kind, name string, obj map[string]interface{}) {
	wk, _ := residency.LookupWorkloadKind(kind)
	want := wk.APIVersion()
	if gv.String() != want {
		// A workload under an API that no current cluster serves (extensions/v1beta1,
		// batch/v1beta1) or a typo: skipping it would let it escape the scan.
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name, Field: "apiVersion",
			Msg: fmt.Sprintf("%s %s is not served by current Kubernetes versions: use %s", gv.String(), kind, want)})
		return
	}
	target := wk.New()
	if err := l.decodeTyped(obj, target); err != nil {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name, Msg: err.Error()})
		return
	}
	meta := target.(metav1.Object)
	if meta.GetName() == "" && meta.GetGenerateName() != "" {
		// `kubectl create` accepts it and the API server names it; reported
		// as the webhook reports it: the prefix and a star.
		meta.SetName(meta.GetGenerateName() + "*")
	}
	if meta.GetName() == "" {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Field: "metadata.name", Msg: "Required value"})
		return
	}
	ns := meta.GetNamespace()
	if ns == "" {
		ns = l.defaultNamespace
		meta.SetNamespace(ns)
	}
	l.b.Workloads = append(l.b.Workloads, Workload{Origin: o, Object: target, Namespace: ns})
}

// decodeTyped decodes a generic object into a typed one, case-sensitively
// like the API server, keeping integers. Unknown fields of workloads are not
// an error here: the cluster's own validation judges those.
func (l *loader) decodeTyped(obj map[string]interface{}, target interface{}) error {
	js, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, target); err != nil {
		return fmt.Errorf("cannot be decoded: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (l *loader) handleNamespace(o Origin, tree *docTree, base *yamlv3.Node, name string, obj map[string]interface{}) {
	var ns corev1.Namespace
	if err := l.decodeTyped(obj, &ns); err != nil {
		l.fail(l.located(o, tree, base, "Namespace", name, "", err.Error()))
		return
	}
	if ns.Name == "" {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: "Namespace", Field: "metadata.name", Msg: "Required value"})
		return
	}
	if prev, dup := l.b.NamespaceOrigins[ns.Name]; dup {
		l.b.Notices = append(l.b.Notices, Notice{Origin: o, Kind: "Namespace", Name: ns.Name, Rule: "DuplicateObject",
			Msg: "also defined at " + prev.String() + "; the labels of this one are used"})
	}
	labels := ns.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	l.b.Namespaces[ns.Name] = labels
	l.b.NamespaceOrigins[ns.Name] = o
	for _, err := range residency.NamespaceLabelErrors(labels) {
		rule := "InvalidEnforcementLabel"
		if err.Label == v1alpha1.LabelRequireDeclaration {
			rule = "InvalidRequireDeclarationLabel"
		}
		l.b.Notices = append(l.b.Notices, Notice{Origin: o, Kind: "Namespace", Name: ns.Name,
			Field: "metadata.labels[" + err.Label + "]", Rule: rule, Msg: err.Error()})
	}
}

// configMapData is the part of a ConfigMap discovery reads (binaryData is not).
type configMapData struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Data     map[string]string `json:"data"`
}

func (l *loader) handleConfigMap(o Origin, tree *docTree, base *yamlv3.Node, name string, obj map[string]interface{}) {
	var cm configMapData
	slim := map[string]interface{}{"metadata": obj["metadata"], "data": obj["data"]}
	if err := l.decodeTyped(slim, &cm); err != nil {
		l.fail(l.located(o, tree, base, "ConfigMap", name, "", err.Error()))
		return
	}
	ns := cm.Metadata.Namespace
	if ns == "" {
		ns = l.defaultNamespace
	}
	if l.b.ConfigMaps[ns] == nil {
		l.b.ConfigMaps[ns] = map[string]map[string]string{}
	}
	data := cm.Data
	if data == nil {
		data = map[string]string{}
	}
	l.b.ConfigMaps[ns][cm.Metadata.Name] = data
}

// serviceTarget is the part of a Service discovery reads.
type serviceTarget struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Type         corev1.ServiceType `json:"type"`
		ExternalName string             `json:"externalName"`
	} `json:"spec"`
}

func (l *loader) handleService(o Origin, tree *docTree, base *yamlv3.Node, name string, obj map[string]interface{}) {
	spec, _ := obj["spec"].(map[string]interface{})
	if spec == nil || spec["type"] != string(corev1.ServiceTypeExternalName) {
		return
	}
	var svc serviceTarget
	slim := map[string]interface{}{"metadata": obj["metadata"],
		"spec": map[string]interface{}{"type": spec["type"], "externalName": spec["externalName"]}}
	if err := l.decodeTyped(slim, &svc); err != nil {
		l.fail(l.located(o, tree, base, "Service", name, "", err.Error()))
		return
	}
	ns := svc.Metadata.Namespace
	if ns == "" {
		ns = l.defaultNamespace
	}
	if svc.Spec.ExternalName != "" {
		l.b.ExternalNames[svc.Metadata.Name+"."+ns] = svc.Spec.ExternalName
	}
}

// gatewayGroup is the Gateway API's group; routeKinds are its route kinds
// that name the hosts they serve (spec.hostnames).
const gatewayGroup = "gateway.networking.k8s.io"

var routeKinds = map[string]bool{"HTTPRoute": true, "GRPCRoute": true, "TLSRoute": true}

// handleIngress records the hosts an Ingress serves: a workload's own public
// name (APP_URL) is not egress.
func (l *loader) handleIngress(o Origin, tree *docTree, base *yamlv3.Node, name string, obj map[string]interface{}) {
	var ing networkingv1.Ingress
	slim := map[string]interface{}{"metadata": obj["metadata"], "spec": obj["spec"]}
	if err := l.decodeTyped(slim, &ing); err != nil {
		l.fail(l.located(o, tree, base, "Ingress", name, "", err.Error()))
		return
	}
	for _, h := range residency.IngressHosts(&ing) {
		l.b.ServedHosts[h] = true
	}
}

// handleRoute records the hostnames a Gateway API route serves. The Gateway
// API's types are not a dependency: spec.hostnames is all that is read.
func (l *loader) handleRoute(o Origin, tree *docTree, base *yamlv3.Node, kind, name string, obj map[string]interface{}) {
	hosts, err := residency.RouteHostnames(obj)
	if err != nil {
		l.fail(l.located(o, tree, base, kind, name, "spec.hostnames", "must be a list of host names"))
		return
	}
	for _, h := range hosts {
		l.b.ServedHosts[h] = true
	}
}

func (l *loader) located(o Origin, tree *docTree, base *yamlv3.Node, kind, name, fld, msg string) *InputError {
	e := &InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name, Field: fld, Msg: msg}
	if fld != "" {
		if line, word := tree.fieldLine(base, fld); line > 0 {
			e.Line = line
			if word != "" {
				e.Msg += "; " + yaml11BooleanHint(word)
			}
		}
	}
	return e
}

func (l *loader) handleResidency(o Origin, tree *docTree, base *yamlv3.Node, gv schema.GroupVersion, kind string, obj map[string]interface{}) {
	name := metadataString(obj, "name")
	// An object rejected here is remembered, so that what names it is told
	// it was rejected rather than that it does not exist.
	before := len(l.b.Errors)
	defer func() {
		key := objectKey{kind, name}
		if _, read := l.b.Origins[key]; name != "" && !read && len(l.b.Errors) > before {
			if _, seen := l.b.Rejected[key]; !seen {
				l.b.Rejected[key] = o
			}
		}
	}()
	schemas, err := residencySchemas()
	if err != nil {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Msg: "residencyctl cannot load its CRD schemas: " + err.Error()})
		return
	}
	ks, known := schemas[kind]
	if !known {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name, Field: "kind",
			Msg: fmt.Sprintf("unknown kind %s in %s (the kinds are %s)", kind, gv.String(), strings.Join(residencyKinds(), ", "))})
		return
	}
	if gv.Version != v1alpha1.GroupVersion.Version {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name, Field: "apiVersion",
			Msg: fmt.Sprintf("unknown version %s: residencyctl reads %s", gv.String(), v1alpha1.GroupVersion.String())})
		return
	}
	// The YAML was read without a target type (as kubectl sends it), so this
	// is the check the API server makes; duplicate keys are an error too.
	if tree != nil && base == nil {
		if _, err := yaml.YAMLToJSONStrict(tree.raw); err != nil {
			l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name,
				Msg: yamlErrorMessage(err, tree.offset, tree.offset+bytes.Count(tree.raw, []byte("\n"))-1)})
			return
		}
	}
	meta, errs := validateResidencyObject(ks, obj)
	if meta != nil && meta.Name != "" {
		name = meta.Name
	}
	if len(errs) == 0 {
		errs = checkDates(kind, obj)
	}
	if len(errs) > 0 {
		for _, fe := range errs {
			l.fail(l.fieldError(o, tree, base, ks, kind, name, fe))
		}
		return
	}
	var typed runtime.Object
	switch kind {
	case "ProcessingLocation":
		typed = &v1alpha1.ProcessingLocation{}
	case "TransferBasis":
		typed = &v1alpha1.TransferBasis{}
	case "Subprocessor":
		typed = &v1alpha1.Subprocessor{}
	case "ResidencyPolicy":
		typed = &v1alpha1.ResidencyPolicy{}
	case "ResidencyException":
		typed = &v1alpha1.ResidencyException{}
	default:
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name,
			Msg: "is not a kind this residencyctl can evaluate (its CRD is newer than the engine)"})
		return
	}
	js, err := json.Marshal(obj)
	if err == nil {
		var strictErrs []error
		strictErrs, err = sigsjson.UnmarshalStrict(js, typed)
		if err == nil && len(strictErrs) > 0 {
			err = strictErrs[0]
		}
	}
	if err != nil {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name,
			Msg: "cannot be decoded: " + strings.TrimPrefix(err.Error(), "json: ")})
		return
	}
	key := objectKey{kind, name}
	if prev, dup := l.b.Origins[key]; dup {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name,
			Msg: "is defined twice (also at " + prev.String() + "): which one holds is ambiguous"})
		return
	}
	l.b.Origins[key] = o
	l.trees[key] = treeRef{tree, base}
	switch t := typed.(type) {
	case *v1alpha1.ProcessingLocation:
		l.b.Locations = append(l.b.Locations, t)
	case *v1alpha1.TransferBasis:
		l.b.Bases = append(l.b.Bases, t)
	case *v1alpha1.Subprocessor:
		l.b.Subprocessors = append(l.b.Subprocessors, t)
	case *v1alpha1.ResidencyPolicy:
		l.b.Policy = t
	case *v1alpha1.ResidencyException:
		l.b.Exceptions = append(l.b.Exceptions, t)
	}
}

func (l *loader) fieldError(o Origin, tree *docTree, base *yamlv3.Node, ks *kindSchema, kind, name string, fe *field.Error) *InputError {
	e := &InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: kind, Name: name, Field: fe.Field, Msg: fieldErrorMessage(ks, fe)}
	if e.Field == "<nil>" {
		e.Field = ""
	}
	if e.Field != "" {
		line, word := tree.fieldLine(base, e.Field)
		if line > 0 {
			e.Line = line
		}
		if word != "" {
			e.Msg += "; " + yaml11BooleanHint(word)
		}
	}
	return e
}

// dateFields lists the Date fields of each kind's spec, as paths with "[]"
// for every list element.
var dateFields = map[string][]string{
	"TransferBasis":   {"spec.effectiveFrom", "spec.expiresOn", "spec.transferImpactAssessment.completedOn", "spec.transferImpactAssessment.nextReviewOn"},
	"Subprocessor":    {"spec.notice.notifiedOn", "spec.objection.raisedOn"},
	"ResidencyPolicy": {"spec.mechanismOverrides[].invalidFrom", "spec.countryOverrides[].from", "spec.countryOverrides[].until"},
}

// checkDates rejects dates the schema's pattern lets through but the calendar
// does not have (2026-02-30): the engine could not read them.
func checkDates(kind string, obj map[string]interface{}) field.ErrorList {
	var errs field.ErrorList
	for _, p := range dateFields[kind] {
		walkPath(obj, strings.Split(p, "."), nil, func(path *field.Path, v interface{}) {
			s, ok := v.(string)
			if !ok || s == "" {
				return
			}
			if _, err := residency.ParseDate(v1alpha1.Date(s)); err != nil {
				errs = append(errs, field.Invalid(path, s, "not a date of the form YYYY-MM-DD (no such day in the calendar)"))
			}
		})
	}
	return errs
}

// walkPath calls fn on every value at a dotted path, "x[]" meaning each element of list x.
func walkPath(v interface{}, segs []string, path *field.Path, fn func(*field.Path, interface{})) {
	if len(segs) == 0 {
		fn(path, v)
		return
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return
	}
	seg := segs[0]
	list := strings.HasSuffix(seg, "[]")
	seg = strings.TrimSuffix(seg, "[]")
	child, ok := m[seg]
	if !ok {
		return
	}
	var next *field.Path
	if path == nil {
		next = field.NewPath(seg)
	} else {
		next = path.Child(seg)
	}
	if !list {
		walkPath(child, segs[1:], next, fn)
		return
	}
	items, _ := child.([]interface{})
	for i, it := range items {
		walkPath(it, segs[1:], next.Index(i), fn)
	}
}

// checkReferences reports the names a Subprocessor gives that are not in the
// input, located in the file. They are findings of the engine too
// (UnknownLocation, UnknownSubprocessor), but only here do they name the file,
// the document and the field.
func (l *loader) checkReferences() {
	l.b.referenceNotices(func(key objectKey, fld string) int {
		if t, ok := l.trees[key]; ok {
			line, _ := t.tree.fieldLine(t.base, fld)
			return line
		}
		return 0
	})
}

// referenceNotices adds a notice for each name a Subprocessor gives that is
// not in the bundle; lineOf (may be nil) locates a field of an object.
func (b *Bundle) referenceNotices(lineOf func(objectKey, string) int) {
	have := func(kind, name string) bool { _, ok := b.Origins[objectKey{kind, name}]; return ok }
	for _, s := range b.Subprocessors {
		key := objectKey{"Subprocessor", s.Name}
		o := b.Origins[key]
		check := func(fieldName, kind, rule string, names []v1alpha1.ObjectName) {
			for i, n := range names {
				if have(kind, string(n)) {
					continue
				}
				fld := fmt.Sprintf("spec.%s[%d]", fieldName, i)
				at := o
				if lineOf != nil {
					if line := lineOf(key, fld); line > 0 {
						at.Line = line
					}
				}
				msg := fmt.Sprintf("%s %s does not exist", kind, n)
				if ro, rejected := b.Rejected[objectKey{kind, string(n)}]; rejected {
					msg = fmt.Sprintf("%s %s is in the input but was rejected (%s): see the error about it there", kind, n, ro)
				}
				b.Notices = append(b.Notices, Notice{Origin: at, Kind: "Subprocessor", Name: s.Name,
					Field: fld, Rule: rule, Msg: msg})
			}
		}
		check("processingLocations", "ProcessingLocation", string(residency.ReasonUnknownLocation), s.Spec.ProcessingLocations)
		check("transferBases", "TransferBasis", string(residency.ReasonUnknownTransferBasis), s.Spec.TransferBases)
		check("subprocessors", "Subprocessor", string(residency.ReasonUnknownSubprocessor), s.Spec.Subprocessors)
	}
}
