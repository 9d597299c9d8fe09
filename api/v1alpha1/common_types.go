package v1alpha1

// CountryCode is an ISO 3166-1 alpha-2 country code in upper case, such as "SE"
// or "US". The EU's own spelling of Greece, "EL", is accepted as an alias of "GR".
// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
// +kubebuilder:validation:MinLength=2
// +kubebuilder:validation:MaxLength=2
type CountryCode string

// Date is a calendar date in the form YYYY-MM-DD. Dates are read as the start of
// that day in UTC: a basis that expiresOn 2027-03-05 is Expired from
// 2027-03-05T00:00:00Z on.
// +kubebuilder:validation:Pattern=`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`
// +kubebuilder:validation:MinLength=10
// +kubebuilder:validation:MaxLength=10
type Date string

// ObjectName is the name of another residency object (a ProcessingLocation,
// TransferBasis or Subprocessor), a DNS subdomain.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
type ObjectName string

// DataCategory is a key of the fideslang data-category taxonomy, such as
// "user.contact.email". A key covers its descendants: "user.contact" covers
// "user.contact.email".
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`
type DataCategory string

// Classification is what GDPR Chapter V makes of a country at a given time.
// +kubebuilder:validation:Enum=EEA;Adequate;PartiallyAdequate;ThirdCountry
type Classification string

const (
	// ClassificationEEA is a member state of the EU or the EEA (or an EU territory).
	ClassificationEEA Classification = "EEA"
	// ClassificationAdequate is a country with a full adequacy decision (GDPR Art. 45).
	ClassificationAdequate Classification = "Adequate"
	// ClassificationPartiallyAdequate is a country whose adequacy decision covers
	// only some recipients (US: DPF-certified organisations; CA: PIPEDA; JP: APPI).
	ClassificationPartiallyAdequate Classification = "PartiallyAdequate"
	// ClassificationThirdCountry is any other country: transfers need a basis.
	ClassificationThirdCountry Classification = "ThirdCountry"
)

// Mechanism is the legal instrument a transfer to a third country rests on.
// +kubebuilder:validation:Enum=DataPrivacyFramework;AdequacyDecision;StandardContractualClauses;BindingCorporateRules;AdHocContractualClauses;CodeOfConduct;Certification;Derogation;PrivacyShield;SafeHarbor;LegacyStandardContractualClauses
type Mechanism string

const (
	// MechanismDataPrivacyFramework is the EU-US Data Privacy Framework certification
	// of the recipient (Decision (EU) 2023/1795).
	MechanismDataPrivacyFramework Mechanism = "DataPrivacyFramework"
	// MechanismAdequacyDecision is an adequacy decision of the Commission (GDPR Art. 45).
	MechanismAdequacyDecision Mechanism = "AdequacyDecision"
	// MechanismStandardContractualClauses are the 2021 SCCs (Decision (EU) 2021/914, Art. 46(2)(c)).
	MechanismStandardContractualClauses Mechanism = "StandardContractualClauses"
	// MechanismBindingCorporateRules are approved BCRs (Art. 46(2)(b), Art. 47).
	MechanismBindingCorporateRules Mechanism = "BindingCorporateRules"
	// MechanismAdHocContractualClauses are clauses authorised by a supervisory authority (Art. 46(3)(a)).
	MechanismAdHocContractualClauses Mechanism = "AdHocContractualClauses"
	// MechanismCodeOfConduct is an approved code of conduct (Art. 46(2)(e)).
	MechanismCodeOfConduct Mechanism = "CodeOfConduct"
	// MechanismCertification is an approved certification mechanism (Art. 46(2)(f)).
	MechanismCertification Mechanism = "Certification"
	// MechanismDerogation is a derogation for specific situations (Art. 49(1)): a last resort.
	MechanismDerogation Mechanism = "Derogation"
	// MechanismPrivacyShield is the EU-US Privacy Shield, invalid since 2020-07-16 (CJEU C-311/18).
	MechanismPrivacyShield Mechanism = "PrivacyShield"
	// MechanismSafeHarbor is the Safe Harbor decision, invalid since 2015-10-06 (CJEU C-362/14).
	MechanismSafeHarbor Mechanism = "SafeHarbor"
	// MechanismLegacyStandardContractualClauses are the SCCs of 2001/497/EC,
	// 2004/915/EC and 2010/87/EU, expired from 2022-12-27 (Decision (EU) 2021/914, Art. 4).
	MechanismLegacyStandardContractualClauses Mechanism = "LegacyStandardContractualClauses"
)

// Derogation is the ground of GDPR Art. 49(1) a Derogation basis relies on.
// +kubebuilder:validation:Enum=ExplicitConsent;ContractWithDataSubject;ContractInDataSubjectInterest;PublicInterest;LegalClaims;VitalInterests;PublicRegister;CompellingLegitimateInterests
type Derogation string

// SCCModule is the module of the 2021 Standard Contractual Clauses in use.
// +kubebuilder:validation:Enum=ControllerToController;ControllerToProcessor;ProcessorToProcessor;ProcessorToController
type SCCModule string

// SupplementaryMeasure is a technical or organisational measure taken on top of an
// Art. 46 mechanism after Schrems II (EDPB Recommendations 01/2020).
// +kubebuilder:validation:Enum=EncryptionInTransit;EncryptionAtRest;EndToEndEncryption;CustomerManagedKeys;Pseudonymisation;DataMinimisation;AccessControl;AccessApproval;AccessTransparency;MultiFactorAuthentication;Redaction;SplitProcessing;TransparencyReporting;ContractualCommitments
type SupplementaryMeasure string

// Enforcement is what admission does with a violation in a namespace.
// +kubebuilder:validation:Enum=deny;warn;audit
type Enforcement string

const (
	// EnforcementDeny rejects workloads with violations at admission.
	EnforcementDeny Enforcement = "deny"
	// EnforcementWarn admits them with warnings the client prints.
	EnforcementWarn Enforcement = "warn"
	// EnforcementAudit admits them; findings go to status, Reports, Events and metrics.
	EnforcementAudit Enforcement = "audit"
)

// EgressMode is the value of a Namespace's dataresidency.io/egress label.
type EgressMode string

const (
	// EgressEnforce denies what a workload's egress policy does not allow.
	EgressEnforce EgressMode = "enforce"
	// EgressAudit writes the enforce policies for pods labelled
	// dataresidency.io/egress-trial only (none unless opted in): nothing
	// changes; Reports list what enforce would cut.
	EgressAudit EgressMode = "audit"
)

// RuleAction is what a policy rule makes of a finding: a violation, a warning, or nothing.
type RuleAction string

const (
	// RuleDeny makes the finding a Violation.
	RuleDeny RuleAction = "deny"
	// RuleWarn makes the finding a Warning.
	RuleWarn RuleAction = "warn"
	// RuleAllow lets the flow pass (specialCategoriesOutsideEEA only).
	RuleAllow RuleAction = "allow"
	// RuleIgnore records nothing (unattributedEgress and requireDeclaration only).
	RuleIgnore RuleAction = "ignore"
)

// Condition types and reasons shared by the four kinds.
const (
	// ConditionReady summarises the object: True when it is usable as it stands.
	ConditionReady = "Ready"
	// ConditionTransfersCovered is True when every third-country route of a
	// Subprocessor rests on a valid TransferBasis.
	ConditionTransfersCovered = "TransfersCovered"
	// ConditionObjectionPeriodElapsed is True when a Subprocessor's objection
	// period has ended (or it has none) and no objection was raised.
	ConditionObjectionPeriodElapsed = "ObjectionPeriodElapsed"
	// ConditionReferencesResolved is True when every object a Subprocessor names exists.
	ConditionReferencesResolved = "ReferencesResolved"
)

// Well-known annotations and labels: the contract between workloads and the operator.
const (
	// AnnotationSubprocessors lists, comma-separated, the Subprocessor names a
	// workload sends personal data to; the value "none" declares that no
	// personal data leaves the workload.
	AnnotationSubprocessors = "dataresidency.io/subprocessors"
	// AnnotationDataCategories lists, comma-separated, the fideslang keys of the
	// data a workload sends.
	AnnotationDataCategories = "dataresidency.io/data-categories"
	// AnnotationEgress lists, comma-separated, endpoints a workload talks to
	// (host, host:port, URL, IP or CIDR).
	AnnotationEgress = "dataresidency.io/egress"
	// LabelEnforcement on a Namespace selects deny, warn or audit for its workloads.
	LabelEnforcement = "dataresidency.io/enforcement"
	// LabelRequireDeclaration on a Namespace overrides the ResidencyPolicy's
	// requireDeclaration (ignore, warn or deny) for its workloads.
	LabelRequireDeclaration = "dataresidency.io/require-declaration"
	// LabelEgress on a Namespace opts its workloads into egress policies:
	// enforce (what is not allowed is denied) or audit (the same policies,
	// for pods labelled dataresidency.io/egress-trial only).
	LabelEgress = "dataresidency.io/egress"
	// LabelRegion is the well-known node label matched against providerRegion.
	LabelRegion = "topology.kubernetes.io/region"
)
