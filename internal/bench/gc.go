package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"syscall"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The GC stores: repositories x gcImages images of one manifest, one
// config and one layer each. Odd images are tagged v<i>; even ones are
// untagged, as pushes to a moving tag leave them: "latest" has pointed at
// every image and now names the last one, which is odd. Each repository
// also holds gcOrphansPerRepo orphans: blobs of abandoned pushes, linked
// into the repository but into no manifest.
//
// Many small repositories rather than few large ones: with
// --delete-untagged the reference reads every tag's link for every
// manifest of a repository, so its time grows with manifests x tags per
// repository. 20 repositories x 500 images would take it over an hour on
// MinIO on two cores (3.8 million requests); 200 x 50 takes minutes.
const (
	gcImages         = 50 // even, so that the last image is tagged
	gcOrphansPerRepo = 2
	gcWriters        = 32 // parallel writes while generating
	gcSeed           = 1
	gcBucket         = "gcbench"
)

// gcShape is the size of a GC store.
type gcShape struct{ repos int }

func (s gcShape) manifests() int { return s.repos * gcImages }
func (s gcShape) untagged() int  { return s.manifests() / 2 }
func (s gcShape) orphans() int   { return s.repos * gcOrphansPerRepo }
func (s gcShape) blobs() int     { return 3*s.manifests() + s.orphans() }

// The stores measured: 10,000 manifests, and 100,000 to see how each GC
// scales. At 100,000 on MinIO only the run without --delete-untagged is
// measured: the reference's with it reads every tag link per manifest
// and took 651s at 10,000 (hours at 100,000); that GC is measured at
// 10,000.
var (
	gcSmall = gcShape{repos: 200}
	gcLarge = gcShape{repos: 2000}
)

func tagged(i int) bool { return i%2 == 1 }

// gcStorage is one copy of the store: a driver's parameters for ours and
// the generator, and the same as a config.yml storage section for the
// reference. files is the directory that holds the copy's files on this
// machine's disk, one file per stored file (see sameFiles). server is the
// process ID of the storage server that serves the copy, 0 for none (the
// filesystem).
type gcStorage struct {
	driver string
	params map[string]any
	yaml   string
	files  string
	server int
}

// gcCases measures ours against `registry garbage-collect` on two
// identical copies, on the filesystem and on MinIO, for each shape: a
// first GC without --delete-untagged, which deletes the orphans, then one
// with it on the same copies, which deletes the untagged images.
// BENCH_GC, when set, runs only the stores whose "<manifests> <backend>"
// contains it: BENCH_GC=100000, BENCH_GC="10000 filesystem".
func gcCases(ctx context.Context) ([]result, error) {
	reference, err := testregistry.NewReferenceGC()
	if err != nil {
		return nil, err
	}
	var results []result
	for _, store := range []struct {
		shape          gcShape
		backend        string
		deleteUntagged bool
	}{
		{gcSmall, "filesystem", true}, {gcSmall, "MinIO", true},
		{gcLarge, "filesystem", true}, {gcLarge, "MinIO", false},
	} {
		if !strings.Contains(fmt.Sprintf("%d %s", store.shape.manifests(), store.backend), os.Getenv("BENCH_GC")) {
			continue
		}
		fmt.Printf("\ngc: %d repositories x %d images, every other one tagged: %d manifests, %d blobs per copy, %s, %d CPUs %s\n",
			store.shape.repos, gcImages, store.shape.manifests(), store.shape.blobs(), store.backend, runtime.NumCPU(), intoRun())
		run := gcOnFilesystem
		if store.backend == "MinIO" {
			run = gcOnMinIO
		}
		r, err := run(ctx, reference, store.shape, store.deleteUntagged)
		if err != nil {
			return nil, err
		}
		results = append(results, r...)
	}
	return results, nil
}

