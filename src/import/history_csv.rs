//! Historical problem reports from CSV (a 12345 hotline export, a previous system's cases):
//! `id,reported_at,category,lon,lat[,channel][,closed_at]`, times in RFC 3339. Every row is checked
//! and assigned to its owners by the engine; one bad row refuses the file, naming its line.

use rayon::prelude::*;

use super::ImportError;
use crate::assign::CityIndex;
use crate::domain::catalogue::Category;
use crate::domain::crs::{Crs, PlausibleArea};
use crate::store::HistoryReport;

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Parses, checks and assigns a history CSV.
pub fn parse_history_csv(
    text: &str,
    crs: Crs,
    index: &CityIndex,
    catalogue: &[Category],
) -> Result<Vec<HistoryReport>, ImportError> {
    let (mut reader, headers) = super::csv_reader(text, false)?;
    let headers = super::schema::canonical_headers(super::schema::HISTORY_COLUMNS, &headers);
    let col = |name: &str| headers.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| ImportError::BadCsv {
            line: 1,
            message: format!("missing column {name:?}"),
        })
    };
    let (id, at, cat, lon, lat) = (
        need("id")?,
        need("reported_at")?,
        need("category")?,
        need("lon")?,
        need("lat")?,
    );
    let (channel, closed) = (col("channel"), col("closed_at"));
    let records: Vec<(u64, csv::StringRecord)> = reader
        .records()
        .map(|r| {
            r.map(|rec| (rec.position().map_or(0, |p| p.line()), rec))
                .map_err(|e| ImportError::BadCsv {
                    line: e.position().map_or(0, |p| p.line()),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let area = PlausibleArea::around("the city", index.extent(), 20_000.0);
    records
        .par_iter()
        .map(|(line, r)| {
            let bad = |message: String| ImportError::BadCsv {
                line: *line,
                message,
            };
            super::check_record(&headers, r).map_err(|source| ImportError::Text {
                place: format!("CSV line {line}"),
                source,
            })?;
            let get = |i: usize| r.get(i).unwrap_or("");
            let num = |i: usize, what: &str| {
                get(i)
                    .parse::<f64>()
                    .map_err(|_| bad(format!("{what} {:?} is not a number", get(i))))
            };
            let (x, y) = (num(lon, "longitude")?, num(lat, "latitude")?);
            area.check(x, y).map_err(|e| bad(e.to_string()))?;
            let (x, y) = crs.to_wgs84(x, y);
            let category = get(cat);
            if !catalogue.iter().any(|c| c.code == category) {
                return Err(bad(format!("unknown category {category:?}")));
            }
            let reported_at = parse_time(get(at))
                .ok_or_else(|| bad(format!("reported_at {:?} is not an RFC 3339 time", get(at))))?;
            let closed_at = match closed.map(get).filter(|s| !s.is_empty()) {
                Some(s) => Some(
                    parse_time(s)
                        .ok_or_else(|| bad(format!("closed_at {s:?} is not an RFC 3339 time")))?,
                ),
                None => None,
            };
            if closed_at.is_some_and(|c| c < reported_at) {
                return Err(bad("closed_at lies before reported_at".into()));
            }
            if get(id).is_empty() {
                return Err(bad("id must not be empty".into()));
            }
            let hit = index.locate(x, y);
            let [g, c, s, d] = index.chain_codes(&hit);
            let [village, _, alley, _] = index.zone_codes(&hit);
            Ok(HistoryReport {
                id: get(id).to_owned(),
                reported_at,
                category: category.to_owned(),
                channel: channel
                    .map(get)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("unknown")
                    .to_owned(),
                closed_at,
                lon: x,
                lat: y,
                chain: [g, c, s, d].map(|v| v.map(str::to_owned)),
                frontage_code: index.frontage(hit.frontage).map(|f| f.0.to_owned()),
                urban_village: village.map(str::to_owned),
                railway_m: hit
                    .railway_m
                    .is_finite()
                    .then_some(f64::from(hit.railway_m)),
                back_alley: alley.map(str::to_owned),
            })
        })
        .collect()
}
