# Quickstart: a secret group with a few secrets and collaborators, read back by a data source.
# The provider reads TFY_HOST and TFY_API_KEY: scripts/demo points them at the local emulator;
# point them at your control plane to run the same configuration for real.
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

provider "truefoundry" {}

variable "db_password" {
  type      = string
  sensitive = true
  default   = "change-me-please"
}

resource "truefoundry_secret_group" "app" {
  name = "quickstart-app"

  collaborators = [
    { subject = "team:platform", role_id = "secret-group-admin" },
    { subject = "user:dev@example.com", role_id = "secret-group-viewer" },
  ]

  secrets = {
    DB_PASSWORD = var.db_password
    DB_USER     = "app"
    LOG_LEVEL   = "info"
  }
}

data "truefoundry_secret_group" "app" {
  id = truefoundry_secret_group.app.id
}

output "secret_fqns" {
  description = "What deployments put in their environment to reference each secret."
  value       = truefoundry_secret_group.app.secret_fqns
}

output "keys_seen_by_data_source" {
  value = data.truefoundry_secret_group.app.keys
}
