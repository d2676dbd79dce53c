# By the secret's reference, with or without its tfy-secret:// prefix: <tenant>:<group>:<key>.
terraform import truefoundry_secret.stripe acme:shared-platform:STRIPE_KEY
terraform import truefoundry_secret.stripe tfy-secret://acme:shared-platform:STRIPE_KEY
