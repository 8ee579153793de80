# Every repository of team "payments".
data "registry_repositories" "payments" {
  prefix = "payments/"
}

# Repositories whose name ends in "-api".
data "registry_repositories" "apis" {
  regex = "-api$"
}

output "payment_repositories" {
  value = data.registry_repositories.payments.names
}
