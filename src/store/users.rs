//! Users, their patrol grids, and bearer tokens.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};
use crate::domain::identity::{Principal, Role};

/// A user as listed to admins (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Responsible unit (handlers).
    pub unit_code: Option<String>,
    /// A seeded demo account.
    pub is_demo: bool,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// A user to create. The password arrives already hashed (argon2 PHC string).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Responsible unit, required for handlers.
    pub unit_code: Option<String>,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Seeded demo account.
    pub is_demo: bool,
    /// Patrol grids (inspectors).
    pub grids: Vec<String>,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone)]
pub struct TokenLookup {
    /// The user behind the token, with role and scope.
    pub principal: Principal,
    /// Whether the user is a demo account.
    pub is_demo: bool,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    /// When the token was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str =
    "id, username, display_name, role, unit_code, is_demo, disabled, created_at";

fn user_from_row<R: Row>(r: &R) -> StoreResult<UserRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    bool: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = r.try_get("role")?;
    Ok(UserRecord {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: Role::from_str(&role).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        unit_code: r.try_get("unit_code")?,
        is_demo: r.try_get("is_demo")?,
        disabled: r.try_get("disabled")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Creates a user with its patrol grids. A taken username is a `Conflict`; an unknown unit an
    /// `InvalidReference`.
    pub async fn create_user(&self, user: &NewUser, audit: &Audit) -> StoreResult<UserRecord> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO users (username, display_name, role, unit_code, password_hash, is_demo, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {USER_COLUMNS}"
            )))
            .bind(&user.username)
            .bind(&user.display_name)
            .bind(user.role.as_str())
            .bind(user.unit_code.as_deref())
            .bind(&user.password_hash)
            .bind(user.is_demo)
            .bind(Utc::now())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("username {:?} is taken", user.username))
                }
                StoreError::InvalidReference(_) => StoreError::InvalidReference(format!(
                    "responsible unit {:?} does not exist",
                    user.unit_code.as_deref().unwrap_or("")
                )),
                other => other,
            })?;
            let record = user_from_row(&row)?;
            for grid in &user.grids {
                sqlx::query("INSERT INTO user_grids (user_id, grid_code) VALUES ($1, $2)")
                    .bind(record.id)
                    .bind(grid)
                    .execute(&mut *tx)
                    .await?;
            }
            let detail = serde_json::json!({ "after": &record, "grids": &user.grids });
            append_event!(
                &mut *tx,
                audit,
                "user.created",
                "user",
                record.id.to_string(),
                &detail
            )?;
            tx.commit().await?;
            Ok(record)
        })
    }

    /// All users, by id.
    pub async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY id"
            )))
            .fetch_all(pool)
            .await?;
            rows.iter().map(user_from_row).collect()
        })
    }

    /// One user by id.
    pub async fn get_user(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    /// Users acting for one responsible unit.
    pub async fn users_of_unit(&self, unit_code: &str) -> StoreResult<Vec<UserRecord>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE unit_code = $1 ORDER BY id"
            )))
            .bind(unit_code)
            .fetch_all(pool)
            .await?;
            rows.iter().map(user_from_row).collect()
        })
    }

    /// Number of users (first-start seeding looks at it).
    pub async fn count_users(&self) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await?)
        })
    }

    /// The user and password hash for a login name, if the user exists.
    pub async fn find_login(&self, username: &str) -> StoreResult<Option<(UserRecord, String)>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
            )))
            .bind(username)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
                None => Ok(None),
            }
        })
    }

    /// Replaces an inspector's patrol grids.
    pub async fn set_user_grids(
        &self,
        user_id: i64,
        grids: &BTreeSet<String>,
        audit: &Audit,
    ) -> StoreResult<()> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            let before: Vec<String> = sqlx::query_scalar(
                "SELECT grid_code FROM user_grids WHERE user_id = $1 ORDER BY grid_code",
            )
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM user_grids WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for grid in grids {
                sqlx::query("INSERT INTO user_grids (user_id, grid_code) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(grid)
                    .execute(&mut *tx)
                    .await?;
            }
            let detail = serde_json::json!({ "before": before, "after": grids });
            append_event!(
                &mut *tx,
                audit,
                "user.grids_set",
                "user",
                user_id.to_string(),
                &detail
            )?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores a new token (by its hash).
    pub async fn insert_token(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        audit: &Audit,
    ) -> StoreResult<()> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO api_tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(token_hash)
            .bind(Utc::now())
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({ "expires_at": expires_at });
            append_event!(
                &mut *tx,
                audit,
                "auth.login",
                "user",
                user_id.to_string(),
                &detail
            )?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Resolves a token hash to its user, role and scope.
    pub async fn lookup_token(&self, token_hash: &str) -> StoreResult<Option<TokenLookup>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(
                "SELECT u.id, u.username, u.display_name, u.role, u.unit_code, u.is_demo, u.disabled, \
                        u.created_at, t.expires_at, t.revoked_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let user = user_from_row(&row)?;
            let grids: Vec<String> = sqlx::query_scalar(
                "SELECT grid_code FROM user_grids WHERE user_id = $1 ORDER BY grid_code",
            )
            .bind(user.id)
            .fetch_all(pool)
            .await?;
            Ok(Some(TokenLookup {
                principal: Principal {
                    user_id: user.id,
                    username: user.username,
                    display_name: user.display_name,
                    role: user.role,
                    unit_code: user.unit_code,
                    grids: grids.into_iter().collect(),
                },
                is_demo: user.is_demo,
                disabled: user.disabled,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
            }))
        })
    }

    /// Revokes one token (logout). Revoking twice is harmless.
    pub async fn revoke_token(&self, token_hash: &str, audit: &Audit) -> StoreResult<()> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let user_id: Option<i64> = sqlx::query_scalar(
                "UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL \
                 RETURNING user_id",
            )
            .bind(Utc::now())
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(user_id) = user_id {
                let detail = serde_json::json!({ "tokens": 1 });
                append_event!(
                    &mut *tx,
                    audit,
                    "auth.logout",
                    "user",
                    user_id.to_string(),
                    &detail
                )?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Revokes every live token of a user; returns how many.
    pub async fn revoke_user_tokens(&self, user_id: i64, audit: &Audit) -> StoreResult<u64> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            let n = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(Utc::now())
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let detail = serde_json::json!({ "tokens": n });
            append_event!(
                &mut *tx,
                audit,
                "auth.tokens_revoked",
                "user",
                user_id.to_string(),
                &detail
            )?;
            tx.commit().await?;
            Ok(n)
        })
    }
}
