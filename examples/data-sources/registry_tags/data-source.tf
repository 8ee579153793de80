# Release tags, highest version first.
data "registry_tags" "releases" {
  repository = "payments/api"
  tag_regex  = "^v[0-9]+\\.[0-9]+\\.[0-9]+$"
  order_by   = "semver"
}

# Every tag, newest image first, with the digest each tag points at. Tags
# that share a digest are one image: deleting that digest removes them all.
data "registry_tags" "by_age" {
  repository   = "payments/api"
  order_by     = "created"
  with_details = true
}

output "latest_release" {
  value = try(data.registry_tags.releases.tags[0], null)
}

output "tags_sharing_latest" {
  value = [
    for d in data.registry_tags.by_age.details : d.tag
    if d.digest == one([for x in data.registry_tags.by_age.details : x.digest if x.tag == "latest"])
  ]
}
