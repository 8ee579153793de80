package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The scale bench: scaleRepos x tagsPerRepo tags (50,000 images) written
// straight into distribution's storage layout with the GC bench's writer
// (blobFiles, putAll, randomLayer: seconds, where pushing them through the
// API takes twelve minutes), served by the in-process registry. One policy
// keeps the newest 10 by semver over bulk/** (49,000 deletions): its plan,
// the apply, and the plan after it, each beside its floor and floor +
// Terraform's share; then the same cleanup split into scaleGroups
// for_each policies.
const (
	scaleRepos  = 100
	scaleGroups = 10
)

func scaleRepoName(r int) string { return fmt.Sprintf("bulk/app%03d", r) }

func scaleRepoNames() []string {
	repos := make([]string, scaleRepos)
	for r := range repos {
		repos[r] = scaleRepoName(r)
	}
	return repos
}

// writeScaleStore writes the images into a filesystem store at root.
func writeScaleStore(ctx context.Context, root string) error {
	d, err := openForWriting(ctx, "filesystem", map[string]any{"rootdirectory": root})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(gcWriters)
	for r := range scaleRepos {
		for i := range tagsPerRepo {
			g.Go(func() error { return writeScaleImage(ctx, d, r, i) })
		}
	}
	return g.Wait()
}

// writeScaleImage writes what pushing tag i of repository r leaves: tag i
// is the i-th oldest image and the i-th lowest version (tagName).
func writeScaleImage(ctx context.Context, d storagedriver.StorageDriver, r, i int) error {
	img := newImage(2, r*tagsPerRepo+i)
	manifest, config, layer := img.manifest, img.config, img.layer
	repo, dgst := scaleRepoName(r), img.digest
	files := blobFiles(repo, config)
	for p, c := range blobFiles(repo, layer) {
		files[p] = c
	}
	link, alg, hex := []byte(dgst), dgst.Algorithm().String(), dgst.Encoded()
	files[blobDataPath(dgst)] = manifest
	files[repoPath(repo, "_manifests/revisions", alg, hex, "link")] = link
	files[repoPath(repo, "_manifests/tags", tagName(i), "current/link")] = link
	files[repoPath(repo, "_manifests/tags", tagName(i), "index", alg, hex, "link")] = link
	return putAll(ctx, d, files)
}

// scaleStores writes a store under dir, hard-links n-1 copies of it (the
// registry only deletes here, so the copies stay apart), and serves them.
func scaleStores(ctx context.Context, dir string, n int) ([]*testregistry.Registry, error) {
	start := time.Now()
	if err := writeScaleStore(ctx, filepath.Join(dir, "0")); err != nil {
		return nil, err
	}
	for k := 1; k < n; k++ {
		if err := hardLinkCopy(ctx, filepath.Join(dir, "0"), filepath.Join(dir, strconv.Itoa(k))); err != nil {
			return nil, err
		}
	}
	fmt.Printf("scale: wrote %d images and linked %d copies in %.1fs\n", scaleRepos*tagsPerRepo, n-1, time.Since(start).Seconds())
	var regs []*testregistry.Registry
	for k := range n {
		reg, err := testregistry.New(ctx, testregistry.WithRootDir(filepath.Join(dir, strconv.Itoa(k))))
		if err != nil {
			for _, r := range regs {
				r.Close()
			}
			return nil, err
		}
		regs = append(regs, reg)
	}
	return regs, nil
}

// scaleConfig is one policy over bulk/**, or with groups one policy per
// group of repositories (for_each), keeping the newest 10 by semver.
func scaleConfig(url string, groups bool) string {
	policy := `
resource "registry_retention_policy" "bulk" {%s
  repositories = [%s]
  keep {
    newest   = %d
    order_by = "semver"
  }
  delete {}
}
`
	if !groups {
		return configHeader(url) + fmt.Sprintf(policy, "", `"bulk/**"`, keepNewest)
	}
	// bulk/app00? ... bulk/app09?: ten repositories each.
	return configHeader(url) + fmt.Sprintf(policy, "\n  for_each = toset([for g in range(10) : tostring(g)])", `"bulk/app0${each.key}?"`, keepNewest)
}

