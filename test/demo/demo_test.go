// Package demo runs `make demo` (hack/demo.sh) end to end: once to the end,
// once interrupted with Ctrl-C half-way, and checks what it prints and that
// every process it started is gone afterwards.
//
// It is slow (a cluster, the manager, a minute or so per run) and needs the
// control-plane binaries, so it runs only with DEMO_E2E=1 (make demo-test);
// it skips when bin/k8s/<version> lacks a binary (hack/controlplane/build.sh
// cluster builds them).
package demo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dataresidency/operator/internal/testenv"

	"github.com/dataresidency/operator/test/cluster"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "demo.sh")); err != nil {
		t.Fatalf("hack/demo.sh not found from %s: %v", root, err)
	}
	return root
}

func skipUnlessEnabled(t *testing.T, root string) {
	t.Helper()
	if os.Getenv("DEMO_E2E") != "1" {
		t.Skip("the demo end to end runs with DEMO_E2E=1 (make demo-test)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	binDir := filepath.Join(root, "bin", "k8s", cluster.KubernetesVersion)
	if missing := cluster.MissingBinaries(binDir, cluster.Options{}); len(missing) > 0 {
		testenv.MissingTool(t, "control-plane binaries missing in %s: %s (hack/controlplane/build.sh cluster builds them, ~16 min once)",
			binDir, strings.Join(missing, ", "))
	}
}

// demoRun is one run of hack/demo.sh in a state directory of its own.
type demoRun struct {
	dir    string // DEMO_DIR
	pidLog string // DEMO_PID_LOG
	cmd    *exec.Cmd
	done   chan struct{} // closed when the demo has exited
	code   int           // its exit code, valid after done
	out    bytes.Buffer  // stdout and stderr
	mu     sync.Mutex
	lines  chan string
}

func startDemo(t *testing.T, root string) *demoRun {
	t.Helper()
	tmp := t.TempDir()
	r := &demoRun{
		dir:    filepath.Join(tmp, "demo"),
		pidLog: filepath.Join(tmp, "pids"),
		lines:  make(chan string, 1024),
		done:   make(chan struct{}),
	}
	r.cmd = exec.Command(filepath.Join(root, "hack", "demo.sh"), "run")
	r.cmd.Dir = root
	r.cmd.Env = append(os.Environ(), "DEMO_DIR="+r.dir, "DEMO_PID_LOG="+r.pidLog, "DEMO_KEEP=0", "NO_COLOR=1")
	// A process group of its own, as a shell gives a job: the test sends
	// Ctrl-C's SIGINT to the whole group, as a terminal would.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	read := make(chan struct{})
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.out.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		close(r.lines)
		close(read)
	}()
	go func() {
		_ = r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		_ = pw.Close()
		<-read // every line is in r.out
		close(r.done)
	}()
	// Whatever happens to the test, nothing is left running.
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
		down := exec.Command(filepath.Join(root, "hack", "demo.sh"), "down")
		down.Dir = root
		down.Env = append(os.Environ(), "DEMO_DIR="+r.dir)
		if b, err := down.CombinedOutput(); err != nil {
			t.Errorf("hack/demo.sh down: %v\n%s", err, b)
		}
	})
	return r
}

// wait waits for the demo to exit (at most d) and returns its exit code.
func (r *demoRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(d):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the demo did not finish within %s; output so far:\n%s", d, r.output())
		return -1
	}
}

func (r *demoRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// processes reads DEMO_PID_LOG: every process the demo started, deduplicated.
func (r *demoRun) processes(t *testing.T) []cluster.Process {
	t.Helper()
	b, err := os.ReadFile(r.pidLog)
	if err != nil {
		t.Fatalf("DEMO_PID_LOG: %v", err)
	}
	seen := map[string]bool{}
	var ps []cluster.Process
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || seen[line] {
			continue
		}
		seen[line] = true
		pid, err1 := strconv.Atoi(f[1])
		st, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("DEMO_PID_LOG: bad line %q", line)
		}
		ps = append(ps, cluster.Process{Name: f[0], Pid: pid, StartTime: st})
	}
	return ps
}

// checkNothingLeft fails if a process the demo started is alive (same pid and
// start time in /proc) or its state directory is still there.
func (r *demoRun) checkNothingLeft(t *testing.T, wantAtLeast []string) {
	t.Helper()
	ps := r.processes(t)
	names := map[string]bool{}
	for _, p := range ps {
		names[p.Name] = true
		if cluster.ProcessAlive(p) {
			t.Errorf("%s (pid %d) is still running after the demo", p.Name, p.Pid)
		}
	}
	for _, n := range wantAtLeast {
		if !names[n] {
			t.Errorf("DEMO_PID_LOG records no %s process; recorded: %v", n, ps)
		}
	}
	if _, err := os.Stat(r.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo left its state directory %s (stat: %v)", r.dir, err)
	}
	t.Logf("%d processes started by the demo, none left running", len(ps))
}

var allProcesses = []string{cluster.Etcd, cluster.APIServer, cluster.ControllerManager, cluster.Scheduler, cluster.Kwok, "manager", "coredns"}

