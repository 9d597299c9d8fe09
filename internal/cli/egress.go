package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/egress"
)

func newEgressCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var (
		in                inputFlags
		backend, mode, at string
		observedFiles     []string
		clusterDomain     string
	)
	cmd := &cobra.Command{
		Use:   "egress -f PATH... [--backend NetworkPolicy|Cilium|ClusterNetworkPolicy] [--mode enforce|audit] [--at DATE]",
		Short: "Write the egress network policies the operator would apply, for GitOps repositories",
		Long: `egress evaluates the workloads of the input as scan does and prints, as multi-document
YAML, the egress policy the operator writes for each of them: it allows DNS to the
cluster DNS, traffic inside the cluster, the egress claims (hosts, cidrs) of every
Subprocessor whose flow from the workload is not a Violation, and the ResidencyPolicy's
egressPolicy.alwaysAllow; nothing else.

The backend is --backend, else the input's ResidencyPolicy spec.egressPolicy.backend,
else NetworkPolicy. A workload's mode is --mode when given; else, when the input holds
its Namespace, that Namespace's dataresidency.io/egress label (none: no policy, as in
the cluster); else enforce.
Workloads in excluded namespaces get none. Policies printed here carry no owner
reference (the workload's UID is not known offline); what they leave out and what the
backend cannot express is printed on standard error as notes.

Exit status: 0 policies written, 2 bad input (the error names the file, the document and
the field), 3 other errors.`,
		Example: `  residencyctl egress -f residency/ -f deploy/ --backend Cilium > egress-policies.yaml
  kustomize build overlays/prod | residencyctl egress -f - -f residency/ --at 2027-06-01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backend != "" {
				if err := oneOf("backend", backend, string(v1alpha1.EgressBackendNetworkPolicy), string(v1alpha1.EgressBackendCilium), string(v1alpha1.EgressBackendClusterNetworkPolicy)); err != nil {
					return err
				}
			}
			if err := oneOf("mode", mode, string(v1alpha1.EgressEnforce), string(v1alpha1.EgressAudit)); err != nil {
				return err
			}
			if len(in.files) == 0 {
				return badInput(errors.New("egress needs input: -f PATH (a file, a directory, or - for stdin)"))
			}
			when, err := parseAt(at)
			if err != nil {
				return badInput(err)
			}
			b := Load(in.files, stdin, in.stdinName, in.namespace)
			loadObserved(b, observedFiles, in.namespace, clusterDomain)
			if len(b.Errors) > 0 {
				return reportInputErrors(stderr, b.Errors)
			}
			rep, errs := Evaluate(b, when)
			if len(errs) > 0 {
				return reportInputErrors(stderr, errs)
			}
			snap := rep.Snapshot
			written := 0
			for _, wr := range rep.Workloads {
				// --mode given decides; else the Namespace's label when the
				// input holds the Namespace (as in the cluster: no label, no
				// policy); else enforce.
				m := v1alpha1.EgressMode(mode)
				if labels, ok := b.Namespaces[wr.Resource.Namespace]; ok && !cmd.Flags().Changed("mode") {
					if m = snap.Policy().EgressMode(wr.Resource.Namespace, labels); m == "" {
						continue
					}
				}
				plan := snap.EgressPlan(wr.Workload, wr.Result, m)
				if backend != "" {
					plan.Settings.Backend = v1alpha1.EgressBackend(backend)
				}
				owner := egress.Owner{APIVersion: wr.Resource.APIVersion, Kind: wr.Resource.Kind, Namespace: wr.Resource.Namespace, Name: wr.Resource.Name}
				objs, notes, err := egress.Render(owner, plan)
				if err != nil {
					return &exitError{code: ExitError, err: fmt.Errorf("%s: %w", wr.Resource, err)}
				}
				cuts := plan.Cut
				if !plan.Selectable() {
					cuts = nil // nothing is written, nothing is cut: the note says why
				}
				for _, c := range cuts {
					what := c.Subprocessor
					if what == "" {
						what = c.Endpoint
					}
					fmt.Fprintf(stderr, "note: %s: %s leaves out %s (%s): %s\n", wr.Resource, egress.GVKOf(plan.Settings.Backend).Kind, what, c.Reason, c.Message)
				}
				for _, n := range notes {
					fmt.Fprintf(stderr, "note: %s: %s\n", wr.Resource, n.Message)
				}
				for _, o := range objs {
					out, err := yaml.Marshal(o.Object)
					if err != nil {
						return &exitError{code: ExitError, err: err}
					}
					if _, err := fmt.Fprintf(stdout, "---\n%s", out); err != nil {
						return &exitError{code: ExitError, err: fmt.Errorf("write output: %w", err)}
					}
					written++
				}
			}
			fmt.Fprintf(stderr, "%d egress %s written for %d workloads\n", written, plural(written, "policy", "policies"), len(rep.Workloads))
			return nil
		},
	}
	in.bind(cmd, "manifests and residency objects")
	cmd.Flags().StringVar(&backend, "backend", "", "NetworkPolicy, Cilium or ClusterNetworkPolicy (default: the input's ResidencyPolicy spec.egressPolicy.backend, else NetworkPolicy)")
	cmd.Flags().StringVar(&mode, "mode", string(v1alpha1.EgressEnforce), "enforce or audit for every workload; when not given, the dataresidency.io/egress label of Namespaces in the input decides (enforce for the others)")
	cmd.Flags().StringVar(&at, "at", "", "evaluate as of this date (YYYY-MM-DD) instead of now")
	cmd.Flags().StringVarP(&in.namespace, "namespace", "n", "default", "namespace of namespaced objects that do not name one (as kubectl apply would)")
	cmd.Flags().StringArrayVar(&observedFiles, "observed", nil, "ObservedEgress objects or a dnstap capture, as scan --observed takes; repeatable")
	cmd.Flags().StringVar(&clusterDomain, "cluster-domain", "cluster.local", "the cluster domain, for dnstap captures")
	return cmd
}
