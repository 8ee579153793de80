package release

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const project = "terraform-provider-registry"

// platforms is the release matrix of .goreleaser.yml, as the Terraform
// Registry lists HashiCorp's providers: {freebsd, windows, linux, darwin} x
// {amd64, 386, arm, arm64} without darwin_386 and windows_arm.
var platforms = []string{
	"darwin_amd64", "darwin_arm64",
	"freebsd_386", "freebsd_amd64", "freebsd_arm", "freebsd_arm64",
	"linux_386", "linux_amd64", "linux_arm", "linux_arm64",
	"windows_386", "windows_amd64", "windows_arm64",
}

// released is the platforms dist/ must hold: every platform, or those
// RELEASE_PLATFORMS lists (make test builds this machine's alone).
func released() []string {
	if only := os.Getenv("RELEASE_PLATFORMS"); only != "" {
		return strings.Fields(strings.ReplaceAll(only, ",", " "))
	}
	return platforms
}

// snapshot is dist/ as `make release-snapshot` left it, with the version
// goreleaser gave the snapshot.
type snapshot struct {
	dir     string
	version string
}

// openSnapshot skips the test when there is no snapshot in dist/, or fails
// it under RELEASE_REQUIRED=1 (make release-test).
func openSnapshot(t *testing.T) snapshot {
	t.Helper()
	root, err := devprovider.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "dist")
	raw, err := os.ReadFile(filepath.Join(dir, "metadata.json"))
	if errors.Is(err, os.ErrNotExist) {
		testregistry.SkipUnlessRequired(t, "RELEASE_REQUIRED", errors.New("no release snapshot in dist/: run make release-snapshot"))
	}
	if err != nil {
		t.Fatal(err)
	}
	var metadata struct {
		ProjectName string `json:"project_name"`
		Version     string `json:"version"`
	}
	if err := json.Unmarshal(raw, &metadata); err != nil {
		t.Fatalf("dist/metadata.json: %v", err)
	}
	if metadata.ProjectName != project || metadata.Version == "" {
		t.Fatalf("dist/metadata.json names project %q version %q, want %s and a version", metadata.ProjectName, metadata.Version, project)
	}
	return snapshot{dir: dir, version: metadata.Version}
}

func (s snapshot) archive(platform string) string {
	return fmt.Sprintf("%s_%s_%s.zip", project, s.version, platform)
}

func (s snapshot) sums() string     { return fmt.Sprintf("%s_%s_SHA256SUMS", project, s.version) }
func (s snapshot) manifest() string { return fmt.Sprintf("%s_%s_manifest.json", project, s.version) }

// The files a release builds, named as the Terraform Registry requires, and
// nothing else of the kind. (The manifest is published from the repository
// by the release step, which a snapshot skips: dist/ never holds it.)
func TestSnapshotFiles(t *testing.T) {
	s := openSnapshot(t)
	want := []string{s.sums()}
	for _, p := range released() {
		want = append(want, s.archive(p))
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, project+"_") && !e.IsDir() {
			got = append(got, name)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("dist/ holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// Each archive holds the binary Terraform runs, named with the version.
	for _, p := range released() {
		binary := fmt.Sprintf("%s_v%s", project, s.version)
		if strings.HasPrefix(p, "windows_") {
			binary += ".exe"
		}
		z, err := zip.OpenReader(filepath.Join(s.dir, s.archive(p)))
		if err != nil {
			t.Error(err)
			continue
		}
		var names []string
		for _, f := range z.File {
			names = append(names, f.Name)
		}
		if err := z.Close(); err != nil {
			t.Error(err)
		}
		if !slices.Contains(names, binary) {
			t.Errorf("%s holds %v, want %s among them", s.archive(p), names, binary)
		}
	}
}

// SHA256SUMS lists every archive and the manifest (the repository's
// terraform-registry-manifest.json, published under its release name), with
// their digests.
func TestSnapshotChecksums(t *testing.T) {
	s := openSnapshot(t)
	f, err := os.Open(filepath.Join(s.dir, s.sums()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		sum, name, ok := strings.Cut(lines.Text(), "  ")
		if !ok {
			t.Fatalf("%s: line %q is not '<sha256>  <file>'", s.sums(), lines.Text())
		}
		listed[name] = sum
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{s.manifest(): filepath.Join(s.dir, "..", "terraform-registry-manifest.json")}
	for _, p := range released() {
		files[s.archive(p)] = filepath.Join(s.dir, s.archive(p))
	}
	for name, path := range files {
		content, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			continue
		}
		sum := sha256.Sum256(content)
		if got := listed[name]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s lists %s as %q, its sha256 is %x", s.sums(), name, got, sum)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("%s lists %s, which a release does not publish", s.sums(), name)
	}
}

// The archive for this machine, installed by `terraform init` from a
// filesystem mirror holding it as released, serves the provider at the
// snapshot's version.
func TestSnapshotInstalls(t *testing.T) {
	s := openSnapshot(t)
	platform := runtime.GOOS + "_" + runtime.GOARCH
	if !slices.Contains(released(), platform) {
		t.Skipf("no release archive for %s", platform)
	}
	mirror, err := devprovider.MirrorArchive(filepath.Join(s.dir, s.archive(platform)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(mirror) })
	config := fmt.Sprintf("terraform {\n  required_providers {\n    registry = {\n      source  = %q\n      version = %q\n    }\n  }\n}\n", devprovider.Source, s.version)
	w, err := devprovider.NewMirrorWorkspace(mirror, map[string][]byte{"main.tf": []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := os.Stat(w.CLI); err != nil {
		testregistry.SkipUnlessRequired(t, "RELEASE_REQUIRED", fmt.Errorf("no Terraform CLI (make tools builds bin/terraform): %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := w.Run(ctx, &out, "init", "-input=false", "-no-color"); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	out.Reset()
	if err := w.Run(ctx, &out, "providers", "schema", "-json"); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	var schemas struct {
		ProviderSchemas map[string]struct {
			ResourceSchemas map[string]json.RawMessage `json:"resource_schemas"`
		} `json:"provider_schemas"`
	}
	if err := json.Unmarshal(out.Bytes(), &schemas); err != nil {
		t.Fatalf("providers schema -json: %v\n%s", err, out.Bytes())
	}
	var found []string
	for address, schema := range schemas.ProviderSchemas {
		if strings.HasSuffix(address, "/"+devprovider.Source) {
			for name := range schema.ResourceSchemas {
				found = append(found, name)
			}
		}
	}
	if !slices.Contains(found, "registry_retention_policy") {
		t.Fatalf("the released provider's resources are %v, want registry_retention_policy among them", found)
	}

	// The lock file records the snapshot's version, from the archive's name.
	lock, err := os.ReadFile(filepath.Join(w.Dir, ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("version     = %q", s.version); !bytes.Contains(lock, []byte(want)) {
		t.Errorf(".terraform.lock.hcl lacks %s:\n%s", want, lock)
	}
}
