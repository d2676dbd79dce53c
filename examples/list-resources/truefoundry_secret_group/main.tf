# `list` blocks live in files ending in .tfquery.hcl, beside the configuration that declares the
# provider; `terraform query` reads them.
terraform {
  required_version = ">= 1.14"
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}