func TestDemo(t *testing.T) {
	root := repoRoot(t)
	skipUnlessEnabled(t, root)

	t.Run("to the end", func(t *testing.T) {
		begin := time.Now()
		r := startDemo(t, root)
		code := r.wait(t, 10*time.Minute)
		out := r.output()
		t.Logf("demo finished in %s with exit code %d", time.Since(begin).Round(100*time.Millisecond), code)
		if code != 0 {
			t.Fatalf("hack/demo.sh exited %d:\n%s", code, out)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^━━ 1\. The catalog: kubectl get residency ━━$`),
			regexp.MustCompile(`(?m)^residencypolicy\.dataresidency\.io/default\s+audit\s+\d+`),
			regexp.MustCompile(`(?m)^# Register of transfers of personal data \(GDPR Art\. 30\(1\)\(e\)\)$`),
			// The rejected deployment, with the judgment that struck down Privacy Shield.
			regexp.MustCompile(`Error from server \(Forbidden\): .*admission webhook "workloads\.dataresidency\.io" denied the request: .*newsletter-sender.*PrivacyShield, invalid since 2020-07-16 \(CJEU C-311/18\)`),
			regexp.MustCompile(`(?m)^Warning: data residency violation: \[BasisNotValid\] mailmojo-2018-sendgrid`),
			regexp.MustCompile(`(?m)^Warning: data residency warning: \[UnattributedEgress\] endpoint tripletex\.no`),
			// The workload that declares nothing: Undeclared under the samples'
			// requireDeclaration: warn, with the way to declare.
			regexp.MustCompile(`(?m)^Warning: data residency warning: \[Undeclared\] the workload does not declare what personal data it sends, nor to whom \(ResidencyPolicy requireDeclaration: warn\)\. Nothing was discovered in its pod spec\. Declare dataresidency\.io/subprocessors: none if no personal data leaves it`),
			regexp.MustCompile(`(?m)^Deployment/pdf-renderer\s+Undeclared$`),
			regexp.MustCompile(`(?m)^demo-audit\s+data-residency\s+\d+\s+[1-9]\d*\s+`),
			regexp.MustCompile(`(?m)^Deployment/sensitive-fields-store\s+SpecialCategoryOutsideEEA$`),
			// Observed egress: the name newsletter's Pod resolved, judged as
			// if its spec named it; the search-path expansion ignored.
			regexp.MustCompile(`(?m)^━━ 6\. Observed egress: what a workload actually resolves ━━$`),
			regexp.MustCompile(`(?m)^api\.sendgrid\.com from 127\.244\.\d+\.\d+: NOERROR 192\.0\.2\.20$`),
			regexp.MustCompile(`(?m)^api\.sendgrid\.com\.demo-audit\.svc\.cluster\.local from 127\.244\.\d+\.\d+: NXDOMAIN $`),
			regexp.MustCompile(`(?m)^deployment-newsletter\s+Deployment\s+newsletter\s+1\s+`),
			regexp.MustCompile(`(?m)^BasisNotValid\s+observed: resolved api\.sendgrid\.com 1 time, last \d{4}-\d\d-\d\dT\d\d:\d\dZ\n\s+.*PrivacyShield, invalid since 2020-07-16 \(CJEU C-311/18\)`),
			// Egress policies in audit: newsletter's observed Privacy Shield
			// vendor is what enforce would cut.
			regexp.MustCompile(`(?m)^━━ 7\. Egress policies: the network follows the law ━━$`),
			regexp.MustCompile(`(?m)^dataresidency-egress-deployment-newsletter\s+app=newsletter,dataresidency\.io/egress-trial\s+`),
			regexp.MustCompile(`(?m)^Deployment/newsletter\s+.*api\.sendgrid\.com.*\n\s+the egress policy would deny traffic to \S+ \(BasisNotValid\): .*PrivacyShield`),
			regexp.MustCompile(`(?m)^━━ Summary ━━$`),
			regexp.MustCompile(`(?m)^  workloads\s+12$`),
			regexp.MustCompile(`(?m)^  compliant\s+\d+$`),
			regexp.MustCompile(`(?m)^  warnings\s+\d+$`),
			regexp.MustCompile(`(?m)^  violations\s+[1-9]\d*$`),
			regexp.MustCompile(`(?m)^  undeclared\s+[1-9]\d* \(`),
			regexp.MustCompile(`(?m)^  uncovered transfers\s+\d+$`),
			regexp.MustCompile(`(?m)^  total until here\s+\d+\.\ds$`),
			regexp.MustCompile(`(?m)^stopped \d+ processes by pid \(none left running\), removed `),
		} {
			if !want.MatchString(out) {
				t.Errorf("the output lacks %s", want)
			}
		}
		// The pods ran on the region nodes.
		for _, node := range []string{"kwok-eu-north-1a", "kwok-europe-west3-a", "kwok-us-east-1a"} {
			if !strings.Contains(out, node) {
				t.Errorf("no pod on %s in the output", node)
			}
		}
		r.checkNothingLeft(t, allProcesses)
		if t.Failed() {
			t.Logf("output:\n%s", out)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		r := startDemo(t, root)
		// Ctrl-C once the cluster and the operator run.
		deadline := time.After(10 * time.Minute)
	wait:
		for {
			select {
			case line, ok := <-r.lines:
				if !ok {
					t.Fatalf("the demo exited before the operator ran:\n%s", r.output())
				}
				if strings.Contains(line, "operator running in") {
					break wait
				}
			case <-deadline:
				t.Fatalf("the operator did not start within 10 minutes:\n%s", r.output())
			}
		}
		if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		code := r.wait(t, 2*time.Minute)
		out := r.output()
		if code == 0 {
			t.Errorf("the interrupted demo exited 0")
		}
		if !strings.Contains(out, "demo: interrupted, cleaning up") {
			t.Errorf("the output does not say it was interrupted")
		}
		if !regexp.MustCompile(`(?m)^stopped \d+ processes by pid \(none left running\)`).MatchString(out) {
			t.Errorf("the output does not say what it stopped")
		}
		r.checkNothingLeft(t, allProcesses)
		if t.Failed() {
			t.Logf("output:\n%s", out)
		}
	})
}
