//! The hot spot service, its pure half: the point sets an analysis runs on (the stored history
//! and cases, or an upload) and their metric frame, the analysis areas and neighbours with their
//! caches (bounded by bytes), and each analysis as the API asks for it — computed on a selection
//! and ranked. The store reads, the single-slot caches and the blocking threads are
//! `crate::hotspots`' part; rendering (JSON, GeoJSON, CSV, PNG) is the HTTP layer's.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::analysis::{
    self, AggregateRow, BlindSpotRow, EmergingParams, EmergingRow, GiRow, Places, ZoneSamples,
};
use super::areas::{self, AreaSpec, Areas, WeightSpec};
use super::blindspots::BlindSpotParams;
use super::dataset::{Dataset, Filter};
use super::emerging::{Bins, Category};
use super::frame::LocalFrame;
use super::gistar::Transform;
use super::input::{self, UploadOptions};
use super::kde::{KdeParams, Raster};
use super::weights::Weights;
use super::zones::ZoneRow;
use super::{HotspotError, Report};
use crate::assign::{AreaLevel, CityIndex, NONE};
use crate::cache::{ByteLru, Footprint};

/// Default byte budget of the area and neighbour caches together (`--hotspot-cache-bytes`).
pub const DEFAULT_CACHE_BYTES: usize = 128 * 1024 * 1024;
/// Most points in one upload.
pub const MAX_UPLOAD_POINTS: usize = 2_000_000;
/// Area-sample lattice of the zone breakdown, metres.
pub const ZONE_SAMPLE_M: f64 = 50.0;
/// Most cells of a density raster an answer draws (the default cell grows to fit).
pub const MAX_KDE_CELLS: usize = 1_000_000;
/// Fishnet cell of blind spot places when no `size_m` is given, metres: a spot is at most 30 m
/// across.
pub const PLACE_FISHNET_M: f64 = 50.0;

/// Which stored points an analysis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    /// The two-year history only.
    History,
    /// The live cases only.
    Cases,
    /// Both.
    #[default]
    Both,
}

/// Where a point set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The store, with the part of it to read.
    Store(Include),
    /// An upload.
    Upload,
}

/// How an upload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    /// CSV with a header.
    Csv,
    /// A GeoJSON FeatureCollection of Points.
    GeoJson,
}

/// The metric frame of the city: a transverse Mercator centred on the extent of its grids.
pub fn city_frame(ix: &CityIndex) -> LocalFrame {
    let c = ix.extent().center();
    LocalFrame::at(c.x, c.y)
}

/// A point set located in the city: the stored history and cases (history first), or an upload.
#[derive(Debug)]
pub struct Points {
    /// The points with their metres and where the engine puts them.
    pub data: Dataset,
    /// The first case (rows before it are history); the length of an upload.
    pub first_case: usize,
}

impl Points {
    /// The stored history alone, located in the city's frame: the part of the stored points kept
    /// while only the cases change (see [`Points::stored`]).
    pub fn history(history: Vec<Report>, ix: &CityIndex) -> Dataset {
        Dataset::new(history, Some(city_frame(ix)), Some(ix))
    }

    /// The stored history (from [`Points::history`] with the same index, shared, not copied)
    /// followed by the cases.
    pub fn stored(history: &Dataset, cases: Vec<Report>, ix: &CityIndex) -> Self {
        Self {
            data: history.then(cases, Some(ix)),
            first_case: history.reports.len(),
        }
    }

    /// An uploaded point set. Its frame comes from its first point: one in the city gives the
    /// city's frame (so the cached administrative areas serve it), one elsewhere a frame around
    /// the points' mean.
    pub fn upload(
        body: &[u8],
        format: UploadFormat,
        options: &UploadOptions,
        ix: &CityIndex,
    ) -> Result<Self, HotspotError> {
        let reports = match format {
            UploadFormat::Csv => input::csv_points(body, options)?,
            UploadFormat::GeoJson => input::geojson_points(body, options)?,
        };
        let inside = reports.first().is_some_and(|r| {
            geo::Intersects::intersects(&ix.extent(), &geo::coord! {x: r.lon, y: r.lat})
        });
        let frame = inside.then(|| city_frame(ix));
        let first_case = reports.len();
        Ok(Self {
            data: Dataset::new(reports, frame, Some(ix)),
            first_case,
        })
    }
}

impl Footprint for Points {
    fn footprint(&self) -> usize {
        self.data.footprint()
    }
}

