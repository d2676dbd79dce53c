terraform {
  # Provider functions need Terraform 1.8 or newer.
  required_version = ">= 1.8"
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

# A group this configuration manages: its fqn is known at plan, and so are the references.
resource "truefoundry_secret_group" "payments" {
  name    = "payments-api"
  secrets = { DB_PASSWORD = "example-only" }
}

# Keys another team writes into a shared group: the references a deployment's environment
# uses, built without reading the group or its values.
locals {
  shared_env = {
    for key in ["STRIPE_KEY", "SENTRY_DSN"] :
    key => provider::truefoundry::secret_fqn("acme:shared-platform", key)
  }
}

output "env" {
  value = merge(local.shared_env, {
    DB_PASSWORD = provider::truefoundry::secret_fqn(truefoundry_secret_group.payments.fqn, "DB_PASSWORD")
  })
}
