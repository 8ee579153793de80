package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The apply bench (BENCH=apply): the provider's apply of a saved plan
// against the least a client must do for the same deletions, on identical
// copies of one store, through the same network latency
// (testregistry.NewLatencyProxy). The policy keeps the newest 10 tags by
// semver and deletes the rest:
//
//	(a) one repository of BENCH_APPLY_TAGS (2,000) tags behind
//	    BENCH_APPLY_RTT (30ms) of round-trip time, max_concurrency left
//	    at its default;
//	(b) BENCH_APPLY_REPOS (20) repositories of BENCH_APPLY_REPO_TAGS (500)
//	    tags on loopback, max_concurrency = 8;
//	(c) one repository of BENCH_APPLY_REPO_TAGS (500) tags behind the
//	    same round-trip time: issue 31's third case (164 s before it).
//
// The loop lists every tag page of each repository and DELETEs each
// planned digest, concurrency at a time, one request per deletion. An
// apply that fails is reported, with its error, not a failed bench; the
// tags left are checked and reported either way. Nothing is asserted.
type latencyCase struct {
	label          string
	repos, tags    int
	rtt            time.Duration
	setConcurrency bool // max_concurrency in the provider block, else its default
}

func latencyCases() ([]latencyCase, error) {
	tags, err := envInt("BENCH_APPLY_TAGS", 2000)
	if err != nil {
		return nil, err
	}
	rtt, err := envDuration("BENCH_APPLY_RTT", 30*time.Millisecond)
	if err != nil {
		return nil, err
	}
	repos, err := envInt("BENCH_APPLY_REPOS", repositories)
	if err != nil {
		return nil, err
	}
	repoTags, err := envInt("BENCH_APPLY_REPO_TAGS", tagsPerRepo)
	if err != nil {
		return nil, err
	}
	cases := []latencyCase{
		{label: "(a)", repos: 1, tags: tags, rtt: rtt},
		{label: "(b)", repos: repos, tags: repoTags, setConcurrency: true},
		{label: "(c)", repos: 1, tags: repoTags, rtt: rtt},
	}
	for _, c := range cases {
		if c.repos < 1 || c.tags <= keepNewest {
			return nil, fmt.Errorf("apply bench %s: %d repositories x %d tags: want at least 1 x %d", c.label, c.repos, c.tags, keepNewest+1)
		}
	}
	return cases, nil
}

func envInt(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: %w", key, v, err)
	}
	return n, nil
}

// envDuration reads a Go duration ("30ms"); a bare number is milliseconds.
func envDuration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	if ms, err := strconv.Atoi(v); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%s: want a duration such as 30ms", key, v)
	}
	return d, nil
}

