//! The hot spot service: the pure analyses of [`crate::hotspot::service`] joined with the store
//! and the engine. The stored points are read once per data revision (the last audit event ids of
//! cases and of history: every import and case change appends one) and located once per index
//! version. The history, by far the larger part (a province city holds millions of rows), is kept
//! located on its own and shared with the points, so a case change reads and locates the cases
//! alone. The zone samples are built once per index version. These are single entries, replaced
//! when the data changes, and reported in `/metrics` beside the area and neighbour caches. Every
//! computation runs on the blocking threads. The HTTP handlers are thin callers. [`spawn_warmer`]
//! loads the points and the default Gi* areas and neighbours after each index build, so the first
//! request after a start or a jurisdiction change does not wait for them.

use std::sync::Arc;

use crate::assign::CityIndex;
use crate::hotspot::HotspotError;
use crate::hotspot::analysis::ZoneSamples;
use crate::hotspot::dataset::{Dataset, Filter};
use crate::hotspot::input::UploadOptions;
use crate::hotspot::service::{self, Origin, Points, Selection, Service, UploadFormat};
use crate::live::LiveCity;
use crate::store::{PointFilter, PointRevisions, Store, StoreError};

pub use crate::hotspot::service::DEFAULT_CACHE_BYTES;

/// The points a request analyses.
#[derive(Debug)]
pub enum Source {
    /// The stored history and cases.
    Store(service::Include),
    /// An uploaded point set.
    Upload {
        /// The body as sent.
        body: Vec<u8>,
        /// How it is written.
        format: UploadFormat,
        /// Its CRS and weight field.
        options: UploadOptions,
    },
}

impl Source {
    /// Whether the points are the store's.
    pub fn is_store(&self) -> bool {
        matches!(self, Source::Store(_))
    }
}

/// Why a hot spot request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The analysis refused its input or parameters.
    #[error(transparent)]
    Analysis(#[from] HotspotError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("hot spot task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The stored points, and the located history they share, each with the revisions and index
/// version it was built at.
#[derive(Default)]
struct StoredSlot {
    /// (history revision, index version, the located history).
    history: Option<(i64, i64, Arc<Dataset>)>,
    /// (revisions, index version, the history and the cases).
    points: Option<(PointRevisions, i64, Arc<Points>)>,
}

/// The hot spot service of the serving process.
pub struct HotspotService {
    store: Store,
    live: Arc<LiveCity>,
    analyses: Arc<Service>,
    // Async locks: the first request after a change loads while the others wait for its result
    // instead of loading again.
    stored: tokio::sync::Mutex<StoredSlot>,
    zones: tokio::sync::Mutex<Option<(i64, Arc<ZoneSamples>)>>,
    /// The index version of the last finished warm-up (0: none yet).
    warmed: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for HotspotService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotspotService")
            .field("analyses", &self.analyses)
            .finish_non_exhaustive()
    }
}

/// Reports the bytes of a single-entry cache (the stored points, the zone samples).
fn report_slot(name: &'static str, bytes: usize) {
    metrics::gauge!("wangge_cache_bytes", "cache" => name).set(bytes as f64);
    metrics::gauge!("wangge_cache_entries", "cache" => name).set(1.0);
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    Ok(tokio::task::spawn_blocking(f).await?)
}

