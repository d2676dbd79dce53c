# Every secret group of the tenant whose name contains "payments": `terraform query` prints each
# group's FQN; `terraform query -generate-config-out=generated.tf` writes a resource and an import
# block per group, without secret maps (the keys stay unmanaged, no value is read or written).
list "truefoundry_secret_group" "payments" {
  provider = truefoundry

  config {
    search = "payments"
  }
}