// gcOnFilesystem keeps both copies under the temporary directory, on disk
// where registries keep data, not on /dev/shm as testregistry does to
// seed faster. Each copy is generated, as registries write their stores:
// files of its own, laid out on disk in the order of parallel pushes.
// Removing the last name of a file frees it (inode and blocks), removing
// one of two names only counts one name less: with hard-linked copies
// the GC that ran second paid for freeing what both deleted (ours, at
// 10,000 manifests with --delete-untagged, twice as long as on a copy
// whose files had a name left). And a copy made by cp -a lays its files
// out in the order cp reads them: at 100,000 manifests ours freed those
// in 30 s, the generated copy's in 69 s.
func gcOnFilesystem(ctx context.Context, reference testregistry.ReferenceGC, shape gcShape, deleteUntagged bool) ([]result, error) {
	dir, err := os.MkdirTemp("", "bench-gc-")
	if err != nil {
		return nil, err
	}
	defer removeTree(dir)
	onDisk := func(name string) gcStorage {
		root := filepath.Join(dir, name)
		return gcStorage{"filesystem", map[string]any{"rootdirectory": root}, testregistry.FilesystemStorageYAML(root), root, 0}
	}
	refCopy, ourCopy := onDisk("reference"), onDisk("ours")
	generateBoth := func(ctx context.Context) error {
		if err := generateStore(ctx, refCopy, shape); err != nil {
			return err
		}
		return generateStore(ctx, ourCopy, shape)
	}
	return gcBackend(ctx, "filesystem", shape, deleteUntagged, reference, refCopy, ourCopy, generateBoth)
}

// gcOnMinIO keeps both copies in one bucket under two root directories:
// one server, so both runs see the same one. The large store's MinIO
// keeps its data on disk: two copies take more inodes than /dev/shm has.
// MinIO keeps each small object whole in one file (bucket/key/xl.meta),
// and deletes an object by moving its directory away, never writing into
// that file, so hard links copy a store there, in minutes where writing
// it again takes half an hour. Both copies are linked from a third, the
// generated one, which stays: each copy's directories are laid out by cp
// alike, and no run frees a file, which MinIO does later anyway, in the
// background, emptying its trash (each run starts once MinIO is quiet:
// settle).
func gcOnMinIO(ctx context.Context, reference testregistry.ReferenceGC, shape gcShape, deleteUntagged bool) ([]result, error) {
	newMinIO := testregistry.NewMinIO
	if shape.repos > gcSmall.repos {
		newMinIO = func(ctx context.Context) (*testregistry.MinIO, error) { return testregistry.NewMinIOIn(ctx, "") }
	}
	minio, err := newMinIO(ctx)
	if err != nil {
		return nil, err
	}
	defer minio.Close()
	if err := minio.CreateBucket(gcBucket); err != nil {
		return nil, err
	}
	defer removeTree(filepath.Join(minio.DataDir, gcBucket)) // before Close removes the rest
	inBucket := func(root string) gcStorage {
		return gcStorage{"s3", minio.S3Parameters(gcBucket, root), "storage:\n" + minio.S3ConfigYAML(gcBucket, root),
			filepath.Join(minio.DataDir, gcBucket, root), minio.PID()}
	}
	generated, refCopy, ourCopy := inBucket("/generated"), inBucket("/reference"), inBucket("/ours")
	linkBoth := func(ctx context.Context) error {
		if err := generateStore(ctx, generated, shape); err != nil {
			return err
		}
		if err := hardLinkCopy(ctx, generated.files, refCopy.files); err != nil {
			return err
		}
		return hardLinkCopy(ctx, generated.files, ourCopy.files)
	}
	return gcBackend(ctx, "MinIO (S3)", shape, deleteUntagged, reference, refCopy, ourCopy, linkBoth)
}

