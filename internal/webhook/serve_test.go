package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

func TestReviewServer(t *testing.T) {
	v, _ := newTestValidators(t)
	h := Serve(v)
	deny := reviewBody(t, gvkDeployment, "deployments", nsDeny, "mailer", mailer(nsDeny, "twilio-sendgrid"))
	tests := []struct {
		name        string
		body        []byte
		contentType string
		code        int32
		allowed     bool
		message     string
		apiVersion  string
	}{
		{"a real review is answered in kind", deny, "application/json", 403, false, "[BasisNotValid] twilio-sendgrid via sendgrid-us (US)", "admission.k8s.io/v1"},
		{"v1beta1 reviews are answered as v1beta1", bytes.Replace(deny, []byte(`admission.k8s.io/v1"`), []byte(`admission.k8s.io/v1beta1"`), 1), "application/json", 403, false, "C-311/18", "admission.k8s.io/v1beta1"},
		{"an empty body", nil, "application/json", 400, false, "request body is empty", ""},
		{"not JSON", []byte("apiVersion: v1"), "application/json", 400, false, "decoding the AdmissionReview", ""},
		{"no request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), "application/json", 400, false, "the AdmissionReview has no request", ""},
		{"another content type", deny, "application/yaml", 400, false, "expected application/json", ""},
		{"an object that does not decode", bytes.Replace(deny, []byte(`"containers":[{"name":"mailer"`), []byte(`"containers":[{"name":7`), 1), "application/json", 400, false,
			"cannot decode apps/v1/Deployment shop/mailer: json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.name of type string", "admission.k8s.io/v1"},
		// The fast path reads only what the engine reads, so a wrong type
		// elsewhere goes unnoticed: the API server never sends one (it
		// decoded the object into the same Go type first), and the request
		// is decided on its merits.
		{"a wrong type in a field the engine does not read", bytes.Replace(deny, []byte(`"replicas":1`), []byte(`"replicas":"one"`), 1), "application/json", 403, false,
			"[BasisNotValid] twilio-sendgrid via sendgrid-us (US)", "admission.k8s.io/v1"},
		{"JSON that is broken inside the object", bytes.Replace(deny, []byte(`"replicas":1`), []byte(`"replicas":1,}`), 1), "application/json", 400, false,
			"decoding the AdmissionReview: invalid character '}' looking for beginning of object key string", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, WorkloadsPath, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("answer %q: %v", rec.Body.String(), err)
			}
			r := out.Response
			if r.Allowed != tc.allowed || r.Result == nil || r.Result.Code != tc.code || !strings.Contains(r.Result.Message, tc.message) {
				t.Errorf("got allowed=%v result=%+v, want allowed=%v code=%d message containing %q", r.Allowed, r.Result, tc.allowed, tc.code, tc.message)
			}
			if tc.apiVersion != "" && (out.APIVersion != tc.apiVersion || out.Kind != "AdmissionReview" || r.UID == "") {
				t.Errorf("answered as %s %s uid %q, want %s AdmissionReview with the request's uid", out.APIVersion, out.Kind, r.UID, tc.apiVersion)
			}
		})
	}
}