// scaleRun is one Terraform command measured: wall time, the provider's
// peak resident memory, the CLI's (the larger of the CLI and the
// provider), and the lines it printed.
type scaleRun struct {
	wall                    time.Duration
	providerPeak, wholePeak int64
	lines                   int
}

func runScale(ctx context.Context, ws *devprovider.Workspace, args ...string) (scaleRun, error) {
	var out bytes.Buffer
	sampler := sampleProviderPeak(ws.Dir)
	start := time.Now()
	err := ws.Run(ctx, &out, append(args, "-input=false", "-no-color")...)
	run := scaleRun{wall: time.Since(start), providerPeak: sampler(), wholePeak: ws.PeakRSS(), lines: bytes.Count(out.Bytes(), []byte("\n"))}
	if err != nil {
		tail := out.Bytes()[max(0, out.Len()-4000):]
		return run, fmt.Errorf("%w\n%s", err, tail)
	}
	return run, nil
}

// sampleProviderPeak follows the provider processes Terraform starts in
// dir (every 50ms, the high-water mark the kernel keeps for each) until
// the returned function is called, which returns the largest.
func sampleProviderPeak(dir string) func() int64 {
	var mu sync.Mutex
	peaks := map[string]int64{}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			procs, _ := filepath.Glob("/proc/[0-9]*")
			for _, p := range procs {
				comm, _ := os.ReadFile(filepath.Join(p, "comm"))
				if !strings.HasPrefix(string(comm), "terraform-provi") {
					continue
				}
				if cwd, _ := os.Readlink(filepath.Join(p, "cwd")); cwd != dir {
					continue
				}
				if hwm := vmHWM(filepath.Join(p, "status")); hwm > 0 {
					mu.Lock()
					peaks[p] = max(peaks[p], hwm)
					mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		var peak int64
		for _, v := range peaks {
			peak = max(peak, v)
		}
		return peak
	}
}

func vmHWM(status string) int64 {
	raw, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// scaleLine is one printed line of the scale table.
type scaleLine struct {
	name         string
	run          scaleRun
	floor, share time.Duration
}

// scaleBench runs the scale cases and prints their table.
func scaleBench(ctx context.Context) error {
	if err := pinGoBuildCache(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return err
	}
	defer removeTree(dir)
	regs, err := scaleStores(ctx, dir, 3) // ours, the delete floor's, the for_each policies'
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range regs {
			r.Close()
		}
	}()
	fmt.Printf("\n%d repositories x %d tags (%d images), keep newest %d by semver: %d deletions %s\n",
		scaleRepos, tagsPerRepo, scaleRepos*tagsPerRepo, keepNewest, scaleRepos*(tagsPerRepo-keepNewest), intoRun())
	fmt.Printf("%-52s %9s %8s %7s %12s %7s %14s %9s %9s\n", "case", "time", "floor", "ratio", "+ terraform", "ratio", "provider peak", "CLI peak", "lines")
	// Each line is printed as soon as it is measured: a run cut short
	// still reports what it measured.
	repos := scaleRepoNames()
	if err := scaleOnePolicy(ctx, regs[0], regs[1], repos, printScaleLine); err != nil {
		return err
	}
	if err := scaleSplit(ctx, regs[2], repos, printScaleLine); err != nil {
		return err
	}
	fmt.Println(intoRun())
	return nil
}

func printScaleLine(l scaleLine) {
	withShare, shareRatio := "-", "-"
	if l.share > 0 {
		withShare = fmt.Sprintf("%.2fs", (l.floor + l.share).Seconds())
		shareRatio = fmt.Sprintf("%.2fx", l.run.wall.Seconds()/(l.floor+l.share).Seconds())
	}
	ratio := "-"
	if l.floor > 0 {
		ratio = fmt.Sprintf("%.2fx", l.run.wall.Seconds()/l.floor.Seconds())
	}
	fmt.Printf("%-52s %8.2fs %7.2fs %7s %12s %7s %12dMB %7dMB %9d\n", l.name, l.run.wall.Seconds(), l.floor.Seconds(), ratio,
		withShare, shareRatio, l.run.providerPeak>>20, l.run.wholePeak>>20, l.run.lines)
}

// scaleOnePolicy measures plan, apply and the next plan of one policy on
// reg, each reported when measured; the apply's floor deletes the same on
// floorReg.
func scaleOnePolicy(ctx context.Context, reg, floorReg *testregistry.Registry, repos []string, report func(scaleLine)) error {
	config := scaleConfig(reg.URL, false)
	planFloor, err := floorInChild(ctx, "head", reg.URL, repos)
	if err != nil {
		return err
	}
	planShare, err := terraformShare(ctx, config, "", nil)
	if err != nil {
		return fmt.Errorf("plan share: %w", err)
	}
	ws, err := initWorkspace(ctx, config, "")
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := useEmptyCache(); err != nil {
		return err
	}
	plan, err := runScale(ctx, ws, "plan")
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	report(scaleLine{"one policy: terraform plan", plan, planFloor, planShare})
	applyFloor, err := floorInChild(ctx, "head-delete-all-but-newest", floorReg.URL, repos)
	if err != nil {
		return err
	}
	apply, err := runScale(ctx, ws, "apply", "-auto-approve")
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	report(scaleLine{"one policy: terraform apply (plan + deletes)", apply, applyFloor, 0})
	if err := expectKept(reg, repos); err != nil {
		return err
	}
	state, err := os.ReadFile(filepath.Join(ws.Dir, "terraform.tfstate"))
	if err != nil {
		return err
	}
	fmt.Printf("scale: the state after apply is %.1f MB\n", float64(len(state))/(1<<20))
	nextFloor, err := floorInChild(ctx, "head", reg.URL, repos)
	if err != nil {
		return err
	}
	nextShare, err := terraformShare(ctx, config, "", state)
	if err != nil {
		return fmt.Errorf("next plan share: %w", err)
	}
	next, err := runScale(ctx, ws, "plan", "-detailed-exitcode")
	if err != nil {
		return fmt.Errorf("next plan (not empty?): %w", err)
	}
	report(scaleLine{"one policy: next terraform plan (no changes)", next, nextFloor, nextShare})
	return nil
}

// scaleSplit measures the same cleanup as scaleGroups for_each policies,
// which Terraform plans and applies in parallel.
func scaleSplit(ctx context.Context, reg *testregistry.Registry, repos []string, report func(scaleLine)) error {
	ws, err := initWorkspace(ctx, scaleConfig(reg.URL, true), "")
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := useEmptyCache(); err != nil {
		return err
	}
	name := fmt.Sprintf("%d for_each policies: ", scaleGroups)
	plan, err := runScale(ctx, ws, "plan")
	if err != nil {
		return fmt.Errorf("for_each plan: %w", err)
	}
	report(scaleLine{name + "terraform plan", plan, 0, 0})
	apply, err := runScale(ctx, ws, "apply", "-auto-approve")
	if err != nil {
		return fmt.Errorf("for_each apply: %w", err)
	}
	report(scaleLine{name + "terraform apply", apply, 0, 0})
	if err := expectKept(reg, repos); err != nil {
		return err
	}
	next, err := runScale(ctx, ws, "plan", "-detailed-exitcode")
	if err != nil {
		return fmt.Errorf("for_each next plan (not empty?): %w", err)
	}
	report(scaleLine{name + "next terraform plan", next, 0, 0})
	return nil
}
