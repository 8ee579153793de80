# Keep releases forever, the newest 10 builds of main, anything pushed in
# the last week; delete preview images and anything older than 30 days.
resource "registry_retention_policy" "apps" {
  repositories = ["team/*", "tools/ci"]

  keep {
    tags = ["latest", "stable"]
  }
  keep {
    tag_regex = "^v[0-9]+\\.[0-9]+\\.[0-9]+$"
  }
  keep {
    tag_regex = "^main-"
    newest    = 10
    order_by  = "created"
  }
  keep {
    newer_than = "168h"
  }

  delete {
    tag_regex = "^pr-"
  }
  delete {
    older_than = "720h"
  }

  delete_referrers = true # signatures and SBOMs go with their image
  max_deletions    = 500  # a plan above this fails and deletes nothing
}

output "deleting" {
  value = [for d in registry_retention_policy.apps.deletions : "${d.repository}@${d.digest} ${join(",", d.tags)}: ${d.reason}"]
}
