//! The public view of cases: what anyone may read about a case without logging in (Open311's
//! requests and updates). The rules live here, not in the HTTP layer that formats them:
//! - a voided case (作废: found false in 核实, or voided later) is never shown;
//! - a merged duplicate shows the case it was merged into (its status, unit, deadline, note);
//! - of the people, nothing: no reporter, contact, staff name or internal note; the closing note
//!   (the one the reporter is told) and the after-photos are public once a case is closed.
//!
//! A page is read in a fixed number of queries (the page, the cases merged into, unit names,
//! closing notes, after-photos), not a few per case.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{CaseError, CaseService};
use crate::assign::AreaLevel;
use crate::assign::geodesy::Tangent;
use crate::domain::case::{Case, Status, case_no};
use crate::domain::photo::PhotoStage;
use crate::store::CaseFilter;

/// The most cases one [`CaseService::public_search`] reads to fill a page after its filters;
/// past that it answers with what it found (documented: narrow the window or the area).
pub const PUBLIC_MAX_SCAN: usize = 20_000;

/// A case as the public sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicCase {
    /// The case's id.
    pub id: i64,
    /// Its number (案卷号).
    pub case_no: String,
    /// The number of the case it was merged into, when it is a merged duplicate.
    pub merged_into: Option<String>,
    /// The status shown: the case's own, or the one of the case it was merged into.
    pub status: Status,
    /// Category code.
    pub category: String,
    /// The category's name in the version the case was filed under.
    pub category_name: Option<String>,
    /// What the reporter said.
    pub description: String,
    /// The responsible unit's public name.
    pub unit_name: Option<String>,
    /// District, street and community names, as a postal address reads.
    pub address: Option<String>,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// Its last public change (report, dispatch, step, close).
    pub updated_at: DateTime<Utc>,
    /// The handling deadline, else the overall one.
    pub expected_at: Option<DateTime<Utc>>,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// The closing note the reporter is told, once closed.
    pub closing_note: Option<String>,
    /// The SHA-256 of the first after-photo, once closed.
    pub photo: Option<String>,
}

/// A public change of a case's status (mySociety's `servicerequestupdates`).
#[derive(Debug, Clone, PartialEq)]
pub struct PublicUpdate {
    /// The event's id: the order of updates and the place to continue from.
    pub id: i64,
    /// The case's id.
    pub case_id: i64,
    /// The status it entered.
    pub status: Status,
    /// When.
    pub at: DateTime<Utc>,
    /// The closing note, on the update that closed it.
    pub note: Option<String>,
    /// The SHA-256 of the case's first after-photo, on the update that closed it.
    pub photo: Option<String>,
}

/// Where a public search looks, WGS84.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PublicArea {
    /// Within `r` metres of a point.
    Circle {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
        /// Radius, metres.
        r: f64,
    },
    /// A box [west, south, east, north], edges included.
    Box([f64; 4]),
}

/// A public search: newest first, one page. Ranges are the caller's to check.
#[derive(Debug, Clone)]
pub struct PublicQuery {
    /// Reported at or after.
    pub from: DateTime<Utc>,
    /// Reported before.
    pub to: DateTime<Utc>,
    /// Only these statuses: `true` closed, `false` open (None: both).
    pub closed: Option<bool>,
    /// Only these categories.
    pub categories: Option<Vec<String>>,
    /// Only here.
    pub area: Option<PublicArea>,
    /// Page, from 1.
    pub page: usize,
    /// Cases per page.
    pub page_size: usize,
}

/// A case never shown publicly.
fn hidden(c: &Case) -> bool {
    c.status == Status::Voided
}

impl PublicArea {
    /// The box a store query narrows by.
    fn bbox(&self) -> [f64; 4] {
        match *self {
            Self::Box(b) => b,
            Self::Circle { lon, lat, r } => {
                let (kx, ky) = Tangent::at(lon, lat).scale();
                [lon - r / kx, lat - r / ky, lon + r / kx, lat + r / ky]
            }
        }
    }

    fn holds(&self, c: &Case) -> bool {
        match *self {
            Self::Box(_) => true,
            Self::Circle { lon, lat, r } => {
                Tangent::at(lon, lat).to_point(geo::Coord { x: c.lon, y: c.lat }) <= r
            }
        }
    }
}

