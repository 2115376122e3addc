//! Case photos: metadata of the content-addressed photo files and which case shows which photo
//! at which stage. Adding a photo to a case appends `case.photo_added` in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};
use crate::domain::photo::{PhotoHash, PhotoStage};

/// A photo to attach to a case (its file is already stored durably).
#[derive(Debug, Clone)]
pub struct NewCasePhoto {
    /// The case.
    pub case_id: i64,
    /// The photo's hash.
    pub hash: PhotoHash,
    /// Its MIME type, as sniffed.
    pub content_type: String,
    /// Its size.
    pub bytes: i64,
    /// Before or after.
    pub stage: PhotoStage,
    /// The adding user (None for a citizen).
    pub added_by: Option<i64>,
    /// At most this many photos per case and stage.
    pub max_per_stage: u32,
}

/// A photo of a case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CasePhoto {
    /// The photo's hash (hex).
    pub sha256: String,
    /// Before or after.
    pub stage: PhotoStage,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub bytes: i64,
    /// The adding user (None for a citizen).
    pub added_by: Option<i64>,
    /// When added.
    pub added_at: DateTime<Utc>,
}

/// What [`Store::add_case_photo`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AddPhotoOutcome {
    /// Attached now; the event was appended.
    Added(CasePhoto),
    /// This photo was attached to this case at this stage already (a retry): nothing changed.
    AlreadyThere(CasePhoto),
    /// The case has the most photos of this stage already.
    TooMany {
        /// The limit.
        max: u32,
    },
}

fn photo_from_row<R: Row>(r: &R) -> StoreResult<CasePhoto>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let stage: String = r.try_get("stage")?;
    Ok(CasePhoto {
        sha256: r.try_get("sha256")?,
        stage: PhotoStage::parse(&stage)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown photo stage {stage:?}")))?,
        content_type: r.try_get("content_type")?,
        bytes: r.try_get("bytes")?,
        added_by: r.try_get("added_by")?,
        added_at: r.try_get("added_at")?,
    })
}

const PHOTO_COLUMNS: &str =
    "cp.sha256, cp.stage, p.content_type, p.bytes, cp.added_by, cp.added_at";

impl Store {
    /// How many photos of `stage` a case has.
    pub async fn count_case_photos(&self, case_id: i64, stage: PhotoStage) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            Ok(sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM case_photos WHERE case_id = $1 AND stage = $2",
            )
            .bind(case_id)
            .bind(stage.as_str())
            .fetch_one(pool)
            .await?)
        })
    }

    /// Attaches a stored photo to a case, within the per-stage limit, and appends
    /// `case.photo_added` {sha256, stage, content_type, bytes} in the same transaction.
    ///
    /// The limit holds under concurrent uploads: the transaction first takes the case's row lock
    /// (PostgreSQL) or the database write lock (SQLite) with a no-op update of `version` (not of
    /// `id`, an identity column PostgreSQL refuses to set), so counting and inserting cannot
    /// interleave with another upload to the same case. The version itself stays: a photo does
    /// not conflict with a workflow action.
    pub async fn add_case_photo(
        &self,
        new: &NewCasePhoto,
        audit: &Audit,
    ) -> StoreResult<AddPhotoOutcome> {
        let sha = new.hash.to_hex();
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let locked = sqlx::query("UPDATE cases SET version = version WHERE id = $1")
                .bind(new.case_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if locked == 0 {
                return Err(StoreError::NotFound(format!("case {}", new.case_id)));
            }
            let select = format!(
                "SELECT {PHOTO_COLUMNS} FROM case_photos cp JOIN photos p ON p.sha256 = cp.sha256 \
                 WHERE cp.case_id = $1 AND cp.stage = $2 AND cp.sha256 = $3"
            );
            let existing = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(new.case_id)
                .bind(new.stage.as_str())
                .bind(&sha)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                tx.rollback().await?;
                return Ok(AddPhotoOutcome::AlreadyThere(photo_from_row(&row)?));
            }
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM case_photos WHERE case_id = $1 AND stage = $2",
            )
            .bind(new.case_id)
            .bind(new.stage.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if count >= i64::from(new.max_per_stage) {
                tx.rollback().await?;
                return Ok(AddPhotoOutcome::TooMany {
                    max: new.max_per_stage,
                });
            }
            let now = audit.at.unwrap_or_else(Utc::now);
            sqlx::query(
                "INSERT INTO photos (sha256, content_type, bytes, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&sha)
            .bind(&new.content_type)
            .bind(new.bytes)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO case_photos (case_id, sha256, stage, added_by, added_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new.case_id)
            .bind(&sha)
            .bind(new.stage.as_str())
            .bind(new.added_by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({
                "sha256": &sha, "stage": new.stage.as_str(),
                "content_type": &new.content_type, "bytes": new.bytes,
            });
            append_event!(
                &mut *tx,
                audit,
                "case.photo_added",
                "case",
                new.case_id.to_string(),
                &detail
            )?;
            let row = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(new.case_id)
                .bind(new.stage.as_str())
                .bind(&sha)
                .fetch_one(&mut *tx)
                .await?;
            let photo = photo_from_row(&row)?;
            tx.commit().await?;
            Ok(AddPhotoOutcome::Added(photo))
        })
    }

    /// The photos of a case, in the order they were added.
    pub async fn case_photos(&self, case_id: i64) -> StoreResult<Vec<CasePhoto>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {PHOTO_COLUMNS} FROM case_photos cp JOIN photos p ON p.sha256 = cp.sha256 \
                 WHERE cp.case_id = $1 ORDER BY cp.added_at, cp.stage, cp.sha256"
            )))
            .bind(case_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(photo_from_row).collect()
        })
    }

    /// The photos of `stage` of each of these cases, each case's in the order
    /// [`Self::case_photos`] gives: a page of cases in one query, not one per case.
    pub async fn photos_of_cases(
        &self,
        case_ids: &[i64],
        stage: PhotoStage,
    ) -> StoreResult<std::collections::HashMap<i64, Vec<CasePhoto>>> {
        let mut out: std::collections::HashMap<i64, Vec<CasePhoto>> =
            std::collections::HashMap::new();
        for chunk in case_ids.chunks(super::ID_CHUNK) {
            let sql = format!(
                "SELECT cp.case_id, {PHOTO_COLUMNS} FROM case_photos cp JOIN photos p ON p.sha256 = cp.sha256 \
                 WHERE cp.stage = $1 AND cp.case_id IN ({}) ORDER BY cp.added_at, cp.sha256",
                super::id_list(chunk)
            );
            on_pool!(self, |pool, d| {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(stage.as_str())
                    .fetch_all(pool)
                    .await?;
                for r in &rows {
                    let case_id: i64 = r.try_get("case_id")?;
                    out.entry(case_id).or_default().push(photo_from_row(r)?);
                }
            });
        }
        Ok(out)
    }

    /// The MIME type of a stored photo, or None when no case ever showed it.
    pub async fn photo_content_type(&self, hash: PhotoHash) -> StoreResult<Option<String>> {
        on_pool!(self, |pool, d| {
            Ok(
                sqlx::query_scalar("SELECT content_type FROM photos WHERE sha256 = $1")
                    .bind(hash.to_hex())
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }
}
