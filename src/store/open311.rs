//! Open311: the applications' api keys (kept as SHA-256, like bearer tokens), what an Open311
//! submission said beyond the case (the reporter's private contact, the client's ids), and the
//! case a follow token opens.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};

/// An application's api key, without the key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Open311Key {
    /// Id.
    pub id: i64,
    /// The application's name.
    pub name: String,
    /// Requests it may POST per minute.
    pub per_minute: i64,
    /// When issued.
    pub created_at: DateTime<Utc>,
    /// When revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What an Open311 submission said that is not part of the case; never shown publicly.
#[derive(Debug, Clone, Default)]
pub struct Open311Submission {
    /// The reporter's e-mail.
    pub email: Option<String>,
    /// The reporter's phone.
    pub phone: Option<String>,
    /// The reporter's first name.
    pub first_name: Option<String>,
    /// The reporter's last name.
    pub last_name: Option<String>,
    /// The client's account id of the reporter.
    pub account_id: Option<String>,
    /// The client's device id.
    pub device_id: Option<String>,
    /// A media URL the client sent.
    pub media_url: Option<String>,
}

const KEY_COLUMNS: &str = "id, name, per_minute, created_at, revoked_at";

/// Which application sent a case through Open311, and what its submission said beyond the case:
/// stored in the case's own transaction, so an acknowledged request never lacks its contact.
#[derive(Debug, Clone)]
pub struct Open311Origin {
    /// The api key's id.
    pub key_id: i64,
    /// The reporter's private contact and the client's ids.
    pub submission: Open311Submission,
}

/// Writes an [`Open311Origin`] through `$exec` (the case's transaction); a retry keeps the first.
macro_rules! insert_open311_origin {
    ($exec:expr, $case_id:expr, $origin:expr) => {{
        let o: &$crate::store::Open311Origin = $origin;
        let s = &o.submission;
        sqlx::query(
            "INSERT INTO open311_submissions (case_id, key_id, email, phone, first_name, last_name, \
             account_id, device_id, media_url, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (case_id) DO NOTHING",
        )
        .bind($case_id)
        .bind(o.key_id)
        .bind(s.email.as_deref())
        .bind(s.phone.as_deref())
        .bind(s.first_name.as_deref())
        .bind(s.last_name.as_deref())
        .bind(s.account_id.as_deref())
        .bind(s.device_id.as_deref())
        .bind(s.media_url.as_deref())
        .bind(chrono::Utc::now())
        .execute($exec)
        .await
    }};
}
pub(super) use insert_open311_origin;

fn key_from_row<R: Row>(r: &R) -> Result<Open311Key, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i32: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<DateTime<Utc>>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Open311Key {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        per_minute: i64::from(r.try_get::<i32, _>("per_minute")?),
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Issues a key: stores its hash, with the `open311_key.created` event.
    pub async fn create_open311_key(
        &self,
        name: &str,
        key_hash: &str,
        per_minute: i64,
        audit: &Audit,
    ) -> StoreResult<Open311Key> {
        let per_minute = i32::try_from(per_minute).unwrap_or(i32::MAX);
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO open311_keys (name, key_hash, per_minute, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING {KEY_COLUMNS}"
            )))
            .bind(name)
            .bind(key_hash)
            .bind(per_minute)
            .bind(audit.at.unwrap_or_else(Utc::now))
            .fetch_one(&mut *tx)
            .await?;
            let key = key_from_row(&row)?;
            append_event!(
                &mut *tx,
                audit,
                "open311_key.created",
                "open311_key",
                key.id.to_string(),
                &serde_json::json!({ "after": &key })
            )?;
            tx.commit().await?;
            Ok(key)
        })
    }

    /// Every key, newest first.
    pub async fn list_open311_keys(&self) -> StoreResult<Vec<Open311Key>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {KEY_COLUMNS} FROM open311_keys ORDER BY id DESC"
            )))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(key_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)
        })
    }

    /// Revokes a key (a revoked one stays revoked, at its first revocation); `NotFound` when
    /// there is none.
    pub async fn revoke_open311_key(&self, id: i64, audit: &Audit) -> StoreResult<Open311Key> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE open311_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
                 RETURNING {KEY_COLUMNS}"
            )))
            .bind(id)
            .bind(audit.at.unwrap_or_else(Utc::now))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("open311 key {id}")))?;
            let key = key_from_row(&row)?;
            append_event!(
                &mut *tx,
                audit,
                "open311_key.revoked",
                "open311_key",
                key.id.to_string(),
                &serde_json::json!({ "after": &key })
            )?;
            tx.commit().await?;
            Ok(key)
        })
    }

    /// The key with this hash, revoked or not.
    pub async fn open311_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<Open311Key>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {KEY_COLUMNS} FROM open311_keys WHERE key_hash = $1"
            )))
            .bind(key_hash)
            .fetch_optional(pool)
            .await?;
            row.as_ref()
                .map(key_from_row)
                .transpose()
                .map_err(StoreError::from)
        })
    }

    /// Counts one POST of a key in Unix minute `minute` unless it already made `per_minute`
    /// there: true when counted. The count is one row in the database, so replicas share one
    /// quota; the upsert is atomic, so concurrent posts never both take the last one. Counts
    /// of minutes before the previous one are deleted on the way: two rows per key at most.
    pub async fn take_open311_quota(
        &self,
        key_id: i64,
        minute: i64,
        per_minute: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool, d| {
            sqlx::query("DELETE FROM open311_rate WHERE key_id = $1 AND minute < $2")
                .bind(key_id)
                .bind(minute - 1)
                .execute(pool)
                .await?;
            let counted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO open311_rate (key_id, minute, n) VALUES ($1, $2, 1) \
                 ON CONFLICT (key_id, minute) DO UPDATE SET n = open311_rate.n + 1 \
                 WHERE open311_rate.n < $3 RETURNING CAST(n AS BIGINT)",
            )
            .bind(key_id)
            .bind(minute)
            .bind(per_minute)
            .fetch_optional(pool)
            .await?;
            Ok(counted.is_some())
        })
    }

    /// The id of the case a citizen's follow token (its hash) opens.
    pub async fn case_id_by_follow_token(&self, token_hash: &str) -> StoreResult<Option<i64>> {
        on_pool!(self, |pool, d| {
            Ok(
                sqlx::query_scalar::<_, i64>("SELECT id FROM cases WHERE follow_token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }
}
