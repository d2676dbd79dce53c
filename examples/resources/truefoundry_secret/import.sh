# By the secret's reference, with or without its tfy-secret:// prefix: <tenant>:<group>:<key>.
terraform import truefoundry_secret.stripe acme:shared-platform:STRIPE_KEY
terraform import truefoundry_secret.stripe tfy-secret://acme:shared-platform:STRIPE_KEY

# Terraform 1.12+: an import block may name the secret by its identity instead:
#   import {
#     to       = truefoundry_secret.stripe
#     identity = { tenant = "acme", group = "shared-platform", key = "STRIPE_KEY" }
#   }
