# One provider block per registry. Credentials can also come from the
# environment: REGISTRY_URL, REGISTRY_USERNAME, REGISTRY_PASSWORD, REGISTRY_TOKEN.
provider "registry" {
  url      = "https://registry.example.com"
  username = "ci"
  password = var.registry_password

  max_concurrency    = 8
  retry_max_attempts = 5
  request_timeout    = "30s"
}

# A second registry, managed from the same configuration.
provider "registry" {
  alias         = "staging"
  url           = "https://registry.staging.example.com"
  docker_config = true # credentials from ~/.docker/config.json or a credential helper
  ca_pem        = file("${path.module}/staging-ca.pem")
}

variable "registry_password" {
  type      = string
  sensitive = true
}
