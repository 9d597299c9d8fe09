package badinput_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/faults/harness"
)

var residencyctl struct {
	once sync.Once
	path string
	err  error
}

// residencyctlBinary builds cmd/residencyctl once (a link when the build
// cache is warm).
func residencyctlBinary(t *testing.T) string {
	t.Helper()
	residencyctl.once.Do(func() {
		dir, err := os.MkdirTemp("", "residencyctl-")
		if err != nil {
			residencyctl.err = err
			return
		}
		residencyctl.path = filepath.Join(dir, "residencyctl")
		cmd := exec.Command("go", "build", "-o", residencyctl.path, "./cmd/residencyctl")
		cmd.Dir = testenv.Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			residencyctl.err = errors.New("go build ./cmd/residencyctl: " + err.Error() + "\n" + string(out))
		}
	})
	if residencyctl.err != nil {
		t.Fatal(residencyctl.err)
	}
	return residencyctl.path
}

// TestResidencyctlScan runs `residencyctl scan -f FILE` on every corpus file:
// exit 1 with the expected finding, or exit 2 with a message that names the
// file, the document and the field; never a crash (exit 3 or more, a Go
// panic), never a hang.
func TestResidencyctlScan(t *testing.T) {
	bin := residencyctlBinary(t)
	dir := t.TempDir()
	slowest, slowestFile := time.Duration(0), ""
	for _, e := range corpus(t) {
		path := filepath.Join(dir, e.file)
		if err := os.WriteFile(path, e.data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "scan", "-f", path, "--at", "2026-11-22")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		begin := time.Now()
		err := cmd.Run()
		took := time.Since(begin)
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if took > slowest {
			slowest, slowestFile = took, e.file
		}
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Errorf("%s: %v", e.file, err)
			continue
		}
		out := stdout.String() + stderr.String()
		where := e.file + " (" + e.what + ")"
		switch {
		case timedOut:
			t.Errorf("%s: residencyctl did not finish within a minute", where)
			continue
		case strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") || strings.Contains(out, "internal error"):
			t.Errorf("%s: residencyctl crashed (exit %d):\n%.2000s", where, code, out)
			continue
		case code != 1 && code != 2:
			t.Errorf("%s: exit %d, want 1 or 2:\n%.2000s", where, code, out)
			continue
		case strings.TrimSpace(out) == "":
			t.Errorf("%s: exit %d without a word", where, code)
			continue
		}
		if want := e.cli; want != "" && want != string(rune('0'+code)) {
			t.Errorf("%s: exit %d, want %s:\nstdout:\n%.1500s\nstderr:\n%.1500s", where, code, want, stdout.String(), stderr.String())
			continue
		}
		msg := stderr.String()
		if code == 1 {
			msg = stdout.String()
		} else if !strings.Contains(msg, e.file) || !strings.Contains(msg, "document") {
			t.Errorf("%s: the message does not name the file and the document:\n%.1500s", where, msg)
		}
		if !strings.Contains(msg, e.cliArg) {
			t.Errorf("%s: exit %d, but the output does not contain %q:\n%.1500s", where, code, e.cliArg, msg)
		}
		if testing.Verbose() {
			first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
			if code == 1 {
				first = e.cliArg + " finding"
			}
			t.Logf("%-42s exit %d %6s  %.150s", e.file, code, took.Round(time.Millisecond), first)
		}
	}
	t.Logf("slowest: %s in %s", slowestFile, slowest.Round(time.Millisecond))
}

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup() // the manager binary
	if residencyctl.path != "" {
		_ = os.RemoveAll(filepath.Dir(residencyctl.path))
	}
	os.Exit(code)
}
