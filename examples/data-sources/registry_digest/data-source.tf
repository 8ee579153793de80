# What does "latest" really point at?
data "registry_digest" "latest" {
  repository = "payments/api"
  tag        = "latest"
}

output "latest_digest" {
  value = data.registry_digest.latest.digest
}

# For a multi-platform image, the per-platform children.
output "latest_platforms" {
  value = [for p in data.registry_digest.latest.platforms : "${p.os}/${p.architecture}${p.variant == "" ? "" : "/${p.variant}"}"]
}
