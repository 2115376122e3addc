//! Reads: one case as it stands now, lists with their filters, a case's timeline and photos, a
//! citizen's follow-up of their report, and the event feed the live stream reads.

use chrono::{DateTime, Utc};

use super::{CaseError, CaseService};
use crate::domain::case::{Allowed, Case, ClockReading, Status, case_no};
use crate::domain::identity::Principal;
use crate::domain::photo::PhotoStage;
use crate::store::{CaseFilter, CasePhoto, EventFilter, EventRecord, FeedEvent, Store};

/// A case as it stands at one instant: the case, its category's name and what its clocks say.
#[derive(Debug, Clone)]
pub struct CaseInfo {
    /// The case.
    pub case: Case,
    /// The name of its category (in the catalogue version it was opened under).
    pub category_name: Option<String>,
    /// Lights, overdue, deadlines counted without holiday data.
    pub clocks: ClockReading,
}

impl CaseInfo {
    /// What `reader` may do to the case now: exactly what the state machine would accept.
    pub fn allowed_for(&self, reader: &Principal) -> Allowed {
        self.case.allowed_for(reader)
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone)]
pub struct CasePage {
    /// The cases.
    pub cases: Vec<CaseInfo>,
    /// A full page: where the next one starts (`before_id`).
    pub next_before_id: Option<i64>,
}

/// One case with its photos and timeline.
#[derive(Debug, Clone)]
pub struct CaseDetail {
    /// The case.
    pub case: CaseInfo,
    /// Before/after photos, oldest first.
    pub photos: Vec<CasePhoto>,
    /// Every change, oldest first.
    pub timeline: Vec<EventRecord>,
    /// The display name (e.g. 张网格(监督员)) of each user acting in the timeline, by id: the
    /// page shows people's names, not login names. A timeline holds a handful of people.
    pub actors: std::collections::BTreeMap<i64, String>,
}

/// What a citizen sees of their report (反馈给反映人).
#[derive(Debug, Clone)]
pub struct Followup {
    /// The report's number.
    pub case_no: String,
    /// The case shown: the report, or the case it was merged into.
    pub shown: Case,
    /// The number of the case the report was merged into, when it duplicated one.
    pub merged_into: Option<String>,
    /// The note of the closing (结案) step, once closed.
    pub closing_note: Option<String>,
    /// The after-photos (处置后), once closed.
    pub after_photos: Vec<CasePhoto>,
}

/// One report of a volunteer as they are shown it: their own words and place, and where it
/// stands, as a citizen follows theirs (the case it was merged into, once closed the closing
/// note and the after-photos); never who handles it or any internal note.
#[derive(Debug, Clone)]
pub struct OwnReport {
    /// The report as filed.
    pub case: Case,
    /// The case whose status is shown: the report, or the case it was merged into.
    pub shown: Case,
    /// The number of the case the report was merged into, when it duplicated one.
    pub merged_into: Option<String>,
    /// The note of the closing (结案) step, once closed.
    pub closing_note: Option<String>,
    /// The after-photos (处置后), once closed.
    pub after_photos: Vec<CasePhoto>,
    /// The category's name.
    pub category_name: Option<String>,
}

/// The most events a case's timeline shows.
const TIMELINE_LIMIT: i64 = 1000;

impl CaseService {
    /// One case; `NotFound` when there is none.
    pub async fn get(&self, id: i64) -> Result<Case, CaseError> {
        self.store
            .get_case(id)
            .await?
            .ok_or_else(|| CaseError::NotFound(format!("case {id} does not exist")))
    }

    /// One case, if there is one.
    pub async fn find(&self, id: i64) -> Result<Option<Case>, CaseError> {
        Ok(self.store.get_case(id).await?)
    }

    /// The unit grid and street a WGS84 point lies in, by the assignment index in force.
    pub fn locate(&self, lon: f64, lat: f64) -> (Option<String>, Option<String>) {
        let a = self
            .live
            .current()
            .assign(lon, lat, crate::domain::crs::Crs::Wgs84, None);
        (a.grid.map(|g| g.code), a.street.map(|s| s.code))
    }

    /// The case as it stands now.
    pub fn info(&self, case: Case) -> CaseInfo {
        self.info_at(case, self.clock.now())
    }

    /// The case as it stands at `now`.
    pub fn info_at(&self, case: Case, now: DateTime<Utc>) -> CaseInfo {
        CaseInfo {
            clocks: case.read_clocks(&self.calendar.load(), now),
            category_name: self
                .live
                .category_version(&case.category, case.category_version)
                .ok()
                .map(|c| c.name),
            case,
        }
    }

    /// One page of the cases the filter selects, newest first (spatial filters included, with
    /// their indexes: see `Store::list_cases`).
    pub async fn list(&self, filter: &CaseFilter) -> Result<CasePage, CaseError> {
        self.list_from(&self.store, filter).await
    }

    /// [`Self::list`] for an export (up to 10,000 cases for a spreadsheet or a GIS): read from
    /// the read replica when there is a usable one, so it may lack the last seconds' changes
    /// (at most the replica's lag bound). The case list itself always reads the primary: its
    /// caller may just have reported a case and expects to see it.
    pub async fn export(&self, filter: &CaseFilter) -> Result<CasePage, CaseError> {
        let store = self.store.analytics().await;
        match self.list_from(&store, filter).await {
            Err(CaseError::Store(e)) if self.store.reader_failed(&store, &e) => {
                self.list_from(&self.store, filter).await
            }
            r => r,
        }
    }

