package cli

import (
	"context"
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// Residency objects are validated the way the API server validates them when
// they are applied: against the OpenAPI schemas and CEL rules of the CRDs in
// config/crd/bases, with the API server's own libraries (pruning of unknown
// fields, defaulting, OpenAPI validation, list-set uniqueness, CEL). A copy of
// the CRDs is embedded (crds/, refreshed by `make manifests`; a test fails when
// it differs from config/crd/bases), so the check can never drift from the schema
// the cluster enforces, and no hand-written rule has to be kept in sync.

//go:embed crds/*.yaml
var crdFS embed.FS

// kindSchema is what validating one kind needs.
type kindSchema struct {
	kind       string
	structural *structuralschema.Structural
	validator  apiextensionsvalidation.SchemaValidator
	cel        *cel.Validator
}

var (
	schemasOnce sync.Once
	schemas     map[string]*kindSchema
	schemasErr  error
)

// residencySchemas loads the embedded CRDs once.
func residencySchemas() (map[string]*kindSchema, error) {
	schemasOnce.Do(func() { schemas, schemasErr = loadSchemas() })
	return schemas, schemasErr
}

func loadSchemas() (map[string]*kindSchema, error) {
	entries, err := crdFS.ReadDir("crds")
	if err != nil {
		return nil, err
	}
	out := map[string]*kindSchema{}
	for _, e := range entries {
		data, err := crdFS.ReadFile("crds/" + e.Name())
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", e.Name(), err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Name != "v1alpha1" || v.Schema == nil {
				continue
			}
			internal := &apiextensionsinternal.CustomResourceValidation{}
			if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, internal, nil); err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", e.Name(), err)
			}
			s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", e.Name(), err)
			}
			s = s.DeepCopy()
			if err := structuraldefaulting.PruneDefaults(s); err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", e.Name(), err)
			}
			validator, _, err := apiextensionsvalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", e.Name(), err)
			}
			out[crd.Spec.Names.Kind] = &kindSchema{
				kind:       crd.Spec.Names.Kind,
				structural: s,
				validator:  validator,
				cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRDs embedded")
	}
	return out, nil
}

// residencyKinds lists the kinds of the dataresidency.io group, sorted.
func residencyKinds() []string {
	s, err := residencySchemas()
	if err != nil {
		return nil
	}
	kinds := make([]string, 0, len(s))
	for k := range s {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// validateResidencyObject checks a residency object as the API server would on
// create, and applies the schema's defaults to obj. It returns the object's
// metadata and every problem found, each naming its field.
func validateResidencyObject(ks *kindSchema, obj map[string]interface{}) (*metav1.ObjectMeta, field.ErrorList) {
	var errs field.ErrorList

	// The API server drops metadata.namespace of cluster-scoped objects.
	if md, ok := obj["metadata"].(map[string]interface{}); ok {
		delete(md, "namespace")
	}
	meta, _, unknownMeta, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), nil, err.Error())}
	}
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	for _, p := range unknownMeta {
		errs = append(errs, unknownField(p))
	}
	for _, p := range pruning.PruneWithOptions(obj, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, unknownField(p))
	}
	if len(errs) > 0 {
		// Strict decoding: a misspelt field would otherwise vanish silently.
		return meta, errs
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, ks.structural)
	structuraldefaulting.Default(obj, ks.structural)

	u := &unstructured.Unstructured{Object: obj}
	errs = append(errs, apimachineryvalidation.ValidateObjectMetaAccessor(u, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	errs = append(errs, apiextensionsvalidation.ValidateCustomResource(nil, obj, ks.validator)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, ks.structural, obj)...)
	if ks.cel != nil && !hasBlockingErr(errs) {
		celErrs, _ := ks.cel.Validate(context.Background(), nil, ks.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return meta, errs
}

func unknownField(path string) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: path, BadValue: nil,
		Detail: "unknown field \"" + path + "\" (strict decoding: check the spelling against `kubectl explain`)"}
}

