# Terraform (and OpenTofu): one provider configuration per registry
# (aliases), one module instance each, and one table of what goes where.
terraform {
  required_providers {
    registry = {
      source = "distreg/registry"
    }
  }
}

variable "primary_url" {
  type = string
}
variable "eu_url" {
  type = string
}
variable "us_url" {
  type = string
}

provider "registry" {
  alias = "primary"
  url   = var.primary_url
}
provider "registry" {
  alias = "eu"
  url   = var.eu_url
}
provider "registry" {
  alias = "us"
  url   = var.us_url
}

module "primary" {
  source    = "./policy"
  providers = { registry = registry.primary }
}
module "eu" {
  source    = "./policy"
  providers = { registry = registry.eu }
}
module "us" {
  source    = "./policy"
  providers = { registry = registry.us }
}

output "summary" {
  description = "Tags, manifests and bytes each registry's apply deletes, by registry host."
  value = {
    for s in [module.primary.summary, module.eu.summary, module.us.summary] :
    s.registry => { tags = s.tags, manifests = s.manifests, bytes = s.bytes }
  }
}
