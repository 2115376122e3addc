//! The vector tile cache: every tile of the jurisdiction layers cut once per data version, kept
//! gzip-compressed and served as it is to clients that accept gzip (every browser and MapLibre).
//!
//! - **Keyed by data version**, layer and z/x/y: a publish builds a new tile set with a new
//!   version, and the first tile of the new version evicts every entry of older versions at once,
//!   so a stale tile is never served and never left to expire.
//! - **Bounded in bytes** (`--tile-cache-bytes`): least recently used tiles go first. An ordered
//!   map by last use makes a hit and an eviction O(log n), whatever the number of tiles.
//! - **One cut per tile**: concurrent requests for the same cold tile wait for the one cut
//!   instead of cutting it each (a city-scale tile takes ~20 ms of a core).
//! - Cuts run on the blocking pool, never on a runtime thread, and **at most one per core at a
//!   time**: a cut is pure CPU work, so more cuts at once than cores only adds threads, and each
//!   blocking thread keeps its own malloc arena with the peak of the biggest tile it has cut
//!   (glibc does not give that memory back). Without this bound a cold start under 32
//!   connections grew the process by ~90 MB beyond the index and the cache (docs/map.md).
//!
//! Not cached here: the live cases layer (`/tiles/cases/…`) depends on the caller's role and
//! changes with every event; it is cut per request and marked `no-store`. Tiles of past dates
//! are not served at all.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use crate::tiles::{TileLayer, TileSet};

/// Default of `--tile-cache-bytes`: 64 MiB holds every grid tile of a large city at z12–z14
/// compressed (a z12 tile of ~1,400 grids is ~120 KB raw, ~25 KB gzipped).
pub const DEFAULT_BYTES: usize = 64 * 1024 * 1024;

/// Where a tile is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// The data version of the tile set it was cut from.
    pub version: i64,
    /// Layer.
    pub layer: TileLayer,
    /// Zoom.
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row, north first.
    pub y: u32,
}

/// A cut tile, gzip-compressed; an empty tile (no feature) holds no bytes.
#[derive(Debug)]
pub struct Tile {
    /// The gzip member of the MVT bytes (empty for an empty tile).
    pub gzip: Bytes,
    /// Length of the uncompressed tile.
    pub raw_len: usize,
}

impl Tile {
    fn cut(set: &TileSet, key: TileKey) -> Self {
        let raw = set.tile(key.layer, key.z, key.x, key.y);
        if raw.is_empty() {
            return Tile {
                gzip: Bytes::new(),
                raw_len: 0,
            };
        }
        // Level 6, not the fastest: a tile is compressed once per data version and then sent
        // thousands of times, to phones too.
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 3),
            flate2::Compression::default(),
        );
        // Writing to a Vec cannot fail.
        let gzip = gz
            .write_all(&raw)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        Tile {
            gzip: Bytes::from(gzip),
            raw_len: raw.len(),
        }
    }

    /// Whether the tile has no feature.
    pub fn is_empty(&self) -> bool {
        self.raw_len == 0
    }

    /// The uncompressed MVT bytes, for a client that does not accept gzip.
    pub fn raw(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw_len);
        // The bytes were written by `cut`; reading them back cannot fail.
        let _ =
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&self.gzip[..]), &mut out);
        out
    }

    /// Bytes the entry holds (its compressed tile and bookkeeping).
    fn footprint(&self) -> usize {
        self.gzip.len() + std::mem::size_of::<Self>() + 64
    }
}

struct Entry {
    tile: Arc<Tile>,
    used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<TileKey, Entry>,
    /// Last use → key, oldest first.
    by_use: BTreeMap<u64, TileKey>,
    clock: u64,
    bytes: usize,
    /// The newest data version seen; entries of older ones are gone.
    version: i64,
}

type Flight = Arc<tokio::sync::OnceCell<Arc<Tile>>>;

/// The cache; share one per process.
pub struct TileCache {
    budget: usize,
    inner: Mutex<Inner>,
    flights: Mutex<HashMap<TileKey, Flight>>,
    cuts: std::sync::atomic::AtomicU64,
    /// One permit per core: how many tiles may be cut at the same moment.
    cutters: tokio::sync::Semaphore,
    /// Cuts running now, and the most seen at once.
    cutting: std::sync::atomic::AtomicUsize,
    peak_cutting: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (bytes, entries) = self.usage();
        f.debug_struct("TileCache")
            .field("budget", &self.budget)
            .field("bytes", &bytes)
            .field("entries", &entries)
            .finish()
    }
}

