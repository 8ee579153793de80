# Keep what is deployed, whatever the rules say, and show what a cleanup
# frees before it runs. Feed deployed_images from what runs: a Kubernetes
# cluster's pods, ECS task definitions (see the "Deployed images and space"
# guide); references to other registries are ignored and counted.
terraform {
  required_providers {
    registry = {
      source = "distreg/registry"
    }
  }
}

variable "repositories" {
  type        = list(string)
  description = "Repository patterns the policy covers."
}

variable "deployed_images" {
  type        = list(string)
  description = "Image references as deployments name them: a pod's image and imageID, an ECS container's image."
}

resource "registry_retention_policy" "this" {
  repositories   = var.repositories
  estimate_space = true

  keep {
    images = var.deployed_images
  }
  keep {
    tag_regex = "^v"
    newest    = 3
    order_by  = "semver"
  }
  delete {}
}

output "summary" {
  description = "Tags, manifests and bytes the apply removes, in all and per repository."
  value       = registry_retention_policy.this.summary
}

output "protected" {
  description = "What the deployed images keep from the delete rule, and why."
  value       = [for p in registry_retention_policy.this.protected : "${p.repository}@${p.digest} ${join(",", p.tags)}: ${p.reason}"]
}