/// The points one request analyses: a selection of a point set, and the city it is seen in.
#[derive(Debug)]
pub struct Selection {
    /// The point set.
    pub points: Arc<Points>,
    /// Row numbers of the selected points.
    pub rows: Vec<u32>,
    /// The city's index the points were located with.
    pub index: Arc<CityIndex>,
    /// Where the points came from.
    pub origin: Origin,
}

impl Selection {
    /// The points of `points` passing `filter` (and, stored, the part `origin` includes).
    pub fn new(
        points: Arc<Points>,
        origin: Origin,
        filter: &Filter,
        index: Arc<CityIndex>,
    ) -> Self {
        let mut rows = points.data.select(filter, Some(&index));
        if let Origin::Store(include) = origin {
            match include {
                Include::Both => {}
                Include::History => rows.retain(|&i| (i as usize) < points.first_case),
                Include::Cases => rows.retain(|&i| (i as usize) >= points.first_case),
            }
        }
        Self {
            points,
            rows,
            index,
            origin,
        }
    }

    /// The located points.
    pub fn data(&self) -> &Dataset {
        &self.points.data
    }

    /// The metric frame of the points.
    pub fn frame(&self) -> LocalFrame {
        self.points.data.frame
    }

    /// Whether the points are the store's.
    pub fn stored(&self) -> bool {
        matches!(self.origin, Origin::Store(_))
    }

    /// Refuses an empty selection (the statistics need points).
    pub fn require_points(&self) -> Result<(), HotspotError> {
        if self.rows.is_empty() {
            Err(HotspotError::NoPoints)
        } else {
            Ok(())
        }
    }

    /// The extent (west, south, east, north; metres in the frame) fishnet and H3 areas cover:
    /// the city's for stored data, the selected points' for an upload.
    fn extent(&self) -> [f64; 4] {
        let ds = self.data();
        if self.stored() {
            extent_of(ds.frame, &self.index)
        } else {
            let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for &i in &self.rows {
                let m = ds.metres[i as usize];
                (w, s, e, n) = (w.min(m.x), s.min(m.y), e.max(m.x), n.max(m.y));
            }
            [w, s, e, n]
        }
    }
}

/// The city's extent in `frame`, metres (west, south, east, north).
fn extent_of(frame: LocalFrame, ix: &CityIndex) -> [f64; 4] {
    let e = ix.extent();
    let (a, b) = (
        frame.forward(e.min().x, e.min().y),
        frame.forward(e.max().x, e.max().y),
    );
    [a.x, a.y, b.x, b.y]
}

/// Areas, with the key they are cached under (none for an upload's own lattice).
struct CachedAreas {
    areas: Arc<Areas>,
    key: Option<String>,
}

/// Gi* of every area, with the areas and neighbours it was computed on.
struct GiRows {
    areas: Arc<Areas>,
    weights: Arc<Weights>,
    rows: Vec<GiRow>,
}

/// Rows of an analysis over areas in the endpoint's ranking, each with the index of its area
/// (for the outline); `total` counts every area.
#[derive(Debug)]
pub struct AreaTable<R> {
    /// The areas.
    pub areas: Arc<Areas>,
    /// All areas, listed or not.
    pub total: usize,
    /// (area index, row), in ranking order, at most the limit asked for.
    pub rows: Vec<(usize, R)>,
}

impl<R> AreaTable<R> {
    /// The rows passing `keep`, largest `key` first (ties in area order), at most `limit`.
    fn ranked(
        areas: Arc<Areas>,
        rows: Vec<R>,
        keep: impl Fn(&R) -> bool,
        key: impl Fn(&R) -> f64,
        limit: usize,
    ) -> Self {
        let total = rows.len();
        let mut rows: Vec<(usize, R)> = rows
            .into_iter()
            .enumerate()
            .filter(|r| keep(&r.1))
            .collect();
        rows.sort_by(|a, b| key(&b.1).total_cmp(&key(&a.1)).then(a.0.cmp(&b.0)));
        rows.truncate(limit);
        Self { areas, total, rows }
    }
}

/// Counts per area.
#[derive(Debug)]
pub struct Aggregate {
    /// Most reports first.
    pub table: AreaTable<AggregateRow>,
    /// Weighted reports in no area.
    pub outside: f64,
}

