//! The city as the service answers it now ([`LiveCity`]): the current assignment index
//! ([`CityIndex`]), the vector tiles built from the same read of the layers and the category
//! catalogue, each behind an atomic pointer, rebuilt beside the old ones and swapped in when the
//! city's data changes; and a small cache of indexes for past dates (`as_of`).
//!
//! Readers never wait: they load the current `Arc<CityIndex>` and keep it for their request, so a
//! rebuild (about a second) neither blocks them nor shows them a half-built index. The baseline
//! advances only when a rebuild succeeds. Other replicas and the CLI publish through the same
//! store, so besides reloading after its own imports the engine follows the store's change notices
//! on PostgreSQL ([`LiveCity::spawn_follower`], LISTEN/NOTIFY: well under a second) and polls the
//! store's data version as the safety net ([`LiveCity::spawn_poller`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::assign::{CityIndex, CityLayers, EngineConfig};
use crate::domain::catalogue::{self, Catalogue, Category};
use crate::domain::crs::{CoordError, Crs, PlausibleArea};
use crate::domain::jurisdiction::Layer;
use crate::domain::unit::UnitKind;
use crate::store::{Change, Store, StoreError};
use crate::tiles::TileSet;

/// How many past-date indexes are kept.
const HISTORY_SLOTS: usize = 4;

/// The per-layer versions an index was built from; equal keys mean equal data.
type VersionKey = Vec<(Layer, i64)>;

/// The live city: what every request reads the city from.
pub struct LiveCity {
    store: Store,
    config: EngineConfig,
    current: ArcSwap<CityIndex>,
    current_key: ArcSwap<VersionKey>,
    tiles: ArcSwap<TileSet>,
    history: Mutex<Vec<(VersionKey, Arc<CityIndex>)>>,
    catalogue: ArcSwap<Catalogue>,
    rebuild: tokio::sync::Mutex<()>,
    /// The version of `current`, for the tasks that follow index builds.
    versions: tokio::sync::watch::Sender<i64>,
}

/// Why a point could not be answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssignError {
    /// The coordinate is refused (swapped, out of range, far from the city).
    #[error(transparent)]
    Coordinate(#[from] CoordError),
    /// The category code is not in the catalogue.
    #[error("unknown category {0:?}; see the category catalogue")]
    UnknownCategory(String),
    /// No jurisdiction data was valid at the requested date.
    #[error("no jurisdiction data is valid on {0}")]
    NothingValid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl std::fmt::Debug for LiveCity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCity")
            .field("version", &self.current.load().version())
            .finish()
    }
}

async fn version_key(store: &Store, at: Option<DateTime<Utc>>) -> Result<VersionKey, StoreError> {
    let versions = store.layer_versions(None).await?;
    let mut key: VersionKey = Vec::new();
    for layer in Layer::ALL {
        let v = versions
            .iter()
            .filter(|v| v.layer == layer && at.is_none_or(|t| v.valid_from <= t))
            .map(|v| v.version)
            .max();
        if let Some(v) = v {
            key.push((layer, v));
        }
    }
    Ok(key)
}

/// Reads every layer valid at `at` (current when `None`) into the engine's input.
pub async fn load_layers(
    store: &Store,
    at: Option<DateTime<Utc>>,
) -> Result<CityLayers, StoreError> {
    let get = |layer| store.index_features(layer, at);
    let railways = store
        .basemap("railway")
        .await?
        .into_iter()
        .filter(|f| f.class.as_deref().is_none_or(|c| c == "rail"))
        .filter_map(|f| match f.geometry {
            geo::Geometry::LineString(l) => Some(vec![l]),
            geo::Geometry::MultiLineString(m) => Some(m.0),
            _ => None,
        })
        .flatten()
        .collect();
    Ok(CityLayers {
        version: store.data_version().await?,
        districts: get(Layer::District).await?,
        streets: get(Layer::Street).await?,
        communities: get(Layer::Community).await?,
        grids: get(Layer::Grid).await?,
        frontages: get(Layer::Frontage).await?,
        zones: get(Layer::Zone).await?,
        railways,
        departments: store
            .list_units(Some(UnitKind::Department), 100_000, 0)
            .await?,
    })
}

