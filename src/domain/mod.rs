//! Pure domain code: the jurisdiction tree, identities and roles, responsible units.
//!
//! Architecture invariant: nothing under `domain` imports axum, sqlx, tokio or does IO. The HTTP
//! layer (`crate::http`) and the store (`crate::store`) translate to and from these types.

pub mod assessment;
pub mod calendar;
pub mod case;
pub mod catalogue;
pub mod codes;
pub mod crs;
pub mod dispatch;
pub mod finding;
pub mod identity;
pub mod inspection;
pub mod jurisdiction;
pub mod photo;
pub mod replay;
pub mod search;
pub mod shop;
pub mod text;
pub mod unit;
