// Command release builds residencyctl's release archives and writes, from
// them, the krew manifest that installs residencyctl as `kubectl residency`
// (make krew-manifest):
//
//	go run ./hack/release -version v0.1.0 [-out dist] [-manifest plugins/residency.yaml] [-platforms linux/amd64,...]
//
// One archive per platform, named residencyctl_<version>_<os>_<arch>.tar.gz
// (.zip for windows) and published as assets of the GitHub release of the tag
// <version>, holding the binary (residencyctl, residencyctl.exe) and the
// repository's LICENSE when it has one; checksums.txt lists their SHA-256 as
// sha256sum does. The archives are reproducible: the same source and Go
// toolchain give the same bytes (-trimpath, no VCS stamp, fixed file times,
// modes and owners), so the sums in the manifest can be checked by anyone
// who builds the tag.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

const (
	// releases is where the GitHub releases' assets are downloaded from.
	releases = "https://github.com/dataresidency/operator/releases/download"
	homepage = "https://github.com/dataresidency/operator"
	// defaultPlatforms are those krew users run kubectl on.
	defaultPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64"
	versionVar       = "github.com/dataresidency/operator/internal/cli.Version"
)

func main() {
	ver := flag.String("version", "", "the release tag, a semantic version vX.Y.Z (krew requires one)")
	out := flag.String("out", "dist", "directory of the archives and checksums.txt")
	manifest := flag.String("manifest", "plugins/residency.yaml", "the krew manifest to write")
	platforms := flag.String("platforms", defaultPlatforms, "comma-separated os/arch pairs")
	flag.Parse()
	if err := run(*ver, *out, *manifest, strings.Split(*platforms, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// archive is one platform's release archive.
type archive struct {
	goos, goarch string
	name         string // residencyctl_v0.1.0_linux_amd64.tar.gz
	bin          string // residencyctl or residencyctl.exe
	sha256       string
}

func run(ver, out, manifest string, platforms []string) error {
	if _, err := version.ParseSemantic(ver); err != nil || !strings.HasPrefix(ver, "v") {
		return fmt.Errorf("version %q is not a semantic version vX.Y.Z, which krew requires: make krew-manifest VERSION=v0.1.0", ver)
	}
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		mtime = time.Unix(sec, 0).UTC()
	}
	license, err := os.ReadFile("LICENSE")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if license == nil {
		fmt.Fprintln(os.Stderr, "release: warning: no LICENSE in the repository: the archives carry none (the krew index requires one)")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	build, err := os.MkdirTemp("", "residencyctl-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(build)

	var archives []archive
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q is not os/arch", p)
		}
		a := archive{goos: goos, goarch: goarch, bin: "residencyctl"}
		ext := ".tar.gz"
		if goos == "windows" {
			a.bin, ext = "residencyctl.exe", ".zip"
		}
		a.name = fmt.Sprintf("residencyctl_%s_%s_%s%s", ver, goos, goarch, ext)
		start := time.Now()
		binPath := filepath.Join(build, goos+"_"+goarch, a.bin)
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags", "-s -w -X "+versionVar+"="+ver, "-o", binPath, "./cmd/residencyctl")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build residencyctl for %s: %w", p, err)
		}
		bin, err := os.ReadFile(binPath)
		if err != nil {
			return err
		}
		files := []file{{a.bin, 0o755, bin}}
		if license != nil {
			files = append(files, file{"LICENSE", 0o644, license})
		}
		var data []byte
		if goos == "windows" {
			data, err = zipArchive(files, mtime)
		} else {
			data, err = tarGz(files, mtime)
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, a.name), data, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		a.sha256 = hex.EncodeToString(sum[:])
		archives = append(archives, a)
		fmt.Fprintf(os.Stderr, "release: %s (%s) in %.0fs\n", filepath.Join(out, a.name), a.sha256, time.Since(start).Seconds())
	}

	var sums bytes.Buffer
	for _, a := range archives {
		fmt.Fprintf(&sums, "%s  %s\n", a.sha256, a.name)
	}
	if err := os.WriteFile(filepath.Join(out, "checksums.txt"), sums.Bytes(), 0o644); err != nil {
		return err
	}
	m, err := krewManifest(ver, archives, license != nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(manifest), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(manifest, m, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "release: wrote %s and %s\n", manifest, filepath.Join(out, "checksums.txt"))
	return nil
}

type file struct {
	name string
	mode int64
	data []byte
}

func tarGz(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf) // no name, no time in the gzip header
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipArchive(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(f.mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, bytes.NewReader(f.data)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The krew manifest (krew.googlecontainertools.github.com/v1alpha2 Plugin),
// the fields krew's index.Plugin reads; test/krew validates it with krew.
type plugin struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   metadata   `json:"metadata"`
	Spec       pluginSpec `json:"spec"`
}

type metadata struct {
	Name string `json:"name"`
}

type pluginSpec struct {
	Version          string     `json:"version"`
	Homepage         string     `json:"homepage"`
	ShortDescription string     `json:"shortDescription"`
	Description      string     `json:"description"`
	Platforms        []platform `json:"platforms"`
}

type platform struct {
	Selector metav1.LabelSelector `json:"selector"`
	URI      string               `json:"uri"`
	Sha256   string               `json:"sha256"`
	Files    []fileOperation      `json:"files"`
	Bin      string               `json:"bin"`
}

type fileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

const description = `Runs the data residency operator's engine without a cluster: checks
workload manifests (files, directories, the output of helm template or
kustomize build) against the GDPR residency catalog kept next to them
(Subprocessors, TransferBases, ProcessingLocations, the ResidencyPolicy),
as of today or any date, and prints a table, JSON or SARIF; writes the
register of transfers a DPO hands an auditor (GDPR Art. 30(1)(e)) from
those files or from the cluster; prints the built-in legal catalog
(adequacy decisions, transfer mechanisms). kubectl residency is
residencyctl: see docs/cli.md.
`

func krewManifest(ver string, archives []archive, license bool) ([]byte, error) {
	p := plugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2",
		Kind:       "Plugin",
		Metadata:   metadata{Name: "residency"},
		Spec: pluginSpec{
			Version:          ver,
			Homepage:         homepage,
			ShortDescription: "Check workloads against GDPR data residency rules",
			Description:      description,
		},
	}
	for _, a := range archives {
		files := []fileOperation{{From: a.bin, To: "."}}
		if license {
			files = append(files, fileOperation{From: "LICENSE", To: "."})
		}
		p.Spec.Platforms = append(p.Spec.Platforms, platform{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"os": a.goos, "arch": a.goarch}},
			URI:      releases + "/" + ver + "/" + a.name,
			Sha256:   a.sha256,
			Files:    files,
			Bin:      a.bin,
		})
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	header := "# The krew manifest of `kubectl residency` (residencyctl) " + ver + ", written by\n" +
		"# `make krew-manifest VERSION=" + ver + "` (hack/release) from the release archives it\n" +
		"# builds into dist/: regenerate it, do not edit it. docs/cli.md#kubectl-plugin.\n"
	return append([]byte(header), b...), nil
}
