package provider

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccDigestDataSource_index(t *testing.T) {
	reg := startRegistry(t)
	created := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	index, children, err := reg.PushIndex("multi/app", platforms, created, "1.0", "latest")
	if err != nil {
		t.Fatal(err)
	}
	platform := func(arch, variant string, digest v1.Hash) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"os":           knownvalue.StringExact("linux"),
			"architecture": knownvalue.StringExact(arch),
			"variant":      knownvalue.StringExact(variant),
			"digest":       knownvalue.StringExact(digest.String()),
		})
	}
	const address = "data.registry_digest.app"
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
data "registry_digest" "app" {
  repository = "multi/app"
  tag        = "latest"
}`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(address, tfjsonpath.New("digest"), knownvalue.StringExact(index.String())),
			statecheck.ExpectKnownValue(address, tfjsonpath.New("media_type"), knownvalue.StringExact("application/vnd.oci.image.index.v1+json")),
			statecheck.ExpectKnownValue(address, tfjsonpath.New("created"), knownvalue.StringExact("2026-04-01T12:00:01Z")),
			statecheck.ExpectKnownValue(address, tfjsonpath.New("platforms"), knownvalue.ListExact([]knownvalue.Check{
				platform("amd64", "", children[0]),
				platform("arm64", "v8", children[1]),
			})),
		},
	})
}

func TestAccDigestDataSource_image(t *testing.T) {
	reg := startRegistry(t)
	img := mustPush(t, reg, "single/app", "v1")
	const address = "data.registry_digest.app"
	accTest(t,
		resource.TestStep{
			Config: providerBlock(reg, "") + `
data "registry_digest" "app" {
  repository = "single/app"
  tag        = "v1"
}`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(address, tfjsonpath.New("digest"), knownvalue.StringExact(img.Digest.String())),
				statecheck.ExpectKnownValue(address, tfjsonpath.New("size"), knownvalue.Int64Exact(img.Size)),
				statecheck.ExpectKnownValue(address, tfjsonpath.New("created"), knownvalue.Null()),
				statecheck.ExpectKnownValue(address, tfjsonpath.New("platforms"), knownvalue.ListSizeExact(0)),
			},
		},
		resource.TestStep{
			Config: providerBlock(reg, "") + `
data "registry_digest" "app" {
  repository = "single/app"
  tag        = "v2"
}`,
			ExpectError: errorLike(`no such tag or digest in repository "single/app"`),
		},
	)
}
