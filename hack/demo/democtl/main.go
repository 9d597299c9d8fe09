// Command democtl is the small helper hack/demo.sh needs where a shell and the
// usual tools (openssl, curl, jq, setsid) may be missing: free ports, a
// certificate for the webhook server on 127.0.0.1, the webhook configuration
// derived from config/webhook, and starting and stopping processes by pid.
//
//	democtl ports N
//	democtl certs DIR
//	democtl webhook-config -manifests F -patch F -name NAME -url BASE -ca FILE
//	democtl spawn -pidfile F -log F -name NAME -- COMMAND ARGS...
//	democtl pids FILE...
//	democtl stop FILE...
//	democtl alive LISTFILE
//	democtl wait-http -timeout D URL
//	democtl resolve -from IP -server ADDR NAME...
//
// A pid file holds one process as JSON (name, pid, startTime, log, binary),
// the same shape as the processes of test/cluster's state.json, which pids and
// stop also read. The start time (field 22 of /proc/<pid>/stat) is recorded
// with the pid so that a recycled pid is never signalled.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/miekg/dns"

	"github.com/dataresidency/operator/internal/testcerts"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "ports":
		err = ports(args)
	case "certs":
		err = certs(args)
	case "webhook-config":
		err = webhookConfig(args)
	case "spawn":
		err = spawn(args)
	case "pids":
		err = pids(args)
	case "stop":
		err = stop(args)
	case "alive":
		err = aliveList(args)
	case "wait-http":
		err = waitHTTP(args)
	case "resolve":
		err = resolve(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "democtl:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: democtl ports|certs|webhook-config|spawn|pids|stop|alive|wait-http|resolve ...")
	os.Exit(2)
}

// ports prints N distinct free TCP ports of 127.0.0.1, held open until all
// are chosen.
func ports(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: democtl ports N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("bad count %q", args[0])
	}
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		out = append(out, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	fmt.Println(strings.Join(out, " "))
	return nil
}

// certs writes a throw-away CA (ca.crt) and a serving certificate signed by
// it for 127.0.0.1 and localhost (tls.crt, tls.key) into dir
// (internal/testcerts): what the manager serves with --webhook-cert-dir and
// the API server trusts through the caBundle.
func certs(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: democtl certs DIR")
	}
	s, err := testcerts.NewLocalServing()
	if err != nil {
		return err
	}
	return s.WriteDir(args[0])
}

