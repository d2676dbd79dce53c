# A module with offline tests: `terraform test` (Terraform 1.6 or newer) runs tests/*.tftest.hcl
# against the local emulator started with emulator.json, so no TrueFoundry account is needed.
# The provider reads TFY_HOST and TFY_API_KEY; see "Testing your modules offline" in the README.
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

provider "truefoundry" {}

variable "name" {
  description = "Name of the secret group."
  type        = string
  default     = "module-under-test"
}

variable "secrets" {
  description = "Key to value of the group's secrets."
  type        = map(string)
  sensitive   = true
  default = {
    DB_USER   = "app"
    LOG_LEVEL = "info"
  }
}

resource "truefoundry_secret_group" "this" {
  name    = var.name
  secrets = var.secrets
}

output "fqn" {
  value = truefoundry_secret_group.this.fqn
}

output "secret_fqns" {
  description = "What deployments put in their environment to reference each secret."
  value       = truefoundry_secret_group.this.secret_fqns
}

output "secret_versions" {
  description = "Latest version of each secret; it grows by one each time a value changes."
  value       = truefoundry_secret_group.this.secret_versions
}
