# The keys of one secret group, never their values. With `include_resource` (implied by
# `-generate-config-out`) each comes as a `truefoundry_secret` without `value` or `value_wo`: the
# imported resource keeps the key and leaves its value alone.
list "truefoundry_secret" "payments_prod" {
  provider         = truefoundry
  include_resource = true

  config {
    group = "acme:payments-prod"
  }
}