/// Gi* per area.
#[derive(Debug)]
pub struct GiStar {
    /// Hottest first.
    pub table: AreaTable<GiRow>,
    /// Mean neighbours of an area.
    pub mean_neighbours: f64,
    /// Areas without neighbours.
    pub islands: usize,
    /// Areas at +3 after the FDR correction.
    pub hot_99_fdr: usize,
    /// Areas at −3 after the FDR correction.
    pub cold_99_fdr: usize,
}

/// Emerging hot spots.
#[derive(Debug)]
pub struct Emerging {
    /// Areas with a pattern, most reports first.
    pub table: AreaTable<EmergingRow>,
    /// The time steps.
    pub bins: Bins,
    /// Areas per category (`no_pattern` included).
    pub categories: BTreeMap<String, usize>,
}

/// The zone breakdown.
#[derive(Debug)]
pub struct ZoneBreakdown {
    /// One row per zone.
    pub rows: Vec<ZoneRow>,
    /// Sentences to quote, zh-CN.
    pub sentences_zh: Vec<String>,
    /// The same in English.
    pub sentences_en: Vec<String>,
}

/// How areas and neighbours are chosen for Gi* (and for the zone breakdown's hot spot area).
#[derive(Debug, Clone, Copy)]
pub struct GiParams {
    /// The areas.
    pub areas: AreaSpec,
    /// Their neighbours.
    pub weights: WeightSpec,
    /// The weight transform.
    pub transform: Transform,
}

impl Default for GiParams {
    /// The API's defaults: unit grids, queen contiguity, binary weights.
    fn default() -> Self {
        Self {
            areas: AreaSpec::new(Default::default(), None, None)
                .expect("the default areas need no parameter"),
            weights: WeightSpec::new(Default::default(), None, None)
                .expect("the default neighbours need no parameter"),
            transform: Transform::default(),
        }
    }
}

/// One 门前三包 frontage with the reports in its strip.
#[derive(Debug, Clone, Serialize)]
pub struct FrontageRow {
    /// Frontage code.
    pub code: String,
    /// The shop or organisation answering for it.
    pub name: String,
    /// Its responsible unit.
    pub unit_code: Option<String>,
    /// Reports in its strip.
    pub count: u32,
    /// Length of the frontage, metres.
    pub length_m: f64,
    /// Reports per 100 m of frontage (so a long façade does not win by size alone).
    pub per_100m: f64,
}

/// The analyses, with the caches of analysis areas and their neighbours: per index version,
/// area kind and frame, least recently used evicted first, half the byte budget each.
pub struct Service {
    areas: ByteLru<Areas>,
    weights: ByteLru<Weights>,
}

impl Default for Service {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_BYTES)
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("hotspot::Service")
            .field("areas", &self.areas)
            .field("weights", &self.weights)
            .finish()
    }
}

