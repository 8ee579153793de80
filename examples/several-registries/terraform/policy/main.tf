# The policy every registry gets; the provider passed in decides which
# registry.
terraform {
  required_providers {
    registry = {
      source = "distreg/registry"
    }
  }
}

resource "registry_retention_policy" "this" {
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
  description = "What this registry's apply deletes: registry host, tags, manifests, bytes."
  value       = registry_retention_policy.this.summary
}
