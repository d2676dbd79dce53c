# Moving a key from `secrets` (value kept in state) to `secrets_wo` (never in state).
# Write-only values need Terraform 1.11 or later.
#
# 1. Before: secrets = { DB_PASSWORD = var.db_password }
# 2. After (this file): the move itself sends nothing, so no new secret version is made; the value
#    leaves the state at this apply. To rotate later, change the value and bump its entry in
#    secrets_wo_versions.
# 3. Back again (secrets = { DB_PASSWORD = var.db_password }, the key out of both write-only
#    maps): the plan reads the key's value from TrueFoundry and compares it, so the same value is
#    not sent again (its version stays known in the plan) and a different one is sent. An API
#    key that may not read values cannot compare: the value is then sent.
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

  secrets_wo = {
    DB_PASSWORD = var.db_password
  }
  secrets_wo_versions = {
    DB_PASSWORD = "1"
  }
}