/// The stored catalogue; defaults stand in (as version 1) for codes the store has not seen, so
/// an engine over a store that was never seeded still knows the categories.
async fn load_catalogue(store: &Store) -> Result<Catalogue, StoreError> {
    let stored = store.category_versions().await?;
    let defaults = catalogue::default_catalogue()
        .into_iter()
        .filter(|d| !stored.iter().any(|s| s.category.code == d.code))
        .map(|d| (1, d))
        .collect::<Vec<_>>();
    Ok(Catalogue::new(
        stored
            .into_iter()
            .map(|s| (s.version, s.category))
            .chain(defaults),
    ))
}

async fn build(
    store: &Store,
    at: Option<DateTime<Utc>>,
    config: &EngineConfig,
) -> Result<CityIndex, StoreError> {
    Ok(build_with_tiles(store, at, config, false).await?.0)
}

/// Builds the index and, for the current data only (tiles are never served for past dates),
/// the vector tile set from the same read of the layers, so both carry the same version.
async fn build_with_tiles(
    store: &Store,
    at: Option<DateTime<Utc>>,
    config: &EngineConfig,
    with_tiles: bool,
) -> Result<(CityIndex, Option<TileSet>), StoreError> {
    let layers = load_layers(store, at).await?;
    let config = config.clone();
    let start = std::time::Instant::now();
    let (index, tiles) = tokio::task::spawn_blocking(move || {
        let tiles = with_tiles.then(|| TileSet::build(&layers));
        (CityIndex::build(&layers, config), tiles)
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("index build panicked: {e}")))?;
    let (grids, frontages, zones) = index.counts();
    tracing::info!(
        version = index.version(),
        grids,
        frontages,
        zones,
        "built the assignment index in {:.0?}",
        start.elapsed()
    );
    metrics::histogram!("wangge_index_build_seconds").record(start.elapsed().as_secs_f64());
    Ok((index, tiles))
}

fn current_tiles(tiles: Option<TileSet>) -> Result<TileSet, StoreError> {
    tiles
        .ok_or_else(|| StoreError::Corrupt("the tile set of the current data was not built".into()))
}

impl LiveCity {
    /// Builds the engine over the store's current data.
    pub async fn load(store: Store, config: EngineConfig) -> Result<Arc<Self>, StoreError> {
        let key = version_key(&store, None).await?;
        let (index, tiles) = build_with_tiles(&store, None, &config, true).await?;
        let version = index.version();
        let catalogue = ArcSwap::from_pointee(load_catalogue(&store).await?);
        metrics::gauge!("wangge_index_version").set(index.version() as f64);
        Ok(Arc::new(Self {
            store,
            config,
            current: ArcSwap::from_pointee(index),
            current_key: ArcSwap::from_pointee(key),
            tiles: ArcSwap::from_pointee(current_tiles(tiles)?),
            history: Mutex::new(Vec::new()),
            catalogue,
            rebuild: tokio::sync::Mutex::new(()),
            versions: tokio::sync::watch::Sender::new(version),
        }))
    }

    /// The version of the current index now and after each rebuild.
    pub fn versions(&self) -> tokio::sync::watch::Receiver<i64> {
        self.versions.subscribe()
    }

    /// The current index (cheap; keep it for the duration of one request).
    pub fn current(&self) -> Arc<CityIndex> {
        self.current.load_full()
    }

    /// The vector tile set of the current data (cheap; keep it for the duration of one request).
    pub fn tiles(&self) -> Arc<TileSet> {
        self.tiles.load_full()
    }

