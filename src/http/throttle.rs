//! Throttling of the endpoints an attacker can call without a token: logins (per account and
//! per client address, with a lock that doubles on every repeat) and the public channel (citizen
//! reports and photos, per client address and per follow token, as token buckets).
//!
//! State lives in process memory, in four tables of at most [`LimitSettings::max_keys`] keys
//! each (least recently used evicted first), so a flood of new addresses or names cannot grow it
//! without bound. Keys have a fixed size (addresses; 16 bytes of the SHA-256 of account names and
//! follow tokens), about 100 bytes an entry with the table's links: 4 × 65,536 entries by
//! default, about 26 MB at most. Each replica throttles on its own.
//!
//! The client address is the peer of the TCP connection; `X-Forwarded-For` is believed only
//! when the peer is one of the configured trusted proxies.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hashlink::LruCache;

use super::AppState;
use super::error::ApiError;

/// A clock in milliseconds: the real monotonic one, or a manual one that tests advance.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// A clock that stands still until [`Clock::advance`]d (tests).
    pub fn manual() -> Self {
        Self(Some(Arc::new(AtomicU64::new(0))))
    }
    /// Moves a manual clock forward (no effect on the real one).
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.0 {
            ms.fetch_add(
                u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
                Ordering::SeqCst,
            );
        }
    }
    fn now_ms(&self) -> u64 {
        static START: OnceLock<Instant> = OnceLock::new();
        match &self.0 {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis())
                .unwrap_or(u64::MAX),
        }
    }
}

/// An address or network (`10.0.0.0/8`, `::1`), for the trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or network (e.g. 10.0.0.0/8, ::1)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The throttling key of an address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a
/// whole /64, so single IPv6 addresses would cost an attacker nothing).
fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

/// The limits; see the README's configuration table.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Failed logins of one account before it is locked.
    pub login_failures_per_account: u32,
    /// Failed logins from one address before it is locked.
    pub login_failures_per_address: u32,
    /// Failures older than this are forgotten (and so is the lock count).
    pub login_window: Duration,
    /// The first lock; each further lock within the window doubles it.
    pub login_lock: Duration,
    /// The longest lock.
    pub login_lock_max: Duration,
    /// Public writes (citizen reports and photos) one address may send at once.
    pub public_burst: u32,
    /// Public writes per hour one address regains.
    pub public_per_hour: u32,
    /// Citizen photo uploads one follow token may send at once.
    pub token_burst: u32,
    /// Citizen photo uploads per hour one follow token regains.
    pub token_per_hour: u32,
    /// Most keys each table tracks (least recently used evicted first).
    pub max_keys: usize,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies).
    pub trusted_proxies: Vec<IpNet>,
    /// The clock (manual in tests).
    pub clock: Clock,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            login_window: Duration::from_secs(15 * 60),
            login_lock: Duration::from_secs(60),
            login_lock_max: Duration::from_secs(60 * 60),
            public_burst: 20,
            public_per_hour: 60,
            token_burst: 10,
            token_per_hour: 20,
            max_keys: 65_536,
            trusted_proxies: Vec::new(),
            clock: Clock::default(),
        }
    }
}

/// Failed logins of one key.
#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    /// Attempts counted in the current window (a success takes its own back).
    count: u32,
    /// When the current window began.
    since: u64,
    /// Locks within the window: the next lock lasts `login_lock * 2^locks`.
    locks: u32,
    /// Locked until then.
    until: u64,
}

/// One public key's token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: u64,
}

/// A bounded table of per-key state.
struct Table<K: Hash + Eq, V>(Mutex<LruCache<K, V>>);