// gcBackend writes both copies with makeCopies, checks them equal, then
// runs both GCs on them: without --delete-untagged, then with it when
// deleteUntagged.
func gcBackend(ctx context.Context, backend string, shape gcShape, deleteUntagged bool, reference testregistry.ReferenceGC, refCopy, ourCopy gcStorage,
	makeCopies func(ctx context.Context) error) ([]result, error) {
	start := time.Now()
	if err := makeCopies(ctx); err != nil {
		return nil, err
	}
	fmt.Printf("gc on %s: generated both copies in %.1fs\n", backend, time.Since(start).Seconds())
	if err := sameFiles(ctx, refCopy.files, ourCopy.files); err != nil {
		return nil, fmt.Errorf("the copies are not identical: %w", err)
	}
	if err := checkServed(ctx, refCopy, shape, true); err != nil {
		return nil, fmt.Errorf("the generated store is not what a registry serves: %w", err)
	}
	cases := []struct {
		name                     string
		deleteUntagged           bool
		wantManifests, wantBlobs int
	}{
		{fmt.Sprintf("gc %d manifests, %d orphan blobs: %s", shape.manifests(), shape.orphans(), backend), false, 0, shape.orphans()},
		{fmt.Sprintf("gc --delete-untagged, %d untagged: %s", shape.untagged(), backend), true, shape.untagged(), 3 * shape.untagged()},
	}
	if !deleteUntagged {
		cases = cases[:1]
	}
	var results []result
	for _, c := range cases {
		r, err := gcCase(ctx, c.name, reference, refCopy, ourCopy, c.deleteUntagged)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		// Mismatches are printed, not fatal: the figures are still
		// worth having, and the error says what to look at.
		if r.report.ManifestsDeleted != c.wantManifests || r.report.BlobsDeleted != c.wantBlobs {
			fmt.Fprintf(os.Stderr, "error: %s: deleted %d manifests and %d blobs, want %d and %d\n",
				c.name, r.report.ManifestsDeleted, r.report.BlobsDeleted, c.wantManifests, c.wantBlobs)
		}
		if err := sameFiles(ctx, refCopy.files, ourCopy.files); err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: %v\n", c.name, err)
		}
		if err := checkServed(ctx, ourCopy, shape, !c.deleteUntagged); err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: after our GC: %v\n", c.name, err)
		}
		results = append(results, r.result)
	}
	return results, nil
}

type gcResult struct {
	result
	report gc.Report
}

// gcCase runs the reference on its copy, then ours on the other, each on
// a copy just flushed and read into the page cache (startClean). On a
// storage server, each run starts once the server is quiet (settle), and
// the line after the figures says what each process spent: a scan slower
// than expected is then bound by the server, by our process, or by the
// server's own background work.
func gcCase(ctx context.Context, name string, reference testregistry.ReferenceGC, refCopy, ourCopy gcStorage, deleteUntagged bool) (gcResult, error) {
	var (
		refWall, refCPU time.Duration
		refPeak         int64
	)
	refWarmed, err := startClean(ctx, refCopy.files)
	if err != nil {
		return gcResult{}, err
	}
	refServer, err := measureServer(refCopy, func() error {
		start := time.Now()
		state, err := reference.RunMeasured(ctx, refCopy.yaml, deleteUntagged)
		if err != nil {
			return err
		}
		refWall = time.Since(start)
		if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
			refPeak = ru.Maxrss * 1024 // KiB on Linux
			refCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		return nil
	})
	if err != nil {
		return gcResult{}, err
	}

	ourWarmed, err := startClean(ctx, ourCopy.files)
	if err != nil {
		return gcResult{}, err
	}
	var ours ourGC
	ourServer, err := measureServer(ourCopy, func() (err error) {
		ours, err = runOurGC(ctx, ourCopy, deleteUntagged)
		return err
	})
	if err != nil {
		return gcResult{}, err
	}
	fmt.Printf("%s: reference %.2fs, %dMB max RSS; ours %.2fs (scan %.2fs, mark and sweep %.2fs), %dMB peak (%d bytes per blob scanned); %s\n  our steps: %s\n",
		name, refWall.Seconds(), refPeak>>20, ours.wall.Seconds(), ours.scanned.Seconds(), (ours.wall - ours.scanned).Seconds(), ours.peak>>20,
		ours.peak/int64(max(ours.report.BlobsScanned, 1)), ours.report.Summary(), strings.Join(ours.steps, ", "))
	fmt.Printf("  CPU: the reference's process %.1fs, ours %.1fs", refCPU.Seconds(), ours.cpu.Seconds())
	if refCopy.server != 0 {
		fmt.Printf("; the server %s before and %s during the reference, %s before and %s during ours",
			refServer.idle(), refServer.busy(), ourServer.idle(), ourServer.busy())
	}
	fmt.Printf("\n  just before each run, the machine's writes flushed to disk and the copy's files read (startClean): the reference's in %.1fs, ours in %.1fs\n", refWarmed.Seconds(), ourWarmed.Seconds())
	return gcResult{result{name: name, wall: ours.wall, peakRSS: ours.peak, floor: refWall, floorPeak: refPeak}, ours.report}, nil
}