impl CaseService {
    /// The public view of these cases, in their order; hidden ones are left out.
    pub async fn public_cases(&self, cases: Vec<Case>) -> Result<Vec<PublicCase>, CaseError> {
        let cases: Vec<Case> = cases.into_iter().filter(|c| !hidden(c)).collect();
        let have: HashSet<i64> = cases.iter().map(|c| c.id).collect();
        let wanted: Vec<i64> = cases
            .iter()
            .filter_map(|c| c.linked_to)
            .filter(|p| !have.contains(p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut by_id: HashMap<i64, Case> = self
            .store
            .get_cases(&wanted)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        by_id.extend(cases.iter().map(|c| (c.id, c.clone())));
        let shown = |c: &Case| -> Case {
            c.linked_to
                .and_then(|p| by_id.get(&p).cloned())
                .unwrap_or_else(|| c.clone())
        };
        let shown: Vec<Case> = cases.iter().map(shown).collect();
        let units: BTreeSet<String> = shown.iter().filter_map(|s| s.unit_code.clone()).collect();
        let names = self.store.unit_names(&units).await?;
        let closed: Vec<i64> = shown
            .iter()
            .filter(|s| s.status == Status::Closed)
            .map(|s| s.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let notes = self.store.closing_notes(&closed).await?;
        let photos = self
            .store
            .photos_of_cases(&closed, PhotoStage::After)
            .await?;
        let index = self.live.current();
        let catalogue = self.live.catalogue();
        Ok(cases
            .into_iter()
            .zip(shown)
            .map(|(c, s)| {
                let address: Vec<&str> = [
                    (AreaLevel::District, &c.district_code),
                    (AreaLevel::Street, &c.street_code),
                    (AreaLevel::Community, &c.community_code),
                ]
                .into_iter()
                .filter_map(|(l, code)| code.as_deref().and_then(|code| index.area_name(l, code)))
                .collect();
                let updated_at = [
                    Some(s.reported_at),
                    s.dispatched_at,
                    s.step_started_at,
                    s.closed_at,
                ]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(s.reported_at);
                PublicCase {
                    id: c.id,
                    case_no: c.case_no(),
                    merged_into: c.linked_to.map(case_no),
                    status: s.status,
                    category_name: catalogue
                        .version(&c.category, c.category_version)
                        .map(|k| k.name.clone()),
                    category: c.category,
                    description: c.description,
                    unit_name: s.unit_code.as_ref().and_then(|u| names.get(u)).cloned(),
                    address: (!address.is_empty()).then(|| address.join(" ")),
                    reported_at: c.reported_at,
                    updated_at,
                    expected_at: s.deadline_at.or(s.due_at),
                    lon: c.lon,
                    lat: c.lat,
                    closing_note: notes.get(&s.id).cloned(),
                    photo: photos
                        .get(&s.id)
                        .and_then(|p| p.first())
                        .map(|p| p.sha256.clone()),
                }
            })
            .collect())
    }

    /// The public view of the cases with these ids, in the order asked; unknown and hidden ones
    /// are left out.
    pub async fn public_cases_by_id(&self, ids: &[i64]) -> Result<Vec<PublicCase>, CaseError> {
        let mut found: HashMap<i64, Case> = self
            .store
            .get_cases(ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let cases = ids.iter().filter_map(|id| found.remove(id)).collect();
        self.public_cases(cases).await
    }

    /// One page of a public search, newest first. A merged duplicate is not listed: it shows
    /// through the case it was merged into.
    pub async fn public_search(&self, q: &PublicQuery) -> Result<Vec<PublicCase>, CaseError> {
        let keep = |c: &Case| {
            !hidden(c)
                && c.status != Status::Merged
                && q.area.as_ref().is_none_or(|a| a.holds(c))
                && q.closed
                    .is_none_or(|closed| (c.status == Status::Closed) == closed)
                && q.categories
                    .as_ref()
                    .is_none_or(|s| s.contains(&c.category))
        };
        let need = q.page * q.page_size;
        let mut filter = CaseFilter {
            // One code is the store's filter; a list is filtered here.
            category: q
                .categories
                .as_ref()
                .filter(|s| s.len() == 1)
                .map(|s| s[0].clone()),
            bbox: q.area.as_ref().map(PublicArea::bbox),
            from: Some(q.from),
            to: Some(q.to),
            limit: 1000,
            ..CaseFilter::default()
        };
        let mut matched = Vec::new();
        let mut scanned = 0;
        loop {
            let batch = self.store.list_cases(&filter).await?;
            scanned += batch.len();
            let full = batch.len() as i64 == filter.limit;
            filter.before_id = batch.last().map(|c| c.id);
            matched.extend(batch.into_iter().filter(|c| keep(c)));
            if matched.len() >= need || !full || scanned >= PUBLIC_MAX_SCAN {
                break;
            }
        }
        let page: Vec<Case> = matched
            .into_iter()
            .skip((q.page - 1) * q.page_size)
            .take(q.page_size)
            .collect();
        self.public_cases(page).await
    }

    /// The public status changes of cases in `[from, to)` after event `after`, oldest first, at
    /// most `limit` events read. A change to 作废, and every change of a case now hidden, is
    /// left out; the update that closed a case carries its closing note and first after-photo.
    pub async fn public_updates(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PublicUpdate>, CaseError> {
        let events = self
            .store
            .case_events_between(from, to, after, limit)
            .await?;
        let mut changes = Vec::new();
        for e in events {
            let to = if e.action == "case.created" {
                e.detail.pointer("/after/status").and_then(Value::as_str)
            } else {
                let to = e.detail.get("to").and_then(Value::as_str);
                if to == e.detail.get("from").and_then(Value::as_str) {
                    continue;
                }
                to
            };
            let (Some(to), Ok(case_id)) = (to.and_then(Status::parse), e.entity_id.parse::<i64>())
            else {
                continue;
            };
            if to == Status::Voided {
                continue;
            }
            let note = (e.action == "case.close")
                .then(|| e.detail.get("note").and_then(Value::as_str))
                .flatten()
                .map(str::to_owned);
            changes.push(PublicUpdate {
                id: e.id,
                case_id,
                status: to,
                at: e.at,
                note,
                photo: None,
            });
        }
        let ids: Vec<i64> = changes
            .iter()
            .map(|u| u.case_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let shown: HashSet<i64> = self
            .store
            .get_cases(&ids)
            .await?
            .iter()
            .filter(|c| !hidden(c))
            .map(|c| c.id)
            .collect();
        changes.retain(|u| shown.contains(&u.case_id));
        let closed: Vec<i64> = changes
            .iter()
            .filter(|u| u.status == Status::Closed)
            .map(|u| u.case_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let photos = self
            .store
            .photos_of_cases(&closed, PhotoStage::After)
            .await?;
        for u in &mut changes {
            if u.status == Status::Closed {
                u.photo = photos
                    .get(&u.case_id)
                    .and_then(|p| p.first())
                    .map(|p| p.sha256.clone());
            }
        }
        Ok(changes)
    }
}
