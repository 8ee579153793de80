# Terraform >= 1.14. In a maintenance window, with the registry in read-only
# mode and restarted:
#
#   terraform apply -invoke=action.registry_garbage_collect.now
#
# runs garbage collection, and nothing else, printing its progress. Then
# disable read-only mode and restart the registry again.
action "registry_garbage_collect" "now" {
  config {
    config_file     = "/etc/distribution/config.yml"
    delete_untagged = true
  }
}

# A dry run deletes nothing and needs no read-only registry: it can run right
# after the retention policy deletes images, to report what a run would free.
action "registry_garbage_collect" "preview" {
  config {
    config_file     = "/etc/distribution/config.yml"
    delete_untagged = true
    dry_run         = true
  }
}

resource "registry_retention_policy" "apps" {
  repositories = ["team/*"]

  keep {
    newest   = 20
    order_by = "created"
  }
  delete {}

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.registry_garbage_collect.preview]
    }
  }
}