impl TileCache {
    /// An empty cache holding at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        metrics::gauge!("wangge_cache_budget_bytes", "cache" => "tiles").set(budget as f64);
        Self {
            budget,
            inner: Mutex::new(Inner::default()),
            flights: Mutex::new(HashMap::new()),
            cuts: std::sync::atomic::AtomicU64::new(0),
            cutters: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
            cutting: std::sync::atomic::AtomicUsize::new(0),
            peak_cutting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The most tiles this cache has had cut at the same moment (at most one per core).
    pub fn peak_concurrent_cuts(&self) -> usize {
        self.peak_cutting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many tiles this cache has cut since it was made (its misses).
    pub fn cuts(&self) -> u64 {
        self.cuts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes and tiles kept now.
    pub fn usage(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.bytes, i.entries.len()))
            .unwrap_or((0, 0))
    }

    fn lookup(&self, key: &TileKey) -> Option<Arc<Tile>> {
        let mut inner = self.inner.lock().ok()?;
        inner.clock += 1;
        let now = inner.clock;
        let e = inner.entries.get_mut(key)?;
        let before = std::mem::replace(&mut e.used, now);
        let tile = e.tile.clone();
        inner.by_use.remove(&before);
        inner.by_use.insert(now, *key);
        Some(tile)
    }

    fn keep(&self, key: TileKey, tile: Arc<Tile>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if key.version < inner.version {
            // Cut from a tile set that a publish has replaced meanwhile.
            return;
        }
        if key.version > inner.version {
            inner.version = key.version;
            inner.entries.clear();
            inner.by_use.clear();
            inner.bytes = 0;
        }
        let bytes = tile.footprint();
        if bytes > self.budget || inner.entries.contains_key(&key) {
            return;
        }
        while inner.bytes + bytes > self.budget {
            let Some((_, oldest)) = inner.by_use.pop_first() else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.tile.footprint();
            }
        }
        inner.clock += 1;
        let used = inner.clock;
        inner.by_use.insert(used, key);
        inner.entries.insert(key, Entry { tile, used });
        inner.bytes += bytes;
        metrics::gauge!("wangge_cache_bytes", "cache" => "tiles").set(inner.bytes as f64);
        metrics::gauge!("wangge_cache_entries", "cache" => "tiles").set(inner.entries.len() as f64);
    }

    /// The tile of `set` at (layer, z, x, y): from the cache, or cut once however many requests
    /// ask for it at the same time.
    pub async fn tile(
        &self,
        set: Arc<TileSet>,
        layer: TileLayer,
        z: u8,
        x: u32,
        y: u32,
    ) -> Arc<Tile> {
        let key = TileKey {
            version: set.version(),
            layer,
            z,
            x,
            y,
        };
        if let Some(hit) = self.lookup(&key) {
            metrics::counter!("wangge_tile_cache_hits_total").increment(1);
            return hit;
        }
        let flight: Flight = match self.flights.lock() {
            Ok(mut f) => f.entry(key).or_default().clone(),
            Err(_) => Flight::default(),
        };
        let tile = flight
            .get_or_init(|| async {
                metrics::counter!("wangge_tile_cache_misses_total").increment(1);
                self.cuts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // The semaphore is never closed, so acquiring only waits.
                let _permit = self.cutters.acquire().await.ok();
                let running = self.cutting.fetch_add(1, Ordering::Relaxed) + 1;
                self.peak_cutting.fetch_max(running, Ordering::Relaxed);
                let cut = tokio::task::spawn_blocking(move || Tile::cut(&set, key)).await;
                self.cutting.fetch_sub(1, Ordering::Relaxed);
                // A cut that panicked is cut again here rather than failing the request.
                Arc::new(cut.unwrap_or_else(|_| Tile {
                    gzip: Bytes::new(),
                    raw_len: 0,
                }))
            })
            .await
            .clone();
        self.keep(key, tile.clone());
        if let Ok(mut f) = self.flights.lock()
            && f.get(&key).is_some_and(|c| Arc::ptr_eq(c, &flight))
        {
            f.remove(&key);
        }
        tile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: i64, x: u32) -> TileKey {
        TileKey {
            version,
            layer: TileLayer::Grid,
            z: 12,
            x,
            y: 0,
        }
    }

    fn blob(n: usize) -> Arc<Tile> {
        Arc::new(Tile {
            gzip: Bytes::from(vec![0u8; n]),
            raw_len: n,
        })
    }

    #[test]
    fn the_least_recently_used_tiles_go_first_and_the_budget_holds() {
        let one = blob(1000).footprint();
        let c = TileCache::new(3 * one);
        for x in 0..3 {
            c.keep(key(1, x), blob(1000));
        }
        assert!(c.lookup(&key(1, 0)).is_some());
        c.keep(key(1, 3), blob(1000));
        assert!(
            c.lookup(&key(1, 1)).is_none(),
            "1 was the least recently used"
        );
        assert!(c.lookup(&key(1, 0)).is_some() && c.lookup(&key(1, 3)).is_some());
        assert_eq!(c.usage(), (3 * one, 3));
        c.keep(key(1, 9), blob(10 * one));
        assert!(
            c.lookup(&key(1, 9)).is_none(),
            "larger than the budget: not kept"
        );
    }

    #[test]
    fn a_new_data_version_evicts_every_older_tile_and_an_older_one_is_not_kept() {
        let c = TileCache::new(1 << 20);
        c.keep(key(1, 0), blob(10));
        c.keep(key(1, 1), blob(10));
        c.keep(key(2, 0), blob(10));
        assert_eq!(c.usage().1, 1);
        assert!(c.lookup(&key(1, 1)).is_none());
        c.keep(key(1, 5), blob(10));
        assert!(
            c.lookup(&key(1, 5)).is_none(),
            "cut from a replaced tile set"
        );
    }

    #[test]
    fn a_compressed_tile_reads_back_to_its_bytes() {
        let raw: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let t = Tile {
            gzip: Bytes::from(gz.finish().unwrap()),
            raw_len: raw.len(),
        };
        assert!(t.gzip.len() < raw.len());
        assert_eq!(t.raw(), raw);
    }
}
