// Command devcluster starts, inspects and stops the local development cluster
// (package test/cluster) in a fixed directory with fixed ports. It is what
// hack/dev-cluster.sh and `make dev-cluster` run:
//
//	devcluster up     [--dir bin/dev-cluster] [--bin-dir bin/k8s/v1.36.3]
//	devcluster status [--dir bin/dev-cluster]
//	devcluster down   [--dir bin/dev-cluster]
//
// up is idempotent: if the cluster in --dir is running and healthy it prints
// its details and exits 0; if it is half-dead it is stopped and started
// afresh. The processes are detached and outlive the command; down stops them
// by pid (SIGTERM, then SIGKILL) and removes the directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dataresidency/operator/test/cluster"
)

// The fixed ports of the dev cluster, away from the defaults (2379, 6443,
// 10257, 10259) of any other cluster on the machine.
var defaultPorts = cluster.Ports{
	Etcd:              12379,
	EtcdPeer:          12380,
	APIServer:         16443,
	ControllerManager: 20257,
	Scheduler:         20259,
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	fset := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fset.String("dir", "bin/dev-cluster", "state directory (pids, logs, certificates, etcd data, kubeconfig)")
	binDir := fset.String("bin-dir", "", "directory of the control-plane binaries (default: bin/k8s/"+cluster.KubernetesVersion+" of the repository)")
	ports := defaultPorts
	fset.IntVar(&ports.APIServer, "apiserver-port", ports.APIServer, "kube-apiserver secure port")
	fset.IntVar(&ports.Etcd, "etcd-port", ports.Etcd, "etcd client port")
	fset.IntVar(&ports.EtcdPeer, "etcd-peer-port", ports.EtcdPeer, "etcd peer port")
	fset.IntVar(&ports.ControllerManager, "controller-manager-port", ports.ControllerManager, "kube-controller-manager secure port")
	fset.IntVar(&ports.Scheduler, "scheduler-port", ports.Scheduler, "kube-scheduler secure port")
	coredns := fset.String("coredns", "", "CoreDNS binary (make coredns) to run as the cluster DNS; empty: none")
	fset.IntVar(&ports.DNS, "dns-port", 16053, "CoreDNS's port (UDP and TCP), with --coredns")
	dnstap := fset.String("dnstap", "127.0.0.1:6000", "where CoreDNS streams dnstap: a manager run with --dnstap-bind-address there (observed egress); empty: nowhere")
	var records stringMap
	fset.Var(&records, "dns-record", "NAME=IPV4 the cluster DNS answers (repeatable; api.example.com=192.0.2.10); any other name is NXDOMAIN")
	_ = fset.Parse(os.Args[2:])

	var err error
	switch cmd {
	case "up":
		err = up(*dir, *binDir, ports, dnsOptions{binary: *coredns, dnstap: *dnstap, records: records})
	case "down":
		err = down(*dir)
	case "status":
		err = status(*dir)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev-cluster:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: devcluster up|down|status [--dir DIR] [--bin-dir DIR]")
	os.Exit(2)
}

// dnsOptions are the cluster DNS's: CoreDNS's binary, dnstap target, records.
type dnsOptions struct {
	binary, dnstap string
	records        map[string]string
}

// stringMap is a repeatable NAME=VALUE flag.
type stringMap map[string]string

func (m *stringMap) String() string { return fmt.Sprint(map[string]string(*m)) }

func (m *stringMap) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return fmt.Errorf("%q is not NAME=IPV4", v)
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = val
	return nil
}

func up(dir, binDir string, ports cluster.Ports, dnsOpts dnsOptions) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if c, err := cluster.Load(dir); err == nil {
		hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
		herr := c.Healthy(hctx)
		hcancel()
		if herr == nil {
			fmt.Println("dev cluster already running:")
			c.Describe(os.Stdout)
			return nil
		}
		fmt.Fprintf(os.Stderr, "dev cluster in %s is not healthy (%v): stopping what is left and starting afresh\n", dir, herr)
		if err := c.Stop(); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	begin := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{
		Dir:    dir,
		BinDir: binDir,
		Ports:  ports,
		Detach: true,
		Log:    os.Stderr,

		CoreDNS:    dnsOpts.binary,
		DNSTap:     dnsOpts.dnstap,
		DNSRecords: dnsOpts.records,
	})
	if err != nil {
		return err
	}
	fmt.Printf("dev cluster up in %.1fs\n", time.Since(begin).Seconds())
	c.Describe(os.Stdout)
	return nil
}

func down(dir string) error {
	c, err := cluster.Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Printf("no dev cluster in %s\n", dir)
		return removeState(dir)
	}
	if err != nil {
		return err
	}
	begin := time.Now()
	if err := c.Stop(); err != nil {
		// Keep the state: it is how a second `down` finds what is left.
		return fmt.Errorf("%w (state kept in %s)", err, dir)
	}
	fmt.Printf("dev cluster stopped in %.1fs (%d processes)\n", time.Since(begin).Seconds(), len(c.Processes()))
	return removeState(dir)
}

// removeState removes dir if it is a dev-cluster directory (it holds only
// what Start creates).
func removeState(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	known := map[string]bool{"etcd": true, "pki": true, "logs": true, "kwok": true, "coredns": true, "kubeconfig": true, "state.json": true, "state.json.tmp": true}
	for _, e := range entries {
		if !known[e.Name()] {
			return fmt.Errorf("not removing %s: %s is not something dev-cluster created", dir, filepath.Join(dir, e.Name()))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	fmt.Printf("removed %s\n", dir)
	return nil
}

func status(dir string) error {
	c, err := cluster.Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Printf("dev cluster: not running (no state in %s)\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	herr := c.Healthy(ctx)
	if herr == nil {
		fmt.Println("dev cluster: running")
	} else {
		fmt.Printf("dev cluster: NOT healthy: %v (make dev-cluster restarts it, make dev-cluster-down cleans up)\n", herr)
	}
	c.Describe(os.Stdout)
	return herr
}