impl Service {
    /// A service whose area and neighbour caches together hold at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        // The gauge names predate the areas' name and stay for the dashboards.
        Self {
            areas: ByteLru::new("hotspot_units", budget / 2),
            weights: ByteLru::new("hotspot_weights", budget / 2),
        }
    }

    /// (cache name, bytes, entries) of the area and neighbour caches.
    pub fn usage(&self) -> [(&'static str, usize, usize); 2] {
        let (ab, ae) = self.areas.usage();
        let (wb, we) = self.weights.usage();
        [("hotspot_units", ab, ae), ("hotspot_weights", wb, we)]
    }

    /// The areas of a selection. The store's, and an upload's administrative areas in the
    /// city's frame, come from the cache; an upload's own lattice is built for it alone. Fishnet
    /// and H3 lattices over more than [`areas::MAX_AREA_CELLS`] cells are refused before they are
    /// built.
    fn areas_of(&self, s: &Selection, spec: AreaSpec) -> Result<CachedAreas, HotspotError> {
        let ix = s.index.clone();
        let frame = s.frame();
        let (ox, oy) = frame.origin();
        let extent = s.extent();
        areas::check_lattice(spec, extent)?;
        let stored = s.stored();
        let build = move || {
            let ix2 = ix.clone();
            // Stored points: the cells in the city; an upload: every cell of its extent.
            let keep = move |lon: f64, lat: f64| !stored || ix2.locate(lon, lat).grid != NONE;
            let mut a = match spec {
                AreaSpec::Admin(level) => return Areas::admin(&ix, level, frame),
                AreaSpec::Fishnet(size) => Areas::fishnet(frame, extent, size, keep),
                AreaSpec::H3(res) => Areas::h3(frame, extent, res, keep),
            };
            a.add_frontages(&ix);
            a
        };
        let in_city_frame = (ox, oy) == city_frame(&s.index).origin();
        if stored || (matches!(spec, AreaSpec::Admin(_)) && in_city_frame) {
            let key = format!("{}/{spec:?}/{ox},{oy}", s.index.version());
            Ok(CachedAreas {
                areas: self.areas.get_or_insert_with(key.clone(), build),
                key: Some(key),
            })
        } else {
            Ok(CachedAreas {
                areas: Arc::new(build()),
                key: None,
            })
        }
    }

    /// Neighbours of areas: cached under the areas' own key (which names the index version, area
    /// kind and frame), computed afresh for uncached areas. Refused above
    /// [`areas::MAX_NEIGHBOUR_LINKS`] before they are built.
    fn weights_of(&self, a: &CachedAreas, spec: WeightSpec) -> Result<Arc<Weights>, HotspotError> {
        a.areas.check_weights(spec)?;
        let Some(key) = &a.key else {
            return Ok(Arc::new(a.areas.weights(spec)));
        };
        let areas = a.areas.clone();
        Ok(self
            .weights
            .get_or_insert_with(format!("{key}/{spec:?}"), move || areas.weights(spec)))
    }

    /// Kernel density of the selection.
    pub fn density(&self, s: &Selection, params: &KdeParams) -> Result<Raster, HotspotError> {
        analysis::density(s.data(), &s.rows, params)
    }

    /// Counts and rates per area, most reports first, at most `limit` rows.
    /// `frontage_categories` are the 门前三包 category codes.
    pub fn aggregate(
        &self,
        s: &Selection,
        spec: AreaSpec,
        frontage_categories: &[String],
        limit: usize,
    ) -> Result<Aggregate, HotspotError> {
        let a = self.areas_of(s, spec)?.areas;
        let (rows, outside) =
            analysis::aggregate(s.data(), &s.rows, &a, Some(&s.index), frontage_categories);
        Ok(Aggregate {
            table: AreaTable::ranked(a, rows, |_| true, |r| r.count, limit),
            outside,
        })
    }

    /// Builds (or finds cached) the areas and neighbours Gi* with `p` uses on the selection,
    /// without computing it.
    pub fn prepare(&self, s: &Selection, p: GiParams) -> Result<(), HotspotError> {
        let a = self.areas_of(s, p.areas)?;
        self.weights_of(&a, p.weights).map(drop)
    }

    /// Gi* per area, hottest first, at most `limit` rows.
    pub fn gi_star(
        &self,
        s: &Selection,
        p: GiParams,
        limit: usize,
    ) -> Result<GiStar, HotspotError> {
        s.require_points()?;
        let GiRows {
            areas,
            weights,
            rows,
        } = self.gi_rows(s, p)?;
        let count = |b: i8| rows.iter().filter(|r| r.bin_fdr == b).count();
        let (hot_99_fdr, cold_99_fdr) = (count(3), count(-3));
        Ok(GiStar {
            table: AreaTable::ranked(areas, rows, |_| true, |r| r.z, limit),
            mean_neighbours: weights.mean_neighbours(),
            islands: weights.islands(),
            hot_99_fdr,
            cold_99_fdr,
        })
    }

    fn gi_rows(&self, s: &Selection, p: GiParams) -> Result<GiRows, HotspotError> {
        let a = self.areas_of(s, p.areas)?;
        let weights = self.weights_of(&a, p.weights)?;
        let rows = analysis::gi(
            s.data(),
            &s.rows,
            &a.areas,
            &weights,
            Some(&s.index),
            p.transform,
        );
        Ok(GiRows {
            areas: a.areas,
            weights,
            rows,
        })
    }

    /// Emerging hot spots per area: the areas with a pattern, most reports first, at most
    /// `limit`; every area counted in its category.
    pub fn emerging(
        &self,
        s: &Selection,
        spec: AreaSpec,
        weights: WeightSpec,
        p: &EmergingParams,
        limit: usize,
    ) -> Result<Emerging, HotspotError> {
        let a = self.areas_of(s, spec)?;
        let w = self.weights_of(&a, weights)?;
        let (bins, rows) =
            analysis::emerging_hot_spots(s.data(), &s.rows, &a.areas, &w, Some(&s.index), p)?;
        let mut categories = BTreeMap::new();
        for r in &rows {
            *categories.entry(r.category.name()).or_default() += 1;
        }
        Ok(Emerging {
            table: AreaTable::ranked(
                a.areas,
                rows,
                |r| r.category != Category::NoPattern,
                |r| r.count,
                limit,
            ),
            bins,
            categories,
        })
    }

    /// 卫生死角, worst first, at most `limit`: DBSCAN places, or the areas of `places`.
    pub fn blind_spots(
        &self,
        s: &Selection,
        places: Option<AreaSpec>,
        p: &BlindSpotParams,
        limit: usize,
    ) -> Result<Vec<BlindSpotRow>, HotspotError> {
        let areas = places.map(|spec| self.areas_of(s, spec)).transpose()?;
        let places = areas
            .as_ref()
            .map_or(Places::Dbscan, |a| Places::Areas(&a.areas));
        let mut rows = analysis::blind_spots(s.data(), &s.rows, places, Some(&s.index), p);
        rows.truncate(limit);
        Ok(rows)
    }

    /// The share of the load and of the 99 % hot spot area (Gi* over `p`) in each zone.
    pub fn zones(
        &self,
        s: &Selection,
        p: GiParams,
        samples: &ZoneSamples,
    ) -> Result<ZoneBreakdown, HotspotError> {
        s.require_points()?;
        let gi = self.gi_rows(s, p)?;
        let (rows, sentences_zh, sentences_en) =
            analysis::zone_breakdown(s.data(), &s.rows, &gi.areas, &gi.rows, &s.index, samples);
        Ok(ZoneBreakdown {
            rows,
            sentences_zh,
            sentences_en,
        })
    }
}

