terraform {
  required_version = ">= 1.11"
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

# Copy a value from one group to another without it ever touching plan or state.
ephemeral "truefoundry_secret_group" "source" {
  fqn = "acme:vendor-credentials"
}

resource "truefoundry_secret_group" "copy" {
  name = "vendor-credentials-staging"
  secrets = {
    API_TOKEN = {
      # Ephemeral values may feed only write-only arguments: bump the version to copy again.
      value_wo         = ephemeral.truefoundry_secret_group.source.secret_values["API_TOKEN"]
      value_wo_version = "1"
    }
  }
}
