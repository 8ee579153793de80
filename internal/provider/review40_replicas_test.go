package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A deployment in the replica's region runs the replica's copy of an
// image (keep { images } gets the cluster's image list as it is, as the
// docs advise: "<replica host>/app@sha256:..."). The primary counts that
// reference as another registry's (other_registry_images) and deletes the
// digest; the replica then follows and deletes the image its own
// deployment runs: the replica's pods cannot pull it again. Neither the
// replica's plan nor its apply looks at the deployed images, and the docs
// say nothing about deployed images on replicas.
func TestAccReview40_replicaDeletesAnImageDeployedFromIt(t *testing.T) {
	primary, replica := startRegistry(t), testregistry.Start(t)
	for _, tag := range []string{"v1", "v2", "v3"} {
		mustPush(t, primary, "app", tag)
		if err := primary.CopyTo(replica, "app", tag); err != nil {
			t.Fatal(err)
		}
	}
	deployed := mustPush(t, primary, "app", "v0").Digest // the replica's region still runs v0
	if err := primary.CopyTo(replica, "app", "v0"); err != nil {
		t.Fatal(err)
	}
	config := providerBlock(primary, "") + `
resource "registry_retention_policy" "this" {
  repositories = ["app"]
` + replicaConfig(replica) + fmt.Sprintf(`
  keep {
    images = [%q] # a pod in the replica's region, as Kubernetes reports it
  }
  keep {
    newest   = 2
    order_by = "name"
  }
  delete {}
}
`, replica.Host+"/app:v0@"+deployed.String())
	accTest(t, resource.TestStep{
		Config: config,
		Check: resource.ComposeTestCheckFunc(
			expectRegistryTags(replica, "app", "v0", "v2", "v3"),
			expectManifests(replica, "app", true, deployed),
		),
	})
}
