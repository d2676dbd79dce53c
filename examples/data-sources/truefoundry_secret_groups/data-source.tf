terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

# Every secret group of the tenant whose name contains "payments".
data "truefoundry_secret_groups" "payments" {
  search = "payments"
}

# The keys of each of those groups, by group FQN.
output "payments_keys" {
  value = { for group in data.truefoundry_secret_groups.payments.groups : group.fqn => group.keys }
}
