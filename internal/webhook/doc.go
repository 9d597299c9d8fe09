// Package webhook holds the admission webhooks of the data residency operator:
// decode the object under review, look up cached state, ask the engine
// (internal/residency), answer.
//
// Two webhooks share one ValidatingWebhookConfiguration (controller-gen
// writes one per package, config/webhook/manifests.yaml):
//
//   - workloads.dataresidency.io (/validate-workloads) decides Pods (and their
//     ephemeral containers), ReplicationControllers, Deployments,
//     StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs on CREATE and UPDATE: reject in deny
//     namespaces, warn in warn namespaces, record in audit ones. It fails
//     closed (failurePolicy Fail): see docs/webhook.md for the trade-off.
//   - catalog.dataresidency.io (/validate-catalog) reviews changes to the
//     residency kinds and warns when they would turn compliant workloads into
//     violations. It never denies, so it fails open (failurePolicy Ignore):
//     an operator that is down must not stop the DPO from recording a change.
//
// Both answer from the manager's informer cache: no API call is made on the
// admission path.
package webhook

// The webhook configuration. Its name, after config/default's namePrefix, is
// DefaultConfigName; the service it points at is set by kustomize.
// +kubebuilder:webhookconfiguration:mutating=false,name=validating-webhook-configuration

// +kubebuilder:webhook:path=/validate-workloads,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,matchPolicy=Equivalent,admissionReviewVersions=v1,groups="";apps;batch,resources=pods;pods/ephemeralcontainers;replicationcontrollers;deployments;statefulsets;daemonsets;replicasets;jobs;cronjobs,verbs=create;update,versions=v1,name=workloads.dataresidency.io
// +kubebuilder:webhook:path=/validate-catalog,mutating=false,failurePolicy=ignore,sideEffects=None,timeoutSeconds=5,matchPolicy=Equivalent,admissionReviewVersions=v1,groups=dataresidency.io,resources=processinglocations;transferbases;subprocessors;residencypolicies,verbs=create;update;delete,versions=v1alpha1,name=catalog.dataresidency.io

// What the webhooks read from the cache. Secrets are not among them.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods;replicationcontrollers;configmaps;services,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
