package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopped remembers the command line of components stopped with
// StopComponent, per cluster, until StartComponent starts them again.
var stopped sync.Map // *Cluster -> map[string]commandLine

type commandLine struct {
	binary string
	args   []string
	env    []string
	port   int
	log    string
	detach bool
}

// StopComponent stops one component of a running cluster (SIGTERM, then
// SIGKILL after grace; grace 0: SIGKILL at once, a crash) and leaves the others running, remembering its command
// line and environment for StartComponent. For fault tests: an API server
// going away under a client, with etcd and its data kept.
func (c *Cluster) StopComponent(name string, grace time.Duration) error {
	c.mu.Lock()
	var p *proc
	for _, q := range c.procs {
		if q.Name == name {
			p = q
		}
	}
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("cluster: no %s", name)
	}
	if p.cmd == nil {
		return fmt.Errorf("cluster: %s (pid %d) was not started by this process", name, p.Pid)
	}
	if p.exited() {
		return fmt.Errorf("cluster: %s (pid %d) is not running", name, p.Pid)
	}
	env, err := procStrings(p.Pid, "environ")
	if err != nil {
		return err
	}
	cl := commandLine{binary: p.Binary, args: p.cmd.Args[1:], env: env, port: p.Port, log: p.Log,
		detach: p.cmd.SysProcAttr != nil && p.cmd.SysProcAttr.Setsid}
	if grace <= 0 {
		// A crash: no SIGTERM, no chance to drain.
		p.signal(syscall.SIGKILL)
		if !p.waitExit(10 * time.Second) {
			return fmt.Errorf("cluster: %s (pid %d) is still alive after SIGKILL", name, p.Pid)
		}
	} else if err := p.stop(grace); err != nil {
		return err
	}
	m, _ := stopped.LoadOrStore(c, &sync.Map{})
	m.(*sync.Map).Store(name, cl)
	c.logf("stopped %s (pid %d)", name, p.Pid)
	return nil
}

// StartComponent starts a component stopped by StopComponent again, with the
// same command line, environment, port and log file, and waits until it is
// ready: /readyz for the API server, /health for etcd, running for the others.
func (c *Cluster) StartComponent(ctx context.Context, name string) error {
	m, ok := stopped.Load(c)
	if !ok {
		return fmt.Errorf("cluster: %s was not stopped with StopComponent", name)
	}
	v, ok := m.(*sync.Map).LoadAndDelete(name)
	if !ok {
		return fmt.Errorf("cluster: %s was not stopped with StopComponent", name)
	}
	cl := v.(commandLine)
	if cl.port != 0 {
		// The old process's socket may linger for a moment.
		deadline := time.Now().Add(10 * time.Second)
		for portFree(cl.port) != nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster: port %d of %s is still taken", cl.port, name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	p, err := startProcess(name, cl.binary, cl.args, cl.env, cl.port, cl.log, cl.detach)
	if err != nil {
		return err
	}
	c.mu.Lock()
	for i, q := range c.procs {
		if q.Name == name {
			c.procs[i] = p
		}
	}
	c.mu.Unlock()
	if err := c.save(); err != nil {
		return err
	}
	c.logf("restarted %s (pid %d)", name, p.Pid)
	opts := Options{ReadyTimeout: 90 * time.Second}
	switch name {
	case APIServer:
		client, err := tlsClient(c.path("pki", "ca.crt"), c.path("pki", "admin.crt"), c.path("pki", "admin.key"))
		if err != nil {
			return err
		}
		return c.waitFor(ctx, opts, "kube-apiserver /readyz", p, func(ctx context.Context) (bool, error) {
			return httpOK(ctx, client, c.server+"/readyz")
		})
	case Etcd:
		plain := &http.Client{Timeout: 2 * time.Second}
		return c.waitFor(ctx, opts, "etcd /health", p, func(ctx context.Context) (bool, error) {
			return httpOK(ctx, plain, "http://127.0.0.1:"+strconv.Itoa(c.ports.Etcd)+"/health")
		})
	default:
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.exited() {
			return fmt.Errorf("cluster: %s exited at once; last lines of %s:\n%s", name, p.Log, tail(p.Log, 20))
		}
		return nil
	}
}

// RestartComponent stops a component and starts it again (StopComponent,
// then StartComponent) and returns how long it was unavailable.
func (c *Cluster) RestartComponent(ctx context.Context, name string, grace time.Duration) (time.Duration, error) {
	begin := time.Now()
	if err := c.StopComponent(name, grace); err != nil {
		return 0, err
	}
	err := c.StartComponent(ctx, name)
	return time.Since(begin), err
}

// procStrings reads a NUL-separated /proc/<pid>/ file (cmdline, environ).
func procStrings(pid int, file string) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		out = append(out, string(s))
	}
	if len(out) == 0 {
		return nil, errors.New("empty /proc/" + strconv.Itoa(pid) + "/" + file)
	}
	return out, nil
}
