terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "stripe_key" {
  type      = string
  sensitive = true
}

# No secret maps: the group leaves its keys to truefoundry_secret resources, people and others.
resource "truefoundry_secret_group" "shared" {
  name = "shared-platform"
}

resource "truefoundry_secret" "stripe" {
  secret_group_id = truefoundry_secret_group.shared.id
  key             = "STRIPE_KEY"
  value           = var.stripe_key

  # Destroying a secret that deployments still use fails unless this is true.
  delete_in_use = false

  # On Terraform >= 1.11, value_wo and value_wo_version keep the value out of plan and state:
  #   value_wo         = var.stripe_key
  #   value_wo_version = "1"
}

# What deployments reference: tfy-secret://<tenant>:shared-platform:STRIPE_KEY
output "stripe_key_ref" {
  value = truefoundry_secret.stripe.fqn
}
