# Delete the image that "v1.9" points at. The plan lists every tag on that
# digest in removed_tags: if "latest" shares it, "latest" goes too.
resource "registry_manifest_deletion" "v1_9" {
  repository = "payments/api"
  tag        = "v1.9"
}

# Delete a manifest by digest, keeping its signatures (the default deletes
# them with it: a signature without its image is garbage).
resource "registry_manifest_deletion" "broken_build" {
  repository       = "payments/api"
  digest           = "sha256:3b1f0d5f9c2a6e8b7d4c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
  delete_referrers = false
}

output "also_removed" {
  value = registry_manifest_deletion.v1_9.removed_tags
}