// ourGC is what a run of our GC on one copy measured.
type ourGC struct {
	report  gc.Report
	wall    time.Duration
	scanned time.Duration // when the scan ended: the rest is marking and sweeping
	steps   []string      // when each scan step, and the read of the blobs to delete, ended: where a slow scan went
	peak    int64
	cpu     time.Duration // this process's
}

func runOurGC(ctx context.Context, store gcStorage, deleteUntagged bool) (ourGC, error) {
	var ours ourGC
	self, err := startCPUMeter(os.Getpid())
	if err != nil {
		return ours, err
	}
	ours.wall, ours.peak, err = measureInProcess(func() error {
		start := time.Now()
		// Opening is part of our time, as the reference's process start is.
		d, err := gc.Storage{Driver: store.driver, Parameters: store.params}.Open(ctx)
		if err != nil {
			return err
		}
		ours.report, err = gc.Run(ctx, d, gc.Options{DeleteUntagged: deleteUntagged, Progress: func(message string) {
			if (ours.scanned == 0 || strings.HasPrefix(message, "read the data ")) && !strings.HasPrefix(message, "marked ") {
				ours.steps = append(ours.steps, fmt.Sprintf("%s at %.2fs", strings.SplitN(message, ":", 2)[0], time.Since(start).Seconds()))
			}
			if strings.HasPrefix(message, "scanned ") {
				ours.scanned = time.Since(start)
			}
		}})
		return err
	})
	if err != nil {
		return ours, err
	}
	ours.cpu, _, err = self.used()
	return ours, err
}

// serverUse is what the storage server serving a copy spent around a run:
// its share of a core while idle just before (see settle), then its CPU
// during the run.
type serverUse struct {
	idleShare, share float64
	waited, cpu      time.Duration
}

func (u serverUse) idle() string {
	return fmt.Sprintf("idled at %.0f%% of a core after %.0fs", 100*u.idleShare, u.waited.Seconds())
}
func (u serverUse) busy() string {
	return fmt.Sprintf("used %.1fs of CPU (%.0f%% of a core)", u.cpu.Seconds(), 100*u.share)
}

// measureServer runs run, measuring what the server serving store spends:
// nothing for a copy without one.
func measureServer(store gcStorage, run func() error) (serverUse, error) {
	if store.server == 0 {
		return serverUse{}, run()
	}
	var use serverUse
	var err error
	if use.idleShare, use.waited, err = settle(store.server); err != nil {
		return use, err
	}
	meter, err := startCPUMeter(store.server)
	if err != nil {
		return use, err
	}
	if err := run(); err != nil {
		return use, err
	}
	use.cpu, use.share, err = meter.used()
	return use, err
}

// measureInProcess times f and samples, every 20ms, the memory the Go
// runtime holds from the OS and has not returned (heap, stacks, runtime
// metadata: /memory/classes/total minus heap/released), reporting the
// maximum. That is this process's RSS owed to Go, without the code pages
// that the reference's max RSS includes, and with whatever else the bench
// process keeps alive, which a collection before the run makes small.
func measureInProcess(f func() error) (time.Duration, int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	held := func() int64 {
		metrics.Read(samples)
		return int64(samples[0].Value.Uint64() - samples[1].Value.Uint64())
	}
	peak := held()
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, held())
			}
		}
	}()
	start := time.Now()
	err := f()
	wall := time.Since(start)
	close(done)
	<-sampled
	return wall, max(peak, held()), err
}

// The layout of distribution's storage (registry/storage/paths.go).
const storageRoot = "/docker/registry/v2"

