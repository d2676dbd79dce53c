# One module, reused for two tenants: one provider alias per tenant.
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "acme_host" {
  type    = string
  default = "https://acme.truefoundry.cloud"
}

variable "acme_api_key" {
  type      = string
  sensitive = true
}

variable "globex_host" {
  type    = string
  default = "https://globex.truefoundry.cloud"
}

variable "globex_api_key" {
  type      = string
  sensitive = true
}

provider "truefoundry" {
  alias   = "acme"
  host    = var.acme_host
  api_key = var.acme_api_key
}

provider "truefoundry" {
  alias   = "globex"
  host    = var.globex_host
  api_key = var.globex_api_key
}

module "acme" {
  source    = "./modules/team-secrets"
  providers = { truefoundry = truefoundry.acme }
  tenant    = "acme"
}

module "globex" {
  source    = "./modules/team-secrets"
  providers = { truefoundry = truefoundry.globex }
  tenant    = "globex"
}

output "refs" {
  value = {
    acme   = module.acme.refs
    globex = module.globex.refs
  }
}