impl<K: Hash + Eq + Clone, V> Table<K, V> {
    fn new(max: usize) -> Self {
        Self(Mutex::new(LruCache::new(max.max(1))))
    }
    fn with<R>(&self, key: K, init: impl FnOnce() -> V, f: impl FnOnce(&mut V) -> R) -> R {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = map.get_mut(&key) {
            return f(v);
        }
        // Inserting into a full cache evicts the least recently used key.
        map.insert(key.clone(), init());
        f(map.get_mut(&key).expect("just inserted"))
    }
    fn update<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get_mut(key).map(f)
    }
    fn remove(&self, key: &K) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(key);
    }
    fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

/// The throttles of one process.
pub struct Limiter {
    settings: LimitSettings,
    accounts: Table<[u8; 16], Failures>,
    login_addresses: Table<IpAddr, Failures>,
    public_addresses: Table<IpAddr, Bucket>,
    follow_tokens: Table<[u8; 16], Bucket>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("accounts", &self.accounts.len())
            .field("login_addresses", &self.login_addresses.len())
            .field("public_addresses", &self.public_addresses.len())
            .field("follow_tokens", &self.follow_tokens.len())
            .finish()
    }
}

/// A refusal: 429 with `Retry-After`.
#[derive(Debug)]
pub struct Limited {
    code: &'static str,
    message: String,
    retry_after_secs: u64,
}

impl Limited {
    /// Seconds until the client may try again.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs
    }
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let mut res =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, self.code, self.message).into_response();
        res.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        res
    }
}

/// A fixed-size key for client text (account names, follow tokens): 16 bytes of its SHA-256, so
/// every table entry has the same small size whatever the client sends.
fn key_of(text: &str) -> [u8; 16] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn secs_until(now: u64, until: u64) -> u64 {
    until.saturating_sub(now).div_ceil(1000).max(1)
}

/// What [`Limiter::login_begin`] reserved, to settle once the password is checked.
#[derive(Debug)]
pub struct LoginAttempt {
    account: [u8; 16],
    address: IpAddr,
}

