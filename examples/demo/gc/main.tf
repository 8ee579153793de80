# Garbage collection after the cleanup, as `make demo` runs it once the
# deletions of ../main.tf are applied: deleting frees no disk, this does.
# It runs in its own workspace, as a maintenance step, while the registry
# is read-only (the demo serves the same storage read-only; in production,
# restart the registry with storage.maintenance.readonly enabled, run this,
# then restart it without).
terraform {
  required_providers {
    registry = {
      source = "distreg/registry"
    }
  }
}

variable "registry_url" {
  type        = string
  description = "Base URL of the registry, now read-only: the provider checks that it refuses pushes."
}

variable "storage_root" {
  type        = string
  description = "The registry's filesystem storage root (storage.filesystem.rootdirectory)."
}

provider "registry" {
  url = var.registry_url
}

# A dry run first: what would go, with nothing deleted.
resource "registry_garbage_collection" "preview" {
  storage_driver     = "filesystem"
  storage_parameters = { rootdirectory = var.storage_root }
  delete_untagged    = true
  dry_run            = true
}

resource "registry_garbage_collection" "sweep" {
  storage_driver     = "filesystem"
  storage_parameters = { rootdirectory = var.storage_root }
  delete_untagged    = true
  depends_on         = [registry_garbage_collection.preview]
}

output "dry_run" {
  description = "What the dry run found."
  value       = registry_garbage_collection.preview.summary
}

output "garbage_collected" {
  description = "What garbage collection deleted."
  value       = registry_garbage_collection.sweep.summary
}

output "bytes_freed" {
  description = "Disk space freed."
  value       = registry_garbage_collection.sweep.bytes_freed
}
