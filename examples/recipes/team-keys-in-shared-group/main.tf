# A team owns its keys in a shared group. The platform team creates the group "shared-platform"
# (by hand, or in its own configuration with no `secrets`, `secrets_wo` or `initial_secrets`);
# the payments team manages only its own keys in it, with one truefoundry_secret per key. Other
# teams' keys, and keys people add in the UI, are never read, changed or deleted by this
# configuration; destroying it deletes exactly the keys below.
#
# Do not combine this with an authoritative group: a truefoundry_secret_group that sets
# `secrets`, `secrets_wo` or `initial_secrets` owns every key of its group, so each of its applies
# deletes the keys of truefoundry_secret resources, and each apply here creates them again. The
# two fight, like an aws_security_group with inline rules and aws_security_group_rule resources
# on the same group. The group's plan says so: its "Secrets Will Be Deleted" warning names them.
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "payments_db_password" {
  type      = string
  sensitive = true
}

data "truefoundry_secret_group" "shared" {
  fqn = "acme:shared-platform"
}

resource "truefoundry_secret" "payments_db_password" {
  secret_group_id = data.truefoundry_secret_group.shared.id
  key             = "PAYMENTS_DB_PASSWORD"
  value           = var.payments_db_password
}

resource "truefoundry_secret" "payments_db_host" {
  secret_group_id = data.truefoundry_secret_group.shared.id
  key             = "PAYMENTS_DB_HOST"
  value           = "payments-db.internal.example.com"
}

output "payments_refs" {
  value = {
    (truefoundry_secret.payments_db_password.key) = truefoundry_secret.payments_db_password.fqn
    (truefoundry_secret.payments_db_host.key)     = truefoundry_secret.payments_db_host.fqn
  }
}
