//! What a check of a city's data finds, shared by the layer validation and the rule-table check.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Accepted only when the import is told to accept warnings.
    Warning,
    /// Always refused.
    Error,
}