func blobDataPath(d digest.Digest) string {
	return path.Join(storageRoot, "blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

func repoPath(repo string, elem ...string) string {
	return path.Join(append([]string{storageRoot, "repositories", repo}, elem...)...)
}

func gcRepoName(r int) string { return fmt.Sprintf("bench/gc%03d", r) }

// generateStore writes the store through the copy's storage driver, as
// the registry lays it out after pushes, without the HTTP round trips of
// real pushes. Content is a function of the seed and indexes alone, so
// two generations are identical copies.
func generateStore(ctx context.Context, s gcStorage, shape gcShape) error {
	d, err := openForWriting(ctx, s.driver, s.params)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(gcWriters)
	for r := range shape.repos {
		for i := range gcImages {
			g.Go(func() error { return writeImage(ctx, d, r, i) })
		}
		for o := range gcOrphansPerRepo {
			g.Go(func() error {
				blob, _ := randomLayer(rand.New(rand.NewPCG(gcSeed, uint64(1_000_000+r*gcOrphansPerRepo+o))))
				return putAll(ctx, d, blobFiles(gcRepoName(r), blob))
			})
		}
	}
	return g.Wait()
}

// hardLinkCopy copies the directory tree from to to, hard-linking every
// file. Neither GC nor a registry that only deletes writes into a file
// it did not create: deleting a name in one copy leaves the other's.
func hardLinkCopy(ctx context.Context, from, to string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-al", from, to).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -al %s %s: %w: %s", from, to, err, out)
	}
	return nil
}

// gcImage is one generated image.
type gcImage struct {
	manifest, config, layer []byte
	digest                  digest.Digest // of the manifest
}

func makeImage(r, i int) gcImage {
	return newImage(gcSeed, r*gcImages+i)
}

// newImage is image n of a store seeded with seed: one random layer, and a
// config created n minutes after 2026-01-01.
func newImage(seed uint64, n int) gcImage {
	layer, diffID := randomLayer(rand.New(rand.NewPCG(seed, uint64(n))))
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	config, _ := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	manifest, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    descriptor(ocispec.MediaTypeImageConfig, config),
		Layers:    []ocispec.Descriptor{descriptor(ocispec.MediaTypeImageLayerGzip, layer)},
	})
	return gcImage{manifest: manifest, config: config, layer: layer, digest: digest.FromBytes(manifest)}
}

// randomLayer is a gzipped tar of one small file of random bytes, and
// its diff ID: a real layer that validate.Image accepts, unique per image.
func randomLayer(rng *rand.Rand) ([]byte, digest.Digest) {
	content := make([]byte, 512)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	var tarball, gzipped bytes.Buffer
	tw := tar.NewWriter(&tarball)
	_ = tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
	_, _ = tw.Write(content)
	_ = tw.Close()
	zw := gzip.NewWriter(&gzipped) // no name, no time: the same bytes every time
	_, _ = zw.Write(tarball.Bytes())
	_ = zw.Close()
	return gzipped.Bytes(), digest.FromBytes(tarball.Bytes())
}

func descriptor(mediaType string, content []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(content), Size: int64(len(content))}
}

// blobFiles are the files of a blob pushed to repo: its data and the
// repository's layer link.
func blobFiles(repo string, content []byte) map[string][]byte {
	d := digest.FromBytes(content)
	return map[string][]byte{
		blobDataPath(d): content,
		repoPath(repo, "_layers", d.Algorithm().String(), d.Encoded(), "link"): []byte(d),
	}
}

// writeImage writes what pushing image i of repository r leaves: config
// and layer blobs with layer links, the manifest blob and revision link,
// tag links, and the entry of the moving tag "latest" in its history.
func writeImage(ctx context.Context, d storagedriver.StorageDriver, r, i int) error {
	img := makeImage(r, i)
	repo := gcRepoName(r)
	files := blobFiles(repo, img.config)
	for p, c := range blobFiles(repo, img.layer) {
		files[p] = c
	}
	link := []byte(img.digest)
	alg, hex := img.digest.Algorithm().String(), img.digest.Encoded()
	files[blobDataPath(img.digest)] = img.manifest
	files[repoPath(repo, "_manifests/revisions", alg, hex, "link")] = link
	files[repoPath(repo, "_manifests/tags/latest/index", alg, hex, "link")] = link
	if i == gcImages-1 {
		files[repoPath(repo, "_manifests/tags/latest/current/link")] = link
	}
	if tagged(i) {
		tag := fmt.Sprintf("v%d", i)
		files[repoPath(repo, "_manifests/tags", tag, "current/link")] = link
		files[repoPath(repo, "_manifests/tags", tag, "index", alg, hex, "link")] = link
	}
	return putAll(ctx, d, files)
}

