package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

const timeout = 15 * time.Second

func location(name, country string) *v1alpha1.ProcessingLocation {
	return &v1alpha1.ProcessingLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.ProcessingLocationSpec{Country: v1alpha1.CountryCode(country)},
	}
}

func basis(name string, m v1alpha1.Mechanism, countries ...string) *v1alpha1.TransferBasis {
	tb := &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.TransferBasisSpec{Mechanism: m}}
	for _, c := range countries {
		tb.Spec.Countries = append(tb.Spec.Countries, v1alpha1.CountryCode(c))
	}
	return tb
}

func subprocessor(name string, locations, bases []string) *v1alpha1.Subprocessor {
	sp := &v1alpha1.Subprocessor{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.SubprocessorSpec{
			LegalName: name + " Inc.", Country: "US", Purpose: "testing",
		},
	}
	for _, l := range locations {
		sp.Spec.ProcessingLocations = append(sp.Spec.ProcessingLocations, v1alpha1.ObjectName(l))
	}
	for _, b := range bases {
		sp.Spec.TransferBases = append(sp.Spec.TransferBases, v1alpha1.ObjectName(b))
	}
	return sp
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		o := o
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	}
}

// eventually polls get until cond holds, failing with the last observation.
func eventually[T client.Object](t *testing.T, obj T, cond func(T) (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		err := k8s.Get(context.Background(), types.NamespacedName{Name: obj.GetName()}, obj)
		if err == nil {
			var ok bool
			if ok, last = cond(obj); ok {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met within %s; last seen: %s", obj.GetName(), timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func subState(want v1alpha1.SubprocessorState, msgContains ...string) func(*v1alpha1.Subprocessor) (bool, string) {
	return func(s *v1alpha1.Subprocessor) (bool, string) {
		msg := readyMessage(s.Status.Conditions)
		seen := fmt.Sprintf("state=%s gen=%d/%d ready=%q", s.Status.State, s.Status.ObservedGeneration, s.Generation, msg)
		if s.Status.State != want || s.Status.ObservedGeneration != s.Generation {
			return false, seen
		}
		for _, m := range msgContains {
			if !strings.Contains(msg, m) {
				return false, seen
			}
		}
		return true, seen
	}
}

func basisState(want v1alpha1.TransferBasisState, msgContains ...string) func(*v1alpha1.TransferBasis) (bool, string) {
	return func(b *v1alpha1.TransferBasis) (bool, string) {
		seen := fmt.Sprintf("state=%s until=%s message=%q", b.Status.State, b.Status.ValidUntil, b.Status.Message)
		if b.Status.State != want {
			return false, seen
		}
		for _, m := range msgContains {
			if !strings.Contains(b.Status.Message, m) {
				return false, seen
			}
		}
		return true, seen
	}
}

func readyMessage(conds []metav1.Condition) string {
	for _, c := range conds {
		if c.Type == v1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

func TestMissingBasisThenCreated(t *testing.T) {
	clk.reset()
	startManager(t)
	create(t, location("t1-us-east-1", "US"), subprocessor("t1-mailer", []string{"t1-us-east-1"}, []string{"t1-scc"}))

	eventually(t, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t1-mailer"}},
		subState(v1alpha1.SubprocessorNonCompliant, "t1-scc"))

	create(t, basis("t1-scc", v1alpha1.MechanismStandardContractualClauses, "US"))
	sp := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t1-mailer"}}
	eventually(t, sp, subState(v1alpha1.SubprocessorApproved))
	if len(sp.Status.Transfers) != 1 || !sp.Status.Transfers[0].Covered || sp.Status.Transfers[0].Basis != "t1-scc" {
		t.Errorf("transfers = %+v, want one covered route resting on t1-scc", sp.Status.Transfers)
	}
	for _, typ := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionTransfersCovered, v1alpha1.ConditionReferencesResolved, v1alpha1.ConditionObjectionPeriodElapsed} {
		if c := findCondition(sp.Status.Conditions, typ); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("condition %s = %+v, want True", typ, c)
		}
	}
	loc := &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "t1-us-east-1"}}
	eventually(t, loc, func(l *v1alpha1.ProcessingLocation) (bool, string) {
		return l.Status.Classification == v1alpha1.ClassificationPartiallyAdequate && strings.Contains(l.Status.LegalReference, "2023/1795"),
			fmt.Sprintf("%+v", l.Status)
	})
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func TestPrivacyShieldIsInvalidated(t *testing.T) {
	clk.reset()
	startManager(t)
	create(t, location("t2-us", "US"), basis("t2-ps", v1alpha1.MechanismPrivacyShield, "US"),
		subprocessor("t2-sendgrid", []string{"t2-us"}, []string{"t2-ps"}))

	eventually(t, &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t2-ps"}},
		basisState(v1alpha1.BasisInvalidated, "C-311/18", "2020-07-16"))
	sg := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t2-sendgrid"}}
	eventually(t, sg, subState(v1alpha1.SubprocessorNonCompliant))
	if c := findCondition(sg.Status.Conditions, v1alpha1.ConditionTransfersCovered); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "BasisNotValid" {
		t.Errorf("TransfersCovered = %+v, want False with reason BasisNotValid", c)
	}

	// The basis gets a Warning event naming the judgment.
	cs := kubernetes.NewForConfigOrDie(cfg)
	deadline := time.Now().Add(timeout)
	for {
		evs, err := cs.EventsV1().Events(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if found := findEvent(evs.Items, "t2-ps", "BasisInvalidated"); found != nil {
			if found.Type != "Warning" || !strings.Contains(found.Note, "C-311/18") {
				t.Errorf("event = %s %s %q", found.Type, found.Reason, found.Note)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no BasisInvalidated event for t2-ps")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func findEvent(evs []eventsv1.Event, name, reason string) *eventsv1.Event {
	for i := range evs {
		if evs[i].Regarding.Name == name && evs[i].Reason == reason {
			return &evs[i]
		}
	}
	return nil
}

func TestBasisExpiresOnTime(t *testing.T) {
	expiry := time.Date(2031, 3, 5, 0, 0, 0, 0, time.UTC)
	clk.standBefore(expiry, 3*time.Second)
	t.Cleanup(clk.reset)
	startManager(t)
	tb := basis("t3-bcr", v1alpha1.MechanismBindingCorporateRules, "US")
	tb.Spec.ExpiresOn = "2031-03-05"
	create(t, location("t3-us", "US"), tb, subprocessor("t3-zendesk", []string{"t3-us"}, []string{"t3-bcr"}))

	got := &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t3-bcr"}}
	eventually(t, got, basisState(v1alpha1.BasisValid))
	if got.Status.ValidUntil != "2031-03-05" {
		t.Errorf("validUntil = %q, want 2031-03-05", got.Status.ValidUntil)
	}
	eventually(t, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t3-zendesk"}}, subState(v1alpha1.SubprocessorApproved))
	// Nothing changes in the cluster: the requeue at the expiry instant flips both.
	eventually(t, got, basisState(v1alpha1.BasisExpired))
	if !clk.Now().After(expiry) {
		t.Errorf("flipped before the expiry instant: now %s", clk.Now())
	}
	eventually(t, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t3-zendesk"}}, subState(v1alpha1.SubprocessorNonCompliant, "t3-bcr"))
}

func TestObjectionPeriod(t *testing.T) {
	end := time.Date(2031, 2, 11, 0, 0, 0, 0, time.UTC)
	clk.standBefore(end, 3*time.Second)
	t.Cleanup(clk.reset)
	startManager(t)
	sp := subprocessor("t4-crisp", []string{"t4-fr"}, nil)
	sp.Spec.Country = "FR"
	sp.Spec.Notice = &v1alpha1.Notice{NotifiedOn: "2031-01-12", ObjectionPeriodDays: ptr.To[int32](30)}
	create(t, location("t4-fr", "FR"), sp)

	got := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t4-crisp"}}
	eventually(t, got, subState(v1alpha1.SubprocessorPendingObjectionPeriod, "2031-02-11"))
	if got.Status.ObjectionPeriodEndsOn != "2031-02-11" {
		t.Errorf("objectionPeriodEndsOn = %q, want 2031-02-11", got.Status.ObjectionPeriodEndsOn)
	}
	eventually(t, got, subState(v1alpha1.SubprocessorApproved))
	if c := findCondition(got.Status.Conditions, v1alpha1.ConditionObjectionPeriodElapsed); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ObjectionPeriodElapsed = %+v, want True", c)
	}
}

func TestMechanismOverrideFlipsDependentsAndBack(t *testing.T) {
	clk.reset()
	startManager(t)
	create(t, location("t5-us", "US"),
		basis("t5-dpf", v1alpha1.MechanismDataPrivacyFramework, "US"),
		basis("t5-scc", v1alpha1.MechanismStandardContractualClauses, "US"),
		subprocessor("t5-on-dpf", []string{"t5-us"}, []string{"t5-dpf"}),
		subprocessor("t5-on-scc", []string{"t5-us"}, []string{"t5-scc"}))
	onDPF := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t5-on-dpf"}}
	onSCC := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t5-on-scc"}}
	eventually(t, onDPF, subState(v1alpha1.SubprocessorApproved))
	eventually(t, onSCC, subState(v1alpha1.SubprocessorApproved))

	pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}
	pol.Spec.MechanismOverrides = []v1alpha1.MechanismOverride{{
		Mechanism: v1alpha1.MechanismDataPrivacyFramework, InvalidFrom: "2026-01-01", Reason: "CJEU C-703/25 P",
	}}
	create(t, pol)
	eventually(t, onDPF, subState(v1alpha1.SubprocessorNonCompliant))
	eventually(t, &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t5-dpf"}}, basisState(v1alpha1.BasisInvalidated, "C-703/25 P"))
	eventually(t, onSCC, subState(v1alpha1.SubprocessorApproved))

	// The summary counts them.
	eventually(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}, func(p *v1alpha1.ResidencyPolicy) (bool, string) {
		s := p.Status.Summary
		if s == nil {
			return false, "no summary"
		}
		return s.SubprocessorsByState["NonCompliant"] >= 1 && s.UncoveredTransfers >= 1 && s.TransferBasesByState["Invalidated"] >= 1,
			fmt.Sprintf("%+v", *s)
	})

	// Removing the override flips them back.
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pol), pol); err != nil {
		t.Fatal(err)
	}
	pol.Spec.MechanismOverrides = nil
	if err := k8s.Update(context.Background(), pol); err != nil {
		t.Fatal(err)
	}
	eventually(t, onDPF, subState(v1alpha1.SubprocessorApproved))
	eventually(t, &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t5-dpf"}}, basisState(v1alpha1.BasisValid))
}

func TestOnwardChainFollowsABasisChange(t *testing.T) {
	clk.reset()
	startManager(t)
	mailjet := subprocessor("t6-mailjet", []string{"t6-us"}, []string{"t6-mj-scc"})
	classmgr := subprocessor("t6-gcp", []string{"t6-de"}, nil)
	classmgr.Spec.Subprocessors = []v1alpha1.ObjectName{"t6-mailjet"}
	create(t, location("t6-us", "US"), location("t6-de", "DE"),
		basis("t6-mj-scc", v1alpha1.MechanismStandardContractualClauses, "US"), mailjet, classmgr)
	parent := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t6-gcp"}}
	eventually(t, parent, subState(v1alpha1.SubprocessorApproved))
	var onward bool
	for _, tr := range parent.Status.Transfers {
		if tr.Route == "t6-mailjet/t6-us" && tr.Covered {
			onward = true
		}
	}
	if !onward {
		t.Errorf("transfers = %+v, want the covered onward route t6-mailjet/t6-us", parent.Status.Transfers)
	}
	// Turning the onward subprocessor's basis into old SCCs makes the parent non-compliant.
	tb := &v1alpha1.TransferBasis{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: "t6-mj-scc"}, tb); err != nil {
		t.Fatal(err)
	}
	tb.Spec.Mechanism = v1alpha1.MechanismLegacyStandardContractualClauses
	if err := k8s.Update(context.Background(), tb); err != nil {
		t.Fatal(err)
	}
	eventually(t, parent, subState(v1alpha1.SubprocessorNonCompliant))
}

func TestRestartConvergesToTheSameStatus(t *testing.T) {
	clk.reset()
	_, stop := startManager(t)
	create(t, location("t7-us", "US"), basis("t7-ps", v1alpha1.MechanismPrivacyShield, "US"),
		basis("t7-bcr", v1alpha1.MechanismBindingCorporateRules, "US"),
		subprocessor("t7-a", []string{"t7-us"}, []string{"t7-ps"}),
		subprocessor("t7-b", []string{"t7-us"}, []string{"t7-bcr"}))
	a := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t7-a"}}
	b := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t7-b"}}
	eventually(t, a, subState(v1alpha1.SubprocessorNonCompliant))
	eventually(t, b, subState(v1alpha1.SubprocessorApproved))
	before := a.Status.DeepCopy()

	// The operator goes away; meanwhile b's basis is invalidated and a's status is wiped.
	stop()
	tb := &v1alpha1.TransferBasis{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: "t7-bcr"}, tb); err != nil {
		t.Fatal(err)
	}
	tb.Spec.Mechanism = v1alpha1.MechanismSafeHarbor
	if err := k8s.Update(context.Background(), tb); err != nil {
		t.Fatal(err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		wiped := &v1alpha1.Subprocessor{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: "t7-a"}, wiped); err != nil {
			return err
		}
		wiped.Status = v1alpha1.SubprocessorStatus{}
		return k8s.Status().Update(context.Background(), wiped)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: "t7-a"}, a); err != nil || a.Status.State != "" {
		t.Fatalf("status not wiped while the operator was away: %+v (%v)", a.Status, err)
	}

	startManager(t)
	eventually(t, b, subState(v1alpha1.SubprocessorNonCompliant))
	eventually(t, &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t7-bcr"}}, basisState(v1alpha1.BasisInvalidated, "C-362/14"))
	eventually(t, a, subState(v1alpha1.SubprocessorNonCompliant))
	if a.Status.State != before.State || len(a.Status.Transfers) != len(before.Transfers) || a.Status.Transfers[0] != before.Transfers[0] {
		t.Errorf("after restart status = %+v, want %+v", a.Status, *before)
	}
}

// TestPrinterColumns reads the tables kubectl prints for the three kinds.
func TestPrinterColumns(t *testing.T) {
	clk.reset()
	startManager(t)
	create(t, location("t8-se", "SE"), basis("t8-ps", v1alpha1.MechanismPrivacyShield, "US"),
		subprocessor("t8-sentry", []string{"t8-se"}, nil))
	eventually(t, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t8-sentry"}}, subState(v1alpha1.SubprocessorApproved))
	eventually(t, &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t8-ps"}}, basisState(v1alpha1.BasisInvalidated))

	cs := kubernetes.NewForConfigOrDie(cfg)
	for _, tc := range []struct {
		resource, name string
		columns        []string
		cells          []string
	}{
		{"subprocessors", "t8-sentry", []string{"Name", "Legal Name", "Country", "State", "Workloads", "Age"}, []string{"t8-sentry Inc.", "US", "Approved"}},
		{"transferbases", "t8-ps", []string{"Name", "Mechanism", "Countries", "State", "Age"}, []string{"PrivacyShield", "Invalidated"}},
		{"processinglocations", "t8-se", []string{"Name", "Country", "Classification", "Age"}, []string{"SE", "EEA"}},
	} {
		raw, err := cs.RESTClient().Get().AbsPath("/apis/dataresidency.io/v1alpha1", tc.resource, tc.name).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tc.resource, err)
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, c := range table.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		for _, want := range tc.columns {
			if !contains(cols, want) {
				t.Errorf("%s columns %q lack %q", tc.resource, cols, want)
			}
		}
		if len(table.Rows) != 1 {
			t.Fatalf("%s: %d rows", tc.resource, len(table.Rows))
		}
		row := fmt.Sprint(table.Rows[0].Cells...)
		for _, want := range tc.cells {
			if !strings.Contains(row, want) {
				t.Errorf("%s row %q lacks %q", tc.resource, row, want)
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestScheduledTransitionsFlipOnTime: the other instants the engine knows in
// advance requeue the objects at that instant, with nothing changing in the
// cluster: a mechanismOverrides date, a TIA's review date, the end of an
// adequacy decision (the United Kingdom's, 2031-12-27).
func TestScheduledTransitionsFlipOnTime(t *testing.T) {
	t.Run("mechanism override date", func(t *testing.T) {
		at := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
		clk.standBefore(at, 3*time.Second)
		t.Cleanup(clk.reset)
		startManager(t)
		pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}
		pol.Spec.MechanismOverrides = []v1alpha1.MechanismOverride{{
			Mechanism: v1alpha1.MechanismDataPrivacyFramework, InvalidFrom: "2031-06-01", Reason: "CJEU C-703/25 P",
		}}
		create(t, pol, location("t15-us", "US"), basis("t15-dpf", v1alpha1.MechanismDataPrivacyFramework, "US"),
			subprocessor("t15-on-dpf", []string{"t15-us"}, []string{"t15-dpf"}))
		tb := &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t15-dpf"}}
		eventually(t, tb, basisState(v1alpha1.BasisValid))
		if tb.Status.ValidUntil != "2031-06-01" {
			t.Errorf("validUntil = %q, want the override's date", tb.Status.ValidUntil)
		}
		sub := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t15-on-dpf"}}
		eventually(t, sub, subState(v1alpha1.SubprocessorApproved))
		eventually(t, tb, basisState(v1alpha1.BasisInvalidated, "C-703/25 P"))
		if clk.Now().Before(at) {
			t.Errorf("flipped before the override's date: now %s", clk.Now())
		}
		eventually(t, sub, subState(v1alpha1.SubprocessorNonCompliant, "t15-dpf"))
	})
	t.Run("TIA review date", func(t *testing.T) {
		at := time.Date(2031, 4, 1, 0, 0, 0, 0, time.UTC)
		clk.standBefore(at, 3*time.Second)
		t.Cleanup(clk.reset)
		startManager(t)
		tb := basis("t16-scc", v1alpha1.MechanismStandardContractualClauses, "US")
		tb.Spec.TransferImpactAssessment = &v1alpha1.TransferImpactAssessment{CompletedOn: "2030-04-01", NextReviewOn: "2031-04-01"}
		create(t, location("t16-us", "US"), tb, subprocessor("t16-helpdesk", []string{"t16-us"}, []string{"t16-scc"}))
		got := &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "t16-scc"}}
		eventually(t, got, basisState(v1alpha1.BasisValid))
		eventually(t, got, basisState(v1alpha1.BasisReviewOverdue, "2031-04-01"))
		if clk.Now().Before(at) {
			t.Errorf("flipped before the review date: now %s", clk.Now())
		}
		eventually(t, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t16-helpdesk"}}, subState(v1alpha1.SubprocessorNonCompliant, "t16-scc"))
	})
	t.Run("adequacy decision ends", func(t *testing.T) {
		at := time.Date(2031, 12, 27, 0, 0, 0, 0, time.UTC)
		clk.standBefore(at, 3*time.Second)
		t.Cleanup(clk.reset)
		startManager(t)
		create(t, location("t17-london", "GB"), subprocessor("t17-uk-crm", []string{"t17-london"}, nil))
		loc := &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "t17-london"}}
		classified := func(want v1alpha1.Classification) func(*v1alpha1.ProcessingLocation) (bool, string) {
			return func(l *v1alpha1.ProcessingLocation) (bool, string) {
				return l.Status.Classification == want, fmt.Sprintf("classification=%s until=%s", l.Status.Classification, l.Status.ClassificationValidUntil)
			}
		}
		eventually(t, loc, classified(v1alpha1.ClassificationAdequate))
		if loc.Status.ClassificationValidUntil != "2031-12-27" {
			t.Errorf("classificationValidUntil = %q, want 2031-12-27", loc.Status.ClassificationValidUntil)
		}
		sub := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t17-uk-crm"}}
		eventually(t, sub, subState(v1alpha1.SubprocessorApproved))
		eventually(t, loc, classified(v1alpha1.ClassificationThirdCountry))
		if clk.Now().Before(at) {
			t.Errorf("flipped before the decision's end: now %s", clk.Now())
		}
		eventually(t, sub, subState(v1alpha1.SubprocessorNonCompliant))
	})
}
