# Deleting images frees no disk space: garbage collection does. Except for a
# dry run it needs the registry in read-only mode, and the registry must be
# restarted afterwards (see the "Garbage collection" guide).

resource "registry_retention_policy" "apps" {
  repositories = ["team/*"]

  keep {
    newest   = 20
    order_by = "created"
  }
  delete {}
}

# After every apply in which the policy deletes something, a dry run reports
# what garbage collection would free. A dry run deletes nothing and needs no
# read-only registry, so it can follow the deletions in the same apply.
resource "registry_garbage_collection" "preview" {
  config_file     = "/etc/distribution/config.yml" # read on the machine running Terraform
  delete_untagged = true
  dry_run         = true

  # A change of triggers runs it again. `applied.deletions_id` changes with
  # each apply in which the policy deleted something, and only then (its
  # `id`, the repository patterns, never changes; `deletions` is emptied by
  # the next refresh, so a trigger on it would run again on the next plan).
  triggers = {
    deletions = registry_retention_policy.apps.applied.deletions_id
  }
}

# The real run, in a maintenance window: put the registry in read-only mode
# and restart it, run `terraform apply -var registry_read_only=true`, then
# disable read-only mode and restart it again. The next ordinary apply removes
# the resource from the state, which deletes nothing.
variable "registry_read_only" {
  type        = bool
  default     = false
  description = "True while the registry runs in read-only mode: garbage collection may run."
}

resource "registry_garbage_collection" "maintenance" {
  count = var.registry_read_only ? 1 : 0

  config_file     = "/etc/distribution/config.yml"
  delete_untagged = true
}

output "reclaimable" {
  value = registry_garbage_collection.preview.summary # e.g. "dry run, would delete 412 blobs (3.1 GiB), ..."
}

output "freed_bytes" {
  value = one(registry_garbage_collection.maintenance[*].bytes_freed)
}
