# The demo configuration `make demo` applies against two registries it
# starts and seeds with sample images (distribution v3 in process, and
# distribution 2.8). Run it yourself against your own:
#   terraform apply -var registry_url=https://a.example.com -var second_registry_url=https://b.example.com
terraform {
  required_providers {
    registry = {
      source = "distreg/registry"
    }
  }
}

variable "registry_url" {
  type        = string
  description = "Base URL of the registry to inspect."
}

variable "second_registry_url" {
  type        = string
  description = "Base URL of a second registry the same retention policy applies to."
}

provider "registry" {
  url = var.registry_url
}

provider "registry" {
  alias = "second"
  url   = var.second_registry_url
}

# One policy module, two registries: both end with the same tags.
module "retention_first" {
  source       = "./retention"
  repositories = ["demo/web"]
}

module "retention_second" {
  source       = "./retention"
  repositories = ["demo/web"]
  providers = {
    registry = registry.second
  }
}

data "registry_tags" "web_first" {
  repository = "demo/web"
  order_by   = "semver"
  depends_on = [module.retention_first]
}

data "registry_tags" "web_second" {
  provider   = registry.second
  repository = "demo/web"
  order_by   = "semver"
  depends_on = [module.retention_second]
}

output "web_tags_left" {
  description = "demo/web after the retention policy, in each registry."
  value = {
    first  = data.registry_tags.web_first.tags
    second = data.registry_tags.web_second.tags
  }
}

output "retention_deleted" {
  description = "What the policy deleted in the first registry."
  value       = module.retention_first.deletions
}

data "registry_repositories" "all" {}

data "registry_tags" "app" {
  repository   = "demo/app"
  order_by     = "semver"
  with_details = true
}

data "registry_digest" "latest" {
  repository = "demo/app"
  tag        = "latest"
}

data "registry_digest" "multi" {
  repository = "demo/multi"
  tag        = "latest"
}

# Remove the preview tags; delete their images once no tag points at them.
resource "registry_tag_deletion" "previews" {
  repository                = "demo/app"
  tags                      = ["pr-41", "pr-42"]
  delete_untagged_manifests = true
}

# Delete the oldest release by tag: the plan lists every tag on its digest.
resource "registry_manifest_deletion" "oldest" {
  repository = "demo/app"
  tag        = "v1.0.0"
}

# Read again once the deletions are done.
data "registry_tags" "after" {
  repository = "demo/app"
  order_by   = "semver"
  depends_on = [registry_tag_deletion.previews, registry_manifest_deletion.oldest]
}

output "repositories" {
  description = "Every repository in the catalog."
  value       = data.registry_repositories.all.names
}

output "app_tags_by_version" {
  description = "demo/app tags, highest version first, before the deletions."
  value       = data.registry_tags.app.tags
}

output "app_tags_after_deletions" {
  description = "demo/app tags once the deletions are applied: no pr-*, no v1.0.0."
  value       = data.registry_tags.after.tags
}

output "tags_deleted_with_latest_digest" {
  description = "Deleting the manifest behind demo/app:latest would remove all of these tags."
  value       = [for d in data.registry_tags.app.details : d.tag if d.digest == data.registry_digest.latest.digest]
}

output "multi_platforms" {
  description = "Children of the multi-platform image demo/multi:latest."
  value       = [for p in data.registry_digest.multi.platforms : "${p.os}/${p.architecture}${p.variant == "" ? "" : "/${p.variant}"} ${p.digest}"]
}
