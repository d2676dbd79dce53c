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

  # Ephemeral values may feed only write-only arguments: bump the version to copy again.
  secrets_wo = {
    API_TOKEN = ephemeral.truefoundry_secret_group.source.secret_values["API_TOKEN"]
  }
  secrets_wo_versions = {
    API_TOKEN = "1"
  }
}
