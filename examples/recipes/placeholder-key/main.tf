# A key whose value humans set in the TrueFoundry UI. Terraform manages that the key exists and
# who may see it, and never reads or overwrites the value.
#
# TrueFoundry cannot create a key without a value, so the first apply needs one: give a
# placeholder value once, apply, then remove `value` (the key becomes unmanaged, nothing is sent).
terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

resource "truefoundry_secret_group" "vendor" {
  name = "vendor-integrations"
  secrets = {
    PARTNER_API_KEY = {}
  }
}
