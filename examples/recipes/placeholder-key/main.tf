# A key whose value people set in the TrueFoundry UI (or a rotation job does). Terraform creates
# the key with a placeholder and manages who may see the group; it never reads, compares or
# overwrites the value afterwards. A key deleted elsewhere is created again with the placeholder.
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

resource "truefoundry_secret_group" "vendor" {
  name = "vendor-integrations"

  collaborators = [
    { subject = "team:partners", role_id = "secret-group-editor" },
  ]

  initial_secrets = {
    PARTNER_API_KEY = "set-me"
  }
}
