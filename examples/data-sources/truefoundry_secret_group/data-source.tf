terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

data "truefoundry_secret_group" "shared" {
  fqn = "acme:shared-config"
}

# Secret references for a deployment's environment, by key.
output "shared_refs" {
  value = data.truefoundry_secret_group.shared.secret_fqns
}