// hasBlockingErr mirrors the API server: CEL rules are not evaluated on an
// object whose types or required fields are already wrong.
func hasBlockingErr(errs field.ErrorList) bool {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// patternMeanings say in words what the schema's patterns mean.
var patternMeanings = map[string]string{
	`^[A-Z]{2}$`: "an ISO 3166-1 alpha-2 country code in upper case, such as SE",
	`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`:                      "a date of the form YYYY-MM-DD",
	`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`: "a host name or *.wildcard (lower case, no scheme, port or path)",
	`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`:        "an object name (lower case letters, digits, '-' and '.')",
	`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`:                                    "a fideslang data category key such as user.contact.email",
	`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`:                                          "a region code such as eu-north-1",
}

var (
	shouldMatch = regexp.MustCompile(`should match '(.*)'$`)
	mustBeType  = regexp.MustCompile(`must be of type (\w+): "(\w+)"`)
)

// schemaAt finds the schema of a field path ("spec.egress.hosts[0]").
func schemaAt(s *structuralschema.Structural, path string) *structuralschema.Structural {
	for _, seg := range splitFieldPath(path) {
		if s == nil {
			return nil
		}
		if strings.HasPrefix(seg, "[") {
			if s.Items != nil {
				s = s.Items
				continue
			}
			if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
				s = s.AdditionalProperties.Structural
				continue
			}
			return nil
		}
		p, ok := s.Properties[seg]
		if !ok {
			return nil
		}
		s = &p
	}
	return s
}

// fieldErrorMessage is a field error in words, without the field path (the
// caller names it), with the meaning of the field's pattern spelled out.
func fieldErrorMessage(ks *kindSchema, e *field.Error) string {
	msg := fieldErrorText(e)
	if ks == nil || shouldMatch.MatchString(e.Detail) {
		return msg
	}
	// Too long, too short: say what the field should look like.
	if fs := schemaAt(ks.structural, e.Field); fs != nil && fs.ValueValidation != nil {
		if meaning, ok := patternMeanings[fs.ValueValidation.Pattern]; ok && (e.Type == field.ErrorTypeTooLong || e.Type == field.ErrorTypeInvalid) {
			msg += " (expected " + meaning + ")"
		}
	}
	return msg
}

func fieldErrorText(e *field.Error) string {
	detail := e.Detail
	if m := shouldMatch.FindStringSubmatch(detail); m != nil {
		if meaning, ok := patternMeanings[m[1]]; ok {
			return fmt.Sprintf("%s: not %s (should match '%s')", badValueText(e.BadValue), meaning, m[1])
		}
	}
	switch e.Type {
	case field.ErrorTypeTypeInvalid:
		if m := mustBeType.FindStringSubmatch(detail); m != nil {
			return fmt.Sprintf("must be a %s, not a %s", m[1], m[2])
		}
	case field.ErrorTypeRequired:
		if detail == "" {
			return "Required value"
		}
		return "Required value: " + detail
	case field.ErrorTypeNotSupported:
		return fmt.Sprintf("Unsupported value: %s: %s", badValueText(e.BadValue), detail)
	case field.ErrorTypeInvalid:
		switch e.BadValue.(type) {
		case nil, map[string]interface{}, []interface{}, field.OmitValueType:
			// CEL rules report the object they are about: the message says it all.
			return detail
		}
		if s, ok := e.BadValue.(string); ok && (s == "object" || s == "array") {
			return detail
		}
		if strings.HasPrefix(detail, "unknown field") {
			return detail
		}
		// The schema validator repeats the path: "spec.x in body must be ..."
		return fmt.Sprintf("Invalid value: %s: %s", badValueText(e.BadValue), detail)
	}
	s := e.ErrorBody()
	return s
}

func badValueText(v interface{}) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v", x)
	}
}
