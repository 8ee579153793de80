package main

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// floorListAndDescribe is the least work that answers "every tag with its
// digest and created time": one puller (one pool, one token per scope),
// every tag page, one manifest GET per tag and one config GET per image,
// at the provider's concurrency. No retries, no caching, no conversion.
func floorListAndDescribe(ctx context.Context, reg *testregistry.Registry, repos []string) error {
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
			g.Go(func() error { return describeTag(ctx, puller, repo.Tag(tag)) })
		}
	}
	return g.Wait()
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
