package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The end-to-end tests run the real binary: TestMain builds cmd/residencyctl
// once into a temporary directory.

var (
	binary  string // path of the built residencyctl
	repo    string // repository root
	binErr  error
	tempDir string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repo = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	var err error
	tempDir, err = os.MkdirTemp("", "residencyctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(tempDir, "residencyctl")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		// Fuzz workers run FuzzScan in-process only.
		binErr = errors.New("not built in fuzz workers")
	} else {
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/residencyctl")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/residencyctl: %v\n%s", err, out)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(tempDir)
	os.Exit(code)
}

// run is one invocation of the binary.
type run struct {
	stdout, stderr string
	code           int
}

// runBinary runs residencyctl with args in the repository root, stdin optional.
func runBinary(t *testing.T, stdin io.Reader, args ...string) run {
	t.Helper()
	return runBinaryEnv(t, stdin, nil, args...)
}

func runBinaryEnv(t *testing.T, stdin io.Reader, env []string, args ...string) run {
	t.Helper()
	if binErr != nil {
		t.Fatal(binErr)
	}
	return runProgram(t, binary, stdin, env, args...)
}

func runProgram(t *testing.T, prog string, stdin io.Reader, env []string, args ...string) run {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = repo
	cmd.Stdin = stdin
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run %s %s: %v", prog, strings.Join(args, " "), err)
	}
	return r
}

// runMain runs the CLI in-process.
func runMain(args []string, stdin io.Reader) run {
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := Main(append([]string{"residencyctl"}, args...), stdin, &out, &errb)
	return run{stdout: out.String(), stderr: errb.String(), code: code}
}

func fixture(parts ...string) string {
	return filepath.Join(append([]string{"test", "fixtures"}, parts...)...)
}
