# OpenTofu 1.9 and later: one provider configuration per registry from one
# map (provider for_each), the same policy on each, and one table of what
# goes where.
terraform {
  required_providers {
    registry = {
      source = "distreg/registry"
    }
  }
}

variable "registries" {
  type        = map(string)
  description = "Registry URLs by name; each gets the same policy."
}

provider "registry" {
  alias    = "by_name"
  for_each = var.registries
  url      = each.value
}

resource "registry_retention_policy" "web" {
  for_each     = var.registries
  provider     = registry.by_name[each.key]
  repositories = ["demo/*"]

  keep {
    tags = ["latest"]
  }
  keep {
    tag_regex = "^v"
    newest    = 3
    order_by  = "semver"
  }
  delete {
    tag_regex = "^(v|pr-)"
  }
}

output "summary" {
  description = "Tags, manifests and bytes each registry's apply deletes, by registry host."
  value = {
    for name, p in registry_retention_policy.web :
    p.summary.registry => { name = name, tags = p.summary.tags, manifests = p.summary.manifests, bytes = p.summary.bytes }
  }
}
