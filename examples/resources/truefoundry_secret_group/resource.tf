terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "db_password" {
  type      = string
  sensitive = true
}

resource "truefoundry_secret_group" "payments" {
  name             = "payments-prod"
  integration_fqn  = "acme:aws:main:secret-store:ssm"
  owned_by_account = "acme-account"

  collaborators = [
    { subject = "team:payments", role_id = "secret-group-editor" },
    { subject = "user:ops@example.com", role_id = "secret-group-admin" },
  ]

  # Kept in state (sensitive), checked for drift, sent only when a value changes.
  secrets = {
    DB_PASSWORD = var.db_password
    DB_HOST     = "db.internal.example.com"
  }

  # Sent only when the key does not exist yet; afterwards the value belongs to people or a
  # rotation job: Terraform never reads, compares or overwrites it.
  initial_secrets = {
    PARTNER_API_KEY = "set-me"
  }

  # On Terraform >= 1.11, secrets_wo and secrets_wo_versions keep values out of plan and state.

  # Keys that deployments still reference are not deleted (dropped from the maps, or with the
  # group) unless this is true: the plan or apply stops, naming them.
  delete_in_use = false
}

# What deployments reference: tfy-secret://<tenant>:payments-prod:DB_PASSWORD
output "db_password_ref" {
  value = truefoundry_secret_group.payments.secret_fqns["DB_PASSWORD"]
}
