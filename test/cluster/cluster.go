// Package cluster starts a local Kubernetes cluster without a container
// runtime: etcd, kube-apiserver, kube-controller-manager and kube-scheduler run
// as plain processes on 127.0.0.1, and kwok (sigs.k8s.io/kwok) simulates the
// kubelets of a few nodes labelled with the topology regions the operator
// reasons about, so Deployments get Running pods without anything being
// pulled or run.
//
// Tests and benchmarks call Start with a directory of their own (t.TempDir())
// and free ports chosen at run time, so any number of clusters can run side by
// side, next to envtest and next to `make dev-cluster`, which runs the same
// code (test/cluster/cmd/devcluster) with fixed ports in bin/dev-cluster.
//
// The binaries come from hack/controlplane/build.sh cluster (bin/k8s/<version>);
// this package never builds anything.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/dataresidency/operator/internal/testenv"
)

// KubernetesVersion is the version of the control-plane binaries
// hack/controlplane/build.sh builds by default.
const KubernetesVersion = testenv.K8sVersion

// Component names, also the names of the binaries.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Kwok              = "kwok"
	// CoreDNS is the cluster DNS, when Options.CoreDNS names its binary.
	CoreDNS = "coredns"
)

const (
	serviceCIDR = "10.96.0.0/16"
	podCIDR     = "127.244.0.0/16" // loopback: a test can send traffic from a Pod's address
	clusterName = "dev-cluster"
	stateFile   = "state.json"
)

// serviceIP is the first address of serviceCIDR: the kubernetes service.
var serviceIP = net.IPv4(10, 96, 0, 1)

