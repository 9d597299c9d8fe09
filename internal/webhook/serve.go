package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	admissionmetrics "sigs.k8s.io/controller-runtime/pkg/webhook/admission/metrics"
	sjson "sigs.k8s.io/json"

	"github.com/go-logr/logr"
)

// maxReviewBytes bounds a request body as controller-runtime does: two
// objects of at most 3 MB each and the rest of the review.
const maxReviewBytes = 7 << 20

// maxPooledBytes: buffers that grew past this (a huge object) are dropped
// rather than kept in the pool.
const maxPooledBytes = 256 << 10

// poisonReleased, in tests, overwrites the strings of a released request, so
// that one kept beyond its request by mistake turns into a wrong answer.
var poisonReleased = false

var jsonContentType = []string{"application/json"}

// reviewBuffers are a request's body and answer buffers and the fast path's
// decoding state, pooled: the workload webhook answers without allocating
// them per request.
type reviewBuffers struct {
	body []byte
	out  []byte
	r    jreader
	rv   fastReview
}

var reviewPool = sync.Pool{New: func() any { return new(reviewBuffers) }}

func getBuffers() *reviewBuffers { return reviewPool.Get().(*reviewBuffers) }

func (b *reviewBuffers) release() {
	// Drop every reference into the request (strings, the view, the arena),
	// so the pool keeps only the byte buffers and the (cleared) env scratch.
	b.rv = fastReview{}
	clear(b.r.envSlab)
	clear(b.r.containerSlab)
	if poisonReleased {
		for i := range b.r.arena {
			b.r.arena[i] = '\xff'
		}
	}
	b.r = jreader{envScratch: b.r.envScratch[:0], envSlab: b.r.envSlab[:0], containerSlab: b.r.containerSlab[:0], arena: b.r.arena[:0]}
	if cap(b.r.arena) > maxPooledBytes {
		b.r.arena = nil
	}
	if cap(b.r.envScratch) > 4096 {
		b.r.envScratch = nil
	}
	if cap(b.r.envSlab) > maxEnvSlab {
		b.r.envSlab = nil
	}
	if cap(b.r.containerSlab) > maxContainerSlab {
		b.r.containerSlab = nil
	}
	if cap(b.body) > maxPooledBytes {
		b.body = nil
	}
	if cap(b.out) > maxPooledBytes {
		b.out = nil
	}
	reviewPool.Put(b)
}

// readBody reads the request's body into buf (grown as needed), with the
// checks and answers of controller-runtime's admission.Webhook.
func readBody(r *http.Request, buf []byte) ([]byte, int32, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return buf, http.StatusBadRequest, errors.New("request body is empty")
	}
	defer r.Body.Close()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return buf, http.StatusBadRequest, fmt.Errorf("contentType=%s, expected application/json", ct)
	}
	// Read in one allocation when the length is known (the API server sends
	// it), none once the pooled buffer is large enough.
	if n := bufferSize(r.ContentLength); cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxReviewBytes {
			return buf, http.StatusRequestEntityTooLarge, fmt.Errorf("request entity is too large; limit is %d bytes", maxReviewBytes)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, http.StatusBadRequest, err
		}
	}
	if len(buf) == 0 {
		return buf, http.StatusBadRequest, errors.New("request body is empty")
	}
	return buf, 0, nil
}

func bufferSize(contentLength int64) int {
	if contentLength <= 0 || contentLength > maxReviewBytes {
		return 16 << 10
	}
	// One more byte than announced, for the read that sees EOF.
	return int(contentLength) + 512
}

// writeReview encodes the answer into the pooled buffer and sends it.
func writeReview(w http.ResponseWriter, b *reviewBuffers, kind, apiVersion string, resp *admissionv1.AdmissionResponse) {
	out, err := appendReview(b.out[:0], kind, apiVersion, resp)
	b.out = out
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	_, _ = w.Write(out)
}

// failReview answers a request that could not be read with an Errored response.
func failReview(w http.ResponseWriter, b *reviewBuffers, code int32, err error) {
	logf.Log.WithName("admission").Error(err, "bad admission request")
	resp := admission.Errored(code, err)
	writeReview(w, b, "", "", &resp.AdmissionResponse)
}

