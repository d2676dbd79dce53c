# By id, or by FQN <tenant>:<name>. Keys come in with their values when readable.
terraform import truefoundry_secret_group.payments cm1a2b3c4d5e6f7g8h9i0j1k2l
terraform import truefoundry_secret_group.payments acme:payments-prod

# Keys and versions only, never values: for groups whose secrets are managed with secrets_wo.
terraform import truefoundry_secret_group.payments write-only:acme:payments-prod

# Terraform 1.12+: an import block may name the group by its identity instead of an id
# (the same import as by <tenant>:<name>):
#   import {
#     to       = truefoundry_secret_group.payments
#     identity = { tenant = "acme", name = "payments-prod" }
#   }
