//! Administrative and grid codes.
//!
//! The hierarchy follows the 国家统计局 统计用区划代码 and the Beijing grid standard
//! DB11/T 2157-2023: district 6 digits (GB/T 2260), street 9 digits, community 12 digits,
//! unit grid 15 digits (community code + 3-digit sequence). The older national rule CJ/T 213
//! numbered grids with a 14-digit code (community code + 2-digit sequence): such codes are
//! refused, with the hint to insert a `0` before the sequence.

use std::fmt;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The code has characters other than ASCII digits.
    #[error("code {0:?} must consist of digits only")]
    NotDigits(String),
    /// The code has the wrong number of digits for its level.
    #[error("{level} code {code:?} must have {expected} digits, it has {actual}")]
    WrongLength {
        /// The level (district, street …).
        level: &'static str,
        /// The code as given.
        code: String,
        /// Accepted lengths, e.g. "15 (or 14)".
        expected: &'static str,
        /// Its length.
        actual: usize,
    },
    /// The code does not start with its parent's code.
    #[error("code {code:?} does not start with its parent's code {parent:?}")]
    NotUnderParent {
        /// The child code.
        code: String,
        /// The parent code.
        parent: String,
    },
}

/// A validated administrative or grid code (digits only, of a length allowed for its level).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdminCode(String);

/// The levels of the jurisdiction hierarchy that carry numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLevel {
    /// 区/县, GB/T 2260, 6 digits.
    District,
    /// 街道/镇, 9 digits.
    Street,
    /// 社区/村, 12 digits.
    Community,
    /// 单元网格, 15 digits (DB11/T 2157).
    Grid,
}

impl CodeLevel {
    fn name(self) -> &'static str {
        match self {
            Self::District => "district",
            Self::Street => "street",
            Self::Community => "community",
            Self::Grid => "grid",
        }
    }

    fn lengths(self) -> (&'static [usize], &'static str) {
        match self {
            Self::District => (&[6], "6"),
            Self::Street => (&[9], "9"),
            Self::Community => (&[12], "12"),
            Self::Grid => (
                &[15],
                "15 (12-digit community code + 3-digit sequence; a 14-digit CJ/T 213 code becomes 15 with a 0 before its 2-digit sequence)",
            ),
        }
    }
}

impl AdminCode {
    /// Parses a code of the given level.
    ///
    /// ```
    /// use wangge::domain::codes::{AdminCode, CodeLevel};
    /// let grid = AdminCode::parse("410103001001007", CodeLevel::Grid).unwrap();
    /// assert_eq!(grid.community_prefix(), Some("410103001001"));
    /// assert!(AdminCode::parse("41010300100100A", CodeLevel::Grid).is_err());
    /// ```
    pub fn parse(code: &str, level: CodeLevel) -> Result<Self, CodeError> {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits(code.to_owned()));
        }
        let (allowed, expected) = level.lengths();
        if !allowed.contains(&code.len()) {
            return Err(CodeError::WrongLength {
                level: level.name(),
                code: code.to_owned(),
                expected,
                actual: code.len(),
            });
        }
        Ok(Self(code.to_owned()))
    }

    /// Checks that this code sits under `parent` (it starts with the parent's digits).
    pub fn ensure_under(&self, parent: &str) -> Result<(), CodeError> {
        if self.0.starts_with(parent) && self.0.len() > parent.len() {
            Ok(())
        } else {
            Err(CodeError::NotUnderParent {
                code: self.0.clone(),
                parent: parent.to_owned(),
            })
        }
    }

    /// The 12-digit community code a grid code starts with.
    pub fn community_prefix(&self) -> Option<&str> {
        (self.0.len() > 12).then(|| &self.0[..12])
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fourteen_digit_grid_code_is_refused_with_the_way_to_fifteen() {
        let err = AdminCode::parse("41010300100107", CodeLevel::Grid).unwrap_err();
        assert!(err.to_string().contains("must have 15"), "{err}");
        assert!(AdminCode::parse("410103001001007", CodeLevel::Grid).is_ok());
    }

    #[test]
    fn a_street_code_with_the_wrong_length_names_the_expected_length() {
        let err = AdminCode::parse("4101030011", CodeLevel::Street).unwrap_err();
        assert_eq!(
            err.to_string(),
            "street code \"4101030011\" must have 9 digits, it has 10"
        );
    }

    #[test]
    fn a_community_outside_its_street_is_refused() {
        let c = AdminCode::parse("410103002001", CodeLevel::Community).unwrap();
        assert!(c.ensure_under("410103001").is_err());
        assert!(c.ensure_under("410103002").is_ok());
    }
}
