//! A 12345 hotline export: every good row through the intake as a hotline report, keyed by its
//! work-order number; bad rows are listed with their line and reason.

use serde::Serialize;

use super::intake::{Channel, DuplicateHint, KeyScope, Report};
use super::{CaseError, CaseService, HOTLINE_IMPORTERS, invalid};
use crate::domain::case::Status;
use crate::domain::crs::Crs;
use crate::domain::identity::Principal;
use crate::store::{Audit, StoreError};

/// What became of one row of a hotline import.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HotlineOutcome {
    /// Line in the file.
    pub line: u64,
    /// The work-order number.
    pub ticket_no: Option<String>,
    /// created, already_imported, merged or error.
    pub outcome: &'static str,
    /// The case.
    pub case_id: Option<i64>,
    /// Open cases it may duplicate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateHint>,
    /// What was wrong.
    pub error: Option<String>,
}

impl CaseService {
    /// Imports a 12345 export: every good row becomes a case in 核实 (keyed by its work-order
    /// number, so importing the same export twice creates nothing new); bad rows are listed.
    pub async fn import_hotline(
        &self,
        who: &Principal,
        text: &str,
        default_crs: Option<Crs>,
        audit: &Audit,
    ) -> Result<Vec<HotlineOutcome>, CaseError> {
        who.require_role(HOTLINE_IMPORTERS)?;
        let reported_by = Some(who.user_id);
        let catalogue = self.live.catalogue();
        let (rows, errors) =
            crate::import::hotline_csv::parse_hotline_csv(text, default_crs, &catalogue).map_err(
                |e| match e {
                    crate::import::ImportError::Text { .. } => CaseError::Text(e.to_string()),
                    e => invalid("invalid_csv", e.to_string()),
                },
            )?;
        let mut out: Vec<HotlineOutcome> = errors
            .into_iter()
            .map(|e| HotlineOutcome {
                line: e.line,
                ticket_no: e.ticket_no,
                outcome: "error",
                case_id: None,
                duplicates: Vec::new(),
                error: Some(e.message),
            })
            .collect();
        for row in rows {
            let report = Report {
                idempotency_key: row.ticket_no.clone(),
                category: row.category,
                description: row.description,
                lon: row.lon,
                lat: row.lat,
                crs: row.crs,
                external_ref: Some(row.ticket_no.clone()),
                reported_at: Some(row.reported_at),
                register_now: false,
                reported_by,
                scope: KeyScope::Hotline,
            };
            let o = match self.intake(report, Channel::Hotline, audit).await {
                Ok(i) => HotlineOutcome {
                    line: row.line,
                    ticket_no: Some(row.ticket_no),
                    outcome: match (i.created, i.case.status) {
                        (false, _) => "already_imported",
                        (true, Status::Merged) => "merged",
                        (true, _) => "created",
                    },
                    case_id: Some(i.case.id),
                    duplicates: i.duplicates,
                    error: None,
                },
                Err(CaseError::Store(StoreError::KeyReused(m))) => HotlineOutcome {
                    line: row.line,
                    ticket_no: Some(row.ticket_no),
                    outcome: "error",
                    case_id: None,
                    duplicates: Vec::new(),
                    error: Some(format!(
                        "work order imported before with other content ({m}); it was not changed"
                    )),
                },
                Err(CaseError::Store(e)) => return Err(CaseError::Store(e)),
                Err(e) => HotlineOutcome {
                    line: row.line,
                    ticket_no: Some(row.ticket_no),
                    outcome: "error",
                    case_id: None,
                    duplicates: Vec::new(),
                    error: Some(e.to_string()),
                },
            };
            out.push(o);
        }
        out.sort_by_key(|o| o.line);
        Ok(out)
    }
}