impl Limiter {
    /// A limiter with these settings.
    pub fn new(settings: LimitSettings) -> Self {
        let max = settings.max_keys;
        Self {
            accounts: Table::new(max),
            login_addresses: Table::new(max),
            public_addresses: Table::new(max),
            follow_tokens: Table::new(max),
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &LimitSettings {
        &self.settings
    }

    /// Before a password is checked: refuses while the account or the address is locked, and
    /// counts the attempt as a failure until [`Limiter::login_succeeded`] takes it back. Counting
    /// first means parallel guesses cannot all slip in before the first one fails.
    pub fn login_begin(&self, username: &str, address: IpAddr) -> Result<LoginAttempt, Limited> {
        let now = self.settings.clock.now_ms();
        let account = key_of(&username.trim().to_lowercase());
        let address = address_key(address);
        let s = &self.settings;
        let step = |f: &mut Failures, max: u32| -> Result<(), u64> {
            if f.until > now {
                return Err(f.until);
            }
            let window = u64::try_from(s.login_window.as_millis()).unwrap_or(u64::MAX);
            if now.saturating_sub(f.since) >= window {
                let forget_locks = f.until.saturating_add(window) <= now;
                *f = Failures {
                    since: now,
                    locks: if forget_locks { 0 } else { f.locks },
                    ..Failures::default()
                };
            }
            if f.count >= max {
                let lock = s
                    .login_lock
                    .saturating_mul(1u32 << f.locks.min(20))
                    .min(s.login_lock_max);
                f.locks = f.locks.saturating_add(1);
                f.count = 0;
                f.since = now;
                f.until = now.saturating_add(u64::try_from(lock.as_millis()).unwrap_or(u64::MAX));
                return Err(f.until);
            }
            Ok(())
        };
        let refuse = |until: u64, whom: &str| Limited {
            code: "too_many_login_attempts",
            message: format!(
                "登录失败次数过多，请 {} 秒后再试。Too many failed logins {whom}; try again in {} s.",
                secs_until(now, until),
                secs_until(now, until)
            ),
            retry_after_secs: secs_until(now, until),
        };
        self.accounts
            .with(account, Failures::default, |f| {
                step(f, s.login_failures_per_account)
            })
            .map_err(|until| refuse(until, "for this account"))?;
        self.login_addresses
            .with(address, Failures::default, |f| {
                step(f, s.login_failures_per_address)
            })
            .map_err(|until| refuse(until, "from this address"))?;
        // Both passed: count the attempt against both.
        self.accounts.update(&account, |f| f.count += 1);
        self.login_addresses.update(&address, |f| f.count += 1);
        Ok(LoginAttempt { account, address })
    }

    /// The password was right: the account starts afresh and the address gets its attempt back.
    pub fn login_succeeded(&self, attempt: LoginAttempt) {
        self.accounts.remove(&attempt.account);
        self.login_addresses.update(&attempt.address, |f| {
            f.count = f.count.saturating_sub(1);
        });
    }

    fn take(table_burst: u32, per_hour: u32, now: u64, b: &mut Bucket) -> Result<(), u64> {
        let per_ms = f64::from(per_hour) / 3_600_000.0;
        let elapsed = now.saturating_sub(b.at) as f64;
        b.tokens = (b.tokens + elapsed * per_ms).min(f64::from(table_burst));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else if per_ms > 0.0 {
            Err(((1.0 - b.tokens) / per_ms / 1000.0).ceil().max(1.0) as u64)
        } else {
            Err(3600)
        }
    }

    /// One public write (a citizen's report or photo) from `address`.
    pub fn public_write(&self, address: IpAddr) -> Result<(), Limited> {
        let now = self.settings.clock.now_ms();
        let (burst, per_hour) = (self.settings.public_burst, self.settings.public_per_hour);
        self.public_addresses
            .with(
                address_key(address),
                || Bucket {
                    tokens: f64::from(burst),
                    at: now,
                },
                |b| Self::take(burst, per_hour, now, b),
            )
            .map_err(|secs| Limited {
                code: "too_many_reports",
                message: format!(
                    "来自此地址的上报过多，请 {secs} 秒后再试。Too many public reports from this address; try again in {secs} s."
                ),
                retry_after_secs: secs,
            })
    }

    /// One citizen photo upload with a follow token.
    pub fn follow_token_write(&self, token: &str) -> Result<(), Limited> {
        let now = self.settings.clock.now_ms();
        let key = key_of(token);
        let (burst, per_hour) = (self.settings.token_burst, self.settings.token_per_hour);
        self.follow_tokens
            .with(
                key,
                || Bucket {
                    tokens: f64::from(burst),
                    at: now,
                },
                |b| Self::take(burst, per_hour, now, b),
            )
            .map_err(|secs| Limited {
                code: "too_many_reports",
                message: format!(
                    "此回执的上传过多，请 {secs} 秒后再试。Too many uploads for this report; try again in {secs} s."
                ),
                retry_after_secs: secs,
            })
    }

    /// How many keys each table holds: login accounts, login addresses, public addresses,
    /// follow tokens.
    pub fn tracked_keys(&self) -> [usize; 4] {
        [
            self.accounts.len(),
            self.login_addresses.len(),
            self.public_addresses.len(),
            self.follow_tokens.len(),
        ]
    }
}

/// The client's address: the TCP peer, or — only when the peer is a trusted proxy — the last
/// `X-Forwarded-For` entry that is not a trusted proxy itself. Without a socket (tests calling
/// the router directly) it is `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let Some(peer) = peer.map(canonical) else {
            return Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        };
        let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
        if !is_trusted(peer) {
            return Self(peer);
        }
        // Proxies append: the rightmost entries are the ones our own proxies wrote.
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in forwarded.iter().rev() {
            match entry.parse::<IpAddr>() {
                Ok(ip) if is_trusted(ip) => continue,
                Ok(ip) => return Self(canonical(ip)),
                Err(_) => break,
            }
        }
        Self(peer)
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The served binary's listener gives `Peer`; a plain axum listener (and tests) give
        // `SocketAddr`.
        let peer = parts
            .extensions
            .get::<ConnectInfo<super::conn::Peer>>()
            .map(|c| c.0.0.ip())
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
            });
        Ok(Self::resolve(
            peer,
            &parts.headers,
            &state.limiter().settings().trusted_proxies,
        ))
    }
}

