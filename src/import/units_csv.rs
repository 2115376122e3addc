//! Responsible units from CSV: header `code,name,kind,parent_code` (or the Chinese headings of
//! [`super::schema::UNIT_COLUMNS`]).

use std::str::FromStr;

use super::ImportError;
use crate::domain::unit::{ResponsibleUnit, UnitKind};

/// Parses a units CSV. Empty `parent_code` means none.
pub fn parse_units_csv(text: &str) -> Result<Vec<ResponsibleUnit>, ImportError> {
    let (mut reader, headers) = super::csv_reader(text, false)?;
    let headers = super::schema::canonical_headers(super::schema::UNIT_COLUMNS, &headers);
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ImportError::BadCsv {
                line: 1,
                message: format!("missing column {name:?}"),
            })
    };
    let (code, name, kind, parent) = (
        col("code")?,
        col("name")?,
        col("kind")?,
        col("parent_code")?,
    );
    let mut units = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::BadCsv {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").to_owned();
        let bad = |message: String| ImportError::BadCsv { line, message };
        super::check_record(&headers, &record).map_err(|source| ImportError::Text {
            place: format!("CSV line {line}"),
            source,
        })?;
        if field(code).is_empty() || field(name).is_empty() {
            return Err(bad("code and name must not be empty".into()));
        }
        units.push(ResponsibleUnit {
            code: field(code),
            name: field(name),
            kind: UnitKind::from_str(&field(kind)).map_err(|e| bad(e.to_string()))?,
            parent_code: Some(field(parent)).filter(|p| !p.is_empty()),
        });
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_unit_kind_is_refused_with_its_line() {
        let err = parse_units_csv("code,name,kind,parent_code\nx,某单位,ministry,\n").unwrap_err();
        assert!(err.to_string().starts_with("CSV line 2: unknown unit kind"));
    }
}
