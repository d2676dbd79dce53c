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
  name = "payments-prod"

  collaborators = [
    { subject = "team:payments", role_id = "secret-group-editor" },
    { subject = "user:ops@example.com", role_id = "secret-group-admin" },
  ]

  secrets = {
    # Value kept in state (sensitive), sent only when it changes.
    DB_PASSWORD = { value = var.db_password }
    DB_HOST     = { value = "db.internal.example.com" }
  }
}

# What deployments reference: tfy-secret://<tenant>:payments-prod:DB_PASSWORD
output "db_password_ref" {
  value = truefoundry_secret_group.payments.secret_fqns["DB_PASSWORD"]
}
