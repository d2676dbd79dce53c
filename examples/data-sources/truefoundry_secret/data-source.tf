terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

# One secret of a group managed elsewhere, by the reference deployments use. Without
# `include_value = true` its value is not read, and stays out of the state.
data "truefoundry_secret" "api_token" {
  fqn = "tfy-secret://acme:shared-config:API_TOKEN"
}

output "api_token_version" {
  value = data.truefoundry_secret.api_token.version
}

output "api_token_group" {
  value = data.truefoundry_secret.api_token.secret_group_id
}
