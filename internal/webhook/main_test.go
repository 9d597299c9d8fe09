package webhook

import (
	"flag"
	"os"
	"testing"
)

// TestMain poisons every released request's strings in tests (not in
// benchmarks, which measure the webhook as it runs): a string read for one
// request and kept by mistake past it then shows up as a wrong answer in the
// tests that send many reviews through one handler
// (TestFastPathAnswersAsTypedPath).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		poisonReleased = true
	}
	os.Exit(m.Run())
}
