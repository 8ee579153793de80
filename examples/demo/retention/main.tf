# One retention policy, applied to any registry: the provider passed in
# decides which.
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

resource "registry_retention_policy" "this" {
  repositories = var.repositories

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

output "deletions" {
  description = "What the policy deleted: digest, tags and the rule."
  value       = [for d in registry_retention_policy.this.deletions : "${d.action} ${join(",", d.tags)}: ${d.reason}"]
}
