# Remove preview tags without touching any other tag: "latest" survives even
# when it points at the same image as "pr-41".
resource "registry_tag_deletion" "previews" {
  repository = "payments/api"
  tags       = ["pr-41", "pr-42"]

  # Also delete an image once no tag points at it any more, so that garbage
  # collection can free its space.
  delete_untagged_manifests = true
}