/// The zone geometry of a city, sampled: its grids on a [`ZONE_SAMPLE_M`] lattice and `roads`
/// (WGS84 lines) along their length.
pub fn zone_samples(ix: &CityIndex, roads: &[geo::LineString<f64>]) -> ZoneSamples {
    let frame = city_frame(ix);
    let net = Areas::fishnet(frame, extent_of(frame, ix), ZONE_SAMPLE_M, |lon, lat| {
        ix.locate(lon, lat).grid != NONE
    });
    ZoneSamples::build(ix, &net, roads, ZONE_SAMPLE_M)
}

/// The 门前三包 frontages with the most selected reports in their strips, most first (ties by
/// frontage order), at most `limit`.
pub fn frontages(s: &Selection, limit: usize) -> Vec<FrontageRow> {
    let Some(located) = s.data().located.as_ref() else {
        return Vec::new();
    };
    let mut counts: std::collections::HashMap<u32, u32> = Default::default();
    for &i in &s.rows {
        let f = located.frontage[i as usize];
        if f != NONE {
            *counts.entry(f).or_default() += 1;
        }
    }
    let mut top: Vec<(u32, u32)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let lines: Vec<_> = s.index.frontage_lines().collect();
    top.into_iter()
        .take(limit)
        .filter_map(|(f, count)| {
            let (code, name, unit) = s.index.frontage(f)?;
            let line = lines.get(f as usize)?.2;
            let length_m: f64 = line
                .0
                .windows(2)
                .map(|w| crate::assign::geodesy::Tangent::at(w[0].x, w[0].y).to_point(w[1]))
                .sum();
            Some(FrontageRow {
                code: code.to_owned(),
                name: name.to_owned(),
                unit_code: unit.map(str::to_owned),
                count,
                length_m: (length_m * 10.0).round() / 10.0,
                per_100m: if length_m > 0.0 {
                    (f64::from(count) * 100.0 / length_m * 100.0).round() / 100.0
                } else {
                    0.0
                },
            })
        })
        .collect()
}

/// The places of a blind spot analysis a request may name (`place=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    /// DBSCAN clusters in metres.
    #[default]
    Dbscan,
    /// Unit grids.
    Grid,
    /// Fishnet cells.
    Fishnet,
}

impl PlaceKind {
    /// The areas that are the places (none for DBSCAN); a fishnet of `size_m` (default
    /// [`PLACE_FISHNET_M`]).
    pub fn areas(self, size_m: Option<f64>) -> Option<AreaSpec> {
        match self {
            Self::Dbscan => None,
            Self::Grid => Some(AreaSpec::Admin(AreaLevel::Grid)),
            Self::Fishnet => Some(AreaSpec::Fishnet(size_m.unwrap_or(PLACE_FISHNET_M))),
        }
    }
}
