//! Diagnostics: the only way a failure reaches a Terraform user.
//!
//! A diagnostic has a short Title Case summary, a detail sentence that names the fix, and, where
//! one exists, the attribute path it is about. Neither may ever contain a secret value.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One step of an attribute path, as Terraform's `AttributePath.Step`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathStep {
    Attribute(String),
    /// A map key (or a set element rendered as a string key).
    Key(String),
    /// A list or tuple index.
    Index(i64),
}

/// A path from the root of a schema's object to one attribute or element.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    pub fn root(attribute: impl Into<String>) -> Self {
        AttributePath(vec![PathStep::Attribute(attribute.into())])
    }

    pub fn attr(mut self, attribute: impl Into<String>) -> Self {
        self.0.push(PathStep::Attribute(attribute.into()));
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.0.push(PathStep::Key(key.into()));
        self
    }

    pub fn index(mut self, index: i64) -> Self {
        self.0.push(PathStep::Index(index));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Renders like Terraform does: `secrets["DB_PASSWORD"].value`.
impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttributePath>,
}

/// An ordered collection of diagnostics, errors and warnings together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Diagnostics holding one error and nothing else: the answer of most early returns.
    pub fn of_error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut diags = Self::new();
        diags.error(summary, detail);
        diags
    }

    /// Diagnostics holding one error at an attribute and nothing else.
    pub fn of_error_at(
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        let mut diags = Self::new();
        diags.error_at(path, summary, detail);
        diags
    }

    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Error, summary, detail, None);
    }

    pub fn error_at(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Error, summary, detail, Some(path));
    }

    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Warning, summary, detail, None);
    }

    pub fn warning_at(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Warning, summary, detail, Some(path));
    }

    fn push(
        &mut self,
        severity: Severity,
        summary: impl Into<String>,
        detail: impl Into<String>,
        path: Option<AttributePath>,
    ) {
        self.0.push(Diagnostic {
            severity,
            summary: summary.into(),
            detail: detail.into(),
            path,
        });
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_terraform() {
        let path = AttributePath::root("secrets").key("DB").attr("value");
        assert_eq!(path.to_string(), "secrets[\"DB\"].value");
        assert_eq!(AttributePath::root("list").index(3).to_string(), "list[3]");
    }

    #[test]
    fn errors_are_told_apart_from_warnings() {
        let mut diags = Diagnostics::new();
        diags.warning("Short Name", "Use a longer name.");
        assert!(!diags.has_errors());
        diags.error_at(
            AttributePath::root("name"),
            "Invalid Name",
            "Remove the colon.",
        );
        assert!(diags.has_errors());
        assert_eq!(diags.iter().count(), 2);
    }

    #[test]
    fn a_single_error_is_one_error() {
        let diags = Diagnostics::of_error_at(AttributePath::root("name"), "Bad Name", "Fix it.");
        assert_eq!(diags.iter().count(), 1);
        assert!(diags.has_errors());
        assert_eq!(
            diags.0[0].path.as_ref().map(ToString::to_string),
            Some("name".into())
        );
        assert!(Diagnostics::of_error("Bad", "Fix it.").has_errors());
    }
}