impl HotspotService {
    /// The service over `store` and the live city, its area and neighbour caches holding at most
    /// `cache_bytes` together.
    pub fn new(store: Store, live: Arc<LiveCity>, cache_bytes: usize) -> Self {
        Self {
            store,
            live,
            analyses: Arc::new(Service::new(cache_bytes)),
            stored: tokio::sync::Mutex::new(StoredSlot::default()),
            zones: tokio::sync::Mutex::new(None),
            warmed: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// (cache name, bytes, entries) of the area and neighbour caches.
    pub fn usage(&self) -> [(&'static str, usize, usize); 2] {
        self.analyses.usage()
    }

    /// The category codes of a catalogue flag, e.g. the 门前三包 or the sanitation ones.
    fn categories(
        &self,
        flag: impl Fn(&crate::domain::catalogue::Category) -> bool,
    ) -> Vec<String> {
        self.live
            .catalogue()
            .list()
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| flag(c))
            .map(|c| c.code.clone())
            .collect()
    }

    /// The 市容环境 sanitation categories: blind spots' default.
    pub fn sanitation_categories(&self) -> Vec<String> {
        self.categories(|c| c.sanitation)
    }

    /// The stored points of the current data revision, located with `ix`.
    async fn stored(&self, ix: &Arc<CityIndex>) -> Result<Arc<Points>, Error> {
        let mut slot = self.stored.lock().await;
        // The read replica when usable; the primary when it fails meanwhile.
        let store = self.store.analytics().await;
        match self.load(&store, ix, &mut slot).await {
            Err(Error::Store(e)) if self.store.reader_failed(&store, &e) => {
                self.load(&self.store, ix, &mut slot).await
            }
            r => r,
        }
    }

    /// The stored points from `store`, unless `slot` holds them at these revisions or newer; the
    /// located history is read again only when the history changed. The revisions and the points
    /// they key come from the same store, so points a lagging replica has not got yet are never
    /// kept under a newer key.
    async fn load(
        &self,
        store: &Store,
        ix: &Arc<CityIndex>,
        slot: &mut StoredSlot,
    ) -> Result<Arc<Points>, Error> {
        let revisions = store.point_revisions().await?;
        let version = ix.version();
        // At or above: points read from the primary while the replica lagged are newer than
        // what the replica answers once it is back; they stay until the data moves on.
        if let Some((r, v, d)) = slot.points.as_ref()
            && r.history >= revisions.history
            && r.cases >= revisions.cases
            && *v == version
        {
            return Ok(d.clone());
        }
        let read = |history: bool| PointFilter {
            history,
            cases: !history,
            ..Default::default()
        };
        let history = match slot.history.as_ref() {
            Some((h, v, d)) if *h >= revisions.history && *v == version => d.clone(),
            _ => {
                // Let the old history go before the new one is read beside it.
                slot.history = None;
                slot.points = None;
                let reports = store.hotspot_points(&read(true)).await?;
                let ix2 = ix.clone();
                let located = Arc::new(blocking(move || Points::history(reports, &ix2)).await?);
                slot.history = Some((revisions.history, version, located.clone()));
                located
            }
        };
        let cases = store.hotspot_points(&read(false)).await?;
        let ix2 = ix.clone();
        let points = blocking(move || Points::stored(&history, cases, &ix2)).await?;
        // The history is counted here: the points share it, and it is held for them.
        report_slot(
            "hotspot_points",
            crate::cache::Footprint::footprint(&points),
        );
        let points = Arc::new(points);
        slot.points = Some((revisions, version, points.clone()));
        Ok(points)
    }

    /// The index version the located history was built at, and the history itself, if loaded:
    /// what the stored points share (for diagnostics and tests).
    pub async fn located_history(&self) -> Option<(i64, Arc<Dataset>)> {
        let slot = self.stored.lock().await;
        slot.history.as_ref().map(|(_, v, d)| (*v, d.clone()))
    }

    /// Loads the stored points and builds the areas and neighbours of the default Gi* (unit grids,
    /// queen contiguity) for the current index: the first analysis after a start or a change
    /// then finds them ready. For a province city these take seconds to build.
    pub async fn warm(&self) -> Result<(), Error> {
        let s = self
            .select(Source::Store(service::Include::Both), Filter::default())
            .await?;
        let version = s.index.version();
        self.run(&s, |a, s| a.prepare(s, service::GiParams::default()))
            .await?;
        self.warmed
            .store(version, std::sync::atomic::Ordering::Release);
        metrics::gauge!("wangge_hotspot_warm_version").set(version as f64);
        Ok(())
    }

    /// The index version of the last finished warm-up (0: none yet).
    pub fn warmed_version(&self) -> i64 {
        self.warmed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The points of `source` passing `filter`, in the current city.
    pub async fn select(&self, source: Source, filter: Filter) -> Result<Arc<Selection>, Error> {
        let index = self.live.current();
        let (points, origin) = match source {
            Source::Store(include) => (self.stored(&index).await?, Origin::Store(include)),
            Source::Upload {
                body,
                format,
                options,
            } => {
                let ix = index.clone();
                let points =
                    blocking(move || Points::upload(&body, format, &options, &ix)).await??;
                (Arc::new(points), Origin::Upload)
            }
        };
        Ok(Arc::new(
            blocking(move || Selection::new(points, origin, &filter, index)).await?,
        ))
    }

    /// Runs `analysis` on the selection off the async threads.
    pub async fn run<T: Send + 'static>(
        &self,
        s: &Arc<Selection>,
        analysis: impl FnOnce(&Service, &Selection) -> Result<T, HotspotError> + Send + 'static,
    ) -> Result<T, Error> {
        let (service, s) = (self.analyses.clone(), s.clone());
        Ok(blocking(move || analysis(&service, &s)).await??)
    }

    /// Counts and rates per area (see [`Service::aggregate`]).
    pub async fn aggregate(
        &self,
        s: &Arc<Selection>,
        spec: crate::hotspot::areas::AreaSpec,
        limit: usize,
    ) -> Result<service::Aggregate, Error> {
        let frontage = self.categories(|c| c.frontage);
        self.run(s, move |a, s| a.aggregate(s, spec, &frontage, limit))
            .await
    }

    /// The zone breakdown (see [`Service::zones`]) with the city's zone samples; an empty selection
    /// is refused before any sampling.
    pub async fn zones(
        &self,
        s: &Arc<Selection>,
        p: service::GiParams,
    ) -> Result<service::ZoneBreakdown, Error> {
        // Before the samples, which may take a while to build.
        s.require_points()?;
        let samples = self.zone_samples(&s.index).await?;
        self.run(s, move |a, s| a.zones(s, p, &samples)).await
    }

    /// The zone geometry of the city of `ix`, sampled once per index version.
    async fn zone_samples(&self, ix: &Arc<CityIndex>) -> Result<Arc<ZoneSamples>, Error> {
        let mut slot = self.zones.lock().await;
        if let Some((v, s)) = slot.as_ref()
            && *v == ix.version()
        {
            return Ok(s.clone());
        }
        let roads: Vec<geo::LineString<f64>> = self
            .store
            .basemap("road")
            .await?
            .into_iter()
            .flat_map(|f| match f.geometry {
                geo::Geometry::LineString(l) => vec![l],
                geo::Geometry::MultiLineString(m) => m.0,
                _ => vec![],
            })
            .collect();
        let ix2 = ix.clone();
        let s = blocking(move || service::zone_samples(&ix2, &roads)).await?;
        report_slot("hotspot_zones", s.area.capacity() + s.street.capacity());
        let s = Arc::new(s);
        *slot = Some((ix.version(), s.clone()));
        Ok(s)
    }
}

/// Warms `hotspots` (see [`HotspotService::warm`]) now and after every index build of the live
/// city, until `hotspots` is dropped. A failure is logged; the next request loads what it needs.
pub fn spawn_warmer(
    hotspots: std::sync::Weak<HotspotService>,
    mut versions: tokio::sync::watch::Receiver<i64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let version = *versions.borrow_and_update();
            let Some(service) = hotspots.upgrade() else {
                break;
            };
            let start = std::time::Instant::now();
            match service.warm().await {
                Ok(()) => tracing::info!(
                    version,
                    "hot spot points and default areas ready in {:.0?}",
                    start.elapsed()
                ),
                Err(e) => tracing::warn!(error = %e, version, "hot spot warm-up failed"),
            }
            drop(service);
            if versions.changed().await.is_err() {
                break;
            }
        }
    })
}
