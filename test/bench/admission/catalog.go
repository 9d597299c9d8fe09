package main

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// catalog is the residency catalog of the benchmark (the one of the
// webhook's handler benchmark): Twilio SendGrid resting only on Privacy
// Shield, Brevo in France, and forty vendors in Germany, each claiming an
// API host and a CDN wildcard. The policy's lists are derived from it.
type catalog struct {
	objects           []client.Object
	approved          map[string][]string // subprocessor -> approved categories
	privacyShieldOnly []string
	eea               []string
	claimed           []string
	wildcards         []string
}

func newCatalog() *catalog {
	c := &catalog{approved: map[string][]string{}}
	add := func(sub *v1alpha1.Subprocessor, eea, psOnly bool) {
		c.objects = append(c.objects, sub)
		var cats []string
		for _, dc := range sub.Spec.DataCategories {
			cats = append(cats, string(dc))
		}
		c.approved[sub.Name] = cats
		if eea {
			c.eea = append(c.eea, sub.Name)
		}
		if psOnly {
			c.privacyShieldOnly = append(c.privacyShieldOnly, sub.Name)
		}
		for _, h := range sub.Spec.Egress.Hosts {
			if rest, ok := strings.CutPrefix(h, "*."); ok {
				c.wildcards = append(c.wildcards, rest)
			} else {
				c.claimed = append(c.claimed, h)
			}
		}
	}
	c.objects = append(c.objects,
		&v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
			Spec: v1alpha1.ResidencyPolicySpec{DefaultEnforcement: v1alpha1.EnforcementAudit, ExcludedNamespaces: []string{"kube-system"}}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "sendgrid-us"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "brevo-fr"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "FR"}},
		&v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "sendgrid-ps"},
			Spec: v1alpha1.TransferBasisSpec{Mechanism: v1alpha1.MechanismPrivacyShield, Countries: []v1alpha1.CountryCode{"US"}}},
	)
	add(&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "twilio-sendgrid"}, Spec: v1alpha1.SubprocessorSpec{
		LegalName: "Twilio SendGrid, Inc.", Country: "US", Purpose: "E-mail delivery",
		DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
		ProcessingLocations: []v1alpha1.ObjectName{"sendgrid-us"},
		TransferBases:       []v1alpha1.ObjectName{"sendgrid-ps"},
		Egress:              &v1alpha1.Egress{Hosts: []string{"api.sendgrid.com", "*.sendgrid.net"}},
	}}, false, true)
	add(&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "brevo"}, Spec: v1alpha1.SubprocessorSpec{
		LegalName: "Sendinblue SAS", Country: "FR", Purpose: "E-mail delivery",
		DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
		ProcessingLocations: []v1alpha1.ObjectName{"brevo-fr"},
		Egress:              &v1alpha1.Egress{Hosts: []string{"api.brevo.com", "smtp-relay.brevo.com"}},
	}}, true, false)
	for i := 0; i < 40; i++ {
		loc := fmt.Sprintf("vendor-%02d-eu", i)
		c.objects = append(c.objects, &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: loc}, Spec: v1alpha1.ProcessingLocationSpec{Country: "DE"}})
		add(&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vendor-%02d", i)}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: "Vendor GmbH", Country: "DE", Purpose: "testing", ProcessingLocations: []v1alpha1.ObjectName{v1alpha1.ObjectName(loc)},
			Egress: &v1alpha1.Egress{Hosts: []string{fmt.Sprintf("api.vendor%02d.example.de", i), fmt.Sprintf("*.cdn.vendor%02d.de", i)}},
		}}, true, false)
	}
	return c
}

func celString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func celList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = celString(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// celSet is a map to true: membership in O(1).
func celSet(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = celString(x) + ": true"
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func (c *catalog) celKnown() string {
	names := make([]string, 0, len(c.approved))
	for n := range c.approved {
		names = append(names, n)
	}
	sort.Strings(names)
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = celString(n) + ": " + celList(c.approved[n])
	}
	return "{" + strings.Join(q, ", ") + "}"
}
