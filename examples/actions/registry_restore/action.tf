# Terraform >= 1.14:
#
#   terraform apply -invoke=action.registry_restore.releases
#
# restores the images these tags were on when an apply deleted them, and
# nothing else, printing each image and tag it puts back.
action "registry_restore" "releases" {
  config {
    repository = "payments/api"
    tags       = ["v1.4.0", "v1.4.1"]
  }
}

# Everything one apply deleted (apply ids: data source registry_journal).
action "registry_restore" "apply" {
  config {
    apply_id = "20261206T101010Z-0a1b2c3d4e5f"
  }
}
