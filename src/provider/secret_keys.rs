//! What a valid secret key is, and how a diagnostic quotes one: the same rule for both
//! resources, the data sources and the provider functions.

/// Longest secret key accepted.
pub const MAX_KEY_LEN: usize = 128;

/// True for keys made of ASCII letters, digits, `_`, `-` and `.`, as environment-style secret
/// names are.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A key as a diagnostic shows it: in backticks, an empty one as HCL writes it and said to be
/// empty (two backticks alone read as a typo).
pub fn quoted_key(key: &str) -> String {
    if key.is_empty() {
        "`\"\"` (empty)".to_owned()
    } else {
        format!("`{key}`")
    }
}

/// What a valid secret key is, for the diagnostics that refuse one.
pub fn key_rule() -> String {
    format!(
        "A secret key must be 1 to {MAX_KEY_LEN} characters, each an ASCII letter (`A`-`Z`, \
         `a`-`z`), a digit, `_`, `-` or `.`, such as `DB_PASSWORD`."
    )
}
