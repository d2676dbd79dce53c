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
  secrets = {
    # Filled in by each tenant's operators; Terraform only guarantees the key exists.
    DATADOG_API_KEY = {}
  }
}

output "refs" {
  value = truefoundry_secret_group.observability.secret_fqns
}
