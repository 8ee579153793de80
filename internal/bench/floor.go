package main

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The floors are the least work that answers each question: one puller
// (one pool, one token per scope), every tag page, then per tag only the
// requests the answer needs, at the provider's concurrency. No retries,
// no caching, no conversion.

type tagWork func(ctx context.Context, puller *remote.Puller, ref name.Tag) error

func eachTag(ctx context.Context, reg *testregistry.Registry, repos []string, work tagWork) error {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = concurrency
	puller, err := remote.NewPuller(append(reg.RemoteOptions(), remote.WithTransport(transport), remote.WithContext(ctx))...)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, r := range repos {
		repo, err := name.NewRepository(reg.Host+"/"+r, name.Insecure)
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
func floorDescribe(ctx context.Context, reg *testregistry.Registry, repos []string) error {
	return eachTag(ctx, reg, repos, describeTag)
}

// floorHead: the digest of every tag (HEAD).
func floorHead(ctx context.Context, reg *testregistry.Registry, repos []string) error {
	return eachTag(ctx, reg, repos, func(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
		_, err := puller.Head(ctx, ref)
		return err
	})
}

// floorDeleteAllButNewest: what (a) reads, then a DELETE per image that
// keep-newest-10-by-created drops (the seed makes tag i the i-th oldest).
func floorDeleteAllButNewest(ctx context.Context, reg *testregistry.Registry, repos []string) error {
	return eachTag(ctx, reg, repos, func(ctx context.Context, puller *remote.Puller, ref name.Tag) error {
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
		return remote.Delete(ref.Context().Digest(desc.Digest.String()), append(reg.RemoteOptions(), remote.WithContext(ctx))...)
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
