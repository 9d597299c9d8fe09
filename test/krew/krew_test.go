// Package krew_test checks the krew manifest of `kubectl residency`
// (plugins/residency.yaml, written by `make krew-manifest`) with krew's own
// code: validate-krew-manifest, the check the krew index runs on every
// manifest, and `kubectl krew install --manifest --archive`, which verifies an
// archive's SHA-256 and installs it as krew users get it. Both are built from
// sigs.k8s.io/krew v0.4.3 (this module's tools: its validation and manifest
// reader are internal packages, so nothing can import them).
//
// It lives in a module of its own because krew v0.4.3 requires
// k8s.io/client-go v11.0.0+incompatible. Run it from this directory:
//
//	go test ./... -count=1
package krew_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var (
	root     = filepath.Join("..", "..")
	manifest = filepath.Join(root, "plugins", "residency.yaml")
	tools    string // where krew and validate-krew-manifest are built
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "krew-tools-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"sigs.k8s.io/krew/cmd/krew", "sigs.k8s.io/krew/cmd/validate-krew-manifest").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building krew v0.4.3 (go.mod's tools): %v\n%s", err, out)
			return 1
		}
		tools = dir
		return m.Run()
	}()
	os.Exit(code)
}

// The fields of krew's index.Plugin the checks below read.
type plugin struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version   string `json:"version"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

func readManifest(t *testing.T, path string) plugin {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p plugin
	if err := yaml.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// validate runs krew's validate-krew-manifest: the manifest's structure (the
// name is the file's, a semantic version, a sha256 and a bin on every
// platform, supported selector keys) and its platforms (each matches one
// that krew supports, none overlaps another). -skip-install: its install
// step downloads every URI.
func validate(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(tools, "validate-krew-manifest"), "-manifest", path, "-skip-install").CombinedOutput()
	if err != nil {
		t.Fatalf("validate-krew-manifest %s: %v\n%s", path, err, out)
	}
	t.Logf("validate-krew-manifest -manifest %s -skip-install:\n%s", path, out)
}

// install runs `kubectl krew install --manifest --archive` as on goos/goarch,
// into a KREW_ROOT of its own, and returns that root.
func install(t *testing.T, manifest, archive, goos, goarch string) (string, error) {
	t.Helper()
	krewRoot := t.TempDir()
	cmd := exec.Command(filepath.Join(tools, "krew"), "install", "--manifest="+manifest, "--archive="+archive)
	cmd.Env = append(os.Environ(), "KREW_ROOT="+krewRoot, "KREW_OS="+goos, "KREW_ARCH="+goarch, "KREW_NO_UPGRADE_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("krew install --manifest=%s --archive=%s (%s/%s): %w\n%s", manifest, archive, goos, goarch, err, out)
	}
	return krewRoot, nil
}

// TestManifest: the committed manifest passes krew's validation, names the
// release archives (docs/cli.md) for its version, and covers the platforms
// the releases are built for.
func TestManifest(t *testing.T) {
	validate(t, manifest)
	p := readManifest(t, manifest)
	var got []string
	for _, pl := range p.Spec.Platforms {
		goos, goarch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		got = append(got, goos+"/"+goarch)
		ext, bin := ".tar.gz", "residencyctl"
		if goos == "windows" {
			ext, bin = ".zip", "residencyctl.exe"
		}
		want := fmt.Sprintf("https://github.com/dataresidency/operator/releases/download/%[1]s/residencyctl_%[1]s_%s_%s%s", p.Spec.Version, goos, goarch, ext)
		if pl.URI != want || pl.Bin != bin {
			t.Errorf("%s/%s: uri %s, bin %s; want %s, %s", goos, goarch, pl.URI, pl.Bin, want, bin)
		}
	}
	slices.Sort(got)
	if want := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64"}; !slices.Equal(got, want) {
		t.Errorf("platforms %v, want %v", got, want)
	}
}

// TestArchivesInDist: when dist/ holds the archives the committed manifest
// names (`make krew-manifest` built them), krew installs each with the
// manifest, on each platform: their SHA-256 match, and the files and bin it
// names are in them.
func TestArchivesInDist(t *testing.T) {
	p := readManifest(t, manifest)
	for _, pl := range p.Spec.Platforms {
		goos, goarch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		archive := filepath.Join(root, "dist", filepath.Base(pl.URI))
		if _, err := os.Stat(archive); err != nil {
			t.Skipf("%s is not built (make krew-manifest VERSION=%s builds the archives of the manifest)", archive, p.Spec.Version)
		}
		if _, err := install(t, manifest, archive, goos, goarch); err != nil {
			t.Errorf("%v\n(plugins/residency.yaml and dist/ are of different builds? make krew-manifest VERSION=%s)", err, p.Spec.Version)
			continue
		}
		t.Logf("%s/%s: krew installs %s", goos, goarch, archive)
	}
}

// TestReleaseInstalls: what `make krew-manifest` does, for this platform and a
// test version, gives a manifest krew validates and an archive krew installs
// as `kubectl-residency`, which then runs and says `kubectl residency`; an
// archive that is not the one the manifest's sum names is refused.
func TestReleaseInstalls(t *testing.T) {
	const version = "v0.0.0-krewtest"
	dir := t.TempDir()
	man := filepath.Join(dir, "residency.yaml")
	cmd := exec.Command("go", "run", "./hack/release", "-version", version, "-out", dir, "-manifest", man,
		"-platforms", runtime.GOOS+"/"+runtime.GOARCH)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./hack/release: %v\n%s", err, out)
	}
	validate(t, man)

	p := readManifest(t, man)
	if len(p.Spec.Platforms) != 1 {
		t.Fatalf("%d platforms, want this one", len(p.Spec.Platforms))
	}
	archive := filepath.Join(dir, filepath.Base(p.Spec.Platforms[0].URI))
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != p.Spec.Platforms[0].Sha256 {
		t.Errorf("sha256 of %s is %s, the manifest says %s", archive, got, p.Spec.Platforms[0].Sha256)
	}
	sums, err := os.ReadFile(filepath.Join(dir, "checksums.txt"))
	if err != nil || !bytes.Contains(sums, []byte(p.Spec.Platforms[0].Sha256+"  "+filepath.Base(archive)+"\n")) {
		t.Errorf("checksums.txt does not list %s: %q %v", archive, sums, err)
	}

	krewRoot, err := install(t, man, archive, runtime.GOOS, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(krewRoot, "bin", "kubectl-residency")
	if runtime.GOOS == "windows" {
		plugin += ".exe"
	}
	out, err := exec.Command(plugin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Errorf("%s version: %v\n%s", plugin, err, out)
	}
	out, _ = exec.Command(plugin, "--help").CombinedOutput()
	if !strings.Contains(string(out), "kubectl residency") {
		t.Errorf("installed by krew, it does not present itself as `kubectl residency`:\n%s", out)
	}
	t.Logf("krew installed %s as %s:\n%s", filepath.Base(archive), plugin, out)

	// krew checks the sum: another archive under the same name is refused.
	tampered := filepath.Join(t.TempDir(), filepath.Base(archive))
	if err := os.WriteFile(tampered, append(data, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := install(t, man, tampered, runtime.GOOS, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "checksum does not match") {
		t.Errorf("krew installed an archive whose sha256 differs from the manifest's: %v", err)
	}
}