    /// The category catalogue, every version (cheap; keep it for one request).
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.catalogue.load_full()
    }

    /// The current version of a category.
    pub fn category(&self, code: &str) -> Result<(i64, Category), AssignError> {
        self.catalogue
            .load()
            .current(code)
            .map(|(v, c)| (v, c.clone()))
            .ok_or_else(|| AssignError::UnknownCategory(code.to_owned()))
    }

    /// The version of a category a case was opened under.
    pub fn category_version(&self, code: &str, version: i64) -> Result<Category, AssignError> {
        self.catalogue
            .load()
            .version(code, version)
            .cloned()
            .ok_or_else(|| AssignError::UnknownCategory(code.to_owned()))
    }

    /// The index for a past date: the current one when the same versions were valid then,
    /// otherwise a cached or newly built one.
    pub async fn at(&self, at: DateTime<Utc>) -> Result<Arc<CityIndex>, AssignError> {
        let key = version_key(&self.store, Some(at)).await?;
        if key.is_empty() {
            return Err(AssignError::NothingValid(at.to_rfc3339()));
        }
        if key == **self.current_key.load() {
            return Ok(self.current());
        }
        if let Some(hit) = self
            .history
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned cache".into()))?
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(hit.1.clone());
        }
        let index = Arc::new(build(&self.store, Some(at), &self.config).await?);
        let mut history = self
            .history
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned cache".into()))?;
        if history.len() >= HISTORY_SLOTS {
            history.remove(0);
        }
        history.push((key, index.clone()));
        // Bounded by count (each index is about the size of the current one); reported in /metrics.
        metrics::gauge!("wangge_cache_entries", "cache" => "as_of_index").set(history.len() as f64);
        Ok(index)
    }

    /// Rebuilds and swaps in a new index if the store's data changed. Returns whether it did.
    /// Concurrent calls coalesce: one rebuild at a time.
    pub async fn reload_if_changed(&self) -> Result<bool, StoreError> {
        let _guard = self.rebuild.lock().await;
        let version = self.store.data_version().await?;
        if version == self.current.load().version() {
            return Ok(false);
        }
        let key = version_key(&self.store, None).await?;
        let (index, tiles) = build_with_tiles(&self.store, None, &self.config, true).await?;
        self.catalogue
            .store(Arc::new(load_catalogue(&self.store).await?));
        self.tiles.store(Arc::new(current_tiles(tiles)?));
        let built = index.version();
        self.current.store(Arc::new(index));
        self.current_key.store(Arc::new(key));
        metrics::gauge!("wangge_index_version").set(version as f64);
        self.versions.send_replace(built);
        Ok(true)
    }

    /// Polls the store's data version every `every` and reloads on change, until the process
    /// ends. Errors (e.g. the database is down) are logged and retried at the next tick.
    pub fn spawn_poller(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(engine) = engine.upgrade() else {
                    break;
                };
                if let Err(e) = engine.reload_if_changed().await {
                    tracing::warn!(error = %e, "index reload check failed; keeping the current index");
                }
            }
        })
    }

    /// Follows other processes' change notices (PostgreSQL LISTEN/NOTIFY): a data change
    /// reloads at once instead of at the next poll. The poll keeps running as the safety net for
    /// notices lost while the listener reconnects (it also sends a resync then). Ends when the
    /// engine is dropped or the listener stops.
    pub fn spawn_follower(
        self: &Arc<Self>,
        mut changes: tokio::sync::broadcast::Receiver<Change>,
    ) -> tokio::task::JoinHandle<()> {
        use tokio::sync::broadcast::error::RecvError;
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(c) => c,
                    // Notices were dropped for a slow follower: re-read, like after a reconnect.
                    Err(RecvError::Lagged(_)) => Change::Resync,
                    Err(RecvError::Closed) => break,
                };
                if !change.concerns(Change::Data) {
                    continue;
                }
                let Some(engine) = engine.upgrade() else {
                    break;
                };
                match engine.reload_if_changed().await {
                    Ok(true) => tracing::info!(
                        version = engine.current().version(),
                        "reloaded after another process's change notice"
                    ),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "index reload after a change notice failed; the poll retries")
                    }
                }
            }
        })
    }

    /// The area in which points are plausible: the covered area plus 20 km.
    pub fn plausible_area(&self, index: &CityIndex) -> PlausibleArea {
        PlausibleArea::around("the city", index.extent(), 20_000.0)
    }

    /// Checks and converts an input point to WGS84.
    pub fn to_wgs84(
        &self,
        index: &CityIndex,
        lon: f64,
        lat: f64,
        crs: Crs,
    ) -> Result<(f64, f64), CoordError> {
        self.plausible_area(index).check(lon, lat)?;
        Ok(crs.to_wgs84(lon, lat))
    }
}
