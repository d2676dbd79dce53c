terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "tenant" {
  type = string
}

resource "truefoundry_secret_group" "observability" {
  name = "observability-${var.tenant}"

  # Each tenant's operators replace the placeholder; Terraform never overwrites their value.
  initial_secrets = {
    DATADOG_API_KEY = "set-me"
  }
}

output "refs" {
  value = truefoundry_secret_group.observability.secret_fqns
}
