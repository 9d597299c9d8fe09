package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sjson "sigs.k8s.io/json"
)

// maxReviewBytes bounds a request body as controller-runtime does: two
// objects of at most 3 MB each and the rest of the review.
const maxReviewBytes = 7 << 20

// reviewServer serves an admission.Webhook (controller-runtime's handling of
// panics, logging and response completion) with a leaner AdmissionReview
// codec than admission.Webhook.ServeHTTP. That one runs the body through the
// universal deserializer, which first parses the whole review once more only
// to read its apiVersion and kind; on a 10 KB Deployment that was a sixth of
// the webhook's time. Here the review is decoded once, case-sensitively, into
// the v1 type (we ask for v1 only: admissionReviewVersions [v1]), and the
// answer echoes the review's apiVersion and kind.
type reviewServer struct {
	webhook *admission.Webhook
}

func (s *reviewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		s.fail(w, http.StatusBadRequest, errors.New("request body is empty"))
		return
	}
	defer r.Body.Close()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("contentType=%s, expected application/json", ct))
		return
	}
	// Read in one allocation when the length is known (the API server sends it).
	buf := bytes.NewBuffer(make([]byte, 0, bufferSize(r.ContentLength)))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxReviewBytes+1))
	body := buf.Bytes()
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	if len(body) == 0 {
		s.fail(w, http.StatusBadRequest, errors.New("request body is empty"))
		return
	}
	if len(body) > maxReviewBytes {
		s.fail(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request entity is too large; limit is %d bytes", maxReviewBytes))
		return
	}
	var review admissionv1.AdmissionReview
	if err := sjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("decoding the AdmissionReview: %w", err))
		return
	}
	if review.Request == nil {
		s.fail(w, http.StatusBadRequest, errors.New("the AdmissionReview has no request"))
		return
	}
	resp := s.webhook.Handle(r.Context(), admission.Request{AdmissionRequest: *review.Request})
	if review.APIVersion == "" {
		review.APIVersion = admissionv1.SchemeGroupVersion.String()
	}
	review.Kind = "AdmissionReview"
	review.Request = nil
	review.Response = &resp.AdmissionResponse
	s.write(w, &review)
}

// fail answers a request that could not be read with an Errored response.
func (s *reviewServer) fail(w http.ResponseWriter, code int32, err error) {
	logf.Log.WithName("admission").Error(err, "bad admission request")
	resp := admission.Errored(code, err)
	s.write(w, &admissionv1.AdmissionReview{Response: &resp.AdmissionResponse})
}

func (s *reviewServer) write(w http.ResponseWriter, review *admissionv1.AdmissionReview) {
	out, err := json.Marshal(review)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func bufferSize(contentLength int64) int {
	if contentLength <= 0 || contentLength > maxReviewBytes {
		return 16 << 10
	}
	// bytes.Buffer.ReadFrom wants room for one more read to see EOF.
	return int(contentLength) + bytes.MinRead
}