// Ports are the 127.0.0.1 ports of a cluster; 0 means "pick a free one".
type Ports struct {
	Etcd              int `json:"etcd"`
	EtcdPeer          int `json:"etcdPeer"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	// DNS is CoreDNS's port (UDP and TCP), when it runs.
	DNS int `json:"dns,omitempty"`
}

// Options configure Start.
type Options struct {
	// Dir holds the cluster's state: pki/, logs/, etcd/, kwok/, the admin
	// kubeconfig (Dir/kubeconfig) and state.json. Required; created if
	// missing. Start replaces those of an earlier cluster (it refuses while
	// one is still running there); Stop leaves them in place.
	Dir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok. Default: DefaultBinDir().
	BinDir string
	// Ports default to free ports chosen at start.
	Ports Ports

	// SkipControllerManager, SkipScheduler and SkipKwok leave those
	// components out; with all three a cluster is just etcd and an API server
	// (like envtest, but with real authn/authz). Without the controller
	// manager no ServiceAccounts appear, so pods cannot be created (the
	// ServiceAccount admission plugin wants "default"); without kwok there are
	// no nodes unless Nodes is set.
	SkipControllerManager bool
	SkipScheduler         bool
	SkipKwok              bool

	// Nodes to create. nil: DefaultNodes() when kwok runs, none otherwise.
	Nodes []Node

	// CoreDNS, when set, is the path of a CoreDNS binary (make coredns) run
	// as the cluster DNS on 127.0.0.1:Ports.DNS: authoritative for
	// DNSRecords (name to IPv4 address; any other name is NXDOMAIN, nothing
	// is forwarded) and, when DNSTap is set, streaming every answer there
	// with dnstap (a manager's --dnstap-bind-address): observed egress.
	CoreDNS    string
	DNSTap     string
	DNSRecords map[string]string

	// Detach starts the processes in their own session so that they outlive
	// the calling process (make dev-cluster). Tests leave it false: their
	// processes stay in the test's process group.
	Detach bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// ReadyTimeout bounds each readiness wait. Default 90s.
	ReadyTimeout time.Duration
}

// Cluster is a running (or stopped) cluster.
type Cluster struct {
	dir        string
	binDir     string
	kubeconfig string
	server     string
	ports      Ports
	procs      []*proc
	startedAt  time.Time
	startup    time.Duration
	log        io.Writer
	restConfig *rest.Config

	mu sync.Mutex
}

// state is what state.json holds, so that another process (dev-cluster
// status/down) can find the cluster.
type state struct {
	Dir            string    `json:"dir"`
	BinDir         string    `json:"binDir"`
	Kubeconfig     string    `json:"kubeconfig"`
	Server         string    `json:"server"`
	Ports          Ports     `json:"ports"`
	StartedAt      time.Time `json:"startedAt"`
	StartupSeconds float64   `json:"startupSeconds"`
	Processes      []Process `json:"processes"`
}

// DefaultBinDir is where hack/controlplane/build.sh puts the binaries:
// $DEV_CLUSTER_BIN_DIR if set, else bin/k8s/<KubernetesVersion> of the
// repository around the working directory, else $KUBEBUILDER_ASSETS.
func DefaultBinDir() string {
	if d := os.Getenv("DEV_CLUSTER_BIN_DIR"); d != "" {
		return d
	}
	if root, err := repoRoot(); err == nil {
		return filepath.Join(root, "bin", "k8s", KubernetesVersion)
	}
	return os.Getenv("KUBEBUILDER_ASSETS")
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/dataresidency/operator\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found")
		}
		dir = parent
	}
}

// Components lists the binaries opts needs, in start order.
func Components(opts Options) []string {
	c := []string{Etcd, APIServer}
	if !opts.SkipControllerManager {
		c = append(c, ControllerManager)
	}
	if !opts.SkipScheduler {
		c = append(c, Scheduler)
	}
	if !opts.SkipKwok {
		c = append(c, Kwok)
	}
	return c
}

// MissingBinaries lists the binaries opts needs that binDir lacks (binDir ""
// means DefaultBinDir()).
func MissingBinaries(binDir string, opts Options) []string {
	if binDir == "" {
		binDir = DefaultBinDir()
	}
	var missing []string
	for _, name := range Components(opts) {
		if fi, err := os.Stat(filepath.Join(binDir, name)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}

// Start starts a fresh cluster in opts.Dir and returns once every component
// is ready: the API server's /readyz answers ok, the controller manager and
// scheduler are healthy, the "default" ServiceAccount exists, and every node
// is Ready. ctx bounds the start only; the processes run until Stop. On error
// everything started is stopped again.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	begin := time.Now()
	if opts.Dir == "" {
		return nil, errors.New("cluster: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir()
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Nodes == nil && !opts.SkipKwok {
		opts.Nodes = DefaultNodes()
	}
	if missing := MissingBinaries(opts.BinDir, opts); len(missing) > 0 {
		return nil, fmt.Errorf("cluster: missing binaries in %s: %s (build them with hack/controlplane/build.sh cluster)",
			opts.BinDir, strings.Join(missing, ", "))
	}
	if old, err := Load(dir); err == nil {
		for _, p := range old.procs {
			if !p.exited() {
				return nil, fmt.Errorf("cluster: a cluster is already running in %s (%s pid %d)", dir, p.Name, p.Pid)
			}
		}
	}
	ports, err := resolvePorts(opts)
	if err != nil {
		return nil, err
	}
	// A fresh cluster: no etcd data, certificates or logs from an earlier one.
	for _, sub := range []string{"etcd", "pki", "logs", "kwok", stateFile} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{"logs", "kwok"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}

	c := &Cluster{
		dir:        dir,
		binDir:     opts.BinDir,
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		server:     "https://127.0.0.1:" + strconv.Itoa(ports.APIServer),
		ports:      ports,
		startedAt:  begin,
		log:        opts.Log,
	}
	if err := c.start(ctx, opts); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	c.startup = time.Since(begin)
	c.logf("cluster up in %.1fs; export KUBECONFIG=%s", c.startup.Seconds(), c.kubeconfig)
	if err := c.save(); err != nil {
		return c, err
	}
	return c, nil
}

func resolvePorts(opts Options) (Ports, error) {
	p := opts.Ports
	fields := []*int{&p.Etcd, &p.EtcdPeer, &p.APIServer}
	if !opts.SkipControllerManager {
		fields = append(fields, &p.ControllerManager)
	}
	if !opts.SkipScheduler {
		fields = append(fields, &p.Scheduler)
	}
	if opts.CoreDNS != "" {
		fields = append(fields, &p.DNS)
	}
	n := 0
	for _, f := range fields {
		if *f == 0 {
			n++
		} else if err := portFree(*f); err != nil {
			return p, fmt.Errorf("cluster: port %d is not free: %w", *f, err)
		}
	}
	free, err := freePorts(n)
	if err != nil {
		return p, err
	}
	for _, f := range fields {
		if *f == 0 {
			*f, free = free[0], free[1:]
		}
	}
	return p, nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "[%5.1fs] %s\n", time.Since(c.startedAt).Seconds(), fmt.Sprintf(format, args...))
}

func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

func (c *Cluster) launch(opts Options, name string, port int, args []string, env ...string) (*proc, error) {
	return c.launchBinary(opts, name, filepath.Join(opts.BinDir, name), port, args, env...)
}

// launchBinary is launch with a binary from elsewhere than BinDir.
func (c *Cluster) launchBinary(opts Options, name, binary string, port int, args []string, env ...string) (*proc, error) {
	p, err := startProcess(name, binary, args, env, port, c.path("logs", name+".log"), opts.Detach)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	// Recorded at once, so that `dev-cluster down` finds the processes even if
	// the starting program dies before the cluster is up.
	if err := c.save(); err != nil {
		return p, err
	}
	if port != 0 {
		c.logf("started %s (pid %d, 127.0.0.1:%d)", name, p.Pid, port)
	} else {
		c.logf("started %s (pid %d)", name, p.Pid)
	}
	return p, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	ca, err := newPKI(c.path("pki"), serviceIP)
	if err != nil {
		return fmt.Errorf("cluster: certificates: %w", err)
	}
	kubeconfigs := map[string]string{}
	for _, id := range []clientIdentity{adminIdentity, controllerManagerIdentity, schedulerIdentity, kwokIdentity} {
		certFile, keyFile, err := ca.client(id)
		if err != nil {
			return err
		}
		path := c.path("pki", id.file+".kubeconfig")
		if id.file == adminIdentity.file {
			path = c.kubeconfig
		}
		if err := writeKubeconfig(path, c.server, ca.path("ca.crt"), certFile, keyFile, id.user); err != nil {
			return err
		}
		kubeconfigs[id.file] = path
	}
	c.logf("certificates and kubeconfigs in %s", c.path("pki"))

	// etcd.
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(c.ports.Etcd)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(c.ports.EtcdPeer)
	etcd, err := c.launch(opts, Etcd, c.ports.Etcd, []string{
		"--name=" + clusterName,
		"--data-dir=" + c.path("etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=" + clusterName + "=" + peerURL,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync=true", // a throw-away cluster: speed over durability
		"--log-level=warn",
	})
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := c.waitFor(ctx, opts, "etcd /health", etcd, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, plain, etcdURL+"/health")
	}); err != nil {
		return err
	}

	// kube-apiserver.
	apiserver, err := c.launch(opts, APIServer, c.ports.APIServer, []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// Endpoints may not hold a loopback address: reconciling the
		// "kubernetes" service's endpoints to 127.0.0.1 fails every 10s.
		// Nothing runs in a pod network here to use them anyway.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(c.ports.APIServer),
		"--tls-cert-file=" + ca.path("apiserver.crt"),
		"--tls-private-key-file=" + ca.path("apiserver.key"),
		"--client-ca-file=" + ca.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + ca.path("sa.key"), // its public half verifies the tokens
		"--service-account-signing-key-file=" + ca.path("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		// Aggregation layer (and the request-header CA the controller
		// manager and scheduler look up for their delegated authentication).
		"--requestheader-client-ca-file=" + ca.path("front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + ca.path("front-proxy-client.crt"),
		"--proxy-client-key-file=" + ca.path("front-proxy-client.key"),
		// In addition to the plugins enabled by default (which include
		// ServiceAccount already; listed to make it explicit).
		"--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,NodeRestriction",
		"--allow-privileged=true",
		"--profiling=true", // admins only (RBAC): lets benchmarks profile the API server
	})
	if err != nil {
		return err
	}
	apiClient, err := tlsClient(ca.path("ca.crt"), ca.path("admin.crt"), ca.path("admin.key"))
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, opts, "kube-apiserver /readyz", apiserver, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, apiClient, c.server+"/readyz")
	}); err != nil {
		return err
	}

	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	if len(opts.Nodes) > 0 {
		if err := createNodes(ctx, cs, opts.Nodes); err != nil {
			return err
		}
		c.logf("created nodes %s", nodeNames(opts.Nodes))
	}

	// The rest start together.
	var kcm, sched, kwok *proc
	if !opts.SkipControllerManager {
		kc := kubeconfigs[controllerManagerIdentity.file]
		if kcm, err = c.launch(opts, ControllerManager, c.ports.ControllerManager, []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.ports.ControllerManager),
			"--leader-elect=false",
			"--cluster-name=" + clusterName,
			"--service-account-private-key-file=" + ca.path("sa.key"),
			"--root-ca-file=" + ca.path("ca.crt"),
			"--use-service-account-credentials=true",
			"--cluster-signing-cert-file=" + ca.path("ca.crt"),
			"--cluster-signing-key-file=" + ca.path("ca.key"),
			"--service-cluster-ip-range=" + serviceCIDR,
			"--controllers=*",
			// Default 20/30: at start-up every controller gets its own
			// service-account token, and the informers list everything.
			"--kube-api-qps=100",
			"--kube-api-burst=200",
			"--profiling=false",
		}); err != nil {
			return err
		}
	}
	if !opts.SkipScheduler {
		kc := kubeconfigs[schedulerIdentity.file]
		if sched, err = c.launch(opts, Scheduler, c.ports.Scheduler, []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.ports.Scheduler),
			"--leader-elect=false",
			"--profiling=false",
		}); err != nil {
			return err
		}
	}
	if !opts.SkipKwok {
		kwokConfig := c.path("kwok", "kwok.yaml")
		if err := os.WriteFile(kwokConfig, []byte(kwokStages()), 0o644); err != nil {
			return err
		}
		if kwok, err = c.launch(opts, Kwok, 0, []string{
			"--kubeconfig=" + kubeconfigs[kwokIdentity.file],
			"--config=" + kwokConfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
			"--cidr=" + podCIDR,
		}, "KWOK_WORKDIR="+c.path("kwok")); err != nil { // no ~/.kwok/kwok.yaml
			return err
		}
	}
	var coredns *proc
	if opts.CoreDNS != "" {
		if coredns, err = c.startCoreDNS(opts); err != nil {
			return err
		}
	}

	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // local health probe of a self-signed endpoint
	}}
	if kcm != nil {
		url := "https://127.0.0.1:" + strconv.Itoa(c.ports.ControllerManager) + "/healthz"
		if err := c.waitFor(ctx, opts, "kube-controller-manager /healthz", kcm, func(ctx context.Context) (bool, error) {
			return httpOK(ctx, insecure, url)
		}); err != nil {
			return err
		}
		// The service-account controller is up once "default" exists.
		if err := c.waitFor(ctx, opts, "ServiceAccount default/default", kcm, func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			return err
		}
	}
	if sched != nil {
		url := "https://127.0.0.1:" + strconv.Itoa(c.ports.Scheduler) + "/healthz"
		if err := c.waitFor(ctx, opts, "kube-scheduler /healthz", sched, func(ctx context.Context) (bool, error) {
			return httpOK(ctx, insecure, url)
		}); err != nil {
			return err
		}
	}
	if coredns != nil {
		addr := "127.0.0.1:" + strconv.Itoa(c.ports.DNS)
		if err := c.waitFor(ctx, opts, "CoreDNS answers", coredns, func(context.Context) (bool, error) {
			m := new(dns.Msg)
			m.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
			r, err := dns.Exchange(m, addr)
			return err == nil && r.Rcode == dns.RcodeSuccess, nil
		}); err != nil {
			return err
		}
	}
	if kwok != nil && len(opts.Nodes) > 0 {
		if err := c.waitFor(ctx, opts, "nodes Ready", kwok, func(ctx context.Context) (bool, error) {
			for _, n := range opts.Nodes {
				node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
				if err != nil || !nodeReady(node) {
					return false, nil
				}
			}
			return true, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// DNSAddr is the cluster DNS's address (host:port), empty without CoreDNS.
func (c *Cluster) DNSAddr() string {
	if c.ports.DNS == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(c.ports.DNS)
}

// LogFile is the log of a component (Etcd, APIServer, ..., CoreDNS).
func (c *Cluster) LogFile(component string) string { return c.path("logs", component+".log") }

// startCoreDNS writes CoreDNS's zone and Corefile under Dir/coredns and
// starts it: the cluster DNS of Options.CoreDNS.
func (c *Cluster) startCoreDNS(opts Options) (*proc, error) {
	dir := c.path("coredns")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	records := map[string]string{"kubernetes.default.svc.cluster.local": serviceIP.String()}
	for name, ip := range opts.DNSRecords {
		records[strings.TrimSuffix(strings.ToLower(name), ".")] = ip
	}
	names := make([]string, 0, len(records))
	for n := range records {
		names = append(names, n)
	}
	sort.Strings(names)
	var zone strings.Builder
	zone.WriteString("$ORIGIN .\n. 3600 IN SOA ns.dev-cluster. admin.dev-cluster. 1 7200 3600 1209600 30\n. 3600 IN NS ns.dev-cluster.\n")
	for _, n := range names {
		if ip := net.ParseIP(records[n]); ip == nil || ip.To4() == nil {
			return nil, fmt.Errorf("cluster: DNS record %s: %q is not an IPv4 address", n, records[n])
		}
		fmt.Fprintf(&zone, "%s. 30 IN A %s\n", n, records[n])
	}
	zoneFile := filepath.Join(dir, "db.cluster")
	if err := os.WriteFile(zoneFile, []byte(zone.String()), 0o644); err != nil {
		return nil, err
	}
	corefile := fmt.Sprintf(".:%d {\n  bind 127.0.0.1\n  file %s .\n  errors\n", c.ports.DNS, zoneFile)
	if opts.DNSTap != "" {
		corefile += "  dnstap tcp://" + opts.DNSTap + " full\n"
	}
	corefile += "}\n"
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
		return nil, err
	}
	return c.launchBinary(opts, CoreDNS, opts.CoreDNS, c.ports.DNS, []string{"-conf", conf})
}

// waitFor polls cond every 100ms until it is true, p exits, ctx ends or
// ReadyTimeout passes.
func (c *Cluster) waitFor(ctx context.Context, opts Options, what string, p *proc, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("cluster: waiting for %s: %w", what, err)
		}
		if ok {
			c.logf("%s ok", what)
			return nil
		}
		if p.exited() {
			return fmt.Errorf("cluster: %s exited while waiting for %s; last lines of %s:\n%s", p.Name, what, p.Log, tail(p.Log, 20))
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("cluster: waiting for %s: %w", what, ctx.Err())
			}
			return fmt.Errorf("cluster: waiting for %s: %w; last lines of %s:\n%s", what, ctx.Err(), p.Log, tail(p.Log, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func httpOK(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, nil // not listening yet
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func tlsClient(caFile, certFile, keyFile string) (*http.Client, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}, nil
}

func writeKubeconfig(path, server, caFile, certFile, keyFile, user string) error {
	read := func(f string) ([]byte, error) { return os.ReadFile(f) }
	caData, err := read(caFile)
	if err != nil {
		return err
	}
	certData, err := read(certFile)
	if err != nil {
		return err
	}
	keyData, err := read(keyFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certData, ClientKeyData: keyData}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = clusterName
	return clientcmd.WriteToFile(*cfg, path)
}

func nodeNames(nodes []Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = fmt.Sprintf("%s (%s)", n.Name, n.Region)
	}
	return strings.Join(names, ", ")
}

// Kubeconfig is the path of the admin kubeconfig (user kubernetes-admin,
// group system:masters): Dir/kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// Server is the API server's URL.
func (c *Cluster) Server() string { return c.server }

// Dir is the cluster's state directory.
func (c *Cluster) Dir() string { return c.dir }

// Ports are the ports the cluster's components listen on (127.0.0.1).
func (c *Cluster) Ports() Ports { return c.ports }

// StartupDuration is how long Start took (as recorded in state.json for a
// loaded cluster).
func (c *Cluster) StartupDuration() time.Duration { return c.startup }

// RESTConfig returns a new admin rest.Config for the cluster.
func (c *Cluster) RESTConfig() *rest.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.restConfig == nil {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
		if err != nil {
			// The file is written by Start and not expected to change; fall
			// back to the certificate files it was made from.
			cfg = &rest.Config{Host: c.server, TLSClientConfig: rest.TLSClientConfig{
				CAFile:   c.path("pki", "ca.crt"),
				CertFile: c.path("pki", "admin.crt"),
				KeyFile:  c.path("pki", "admin.key"),
			}}
		}
		cfg.QPS, cfg.Burst = 100, 200
		c.restConfig = cfg
	}
	return rest.CopyConfig(c.restConfig)
}

// Processes lists the cluster's processes in start order.
func (c *Cluster) Processes() []Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Process, len(c.procs))
	for i, p := range c.procs {
		out[i] = p.Process
	}
	return out
}

// Healthy checks that every process is alive and the API server is ready.
func (c *Cluster) Healthy(ctx context.Context) error {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	if len(procs) == 0 {
		return errors.New("no processes")
	}
	var dead []string
	for _, p := range procs {
		if p.exited() {
			dead = append(dead, fmt.Sprintf("%s (pid %d)", p.Name, p.Pid))
		}
	}
	if len(dead) > 0 {
		return fmt.Errorf("not running: %s", strings.Join(dead, ", "))
	}
	client, err := tlsClient(c.path("pki", "ca.crt"), c.path("pki", "admin.crt"), c.path("pki", "admin.key"))
	if err != nil {
		return err
	}
	ok, err := httpOK(ctx, client, c.server+"/readyz")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s/readyz is not ok", c.server)
	}
	return nil
}

// Stop stops every process of the cluster by pid, in reverse dependency
// order: SIGTERM, then SIGKILL after 15s. It waits for each to exit and
// returns an error naming any process still alive. Stopping twice is fine.
// The state directory is left in place.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	byName := map[string][]*proc{}
	for _, p := range procs {
		byName[p.Name] = append(byName[p.Name], p)
	}
	groups := [][]*proc{
		append(append(append(byName[CoreDNS], byName[Kwok]...), byName[Scheduler]...), byName[ControllerManager]...),
		byName[APIServer],
		byName[Etcd],
	}
	running := 0
	for _, p := range procs {
		if !p.exited() {
			running++
		}
	}
	begin := time.Now()
	err := stopAll(groups, 15*time.Second)
	if running > 0 {
		fmt.Fprintf(c.log, "stopped %d processes in %.1fs\n", running, time.Since(begin).Seconds())
	}
	return err
}

// save writes state.json.
func (c *Cluster) save() error {
	s := state{
		Dir:            c.dir,
		BinDir:         c.binDir,
		Kubeconfig:     c.kubeconfig,
		Server:         c.server,
		Ports:          c.ports,
		StartedAt:      c.startedAt,
		StartupSeconds: c.startup.Seconds(),
		Processes:      c.Processes(),
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.path(stateFile + ".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.path(stateFile))
}

// Load finds the cluster whose state is in dir (written by Start), whether or
// not its processes are still running, so another process can inspect or
// stop it. It returns an error wrapping os.ErrNotExist if dir has no state.
func Load(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	c := &Cluster{
		dir:        dir,
		binDir:     s.BinDir,
		kubeconfig: s.Kubeconfig,
		server:     s.Server,
		ports:      s.Ports,
		startedAt:  s.StartedAt,
		startup:    time.Duration(s.StartupSeconds * float64(time.Second)),
		log:        io.Discard,
	}
	for _, p := range s.Processes {
		c.procs = append(c.procs, &proc{Process: p})
	}
	return c, nil
}

// Describe writes the cluster's processes, ports, logs and kubeconfig.
func (c *Cluster) Describe(w io.Writer) {
	fmt.Fprintf(w, "%-24s %-8s %-8s %-8s %s\n", "COMPONENT", "PID", "PORT", "STATE", "LOG")
	for _, p := range c.Processes() {
		st := "running"
		if !ProcessAlive(p) {
			st = "dead"
		}
		port := "-"
		if p.Port != 0 {
			port = strconv.Itoa(p.Port)
		}
		fmt.Fprintf(w, "%-24s %-8d %-8s %-8s %s\n", p.Name, p.Pid, port, st, p.Log)
	}
	fmt.Fprintf(w, "API server:  %s\n", c.server)
	fmt.Fprintf(w, "etcd:        http://127.0.0.1:%d\n", c.ports.Etcd)
	fmt.Fprintf(w, "started:     %s (start-up took %.1fs)\n", c.startedAt.Format(time.RFC3339), c.startup.Seconds())
	fmt.Fprintf(w, "kubeconfig:  %s\n", c.kubeconfig)
	fmt.Fprintf(w, "  export KUBECONFIG=%s\n", c.kubeconfig)
}
