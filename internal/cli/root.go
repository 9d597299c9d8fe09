// Package cli is residencyctl: the residency engine run offline on manifests
// (scan), the transfer register a DPO hands an auditor (register), and the
// built-in legal catalog (catalog). cmd/residencyctl only wires Main to the
// process; everything here returns exit codes instead of exiting, so that
// tests run it in-process and as a binary alike.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// Exit codes.
const (
	// ExitOK: no violations (scan), or the command did what it was asked.
	ExitOK = 0
	// ExitViolations: scan found violations (or warnings, with --fail-on warning).
	ExitViolations = 1
	// ExitBadInput: the input cannot be read or is invalid, or the command line is wrong.
	ExitBadInput = 2
	// ExitError: anything else failed, such as reaching the cluster.
	ExitError = 3
)

// Version is set at build time: -ldflags "-X github.com/dataresidency/operator/internal/cli.Version=v1.2.3".
var Version = ""

func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// PluginName is the executable name under which residencyctl is a kubectl plugin.
const PluginName = "kubectl-residency"

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// Main runs residencyctl with args (args[0] is the program name, which decides
// whether it presents itself as `kubectl residency`) and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "residencyctl: internal error: %v\n%s", r, debug.Stack())
			code = ExitError
		}
	}()
	prog := "residencyctl"
	if len(args) > 0 {
		base := strings.TrimSuffix(filepath.Base(args[0]), ".exe")
		if base == PluginName {
			prog = "kubectl residency"
		}
		args = args[1:]
	}
	root := NewCommand(prog, stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", firstWord(prog), ee.err)
		}
		return ee.code
	}
	// Cobra's own errors: unknown commands and flags.
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", firstWord(prog), err, prog)
	return ExitBadInput
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i] + "-" + s[i+1:]
	}
	return s
}

// NewCommand builds the command tree. prog is "residencyctl" or "kubectl residency".
func NewCommand(prog string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	use := prog
	var annotations map[string]string
	if strings.Contains(prog, " ") {
		use = prog[strings.LastIndexByte(prog, ' ')+1:]
		annotations = map[string]string{cobra.CommandDisplayNameAnnotation: prog}
	}
	root := &cobra.Command{
		Use:   use,
		Short: "Check Kubernetes workloads against GDPR data residency rules, offline",
		Long: `residencyctl evaluates workloads against the organisation's residency objects
(ProcessingLocation, TransferBasis, Subprocessor, ResidencyPolicy) with the same
engine as the data residency operator, without a cluster: in CI, on rendered Helm
charts and kustomizations, or as of a future date.`,
		Annotations:   annotations,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionString(),
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.AddCommand(newScanCommand(stdin, stdout, stderr), newRegisterCommand(stdin, stdout, stderr), newEgressCommand(stdin, stdout, stderr),
		newCatalogCommand(stdout), newVersionCommand(prog, stdout))
	return root
}

// parseAt reads --at: a date (UTC midnight), or now.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	t, err := residency.ParseDate(v1alpha1.Date(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %s: not a date of the form YYYY-MM-DD", s)
	}
	return t, nil
}

func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

func oneOf(flagName, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return badInput(fmt.Errorf("--%s %q: must be one of %s", flagName, value, strings.Join(allowed, ", ")))
}

// reportInputErrors prints bad input to stderr and returns the exit error.
func reportInputErrors(stderr io.Writer, errs []*InputError) error {
	for _, e := range errs {
		fmt.Fprintf(stderr, "error: %s\n", e.Error())
	}
	if len(errs) >= maxErrors {
		fmt.Fprintf(stderr, "error: stopped after %d errors\n", maxErrors)
	}
	noun := "errors"
	if len(errs) == 1 {
		noun = "error"
	}
	return &exitError{code: ExitBadInput, err: fmt.Errorf("bad input: %d %s, nothing evaluated", len(errs), noun)}
}

func printNotices(stderr io.Writer, notices []Notice) {
	for _, n := range notices {
		level := "warning"
		if h, ok := reasonHelp[n.Rule]; ok && h.Level == "note" {
			level = "note"
		}
		fmt.Fprintf(stderr, "%s: %s\n", level, n.String())
	}
}

type inputFlags struct {
	files     []string
	stdinName string
	namespace string
}

func (f *inputFlags) bind(cmd *cobra.Command, what string) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil, what+" (files, directories read recursively for *.yaml, *.yml, *.json; - for stdin); repeatable")
	cmd.Flags().StringVar(&f.stdinName, "stdin-name", StdinName, "name for standard input in messages and SARIF locations (for example the chart it was rendered from)")
}

func newScanCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var (
		in                 inputFlags
		output, at, failOn string
		strictRefs, quiet  bool
		observedFiles      []string
		clusterDomain      string
	)
	cmd := &cobra.Command{
		Use:   "scan -f PATH... [-o table|json|sarif] [--at DATE]",
		Short: "Evaluate the workloads in manifests against the residency objects in the same input",
		Long: `scan reads Kubernetes manifests (multi-document YAML or JSON; Lists are unpacked) and
evaluates every Pod, ReplicationController, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob
against the ProcessingLocations, TransferBases, Subprocessors and ResidencyPolicy
found in the same input. Namespaces give each result its enforcement mode;
ConfigMaps and ExternalName Services feed endpoint discovery. Other kinds are
skipped; Secrets are never read.

Exit status: 0 no violations, 1 violations, 2 bad input (the error names the file,
the document and the field), 3 other errors.`,
		Example: `  residencyctl scan -f residency/ -f deploy/
  helm template shop charts/shop | residencyctl scan -f - -f residency/ -o sarif > results.sarif
  kustomize build overlays/prod | residencyctl scan -f - -f residency/ --at 2027-06-01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf("output", output, "table", "json", "sarif"); err != nil {
				return err
			}
			if err := oneOf("fail-on", failOn, "violation", "warning", "never"); err != nil {
				return err
			}
			if len(in.files) == 0 {
				return badInput(errors.New("scan needs input: -f PATH (a file, a directory, or - for stdin)"))
			}
			when, err := parseAt(at)
			if err != nil {
				return badInput(err)
			}
			b := Load(in.files, stdin, in.stdinName, in.namespace)
			loadObserved(b, observedFiles, in.namespace, clusterDomain)
			b.noteUnmatchedObserved()
			if strictRefs {
				for _, n := range b.Notices {
					if n.Rule == string(residency.ReasonUnknownLocation) || n.Rule == string(residency.ReasonUnknownTransferBasis) || n.Rule == string(residency.ReasonUnknownSubprocessor) {
						b.Errors = append(b.Errors, &InputError{File: n.Origin.File, Document: n.Origin.Document, Item: n.Origin.Item,
							Line: n.Origin.Line, Kind: n.Kind, Name: n.Name, Field: n.Field, Msg: n.Msg})
					}
				}
			}
			badInput := func(errs []*InputError) error {
				if output == "sarif" {
					_ = writeInputErrorsSARIF(stdout, errs)
				}
				return reportInputErrors(stderr, errs)
			}
			if len(b.Errors) > 0 {
				return badInput(b.Errors)
			}
			rep, errs := Evaluate(b, when)
			if len(errs) > 0 {
				return badInput(errs)
			}
			if !quiet {
				printNotices(stderr, b.Notices)
				if b.ResidencyObjects() == 0 {
					fmt.Fprintln(stderr, "warning: the input holds no residency objects (ProcessingLocation, TransferBasis, Subprocessor, ResidencyPolicy): add your catalog with -f")
				}
				if len(b.Workloads) == 0 {
					fmt.Fprintln(stderr, "note: the input holds no workloads (Pod, ReplicationController, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)")
				}
			}
			switch output {
			case "json":
				err = writeScanJSON(stdout, rep)
			case "sarif":
				err = writeScanSARIF(stdout, rep)
			default:
				err = writeScanTable(stdout, rep)
			}
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("write output: %w", err)}
			}
			switch {
			case failOn == "never":
			case rep.Summary.Violations > 0:
				return &exitError{code: ExitViolations}
			case failOn == "warning" && rep.Summary.Warnings > 0:
				return &exitError{code: ExitViolations}
			}
			return nil
		},
	}
	in.bind(cmd, "manifests to scan, with the residency objects")
	cmd.Flags().StringVarP(&in.namespace, "namespace", "n", "default", "namespace of namespaced objects that do not name one (as kubectl apply would)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or sarif")
	cmd.Flags().StringVar(&at, "at", "", "evaluate as of this date (YYYY-MM-DD, UTC midnight) instead of now, e.g. to see what breaks when a decision ends")
	cmd.Flags().StringVar(&failOn, "fail-on", "violation", "exit 1 on: violation, warning (warnings or violations), or never")
	cmd.Flags().BoolVar(&strictRefs, "strict-references", true, "a Subprocessor that names a ProcessingLocation, TransferBasis or onward Subprocessor missing from the input is bad input (exit 2); =false makes it a finding, as in the cluster (UnknownLocation, UnknownSubprocessor, an uncovered route)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print warnings and notes about the input on stderr")
	cmd.Flags().StringArrayVar(&observedFiles, "observed", nil, "what workloads actually resolved: a dnstap capture (attributed to the workloads of the input's Pods by status.podIP) or ObservedEgress objects (kubectl get observedegresses -A -o yaml); repeatable")
	cmd.Flags().StringVar(&clusterDomain, "cluster-domain", "cluster.local", "names under the cluster's DNS domain are never egress (--observed captures)")
	return cmd
}

var clusterScheme = func() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}()

func newRegisterCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var (
		in                        inputFlags
		output, at, organisation  string
		contexts, kubeconfigFiles []string
		timeout                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "register [-f PATH...] [--context NAME...] [--kubeconfigs FILE...] [-o markdown|csv|json|html] [--at DATE]",
		Short: "Print the register of transfers (GDPR Art. 30(1)(e)) from files or from one or more clusters",
		Long: `register prints the transfer register a DPO hands an auditor (GDPR Art. 30(1)(e)):
per Subprocessor its legal entity, registration number, country, purpose, data
categories and state, each processing location with its country and classification,
and per route out of the EEA (processing location, remote access, onward
subprocessor) the transfer basis, its mechanism, the GDPR article, its state and
validity; then every TransferBasis and the accepted risks in force.

With -f it reads the residency objects from files; --context (repeatable) reads them
(read-only) from clusters of the current kubeconfig, --kubeconfigs (repeatable) from
the current context of each kubeconfig file; without any, from the cluster of the
current kubeconfig. Several sources make the organisation's register: each
Subprocessor once, with the clusters that define it and their workloads, each route
with the clusters it exists in, and the catalog drift between them. A cluster that
cannot be read is named in the output and makes the exit status 3. -o html writes one
self-contained document with a print stylesheet (print it to PDF to file it).`,
		Example: `  residencyctl register -f residency/ -o markdown > register.md
  residencyctl register --context prod -o csv > register.csv
  residencyctl register --context prod-eu --context prod-us -f residency/ -o html --organisation "Shop AS" > register.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf("output", output, "markdown", "csv", "json", "html"); err != nil {
				return err
			}
			when, err := parseAt(at)
			if err != nil {
				return badInput(err)
			}
			var inputs []registerInput
			if len(in.files) > 0 {
				b := Load(in.files, stdin, in.stdinName, "default")
				if len(b.Errors) > 0 {
					return reportInputErrors(stderr, b.Errors)
				}
				inputs = append(inputs, registerInput{name: strings.Join(b.Files, ", "), bundle: b})
			}
			for _, c := range contexts {
				b, src, err := loadFromCluster(cmd.Context(), c, "", timeout)
				if src == "" {
					src = "cluster (context " + c + ")"
				}
				inputs = append(inputs, registerInput{name: src, bundle: b, err: err, clusters: true})
			}
			for _, f := range kubeconfigFiles {
				b, src, err := loadFromCluster(cmd.Context(), "", f, timeout)
				if src == "" {
					src = "cluster (kubeconfig " + f + ")"
				}
				inputs = append(inputs, registerInput{name: src, bundle: b, err: err, clusters: true})
			}
			if len(inputs) == 0 {
				b, src, err := loadFromCluster(cmd.Context(), "", "", timeout)
				if err != nil {
					return &exitError{code: ExitError, err: err}
				}
				inputs = append(inputs, registerInput{name: src, bundle: b, clusters: true})
			}
			var unread []string
			for _, s := range inputs {
				if s.err != nil {
					unread = append(unread, s.name+": "+s.err.Error())
					continue
				}
				for _, n := range s.bundle.Notices {
					if n.Rule != "SkippedFile" {
						printNotices(stderr, []Notice{n})
					}
				}
			}
			var reg *Register
			if len(inputs) == 1 && inputs[0].err == nil {
				reg = BuildRegister(inputs[0].bundle, when, inputs[0].name)
			} else {
				reg = BuildFleetRegister(inputs, when)
			}
			switch output {
			case "csv":
				err = writeRegisterCSV(stdout, reg)
			case "json":
				err = writeRegisterJSON(stdout, reg)
			case "html":
				err = writeRegisterHTML(stdout, reg, organisation, when)
			default:
				err = writeRegisterMarkdown(stdout, reg)
			}
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("write output: %w", err)}
			}
			if len(unread) > 0 {
				return &exitError{code: ExitError, err: fmt.Errorf("%d source(s) could not be read, the register lacks them: %s", len(unread), strings.Join(unread, "; "))}
			}
			return nil
		},
	}
	in.bind(cmd, "files with the residency objects; without -f, read them from the cluster")
	cmd.Flags().StringVarP(&output, "output", "o", "markdown", "output format: markdown, csv, json or html")
	cmd.Flags().StringVar(&at, "at", "", "states and classifications as of this date (YYYY-MM-DD) instead of now")
	cmd.Flags().StringArrayVar(&contexts, "context", nil, "kubeconfig context to read (repeatable: the organisation's register of several clusters)")
	cmd.Flags().StringArrayVar(&kubeconfigFiles, "kubeconfigs", nil, "kubeconfig file whose current context to read (repeatable)")
	cmd.Flags().StringVar(&organisation, "organisation", "", "the organisation named on the HTML register's title page")
	cmd.Flags().DurationVar(&timeout, "request-timeout", 30*time.Second, "timeout of each request to the cluster")
	if f := flag.CommandLine.Lookup(config.KubeconfigFlagName); f != nil {
		// controller-runtime's --kubeconfig, so that config.GetConfig honours it.
		cmd.Flags().AddGoFlag(f)
	} else {
		fs := flag.NewFlagSet("kubeconfig", flag.ContinueOnError)
		config.RegisterFlags(fs)
		cmd.Flags().AddGoFlagSet(fs)
	}
	return cmd
}

