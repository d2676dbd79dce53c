# No API key anywhere: in HCP Terraform, the workspace variable
# TFC_WORKLOAD_IDENTITY_AUDIENCE_TRUEFOUNDRY = "truefoundry" (an environment variable) makes every
# run phase get TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY, a token signed by HCP Terraform that
# TrueFoundry's identity provider maps to a virtual account. TFY_HOST names the control plane.
# In GitHub Actions, set `oidc_audience` (or TFY_OIDC_AUDIENCE) instead; on Kubernetes,
# `oidc_token_file` (or TFY_OIDC_TOKEN_FILE) pointing at a projected service-account token.
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

provider "truefoundry" {}

variable "db_password" {
  type      = string
  sensitive = true
}

resource "truefoundry_secret_group" "payments" {
  name = "payments-ci"
  collaborators = [
    { subject = "team:payments", role_id = "secret-group-viewer" },
  ]
  secrets = {
    DB_PASSWORD = var.db_password
  }
}

output "db_password_ref" {
  value = truefoundry_secret_group.payments.secret_fqns["DB_PASSWORD"]
}
