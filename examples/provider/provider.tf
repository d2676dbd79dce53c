terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

# Credentials come from TFY_HOST and TFY_API_KEY when not set here.
provider "truefoundry" {
  host    = "https://acme.truefoundry.cloud"
  api_key = var.tfy_api_key
}

variable "tfy_api_key" {
  type      = string
  sensitive = true
}
