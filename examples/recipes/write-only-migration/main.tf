# Migrating a key from `value` (kept in state) to `value_wo` (never in state), Terraform 1.11+.
#
# 1. Before: DB_PASSWORD = { value = var.db_password }
# 2. After (this file): the switch itself sends nothing, so no new secret version is made;
#    the value leaves the state at this apply. Later rotations: change the value and bump
#    value_wo_version.
terraform {
  required_version = ">= 1.11"
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "db_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "truefoundry_secret_group" "app" {
  name = "app-secrets"
  secrets = {
    DB_PASSWORD = { value_wo = var.db_password, value_wo_version = "1" }
  }
}