// loadFromCluster reads the residency objects from the cluster of the current kubeconfig.
func loadFromCluster(ctx context.Context, kubeContext, kubeconfigFile string, timeout time.Duration) (*Bundle, string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	hint := "give -f PATH to read files, or point --kubeconfig, KUBECONFIG or --context at a cluster"
	var cfg *rest.Config
	var err error
	if kubeconfigFile != "" {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfigFile},
			&clientcmd.ConfigOverrides{}).ClientConfig()
	} else {
		cfg, err = config.GetConfigWithContext(kubeContext)
	}
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to read the residency objects from: %v; %s", err, hint)
	}
	cfg.Timeout = timeout
	c, err := client.New(cfg, client.Options{Scheme: clusterScheme})
	if err != nil {
		return nil, "", fmt.Errorf("cannot reach the cluster at %s: %v; %s", cfg.Host, err, hint)
	}
	ctx, cancel := context.WithTimeout(ctx, 4*timeout)
	defer cancel()
	b, err := readCluster(ctx, c)
	if err != nil {
		if meta.IsNoMatchError(err) || strings.Contains(err.Error(), "no matches for kind") {
			return nil, "", fmt.Errorf("the cluster at %s does not serve %s: install the CRDs (kubectl apply -f config/crd/bases): %v",
				cfg.Host, v1alpha1.GroupVersion, err)
		}
		return nil, "", fmt.Errorf("cannot read the residency objects from the cluster at %s: %v; %s", cfg.Host, err, hint)
	}
	source := "cluster " + cfg.Host
	if kubeContext != "" {
		source += " (context " + kubeContext + ")"
	}
	if kubeconfigFile != "" {
		source += " (kubeconfig " + kubeconfigFile + ")"
	}
	return b, source, nil
}

func newCatalogCommand(stdout io.Writer) *cobra.Command {
	var output, at string
	cmd := &cobra.Command{
		Use:   "catalog [-o table|json] [--at DATE]",
		Short: "Print the built-in legal catalog: EEA, adequacy decisions, dead transfer mechanisms",
		Long: `catalog prints what residencyctl and the operator believe about the law, so a DPO
can check it: the EEA countries, the adequacy decisions with instrument, dates,
scope and end dates, the transfer mechanisms struck down or expired with their
dates and sources, the GDPR article of each mechanism, and the cloud regions.
Classifications are given as of --at (default: today).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf("output", output, "table", "json"); err != nil {
				return err
			}
			when, err := parseAt(at)
			if err != nil {
				return badInput(err)
			}
			v := BuildCatalogView(when)
			if output == "json" {
				err = writeJSON(stdout, v)
			} else {
				err = writeCatalogTable(stdout, v)
			}
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringVar(&at, "at", "", "classify countries as of this date (YYYY-MM-DD) instead of now")
	return cmd
}

func newVersionCommand(prog string, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(stdout, "%s %s (%s, %s/%s)\n", prog, versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
