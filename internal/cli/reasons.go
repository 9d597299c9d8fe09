package cli

// ReasonHelp explains a reason code: what it means and what to do about it.
type ReasonHelp struct {
	Short string
	Help  string
	// Level is the SARIF level results of this code usually have.
	Level string
}

// reasonHelp documents the reason codes of domain.md (and the notices of
// residencyctl) for SARIF rules and docs/cli.md.
var reasonHelp = map[string]ReasonHelp{
	"UnknownSubprocessor": {Short: "The workload sends data to a Subprocessor that is not defined",
		Help:  "The workload declares or reaches a Subprocessor that no Subprocessor object describes, so nothing records where it processes the data or on what ground (GDPR Art. 28(2), 30(1)(e)). Add the Subprocessor with its processing locations and transfer bases, or stop sending it data.",
		Level: "error"},
	"UnknownLocation": {Short: "A Subprocessor names a ProcessingLocation that does not exist",
		Help:  "Where the data goes is unknown, so the flow fails closed. Define the ProcessingLocation (country, provider, region) or correct the name in spec.processingLocations.",
		Level: "error"},
	"ObjectionPeriodPending": {Short: "The controller's objection period for this Subprocessor has not ended",
		Help:  "A new subprocessor may not be used before the period the controller has to object ends (GDPR Art. 28(2); the DPA's notice clause). Wait until the date in the message, or record an earlier notice.",
		Level: "error"},
	"SubprocessorObjected": {Short: "The controller objected to this Subprocessor",
		Help:  "The controller exercised its right to object (GDPR Art. 28(2)); no personal data may go to this subprocessor. Remove the flow.",
		Level: "error"},
	"AnonymousOnly": {Short: "Personal data declared for a Subprocessor that may receive anonymous data only",
		Help:  "The Subprocessor's dataAccess is AnonymousOnly, yet the workload declares personal data categories. Stop sending personal data, or change the agreement and the Subprocessor.",
		Level: "error"},
	"CategoryNotApproved": {Short: "A data category is not among those the Subprocessor is approved to receive",
		Help:  "The workload sends a category that is not in the Subprocessor's spec.dataCategories (a key covers its descendants). Stop sending it, or extend the agreement and dataCategories.",
		Level: "error"},
	"UncoveredTransfer": {Short: "A transfer to a third country has no TransferBasis listing that country",
		Help:  "A route (processing location, remote access or onward subprocessor) reaches a country outside the EEA without adequacy, and no TransferBasis of the Subprocessor lists it (GDPR Art. 44-49). Add a TransferBasis (SCC, BCR, DPF...) for the country, or move the processing.",
		Level: "error"},
	"BasisNotValid": {Short: "The TransferBasis for a third-country route is not valid",
		Help:  "A TransferBasis lists the destination country but is not Valid: Invalidated (Privacy Shield, Safe Harbor, a policy override), Expired (old SCCs, expiresOn), NotYetEffective, ReviewOverdue (transfer impact assessment past nextReviewOn) or Incomplete (no TIA where the policy requires one). The message names the basis and its state.",
		Level: "error"},
	"ClassificationNotAllowed": {Short: "The destination's classification is not allowed by the ResidencyPolicy",
		Help:  "The ResidencyPolicy's allowedClassifications exclude this destination (for example ThirdCountry), whatever basis covers it.",
		Level: "error"},
	"SpecialCategoryOutsideEEA": {Short: "Special-category data (GDPR Art. 9/10) leaves the EEA",
		Help:  "The workload declares health, biometric, belief, union, sexual-orientation or criminal data and a route of the Subprocessor leaves the EEA; the ResidencyPolicy's specialCategoriesOutsideEEA decides whether that is a violation or a warning.",
		Level: "error"},
	"UnattributedEgress": {Short: "An endpoint the workload talks to is claimed by no Subprocessor",
		Help:  "An endpoint found in the pod spec, a referenced ConfigMap, an ExternalName Service or the dataresidency.io/egress annotation matches no Subprocessor's spec.egress. If personal data goes there, record its vendor as a Subprocessor; the ResidencyPolicy's unattributedEgress sets the severity.",
		Level: "warning"},
	"DiscoveryIncomplete": {Short: "Egress discovery stopped at one of its bounds for this workload",
		Help:  "A value, a mounted file or the pod as a whole was larger than discovery reads (256 KiB per value, 1 MiB per pod, 512 endpoints per pod), so endpoints past the bound were not judged. The message names where it stopped. Split the configuration, or declare the workload's egress with the dataresidency.io/egress annotation.",
		Level: "warning"},
	"DerogationInUse": {Short: "A transfer rests on a GDPR Art. 49 derogation",
		Help:  "Derogations are a last resort for occasional, non-repetitive transfers (EDPB Guidelines 2/2018). Prefer an Art. 46 safeguard (SCC, BCR) for a regular flow.",
		Level: "warning"},
	"InvalidAnnotation": {Short: "A dataresidency.io annotation cannot be read",
		Help:  "A declaration that cannot be read cannot be trusted, so it fails closed. The message names the annotation and the entry; fix the entry (Subprocessor names are object names, categories are fideslang keys, egress entries are hosts, host:port, URLs, IPs or CIDRs).",
		Level: "error"},
	"Undeclared": {Short: "The workload does not declare what personal data it sends, nor to whom",
		Help:  "It has neither a dataresidency.io/subprocessors nor a dataresidency.io/data-categories annotation (or only entries that cannot be read), so it is judged only on what discovery finds, and finding nothing proves nothing. Declare the Subprocessors it sends personal data to and the categories (the message lists the Subprocessors its endpoints were attributed to, ready to copy), or dataresidency.io/subprocessors: none when no personal data leaves it. Reported when the ResidencyPolicy's requireDeclaration, or the Namespace's dataresidency.io/require-declaration label, is warn (a Warning) or deny (a Violation).",
		Level: "warning"},
	"UnknownTransferBasis": {Short: "A Subprocessor names a TransferBasis that does not exist",
		Help:  "The name in spec.transferBases matches no TransferBasis in the input; routes it was meant to cover may be uncovered.",
		Level: "error"},
	"SubprocessorCycle": {Short: "Onward subprocessors refer back to one already on the path",
		Help:  "spec.subprocessors forms a loop; the loop is not followed further.",
		Level: "error"},
	// Notices about the input (SARIF level note).
	"InvalidEnforcementLabel": {Short: "A Namespace's dataresidency.io/enforcement label is not deny, warn or audit",
		Help:  "The label is ignored and the ResidencyPolicy's defaultEnforcement applies. Use deny, warn or audit.",
		Level: "note"},
	"InvalidRequireDeclarationLabel": {Short: "A Namespace's dataresidency.io/require-declaration label is not ignore, warn or deny",
		Help:  "The label is ignored and the ResidencyPolicy's requireDeclaration applies. Use ignore, warn or deny.",
		Level: "note"},
	"DuplicateObject": {Short: "An object is defined more than once in the input",
		Help: "The last definition is used.", Level: "note"},
	"SkippedFile": {Short: "A file found in a directory is not a Kubernetes manifest",
		Help: "No document of the file has an apiVersion or a kind, so it was not read.", Level: "note"},
	"InvalidInput": {Short: "The input cannot be read or is not valid",
		Help:  "A manifest is not valid YAML, names an unknown kind of the dataresidency.io group, or a residency object breaks its CRD's schema (the checks the API server makes on apply). Nothing was evaluated: fix the file at the location given.",
		Level: "error"},
	"Compliant": {Short: "The workload's flows are compliant",
		Help: "Every flow of the workload rests on a valid ground.", Level: "none"},
}

// levelOf is the SARIF level of a verdict.
func levelOf(verdict string) string {
	switch verdict {
	case "Violation":
		return "error"
	case "Warning":
		return "warning"
	default:
		return "note"
	}
}
