//! The one check that canaries (values, keys and tokens a test planted) stayed out of a text or a
//! diagnostic: a secret value must never reach an error, a log line, state or a diagnostic.

use truefoundry_provider::diag::Diagnostics;

/// Fails naming `place` (an error, a log line, Terraform's output …) when any of `canaries` is
/// in `text`.
#[track_caller]
pub fn assert_no_canary(canaries: &[&str], place: &str, text: &str) {
    for canary in canaries {
        assert!(
            !text.contains(canary),
            "canary {canary:?} leaked into {place}: {text}"
        );
    }
}

/// [`assert_no_canary`] for the summary and the detail of every one of `diagnostics`.
#[track_caller]
pub fn assert_no_canary_in_diagnostics(canaries: &[&str], place: &str, diagnostics: &Diagnostics) {
    for diagnostic in diagnostics.iter() {
        for text in [&diagnostic.summary, &diagnostic.detail] {
            assert_no_canary(canaries, &format!("a diagnostic ({place})"), text);
        }
    }
}
