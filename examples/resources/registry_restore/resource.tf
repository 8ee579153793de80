# Bring back releases a too-wide retention policy deleted (fix the policy
# first, or its next apply deletes them again). The plan lists each image
# and the tags it gets back; a tag pushed onto another image since is left
# there unless overwrite_moved_tags = true.
resource "registry_restore" "releases" {
  repository = "payments/api"
  tags       = ["v1.4.0", "v1.4.1"]
}

# Everything one apply deleted, as the journal names it.
data "registry_journal" "api" {
  repository = "payments/api"
}

resource "registry_restore" "last_apply" {
  apply_id = data.registry_journal.api.entries[0].apply_id
}

# One image by digest, in every repository it was deleted from.
resource "registry_restore" "one" {
  digests              = ["sha256:5791e122f5d52759c717c03325c7aa16ac691dd908bb2cf55434b1a7e52e603f"]
  overwrite_moved_tags = true
}
