//! A small cache bounded by bytes: least recently used entries are evicted until the estimated
//! size of what is kept fits the budget. Every cache of the serving process that keeps results
//! across requests is one of these, and each reports its bytes and entries as Prometheus gauges
//! (`wangge_cache_bytes{cache=…}`, `wangge_cache_entries{cache=…}`, `wangge_cache_budget_bytes`).
//!
//! Sizes are estimates of the heap a value holds ([`Footprint`]), not allocator measurements;
//! they are meant to be within a small factor, which is what a budget needs.

use std::sync::{Arc, Mutex};

/// The approximate heap bytes a value holds (its own struct included).
pub trait Footprint {
    /// Estimated bytes.
    fn footprint(&self) -> usize;
}

impl<T: Footprint> Footprint for Arc<T> {
    fn footprint(&self) -> usize {
        self.as_ref().footprint()
    }
}

/// Bytes of a vector's buffer.
pub fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// Bytes of strings in a vector (buffer plus text).
pub fn strings_bytes(v: &[String]) -> usize {
    std::mem::size_of_val(v) + v.iter().map(String::capacity).sum::<usize>()
}

/// Bytes of multipolygons (vertices and ring headers).
pub fn multipolygons_bytes(v: &[geo::MultiPolygon<f64>]) -> usize {
    v.iter()
        .map(|m| {
            std::mem::size_of::<geo::MultiPolygon<f64>>()
                + m.0
                    .iter()
                    .map(|p| {
                        std::mem::size_of::<geo::Polygon<f64>>()
                            + std::iter::once(p.exterior())
                                .chain(p.interiors())
                                .map(|r| r.0.capacity() * 16 + 24)
                                .sum::<usize>()
                    })
                    .sum::<usize>()
        })
        .sum()
}

struct Entry<V> {
    key: String,
    value: Arc<V>,
    bytes: usize,
    used: u64,
}

struct Inner<V> {
    entries: Vec<Entry<V>>,
    bytes: usize,
    clock: u64,
}

/// A cache of values by string key, bounded by the sum of their [`Footprint`]s.
pub struct ByteLru<V> {
    name: &'static str,
    budget: usize,
    inner: Mutex<Inner<V>>,
    /// Values refused for being larger than the whole budget.
    oversized: std::sync::atomic::AtomicU64,
}

impl<V> std::fmt::Debug for ByteLru<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (bytes, entries) = self.usage();
        f.debug_struct("ByteLru")
            .field("name", &self.name)
            .field("budget", &self.budget)
            .field("bytes", &bytes)
            .field("entries", &entries)
            .finish()
    }
}

impl<V> ByteLru<V> {
    /// Bytes and entries kept now.
    pub fn usage(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.bytes, i.entries.len()))
            .unwrap_or((0, 0))
    }
}

impl<V: Footprint> ByteLru<V> {
    /// An empty cache named `name` (the `cache` label of its gauges) holding at most `budget`
    /// bytes.
    pub fn new(name: &'static str, budget: usize) -> Self {
        metrics::gauge!("wangge_cache_budget_bytes", "cache" => name).set(budget as f64);
        let c = Self {
            name,
            budget,
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                bytes: 0,
                clock: 0,
            }),
            oversized: Default::default(),
        };
        c.report(0, 0);
        c
    }

    /// How many values were refused for being larger than the whole budget.
    pub fn oversized(&self) -> u64 {
        self.oversized.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The budget, bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    fn report(&self, bytes: usize, entries: usize) {
        metrics::gauge!("wangge_cache_bytes", "cache" => self.name).set(bytes as f64);
        metrics::gauge!("wangge_cache_entries", "cache" => self.name).set(entries as f64);
    }

    /// The value under `key`, marked as used.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let mut inner = self.inner.lock().ok()?;
        inner.clock += 1;
        let now = inner.clock;
        let e = inner.entries.iter_mut().find(|e| e.key == key)?;
        e.used = now;
        Some(e.value.clone())
    }

    /// Keeps `value` under `key` (replacing an older one), evicting the least recently used
    /// entries until the budget holds. A value larger than the whole budget is not kept.
    pub fn insert(&self, key: String, value: Arc<V>) {
        let bytes = value.footprint();
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(pos) = inner.entries.iter().position(|e| e.key == key) {
            let old = inner.entries.swap_remove(pos);
            inner.bytes -= old.bytes;
        }
        if bytes > self.budget {
            // Computed again on every request that needs it: an operator must hear of it once
            // (the log) and see how often (the counter), e.g. a province's million grids under
            // a city-sized hot-spot budget.
            let before = self
                .oversized
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!("wangge_cache_oversized_total", "cache" => self.name).increment(1);
            if before == 0 {
                tracing::warn!(
                    cache = self.name,
                    bytes,
                    budget = self.budget,
                    "a value larger than the cache's whole budget is not kept and will be \
                     computed again each time it is needed; raise the budget \
                     (--hotspot-cache-bytes / WANGGE_HOTSPOT_CACHE_BYTES for the hot-spot caches)"
                );
            }
        } else {
            while inner.bytes + bytes > self.budget {
                let Some(lru) = inner
                    .entries
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.used)
                    .map(|(i, _)| i)
                else {
                    break;
                };
                let old = inner.entries.swap_remove(lru);
                inner.bytes -= old.bytes;
            }
            inner.clock += 1;
            let used = inner.clock;
            inner.entries.push(Entry {
                key,
                value,
                bytes,
                used,
            });
            inner.bytes += bytes;
        }
        self.report(inner.bytes, inner.entries.len());
    }

    /// The value under `key`, or `make()` kept under it.
    pub fn get_or_insert_with(&self, key: String, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some(hit) = self.get(&key) {
            return hit;
        }
        let v = Arc::new(make());
        self.insert(key, v.clone());
        v
    }

    /// Drops every entry whose key does not pass `keep`.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.entries.retain(|e| keep(&e.key));
        inner.bytes = inner.entries.iter().map(|e| e.bytes).sum();
        self.report(inner.bytes, inner.entries.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);
    impl Footprint for Blob {
        fn footprint(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_budget_always_holds() {
        let c = ByteLru::new("test", 100);
        c.insert("a".into(), Arc::new(Blob(40)));
        c.insert("b".into(), Arc::new(Blob(40)));
        assert!(c.get("a").is_some());
        c.insert("c".into(), Arc::new(Blob(40)));
        assert!(c.get("b").is_none(), "b was the least recently used");
        assert!(c.get("a").is_some() && c.get("c").is_some());
        assert_eq!(c.usage(), (80, 2));
        c.insert("huge".into(), Arc::new(Blob(1000)));
        assert!(c.get("huge").is_none(), "larger than the budget: not kept");
        assert_eq!(c.oversized(), 1, "and counted");
        assert_eq!(c.usage(), (80, 2));
        c.insert("a".into(), Arc::new(Blob(10)));
        assert_eq!(c.usage(), (50, 2));
    }
}