/// Route layer of the public write endpoints: one token of the address's bucket, and for a
/// citizen's photo (`?token=`) one of the follow token's.
pub async fn public_writes(
    State(state): State<AppState>,
    client: ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    let limiter = state.limiter();
    if let Err(limited) = limiter.public_write(client.0) {
        return limited.into_response();
    }
    let token = req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == "token" && !v.is_empty()).then(|| v.to_owned())
        })
    });
    if let Some(token) = token
        && let Err(limited) = limiter.follow_token_write(&token)
    {
        return limited.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_network_contains_its_addresses_and_mapped_ipv4_is_ipv4() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.1.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("proxy".parse::<IpNet>().is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 5.6.7.8, 10.0.0.2".parse().unwrap(),
        );
        assert_eq!(
            ClientAddr::resolve(Some(ip("10.0.0.1")), &h, &trusted).0,
            ip("5.6.7.8")
        );
        assert_eq!(
            ClientAddr::resolve(Some(ip("9.9.9.9")), &h, &trusted).0,
            ip("9.9.9.9")
        );
        assert_eq!(ClientAddr::resolve(None, &h, &trusted).0, ip("0.0.0.0"));
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_key() {
        assert_eq!(
            address_key(ip("2001:db8:1:2::5")),
            address_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::5")),
            address_key(ip("2001:db8:1:3::5"))
        );
    }

    #[test]
    fn locks_double_and_a_success_resets_the_account() {
        let clock = Clock::manual();
        let l = Limiter::new(LimitSettings {
            login_failures_per_account: 3,
            clock: clock.clone(),
            ..LimitSettings::default()
        });
        let a = ip("1.1.1.1");
        for _ in 0..3 {
            l.login_begin("Zhang", a).unwrap();
        }
        assert_eq!(
            l.login_begin("zhang", a).unwrap_err().retry_after_secs(),
            60
        );
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            l.login_begin("zhang", a).unwrap();
        }
        assert_eq!(
            l.login_begin("zhang", a).unwrap_err().retry_after_secs(),
            120
        );
        clock.advance(Duration::from_secs(120));
        let ok = l.login_begin("zhang", a).unwrap();
        l.login_succeeded(ok);
        for _ in 0..3 {
            l.login_begin("zhang", a).unwrap();
        }
        assert_eq!(
            l.login_begin("zhang", a).unwrap_err().retry_after_secs(),
            60
        );
    }

    #[test]
    fn a_bucket_refills_at_its_hourly_rate() {
        let clock = Clock::manual();
        let l = Limiter::new(LimitSettings {
            public_burst: 2,
            public_per_hour: 60,
            clock: clock.clone(),
            ..LimitSettings::default()
        });
        let a = ip("2.2.2.2");
        l.public_write(a).unwrap();
        l.public_write(a).unwrap();
        assert_eq!(l.public_write(a).unwrap_err().retry_after_secs(), 60);
        l.public_write(ip("3.3.3.3")).unwrap();
        clock.advance(Duration::from_secs(60));
        l.public_write(a).unwrap();
    }

    #[test]
    fn the_tables_never_hold_more_than_their_cap() {
        let l = Limiter::new(LimitSettings {
            max_keys: 100,
            ..LimitSettings::default()
        });
        for i in 0..1000u32 {
            l.public_write(IpAddr::V4(Ipv4Addr::from(i))).unwrap();
            let _ = l.login_begin(&format!("user{i}"), IpAddr::V4(Ipv4Addr::from(i)));
        }
        assert!(
            l.tracked_keys().iter().all(|&n| n <= 100),
            "{:?}",
            l.tracked_keys()
        );
    }
}