// webhookConfig prints the ValidatingWebhookConfiguration of the manifests
// (config/webhook/manifests.yaml, generated from the markers) with each
// webhook's service reference replaced by url BASE + the service's path and
// the caBundle set, and the namespaceSelector of each webhook named in the
// patch (config/default's) merged in: the same rules, paths and exemptions as
// config/default, pointing at a manager that runs on the host.
func webhookConfig(args []string) error {
	fs := flag.NewFlagSet("webhook-config", flag.ContinueOnError)
	manifests := fs.String("manifests", "config/webhook/manifests.yaml", "the generated webhook configuration")
	patch := fs.String("patch", "config/default/webhook_namespace_selector_patch.yaml", "a patch whose webhooks' namespaceSelectors are merged by name (optional)")
	name := fs.String("name", "dataresidency-validating-webhook-configuration", "metadata.name of the result")
	base := fs.String("url", "", "base URL of the webhook server, e.g. https://127.0.0.1:9443")
	caFile := fs.String("ca", "", "PEM file of the CA the server's certificate chains to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *caFile == "" {
		return errors.New("-url and -ca are required")
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	cfg, err := readWebhookConfig(*manifests)
	if err != nil {
		return err
	}
	selectors := map[string]any{}
	if *patch != "" {
		p, err := readWebhookConfig(*patch)
		if err != nil {
			return err
		}
		for _, w := range webhooks(p) {
			if sel, ok := w["namespaceSelector"]; ok {
				selectors[fmt.Sprint(w["name"])] = sel
			}
		}
	}
	meta, _ := cfg["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		cfg["metadata"] = meta
	}
	meta["name"] = *name
	meta["labels"] = map[string]any{"app.kubernetes.io/part-of": "dataresidency-demo"}
	ws := webhooks(cfg)
	if len(ws) == 0 {
		return fmt.Errorf("%s: no webhooks", *manifests)
	}
	for _, w := range ws {
		cc, _ := w["clientConfig"].(map[string]any)
		svc, _ := cc["service"].(map[string]any)
		path, _ := svc["path"].(string)
		if path == "" {
			return fmt.Errorf("%s: webhook %v has no clientConfig.service.path", *manifests, w["name"])
		}
		w["clientConfig"] = map[string]any{
			"url":      strings.TrimSuffix(*base, "/") + path,
			"caBundle": base64.StdEncoding.EncodeToString(ca),
		}
		if sel, ok := selectors[fmt.Sprint(w["name"])]; ok {
			w["namespaceSelector"] = sel
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

// readWebhookConfig returns the first ValidatingWebhookConfiguration of a
// (possibly multi-document) YAML file.
func readWebhookConfig(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, doc := range splitYAML(b) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if m["kind"] == "ValidatingWebhookConfiguration" {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%s: no ValidatingWebhookConfiguration", path)
}

func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.Equal(bytes.TrimRight(line, " \t\r\n"), []byte("---")) {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

func webhooks(cfg map[string]any) []map[string]any {
	list, _ := cfg["webhooks"].([]any)
	var out []map[string]any
	for _, w := range list {
		if m, ok := w.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// process is one started process; the JSON of test/cluster's Process.
type process struct {
	Name      string `json:"name"`
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Port      int    `json:"port,omitempty"`
	Log       string `json:"log,omitempty"`
	Binary    string `json:"binary,omitempty"`
}

// spawn starts a command in a session of its own (it outlives the demo
// script with DEMO_KEEP=1, and the terminal's Ctrl-C reaches the script, whose
// trap stops it by pid), its output appended to -log, and records it in
// -pidfile before returning.
func spawn(args []string) error {
	fs := flag.NewFlagSet("spawn", flag.ContinueOnError)
	pidfile := fs.String("pidfile", "", "where to record the process (JSON)")
	logPath := fs.String("log", "", "file receiving stdout and stderr")
	name := fs.String("name", "", "name of the process (default: the command's base name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 || *pidfile == "" || *logPath == "" {
		return errors.New("usage: democtl spawn -pidfile F -log F [-name N] -- COMMAND ARGS...")
	}
	if *name == "" {
		*name = filepath.Base(argv[0])
	}
	logFile, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "### %s %s\n", time.Now().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := process{Name: *name, Pid: cmd.Process.Pid, Log: *logPath, Binary: argv[0]}
	if _, st, err := procStat(p.Pid); err == nil {
		p.StartTime = st
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*pidfile, append(b, '\n'), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	// Not waited for: the process is reparented when democtl exits.
	_ = cmd.Process.Release()
	fmt.Println(p.Pid)
	return nil
}

// readProcesses reads a pid file (one process) or a test/cluster state.json
// (its processes). A missing file holds none.
func readProcesses(path string) ([]process, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st struct {
		Processes []process `json:"processes"`
		process
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Pid != 0 {
		return []process{st.process}, nil
	}
	return st.Processes, nil
}

// pids prints "name pid startTime" for every process the files record.
func pids(args []string) error {
	for _, f := range args {
		ps, err := readProcesses(f)
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Printf("%s %d %d\n", p.Name, p.Pid, p.StartTime)
		}
	}
	return nil
}

// stop stops every process the files record that is still the process
// recorded (same pid and start time): SIGTERM, SIGKILL after 15 s. It fails
// if one survives.
func stop(args []string) error {
	var errs []error
	for _, f := range args {
		ps, err := readProcesses(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range ps {
			if !alive(p.Pid, p.StartTime) {
				continue
			}
			_ = syscall.Kill(p.Pid, syscall.SIGTERM)
			if waitExit(p, 15*time.Second) {
				fmt.Printf("stopped %s (pid %d)\n", p.Name, p.Pid)
				continue
			}
			_ = syscall.Kill(p.Pid, syscall.SIGKILL)
			if waitExit(p, 10*time.Second) {
				fmt.Printf("killed %s (pid %d) after 15s\n", p.Name, p.Pid)
				continue
			}
			errs = append(errs, fmt.Errorf("%s (pid %d) is still alive after SIGKILL", p.Name, p.Pid))
		}
	}
	return errors.Join(errs...)
}

func waitExit(p process, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(p.Pid, p.StartTime) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// aliveList reads "name pid startTime" lines (what pids prints) and prints
// those still running; it fails if there is one.
func aliveList(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: democtl alive LISTFILE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		pid, err1 := strconv.Atoi(f[1])
		st, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if alive(pid, st) {
			fmt.Printf("still running: %s (pid %d)\n", f[0], pid)
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d process(es) still running", n)
	}
	return nil
}

// alive reports whether pid is a live (not zombie) process with the given
// start time (0: any).
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	state, st, err := procStat(pid)
	if err != nil {
		return false
	}
	if state == "Z" || state == "X" || state == "x" {
		return false
	}
	return startTime == 0 || st == startTime
}

// procStat returns the state letter and start time of pid from /proc.
func procStat(pid int) (string, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(fields[19], 10, 64)
	return fields[0], st, err
}

// waitHTTP polls URL (plain HTTP) until it answers 200, for at most -timeout.
func waitHTTP(args []string) error {
	fs := flag.NewFlagSet("wait-http", flag.ContinueOnError)
	timeout := fs.Duration("timeout", time.Minute, "how long to wait")
	pidfile := fs.String("pidfile", "", "give up at once if this process exits")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: democtl wait-http [-timeout D] [-pidfile F] URL")
	}
	url := fs.Arg(0)
	var watch []process
	if *pidfile != "" {
		var err error
		if watch, err = readProcesses(*pidfile); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string // the last answer, for the error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		for _, p := range watch {
			if !alive(p.Pid, p.StartTime) {
				return fmt.Errorf("%s (pid %d) exited while waiting for %s (see %s)", p.Name, p.Pid, url, p.Log)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %s", url, *timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// resolve sends a DNS query for each name from the address -from (a kwok
// Pod's, in 127.0.0.0/8) to -server, as that Pod's resolver would, and prints
// each answer.
func resolve(args []string) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	from := fs.String("from", "", "source address (the Pod's)")
	server := fs.String("server", "", "DNS server host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(*from)}}}
	for _, name := range fs.Args() {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.Exchange(m, *server)
		if err != nil {
			return fmt.Errorf("resolve %s from %s: %w", name, *from, err)
		}
		var answers []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				answers = append(answers, a.A.String())
			}
		}
		fmt.Printf("%s from %s: %s %s\n", name, *from, dns.RcodeToString[r.Rcode], strings.Join(answers, " "))
	}
	return nil
}
