terraform {
  # Provider functions need Terraform 1.8 or newer.
  required_version = ">= 1.8"
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

# References as deployments hold them, for instance read from another state.
variable "references" {
  type = map(string)
  default = {
    DB_PASSWORD = "tfy-secret://acme:payments-api:DB_PASSWORD"
    STRIPE_KEY  = "tfy-secret://acme:shared-platform:STRIPE_KEY"
  }
}

locals {
  parts = { for name, reference in var.references : name => provider::truefoundry::parse_secret_fqn(reference) }
}

# The groups the references point into, by group FQN.
output "groups" {
  value = distinct([for part in values(local.parts) : "${part.tenant}:${part.group}"])
}

output "keys" {
  value = { for name, part in local.parts : name => part.key }
}