// openForWriting opens a storage to write a store into: on the
// filesystem without the driver's two fsyncs per file (it writes a
// temporary file, syncs it, renames it and syncs the directory, to
// survive a crash), which a store made for one run does not need and
// which cost most of the time of writing a million files.
func openForWriting(ctx context.Context, driver string, params map[string]any) (storagedriver.StorageDriver, error) {
	d, err := factory.Create(ctx, driver, params)
	if err != nil || driver != "filesystem" {
		return d, err
	}
	return unsyncedFilesystem{StorageDriver: d, root: params["rootdirectory"].(string)}, nil
}

type unsyncedFilesystem struct {
	storagedriver.StorageDriver
	root string
}

func (f unsyncedFilesystem) PutContent(_ context.Context, p string, content []byte) error {
	file := filepath.Join(f.root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, content, 0o644)
}

func putAll(ctx context.Context, d storagedriver.StorageDriver, files map[string][]byte) error {
	for p, content := range files {
		if err := d.PutContent(ctx, p, content); err != nil {
			return err
		}
	}
	return nil
}

// checkServed starts a distribution v3 registry over the store and checks
// that it serves a tagged image whole (manifest, config and layer by
// digest), and an untagged one by digest exactly when untaggedKept.
func checkServed(ctx context.Context, s gcStorage, shape gcShape, untaggedKept bool) error {
	opt := testregistry.WithStorage(s.driver, s.params)
	if s.driver == "filesystem" {
		opt = testregistry.WithRootDir(s.params["rootdirectory"].(string))
	}
	reg, err := testregistry.New(ctx, opt)
	if err != nil {
		return err
	}
	defer reg.Close()
	last := shape.repos - 1
	repo := gcRepoName(last)
	tagged, untagged := makeImage(last, 1), makeImage(last, 0)
	ref, err := name.NewTag(reg.Host+"/"+repo+":v1", name.Insecure)
	if err != nil {
		return err
	}
	img, err := remote.Image(ref, reg.RemoteOptions()...)
	if err != nil {
		return err
	}
	got, err := img.Digest()
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if got.String() != tagged.digest.String() {
		return fmt.Errorf("%s is %v, want %s", ref, got, tagged.digest)
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	exists, err := reg.ManifestExists(repo, v1.Hash{Algorithm: "sha256", Hex: untagged.digest.Encoded()})
	if err != nil {
		return err
	}
	if exists != untaggedKept {
		return fmt.Errorf("untagged manifest %s@%s: exists %v, want %v", repo, untagged.digest, exists, untaggedKept)
	}
	return nil
}

// sameFiles compares the files (paths and sizes) of two copies, on this
// machine's disk. On the filesystem those are the store's files. On
// MinIO they are the objects' xl.meta files: MinIO keeps an unversioned
// object on one drive as a directory that holds them, and deletes it by
// moving that directory out of the bucket, so the same files are the
// same objects. Listing 800,000 objects through MinIO took many minutes
// per copy, and the case lists both copies before and after each run.
func sameFiles(ctx context.Context, a, b string) error {
	filesA, err := filesBelow(ctx, a)
	if err != nil {
		return err
	}
	filesB, err := filesBelow(ctx, b)
	if err != nil {
		return err
	}
	var diff []string
	for p, size := range filesA {
		if s, ok := filesB[p]; !ok || s != size {
			diff = append(diff, "differs or only in the reference's copy: "+p)
		}
	}
	for p := range filesB {
		if _, ok := filesA[p]; !ok {
			diff = append(diff, "only in our copy: "+p)
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		return fmt.Errorf("the copies differ in %d files, first: %v", len(diff), diff[:min(len(diff), 10)])
	}
	return nil
}
