//! Security headers of every answer, in one layer.
//!
//! - `Content-Security-Policy`: the map page and Swagger UI load scripts, styles, workers and
//!   data only from this origin (MapLibre's workers may come from `blob:` URLs; it fetches images
//!   such as the planner's heat image from `data:` URLs, and Swagger UI's icons are `data:`); inline `style` attributes are allowed (the page sets
//!   colours in generated markup), inline scripts and `eval` are not. `frame-ancestors 'none'`
//!   and `X-Frame-Options: DENY` forbid framing (clickjacking). An answer that brings its own
//!   policy (photos: `sandbox`) keeps it.
//! - `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` (URLs may carry a
//!   capability: a photo hash, a follow token, an `access_token`).
//! - `Cache-Control: no-store` on answers to authenticated requests (bearer header or
//!   `?access_token=`), unless the handler chose its own caching (tiles with ETags).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every answer that does not set its own.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     worker-src 'self' blob:; child-src 'self' blob:; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' data: blob:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The layer: adds the headers after the handler (and every other layer) answered.
pub async fn headers(req: Request, next: Next) -> Response {
    let authenticated = req.headers().contains_key(header::AUTHORIZATION)
        || req.uri().query().is_some_and(|q| {
            q.split('&').any(|pair| {
                pair.split_once('=')
                    .is_some_and(|(k, _)| k == "access_token")
            })
        });
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    if authenticated {
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    res
}

/// Admin tokens seen valid recently (by hash, until their expiry), so that `/healthz` can show
/// an operator the store's own error text while the store — where tokens are checked — is down.
/// At most [`OperatorTokens::MAX`] entries, least recently used evicted first.
pub struct OperatorTokens(
    std::sync::Mutex<hashlink::LruCache<String, chrono::DateTime<chrono::Utc>>>,
);

impl Default for OperatorTokens {
    fn default() -> Self {
        Self(std::sync::Mutex::new(hashlink::LruCache::new(Self::MAX)))
    }
}

impl OperatorTokens {
    /// Most remembered tokens.
    pub const MAX: usize = 256;

    /// Remembers an admin token that was just checked in the store.
    pub fn remember(&self, token_hash: &str, expires_at: chrono::DateTime<chrono::Utc>) {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.insert(token_hash.to_owned(), expires_at);
    }

    /// Forgets a token (logout).
    pub fn forget(&self, token_hash: &str) {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.remove(token_hash);
    }

    /// Whether an unexpired admin token with this hash was seen.
    pub fn is_operator(&self, token_hash: &str) -> bool {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.get(token_hash)
            .is_some_and(|expires| *expires > chrono::Utc::now())
    }
}