// applyBench runs every case, each printed as it is measured.
func applyBench(ctx context.Context) error {
	cases, err := latencyCases()
	if err != nil {
		return err
	}
	if err := pinGoBuildCache(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-apply-")
	if err != nil {
		return err
	}
	defer removeTree(dir)
	fmt.Printf("\napply of a saved plan against a minimal loop (list + DELETE by digest, %d at a time), through the same latency %s\n", concurrency, intoRun())
	for _, c := range cases {
		if err := runLatencyCase(ctx, filepath.Join(dir, strings.Trim(c.label, "()")), c); err != nil {
			return fmt.Errorf("apply bench %s: %w", c.label, err)
		}
	}
	return nil
}

func (c latencyCase) repoNames() []string {
	repos := make([]string, c.repos)
	for r := range repos {
		repos[r] = fmt.Sprintf("apply/app%02d", r)
	}
	return repos
}

// newest is the tags the policy keeps in every repository, sorted.
func (c latencyCase) newest() []string {
	var keep []string
	for i := c.tags - keepNewest; i < c.tags; i++ {
		keep = append(keep, tagName(i))
	}
	slices.Sort(keep)
	return keep
}

func (c latencyCase) heading() string {
	network := "on loopback"
	if c.rtt > 0 {
		network = fmt.Sprintf("behind %s RTT", c.rtt)
	}
	conc := fmt.Sprintf("max_concurrency = %d", concurrency)
	if !c.setConcurrency {
		conc = "max_concurrency default"
	}
	repos := fmt.Sprintf("%d repositories", c.repos)
	if c.repos == 1 {
		repos = "1 repository"
	}
	return fmt.Sprintf("%s %s x %d tags %s, keep newest %d by semver: %d deletions, %s",
		c.label, repos, c.tags, network, keepNewest, c.repos*(c.tags-keepNewest), conc)
}

func runLatencyCase(ctx context.Context, dir string, c latencyCase) error {
	fmt.Printf("\n%s %s\n", c.heading(), intoRun())
	repos := c.repoNames()
	start := time.Now()
	planned, err := writeApplyStore(ctx, filepath.Join(dir, "0"), c)
	if err != nil {
		return err
	}
	if err := hardLinkCopy(ctx, filepath.Join(dir, "0"), filepath.Join(dir, "1")); err != nil {
		return err
	}
	fmt.Printf("  wrote %d images and a linked copy in %.1fs\n", c.repos*c.tags, time.Since(start).Seconds())
	var regs [2]*testregistry.Registry // the provider's, the loop's
	var urls [2]string
	for k := range regs {
		reg, err := testregistry.New(ctx, testregistry.WithRootDir(filepath.Join(dir, strconv.Itoa(k))))
		if err != nil {
			return err
		}
		defer reg.Close()
		regs[k], urls[k] = reg, reg.URL
		if c.rtt > 0 {
			proxy, stop, err := testregistry.NewLatencyProxy(reg.URL, c.rtt)
			if err != nil {
				return err
			}
			defer func() { _ = stop() }()
			urls[k] = proxy
		}
	}

	plan, apply, out, planErr, applyErr := providerApply(ctx, applyConfig(urls[0], c.setConcurrency))
	switch {
	case planErr != nil:
		fmt.Printf("  %-52s %8.2fs FAIL: %s\n", "terraform plan -out", plan.Seconds(), indentTail(planErr.Error()))
	case applyErr != nil:
		fmt.Printf("  %-52s %8.2fs\n", "terraform plan -out", plan.Seconds())
		fmt.Printf("  %-52s %8.2fs FAIL: %s\n", "terraform apply (saved plan)", apply.Seconds(), indentTail(applyErr.Error()))
	default:
		fmt.Printf("  %-52s %8.2fs\n", "terraform plan -out", plan.Seconds())
		fmt.Printf("  %-52s %8.2fs\n", "terraform apply (saved plan)", apply.Seconds())
	}

	loopStart := time.Now()
	loopErr := minimalDeleteLoop(ctx, urls[1], repos, planned)
	loop := time.Since(loopStart)
	if loopErr != nil {
		fmt.Printf("  %-52s %8.2fs FAIL: %v\n", fmt.Sprintf("minimal loop (list + DELETE, %d at a time)", concurrency), loop.Seconds(), loopErr)
	} else {
		fmt.Printf("  %-52s %8.2fs\n", fmt.Sprintf("minimal loop (list + DELETE, %d at a time)", concurrency), loop.Seconds())
	}
	if planErr == nil && loopErr == nil {
		note := ""
		if applyErr != nil {
			note = " (the apply failed)"
		}
		fmt.Printf("  %-52s %8.2fx%s\n", "apply / loop", apply.Seconds()/loop.Seconds(), note)
	}
	fmt.Printf("  %-52s %s\n", "tags left after apply", tagsLeft(regs[0], c))
	if loopErr == nil {
		if left := tagsLeft(regs[1], c); !strings.HasPrefix(left, "OK") {
			fmt.Printf("  %-52s %s\n", "tags left after the loop", left)
		}
	}
	if lines := restoredLines(out); len(lines) > 0 {
		fmt.Printf("  provider output: %d lines mention \"restored\", the first: %s\n", len(lines), lines[0])
	}
	return nil
}

// writeApplyStore writes the case's images into a filesystem store at
// root, tag i of each repository the i-th lowest version (tagName), and
// returns the digests the policy deletes, by repository.
func writeApplyStore(ctx context.Context, root string, c latencyCase) (map[string][]digest.Digest, error) {
	d, err := openForWriting(ctx, "filesystem", map[string]any{"rootdirectory": root})
	if err != nil {
		return nil, err
	}
	planned := map[string][]digest.Digest{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(gcWriters)
	for r, repo := range c.repoNames() {
		doomed := make([]digest.Digest, c.tags-keepNewest)
		planned[repo] = doomed
		for i := range c.tags {
			img := newImage(applySeed, r*c.tags+i)
			if i < len(doomed) {
				doomed[i] = img.digest
			}
			g.Go(func() error {
				files := blobFiles(repo, img.config)
				maps.Copy(files, blobFiles(repo, img.layer))
				link, alg, hex := []byte(img.digest), img.digest.Algorithm().String(), img.digest.Encoded()
				files[blobDataPath(img.digest)] = img.manifest
				files[repoPath(repo, "_manifests/revisions", alg, hex, "link")] = link
				files[repoPath(repo, "_manifests/tags", tagName(i), "current/link")] = link
				files[repoPath(repo, "_manifests/tags", tagName(i), "index", alg, hex, "link")] = link
				return putAll(gctx, d, files)
			})
		}
	}
	return planned, g.Wait()
}

const applySeed = 3

func applyConfig(url string, setConcurrency bool) string {
	conc := ""
	if setConcurrency {
		conc = fmt.Sprintf("\n  max_concurrency = %d", concurrency)
	}
	return fmt.Sprintf(`terraform {
  required_providers {
    registry = { source = %q }
  }
}
provider "registry" {
  url = %q%s
}
resource "registry_retention_policy" "bench" {
  repositories = ["apply/*"]
  keep {
    newest   = %d
    order_by = "semver"
  }
  delete {}
}
`, devprovider.Source, url, conc, keepNewest)
}

// providerApply runs init, plan -out (timed) and apply of that plan
// (timed) with the real provider binary; planErr is init's or the
// plan's error, and then the apply did not run. out is everything the
// plan and the apply printed.
func providerApply(ctx context.Context, config string) (plan, apply time.Duration, out string, planErr, applyErr error) {
	ws, err := initWorkspace(ctx, config, "")
	if err != nil {
		return 0, 0, "", err, nil
	}
	defer ws.Close()
	if err := useEmptyCache(); err != nil {
		return 0, 0, "", err, nil
	}
	var all bytes.Buffer
	plan, planErr = timedTerraform(ctx, ws, &all, "plan", "-input=false", "-no-color", "-out=bench.tfplan")
	if planErr != nil {
		return plan, 0, all.String(), planErr, nil
	}
	apply, applyErr = timedTerraform(ctx, ws, &all, "apply", "-input=false", "-no-color", "bench.tfplan")
	return plan, apply, all.String(), nil, applyErr
}

// timedTerraform runs one command, its output added to all; its error
// carries what the command printed from its first "Error:" on.
func timedTerraform(ctx context.Context, ws *devprovider.Workspace, all *bytes.Buffer, args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := ws.Run(ctx, &out, args...)
	wall := time.Since(start)
	all.Write(out.Bytes())
	if err != nil {
		text := out.String()
		if i := strings.Index(text, "Error:"); i >= 0 {
			text = text[i:]
		} else {
			text = text[max(0, len(text)-2000):]
		}
		return wall, fmt.Errorf("%w\n%s", err, strings.TrimSpace(text))
	}
	return wall, nil
}

// indentTail is an error's text, at most 15 lines, indented under its line.
func indentTail(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 15 {
		lines = append(lines[:15], "...")
	}
	return strings.Join(lines, "\n      ")
}

func restoredLines(out string) []string {
	var found []string
	for line := range strings.Lines(out) {
		if strings.Contains(strings.ToLower(line), "restored") {
			found = append(found, strings.TrimSpace(line))
		}
	}
	return found
}

// tagsLeft says whether every repository holds exactly the newest tags.
func tagsLeft(reg *testregistry.Registry, c latencyCase) string {
	want := c.newest()
	var wrong []string
	for _, repo := range c.repoNames() {
		tags, err := reg.Tags(repo)
		if err != nil {
			return fmt.Sprintf("FAIL: %s: %v", repo, err)
		}
		if !slices.Equal(tags, want) {
			wrong = append(wrong, fmt.Sprintf("%s has %d tags", repo, len(tags)))
		}
	}
	if len(wrong) > 0 {
		if len(wrong) > 3 {
			wrong = append(wrong[:3], "...")
		}
		return fmt.Sprintf("FAIL: %d of %d repositories are not their newest %d (%s)", len(wrong), c.repos, keepNewest, strings.Join(wrong, ", "))
	}
	return fmt.Sprintf("OK: the newest %d in each of %d repositories", keepNewest, c.repos)
}

// minimalDeleteLoop is the least a client does for the apply: per
// repository one authenticated transport (the /v2/ ping once, with the
// delete scope), every tag page, then a DELETE by digest per planned
// image, concurrency at a time: one request per deletion, where
// remote.Delete would ping before each.
func minimalDeleteLoop(ctx context.Context, url string, repos []string, planned map[string][]digest.Digest) error {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = nil
	base.MaxIdleConnsPerHost = concurrency
	defer base.CloseIdleConnections()
	puller, err := remote.NewPuller(remote.WithTransport(base), remote.WithContext(ctx))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, r := range repos {
		repo, err := name.NewRepository(strings.TrimPrefix(url, "http://")+"/"+r, name.Insecure)
		if err != nil {
			return err
		}
		if _, err := puller.List(ctx, repo); err != nil {
			return err
		}
		rt, err := transport.NewWithContext(ctx, repo.Registry, authn.Anonymous, base, []string{repo.Scope(transport.DeleteScope)})
		if err != nil {
			return err
		}
		client := &http.Client{Transport: rt}
		for _, d := range planned[r] {
			g.Go(func() error { return deleteManifest(gctx, client, url, r, d) })
		}
	}
	return g.Wait()
}

func deleteManifest(ctx context.Context, client *http.Client, url, repo string, d digest.Digest) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, fmt.Sprintf("%s/v2/%s/manifests/%s", url, repo, d), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("DELETE %s@%s: %s", repo, d, resp.Status)
	}
	return nil
}
