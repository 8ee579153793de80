# What applies deleted from payments/api, newest first, and whether each
# image can still be restored (until garbage collection frees its blobs).
data "registry_journal" "api" {
  repository = "payments/api"
}

output "deleted" {
  value = [
    for e in data.registry_journal.api.entries :
    "${e.deleted_at} ${e.apply_id} ${e.digest} [${join(", ", e.tags)}] ${e.present ? "back" : e.restorable ? "restorable" : "expired"}"
  ]
}
