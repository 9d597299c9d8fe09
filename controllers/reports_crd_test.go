package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/testenv"
)

// A cluster without the OpenReports Report CRD: the manager starts (it used to
// die in NewManager, "failed to determine if *v1.PartialObjectMetadata is
// namespaced"), writes statuses and evaluates workloads without Reports, and
// writes the Reports as soon as the CRD is installed, without a restart.
func TestRunsWithoutTheOpenReportsCRDUntilItIsInstalled(t *testing.T) {
	env, err := testenv.Start(testenv.Options{WithoutOpenReports: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		NewCache:               controllers.NewCache,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("manager without the OpenReports CRD: %v", err)
	}
	mctx, cancel := context.WithCancel(ctx)
	ctrls, err := controllers.Setup(mctx, mgr, controllers.Options{ReportsCRDCheck: 300 * time.Millisecond, ReportBatch: -1})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	// Statuses are written and workloads evaluated.
	loc := &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "us-east"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"}}
	sub := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "mailer"}, Spec: v1alpha1.SubprocessorSpec{
		LegalName: "Mailer Inc.", Country: "US", Purpose: "e-mail", ProcessingLocations: []v1alpha1.ObjectName{"us-east"}}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "no-reports"}}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "no-reports", Name: "web",
			Annotations: map[string]string{v1alpha1.AnnotationSubprocessors: "mailer", v1alpha1.AnnotationDataCategories: "user.contact.email"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1"}}},
			},
		},
	}
	for _, o := range []client.Object{loc, sub, ns, dep} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	waitUntil(t, 30*time.Second, "the Subprocessor's status and the workload's evaluation", func() (bool, string) {
		var s v1alpha1.Subprocessor
		if err := c.Get(ctx, types.NamespacedName{Name: "mailer"}, &s); err != nil {
			return false, err.Error()
		}
		return s.Status.State == v1alpha1.SubprocessorNonCompliant && len(ctrls.Store.Namespace("no-reports")) == 1,
			string(s.Status.State)
	})
	if ctrls.ReportsGate.Active() {
		t.Error("the Report controller runs although the cluster does not serve Reports")
	}
	select {
	case err := <-done:
		t.Fatalf("the manager stopped: %v", err)
	default:
	}

	// The CRD arrives: the namespace's Report follows.
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{testenv.OpenReportsCRDPath()}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the namespace's Report", func() (bool, string) {
		var r openreports.Report
		err := c.Get(ctx, types.NamespacedName{Namespace: "no-reports", Name: report.Name}, &r)
		if err != nil {
			return false, err.Error()
		}
		return r.Summary.Fail == 1, fmt.Sprintf("summary %+v", r.Summary)
	})
	if !ctrls.ReportsGate.Active() {
		t.Error("Reports are written but the gate says the controller does not run")
	}

	// And it is kept: a Report deleted by hand is restored (the controller
	// watches Reports through its own cache).
	if err := c.Delete(ctx, &openreports.Report{ObjectMeta: metav1.ObjectMeta{Namespace: "no-reports", Name: report.Name}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the Report restored", func() (bool, string) {
		var r openreports.Report
		err := c.Get(ctx, types.NamespacedName{Namespace: "no-reports", Name: report.Name}, &r)
		if err != nil {
			return false, err.Error()
		}
		return r.DeletionTimestamp == nil, "deleting"
	})
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if time.Now().After(deadline) {
			t.Fatal(errors.New(what + ": not within " + d.String() + "; last seen: " + last))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