// reviewServer serves an admission.Webhook (controller-runtime's handling of
// panics, logging and response completion) with a leaner AdmissionReview
// codec than admission.Webhook.ServeHTTP. That one runs the body through the
// universal deserializer, which first parses the whole review once more only
// to read its apiVersion and kind; on a 10 KB Deployment that was a sixth of
// the webhook's time. Here the review is decoded once, case-sensitively, into
// the v1 type (we ask for v1 only: admissionReviewVersions [v1]), and the
// answer echoes the review's apiVersion and kind. The catalog webhook is
// served so; the workload webhook by workloadServer.
type reviewServer struct {
	webhook *admission.Webhook
}

func (s *reviewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := getBuffers()
	defer b.release()
	body, code, err := readBody(r, b.body)
	b.body = body
	if err != nil {
		failReview(w, b, code, err)
		return
	}
	var review admissionv1.AdmissionReview
	if err := sjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil {
		failReview(w, b, http.StatusBadRequest, fmt.Errorf("decoding the AdmissionReview: %w", err))
		return
	}
	if review.Request == nil {
		failReview(w, b, http.StatusBadRequest, errNoRequest)
		return
	}
	resp := s.webhook.Handle(r.Context(), admission.Request{AdmissionRequest: *review.Request})
	if review.APIVersion == "" {
		review.APIVersion = admissionv1.SchemeGroupVersion.String()
	}
	writeReview(w, b, "AdmissionReview", review.APIVersion, &resp.AdmissionResponse)
}

// workloadServer serves the workload webhook on the fast path: the review
// and the object are read in one pass into what the engine reads
// (fastreview.go), decided by WorkloadValidator.decide as Handle decides, and
// the answer is encoded without reflection into a pooled buffer. It does
// what admission.Webhook.Handle does around a handler: recover panics into a
// 500 (counted in controller_runtime_webhook_panics_total), give the handler
// a logger carrying the request (built only when something is logged), and
// complete the response (UID, status code).
type workloadServer struct {
	v *WorkloadValidator
}

func (s *workloadServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := getBuffers()
	defer b.release()
	body, code, err := readBody(r, b.body)
	b.body = body
	if err != nil {
		failReview(w, b, code, err)
		return
	}
	if err := parseReview(&b.r, body, &b.rv); err != nil {
		// The rare path: let the typed decoder say what is wrong, in its words.
		if typedErr := sjson.UnmarshalCaseSensitivePreserveInts(body, &admissionv1.AdmissionReview{}); typedErr != nil {
			err = typedErr
		}
		failReview(w, b, http.StatusBadRequest, fmt.Errorf("decoding the AdmissionReview: %w", err))
		return
	}
	if !b.rv.hasRequest {
		failReview(w, b, http.StatusBadRequest, errNoRequest)
		return
	}
	resp := s.handle(r.Context(), &b.rv.req)
	apiVersion := b.rv.apiVersion
	if apiVersion == "" {
		apiVersion = admissionv1.SchemeGroupVersion.String()
	}
	writeReview(w, b, "AdmissionReview", apiVersion, &resp.AdmissionResponse)
}

func (s *workloadServer) handle(ctx context.Context, q *fastRequest) (resp admission.Response) {
	defer func() {
		if p := recover(); p != nil {
			admissionmetrics.WebhookPanics.WithLabelValues().Inc()
			for _, fn := range utilruntime.PanicHandlers {
				fn(ctx, p)
			}
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("panic: %v [recovered]", p))
			resp.UID = types.UID(q.uid)
		}
	}()
	in := workloadRequest{
		operation: q.operation, kind: q.kind, subResource: q.subResource, namespace: q.namespace, name: q.name,
		dryRun: q.dryRun != nil && *q.dryRun, object: q.object, oldObject: q.oldObject,
		view: &q.view, viewErr: q.viewErr, fast: q,
	}
	resp = s.v.decide(ctx, &in)
	resp.UID = types.UID(q.uid)
	if resp.Result == nil {
		resp.Result = &metav1.Status{}
	}
	if resp.Result.Code == 0 {
		resp.Result.Code = http.StatusOK
	}
	return resp
}

// requestLogger is the logger admission.Webhook gives a handler, for a
// request read on the fast path.
func requestLogger(q *fastRequest) logr.Logger {
	return admission.DefaultLogConstructor(logf.Log.WithName("admission"), &admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: types.UID(q.uid), Namespace: q.namespace, Name: q.name, Resource: q.resource,
		UserInfo: authnv1.UserInfo{Username: q.username},
	}})
}
