package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// The floors are the least work that answers each question: one puller
// (one pool, one token per scope), every tag page, then per tag only the
// requests the answer needs, at the provider's concurrency. No retries,
// no caching, no conversion. The bench registry is anonymous, so a floor
// needs only its URL.

type floor func(ctx context.Context, url string, repos []string) error

var floors = map[string]floor{
	"describe":              floorDescribe,
	"head":                  floorHead,
	"get":                   floorGet,
	"delete-all-but-newest": floorDeleteAllButNewest,
	// the scale bench's apply (by semver): a HEAD per tag, a DELETE per
	// image that keep-newest-10 drops.
	"head-delete-all-but-newest": floorHeadDeleteAllButNewest,
}

type tagWork func(ctx context.Context, puller *remote.Puller, ref name.Tag) error

func eachTag(ctx context.Context, url string, repos []string, work tagWork) error {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = concurrency
	puller, err := remote.NewPuller(remote.WithTransport(transport), remote.WithContext(ctx))
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, r := range repos {
		repo, err := name.NewRepository(strings.TrimPrefix(url, "http://")+"/"+r, name.Insecure)
		if err != nil {
			return err
		}
		tags, err := puller.List(ctx, repo)
		if err != nil {
			return err
		}
		for _, tag := range tags {
			g.Go(func() error { return work(ctx, puller, repo.Tag(tag)) })
		}
	}
	return g.Wait()
}

// floorDescribe: digest and created time of every tag (GET + config).
func floorDescribe(ctx context.Context, url string, repos []string) error {
	return eachTag(ctx, url, repos, describeTag)
}

// floorHead: the digest of every tag (HEAD).
func floorHead(ctx context.Context, url string, repos []string) error {
	return eachTag(ctx, url, repos, func(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
		_, err := puller.Head(ctx, ref)
		return err
	})
}

// floorGet: the body of every tag (GET), the least a retention plan can
// read: it must know the subject each staying OCI image names (a subject
// stays with it), which only the body says, and the apply journals the
// bodies of what it deletes (the plan's read is reused for that).
func floorGet(ctx context.Context, url string, repos []string) error {
	return eachTag(ctx, url, repos, func(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
		_, err := puller.Get(ctx, ref)
		return err
	})
}

// floorDeleteAllButNewest: what (a) reads, then a DELETE per image that
// keep-newest-10-by-created drops (the seed makes tag i the i-th oldest).
func floorDeleteAllButNewest(ctx context.Context, url string, repos []string) error {
	return eachTag(ctx, url, repos, func(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
		if err := describeTag(ctx, puller, ref); err != nil {
			return err
		}
		if isNewest(ref.TagStr()) {
			return nil
		}
		desc, err := puller.Head(ctx, ref)
		if err != nil {
			return err
		}
		return remote.Delete(ref.Context().Digest(desc.Digest.String()), remote.WithContext(ctx))
	})
}

func floorHeadDeleteAllButNewest(ctx context.Context, url string, repos []string) error {
	return eachTag(ctx, url, repos, func(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
		desc, err := puller.Head(ctx, ref)
		if err != nil || isNewest(ref.TagStr()) {
			return err
		}
		return remote.Delete(ref.Context().Digest(desc.Digest.String()), remote.WithContext(ctx))
	})
}

func isNewest(tag string) bool {
	for i := tagsPerRepo - keepNewest; i < tagsPerRepo; i++ {
		if tagName(i) == tag {
			return true
		}
	}
	return false
}

func describeTag(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
	desc, err := puller.Get(ctx, ref)
	if err != nil {
		return err
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	_, err = img.ConfigFile() // fetches and parses the config, as the provider must for created
	return err
}

// floorChildArg makes this program run one floor and print its time: the
// floor for a Terraform run is measured in a process of its own, as the
// provider is one. A client in another process than the registry costs
// more than one sharing its process (README, "Performance"), and no real
// client shares the registry's process.
const floorChildArg = "-floor-in-child"

// runFloorChild is the child's side: args are the floor's name, the
// registry URL and the repositories.
func runFloorChild(ctx context.Context, args []string) error {
	if len(args) < 2 || floors[args[0]] == nil {
		return fmt.Errorf("usage: %s {describe|head|get|delete-all-but-newest|head-delete-all-but-newest} URL REPOSITORY [REPOSITORY ...]", floorChildArg)
	}
	start := time.Now()
	if err := floors[args[0]](ctx, args[1], args[2:]); err != nil {
		return err
	}
	fmt.Println(time.Since(start))
	return nil
}

// floorInChild times floor which in a new process of this program; the
// time is the child's own, without its start.
func floorInChild(ctx context.Context, which, url string, repos []string) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{floorChildArg, which, url}, repos...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("floor %s in a child process: %w", which, err)
	}
	return time.ParseDuration(strings.TrimSpace(string(out)))
}
