//! A 12345 hotline export (CSV) as reports. Exports differ between cities, so the header may be
//! in Chinese or English: 工单编号/ticket_no, 受理时间/reported_at (RFC 3339, or
//! `YYYY-MM-DD HH:MM[:SS]` in China Standard Time), 问题类别/category (code like 0101 or the
//! name 暴露垃圾), 问题描述/description, 经度/lon, 纬度/lat and an optional 坐标系/crs column.
//! Unlike a layer import, each row stands alone: a bad row is reported with its line and the
//! others go in, because a hotline export is a queue of citizens waiting for an answer.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::ImportError;
use crate::domain::catalogue::Catalogue;
use crate::domain::crs::Crs;

/// One row that parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct HotlineRow {
    /// Line in the file (1 = header).
    pub line: u64,
    /// The work-order number.
    pub ticket_no: String,
    /// When the call was taken.
    pub reported_at: DateTime<Utc>,
    /// Category code.
    pub category: String,
    /// What the caller said.
    pub description: String,
    /// Longitude in `crs`.
    pub lon: f64,
    /// Latitude in `crs`.
    pub lat: f64,
    /// The row's coordinate system.
    pub crs: Crs,
}

/// A row that did not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// Line in the file.
    pub line: u64,
    /// The work-order number, when readable.
    pub ticket_no: Option<String>,
    /// What is wrong.
    pub message: String,
}

const COLUMNS: [(&str, &str); 7] = [
    ("ticket_no", "工单编号"),
    ("reported_at", "受理时间"),
    ("category", "问题类别"),
    ("description", "问题描述"),
    ("lon", "经度"),
    ("lat", "纬度"),
    ("crs", "坐标系"),
];

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .and_then(|n| cst.from_local_datetime(&n).single())
    .map(|t| t.with_timezone(&Utc))
}

/// Parses the file: the header must name every required column; each row parses or is listed
/// with its error. `default_crs` applies when the file has no crs column.
pub fn parse_hotline_csv(
    text: &str,
    default_crs: Option<Crs>,
    catalogue: &Catalogue,
) -> Result<(Vec<HotlineRow>, Vec<RowError>), ImportError> {
    let (mut reader, headers) = super::csv_reader(text, true)?;
    let col = |i: usize| {
        let (en, zh) = COLUMNS[i];
        headers.iter().position(|h| h == en || h == zh)
    };
    let mut idx = [0usize; 6];
    for (i, slot) in idx.iter_mut().enumerate() {
        *slot = col(i).ok_or_else(|| ImportError::BadCsv {
            line: 1,
            message: format!(
                "missing column {:?} ({}); the header needs ticket_no, reported_at, category, description, lon, lat",
                COLUMNS[i].0, COLUMNS[i].1
            ),
        })?;
    }
    let crs_col = col(6);
    if crs_col.is_none() && default_crs.is_none() {
        return Err(ImportError::BadCsv {
            line: 1,
            message: "the file has no crs (坐标系) column: say which system the coordinates are in with ?crs=wgs84|cgcs2000|gcj02|bd09".into(),
        });
    }
    let by_name: std::collections::HashMap<&str, &str> = catalogue
        .list()
        .into_iter()
        .map(|(_, c)| (c.name.as_str(), c.code.as_str()))
        .collect();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let rec = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: e.position().map_or(0, |p| p.line()),
                    ticket_no: None,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let ticket = get(idx[0]);
        let fail = |message: String| RowError {
            line,
            ticket_no: (!ticket.is_empty()).then(|| ticket.to_owned()),
            message,
        };
        if let Err(e) = super::check_record(&headers, &rec) {
            errors.push(fail(e.to_string()));
            continue;
        }
        if ticket.is_empty() || ticket.len() > 64 {
            errors.push(fail("ticket_no (工单编号) must be 1–64 characters".into()));
            continue;
        }
        let Some(reported_at) = parse_time(get(idx[1])) else {
            errors.push(fail(format!(
                "reported_at {:?} is not a time like 2026-11-28 09:30 or RFC 3339",
                get(idx[1])
            )));
            continue;
        };
        let raw_cat = get(idx[2]);
        let category = if catalogue.current(raw_cat).is_some() {
            raw_cat.to_owned()
        } else if let Some(code) = by_name.get(raw_cat) {
            (*code).to_owned()
        } else {
            errors.push(fail(format!(
                "category {raw_cat:?} is neither a code nor a name of the catalogue"
            )));
            continue;
        };
        let (Ok(lon), Ok(lat)) = (get(idx[4]).parse::<f64>(), get(idx[5]).parse::<f64>()) else {
            errors.push(fail(format!(
                "lon/lat {:?}/{:?} are not numbers",
                get(idx[4]),
                get(idx[5])
            )));
            continue;
        };
        let crs = match crs_col.map(get).filter(|s| !s.is_empty()) {
            Some(text) => match text.parse::<Crs>() {
                Ok(c) => c,
                Err(e) => {
                    errors.push(fail(e.to_string()));
                    continue;
                }
            },
            None => match default_crs {
                Some(c) => c,
                None => {
                    errors.push(fail("the row has no crs (坐标系)".into()));
                    continue;
                }
            },
        };
        rows.push(HotlineRow {
            line,
            ticket_no: ticket.to_owned(),
            reported_at,
            category,
            description: get(idx[3]).to_owned(),
            lon,
            lat,
            crs,
        });
    }
    Ok((rows, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::default_catalogue;

    fn catalogue() -> Catalogue {
        Catalogue::new(default_catalogue().into_iter().map(|c| (1, c)))
    }

    #[test]
    fn a_chinese_header_with_names_and_local_times_parses_and_bad_rows_are_listed() {
        let text = "\u{feff}工单编号,受理时间,问题类别,问题描述,经度,纬度,坐标系\n\
            ZZ12345-001,2026-11-27 09:30,暴露垃圾,小区门口垃圾堆积,113.62,34.74,gcj02\n\
            ZZ12345-002,yesterday,0101,x,113.62,34.74,wgs84\n\
            ZZ12345-003,2026-11-27T10:00:00+08:00,不存在,x,113.62,34.74,wgs84\n\
            ZZ12345-004,2026-11-27T10:00:00+08:00,0201,占道,113.62,34.74,mars\n";
        let (rows, errors) = parse_hotline_csv(text, None, &catalogue()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].category, "0101");
        assert_eq!(rows[0].crs, Crs::Gcj02);
        assert_eq!(
            rows[0].reported_at.to_rfc3339(),
            "2026-11-27T01:30:00+00:00"
        );
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(errors[1].message.contains("neither a code nor a name"));
    }

    #[test]
    fn without_a_crs_column_the_system_must_be_given() {
        let text = "ticket_no,reported_at,category,description,lon,lat\nA,2026-11-27 09:30,0101,x,113.6,34.7\n";
        assert!(parse_hotline_csv(text, None, &catalogue()).is_err());
        let (rows, _) = parse_hotline_csv(text, Some(Crs::Bd09), &catalogue()).unwrap();
        assert_eq!(rows[0].crs, Crs::Bd09);
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = parse_hotline_csv("ticket_no,category\n", Some(Crs::Wgs84), &catalogue())
            .unwrap_err()
            .to_string();
        assert!(err.contains("reported_at"), "{err}");
    }
}
