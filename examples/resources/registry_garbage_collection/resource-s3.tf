# A registry on S3 or an S3-compatible server (MinIO, Ceph): the driver and
# its parameters as under `storage.s3` in the registry's config.yml, every
# value a string. Without accesskey and secretkey, the AWS default credential
# chain of the machine running Terraform applies (environment, instance role).
resource "registry_garbage_collection" "s3" {
  storage_driver = "s3"
  storage_parameters = {
    bucket         = "acme-registry"
    region         = "eu-west-1"
    rootdirectory  = "/registry"
    accesskey      = var.s3_access_key
    secretkey      = var.s3_secret_key
    regionendpoint = "https://minio.internal:9000" # S3-compatible servers only
    forcepathstyle = "true"
  }
  delete_untagged = true

  # Applied in each maintenance window, with the registry read-only: a new
  # value runs garbage collection again.
  triggers = {
    window = var.maintenance_window
  }
}

variable "s3_access_key" {
  type      = string
  sensitive = true
}

variable "s3_secret_key" {
  type      = string
  sensitive = true
}

variable "maintenance_window" {
  type        = string
  description = "Names the maintenance window, e.g. its date."
}