    async fn list_from(&self, store: &Store, filter: &CaseFilter) -> Result<CasePage, CaseError> {
        let cases = store.list_cases(filter).await?;
        let next_before_id = (cases.len() as i64 == filter.limit)
            .then(|| cases.last().map(|c| c.id))
            .flatten();
        let now = self.clock.now();
        Ok(CasePage {
            cases: cases.into_iter().map(|c| self.info_at(c, now)).collect(),
            next_before_id,
        })
    }

    /// One case with its photos and its timeline.
    pub async fn detail(&self, id: i64) -> Result<CaseDetail, CaseError> {
        let case = self.get(id).await?;
        let mut timeline = self.events_of(id).await?;
        timeline.reverse();
        let mut actors = std::collections::BTreeMap::new();
        for actor in timeline.iter().filter_map(|e| e.actor_id) {
            if let std::collections::btree_map::Entry::Vacant(slot) = actors.entry(actor)
                && let Some(user) = self.store.get_user(actor).await?
                && !user.display_name.trim().is_empty()
            {
                slot.insert(user.display_name);
            }
        }
        Ok(CaseDetail {
            photos: self.store.case_photos(id).await?,
            case: self.info(case),
            timeline,
            actors,
        })
    }

    /// A citizen follows their report with the receipt's token. A merged report shows the case
    /// it was folded into; once that is closed, the closing note and the after-photos.
    pub async fn follow(&self, id: i64, token: &str) -> Result<Followup, CaseError> {
        let case = self.reported_by_citizen(id, token).await?;
        let (shown, merged_into) = match case.linked_to {
            Some(primary) => match self.store.get_case(primary).await? {
                Some(p) => (p, Some(case_no(primary))),
                None => (case, None),
            },
            None => (case, None),
        };
        let (closing_note, after_photos) = self.closing_feedback(&shown).await?;
        Ok(Followup {
            case_no: case_no(id),
            shown,
            merged_into,
            closing_note,
            after_photos,
        })
    }

    /// The reports `who` filed (a volunteer's list: their reports and the cases of their visits'
    /// findings), newest first, each shown as [`OwnReport`]; `before_id` pages as in the case
    /// list. Only the caller's own cases are read: the store filters on `reported_by`.
    pub async fn reports_of(
        &self,
        who: &Principal,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<OwnReport>, CaseError> {
        let cases = self
            .store
            .list_cases(&CaseFilter {
                reported_by: Some(who.user_id),
                before_id,
                limit,
                ..CaseFilter::default()
            })
            .await?;
        let mut out = Vec::with_capacity(cases.len());
        for case in cases {
            out.push(self.own_report(case).await?);
        }
        Ok(out)
    }

    /// One case as its reporter is shown it (see [`OwnReport`]).
    pub async fn own_report(&self, case: Case) -> Result<OwnReport, CaseError> {
        let (shown, merged_into) = match case.linked_to {
            Some(primary) => match self.store.get_case(primary).await? {
                Some(p) => (p, Some(case_no(primary))),
                None => (case.clone(), None),
            },
            None => (case.clone(), None),
        };
        let (closing_note, after_photos) = self.closing_feedback(&shown).await?;
        let category_name = self
            .live
            .category_version(&case.category, case.category_version)
            .ok()
            .map(|c| c.name);
        Ok(OwnReport {
            case,
            shown,
            merged_into,
            closing_note,
            after_photos,
            category_name,
        })
    }

    /// The case a citizen's follow token opens; the same `NotFound` for a wrong token as for no
    /// case, so a token cannot be tried against case numbers.
    pub(super) async fn reported_by_citizen(
        &self,
        id: i64,
        token: &str,
    ) -> Result<Case, CaseError> {
        let not_found = || CaseError::NotFound("no report with this number and token".into());
        let case = self.store.get_case(id).await?.ok_or_else(not_found)?;
        if case.follow_token_hash.as_deref() != Some(crate::security::token_hash(token).as_str()) {
            return Err(not_found());
        }
        Ok(case)
    }

    /// What the reporter is shown once the case is closed: the note of the closing step and the
    /// after-photos. Nothing before the close: an after-photo of a handling that then fails its
    /// check (返工) is not the result. Open311 publishes the same (`status_notes`, `media_url`).
    pub async fn closing_feedback(
        &self,
        case: &Case,
    ) -> Result<(Option<String>, Vec<CasePhoto>), CaseError> {
        if case.status != Status::Closed {
            return Ok((None, Vec::new()));
        }
        let note = self
            .events_of(case.id)
            .await?
            .iter()
            .find(|e| e.action == "case.close")
            .and_then(|e| e.detail.get("note"))
            .and_then(|n| n.as_str())
            .map(str::to_owned);
        let photos = self
            .store
            .case_photos(case.id)
            .await?
            .into_iter()
            .filter(|p| p.stage == PhotoStage::After)
            .collect();
        Ok((note, photos))
    }

    /// The case's events, newest first.
    async fn events_of(&self, id: i64) -> Result<Vec<EventRecord>, CaseError> {
        Ok(self
            .store
            .list_events(&EventFilter {
                entity_type: Some("case".into()),
                entity_id: Some(id.to_string()),
                before_id: None,
                limit: TIMELINE_LIMIT,
            })
            .await?)
    }

    /// The id of the newest event of the log (0 when it is empty): where a live feed starts.
    pub async fn latest_event_id(&self) -> Result<i64, CaseError> {
        Ok(self.store.max_event_id().await?)
    }

    /// Events with `after < id <= upto`, oldest first, at most `limit`, of one entity type when
    /// given: what the live stream reads (case changes and changes of users' tokens).
    pub async fn events_after(
        &self,
        after: i64,
        upto: Option<i64>,
        entity_type: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FeedEvent>, CaseError> {
        Ok(self
            .store
            .events_after(after, upto, entity_type, limit)
            .await?)
    }
}
