//! The place search service: the searchable places of the current city data (districts, streets,
//! communities and unit grids from the live index, roads from the road basemap), built once per
//! data version and kept until the version moves. Ranking is `domain::search`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use geo::{BoundingRect, Contains, Coord, Geometry, LineString, MultiPolygon, Point, Rect};

use crate::assign::{AreaLevel, CityIndex, NONE};
use crate::domain::search::{ParentRef, Place, PlaceIndex, PlaceKind};
use crate::live::LiveCity;
use crate::store::{BasemapFeature, Store, StoreError};

/// Points sampled along a road to find the streets it runs through.
const ROAD_SAMPLES: usize = 9;

/// The places of one data version, with that version.
type Versioned = (i64, Arc<PlaceIndex>);

/// Why the places could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The store failed reading the roads.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The build thread panicked (a bug).
    #[error("building the place index failed: {0}")]
    Build(#[from] tokio::task::JoinError),
}

/// The place search of one process (in `AppState`).
#[derive(Debug, Clone)]
pub struct SearchService {
    store: Store,
    live: Arc<LiveCity>,
    /// The places of one data version. One builder at a time: concurrent first searches wait
    /// for the same build instead of each reading every road.
    cached: Arc<tokio::sync::Mutex<Option<Versioned>>>,
}

impl SearchService {
    /// A service over the store's roads and the live city.
    pub fn new(store: Store, live: Arc<LiveCity>) -> Self {
        Self {
            store,
            live,
            cached: Arc::default(),
        }
    }

    /// The places of the current data version (built on first use after a change).
    pub async fn places(&self) -> Result<Arc<PlaceIndex>, SearchError> {
        let index = self.live.current();
        let mut cached = self.cached.lock().await;
        if let Some((version, places)) = cached.as_ref()
            && *version == index.version()
        {
            return Ok(places.clone());
        }
        let roads = self.store.basemap("road").await?;
        let version = index.version();
        let places = tokio::task::spawn_blocking(move || {
            Arc::new(PlaceIndex::new(build_places(&index, &roads)))
        })
        .await?;
        *cached = Some((version, places.clone()));
        Ok(places)
    }
}

fn bbox_of(rect: Option<Rect<f64>>) -> Option<[f64; 4]> {
    rect.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

struct Level {
    kind: PlaceKind,
    rows: Vec<(String, String, u32)>,
}

/// Every place of the city: the four administrative levels with their parent chains, and one
/// place per road name (its segments' union box, the streets it runs through as parents).
pub fn build_places(index: &CityIndex, roads: &[BasemapFeature]) -> Vec<Place> {
    let levels: Vec<Level> = [
        (AreaLevel::District, PlaceKind::District),
        (AreaLevel::Street, PlaceKind::Street),
        (AreaLevel::Community, PlaceKind::Community),
        (AreaLevel::Grid, PlaceKind::Grid),
    ]
    .into_iter()
    .map(|(level, kind)| Level {
        kind,
        rows: index
            .areas(level)
            .map(|a| (a.code.to_owned(), a.name.to_owned(), a.parent))
            .collect(),
    })
    .collect();
    // The chain of area `i` of level `depth`, outermost first.
    let chain = |depth: usize, i: u32| -> Vec<ParentRef> {
        let mut out = Vec::new();
        let mut parent = levels[depth].rows.get(i as usize).map_or(NONE, |r| r.2);
        for up in (0..depth).rev() {
            let Some(row) = levels[up].rows.get(parent as usize) else {
                break;
            };
            out.push(ParentRef {
                kind: levels[up].kind,
                code: row.0.clone(),
                name: row.1.clone(),
            });
            parent = row.2;
        }
        out.reverse();
        out
    };
    let mut places = Vec::new();
    for (depth, level) in [
        AreaLevel::District,
        AreaLevel::Street,
        AreaLevel::Community,
        AreaLevel::Grid,
    ]
    .into_iter()
    .enumerate()
    {
        for (i, area) in index.areas(level).enumerate() {
            let Some(bbox) = bbox_of(area.polygon.bounding_rect()) else {
                continue;
            };
            places.push(Place {
                kind: levels[depth].kind,
                code: Some(area.code.to_owned()),
                name: area.name.to_owned(),
                parents: chain(depth, u32::try_from(i).unwrap_or(NONE)),
                bbox,
            });
        }
    }
    places.extend(road_places(index, roads, &chain));
    places
}

fn road_places(
    index: &CityIndex,
    roads: &[BasemapFeature],
    chain: &dyn Fn(usize, u32) -> Vec<ParentRef>,
) -> Vec<Place> {
    let mut by_name: BTreeMap<&str, Vec<&LineString<f64>>> = BTreeMap::new();
    for road in roads {
        let Some(name) = road
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let lines: Vec<&LineString<f64>> = match &road.geometry {
            Geometry::LineString(l) => vec![l],
            Geometry::MultiLineString(m) => m.0.iter().collect(),
            _ => continue,
        };
        by_name.entry(name).or_default().extend(lines);
    }
    let streets: Vec<(Rect<f64>, &MultiPolygon<f64>, u32)> = index
        .areas(AreaLevel::Street)
        .enumerate()
        .filter_map(|(i, a)| {
            Some((
                a.polygon.bounding_rect()?,
                a.polygon,
                u32::try_from(i).ok()?,
            ))
        })
        .collect();
    by_name
        .into_iter()
        .filter_map(|(name, lines)| {
            let coords: Vec<Coord<f64>> = lines.iter().flat_map(|l| l.0.iter().copied()).collect();
            let bbox = bbox_of(LineString::new(coords.clone()).bounding_rect())?;
            // The streets some sampled vertices fall in, in code order, after their districts.
            let step = coords.len().div_ceil(ROAD_SAMPLES).max(1);
            let mut found = BTreeSet::new();
            for c in coords.iter().step_by(step) {
                let p = Point::from(*c);
                if let Some((_, _, i)) = streets
                    .iter()
                    .find(|(r, poly, _)| r.contains(&p) && poly.contains(&p))
                {
                    found.insert(*i);
                }
            }
            let mut districts = Vec::new();
            let mut street_refs = Vec::new();
            for i in found {
                let mut c = chain(1, i);
                if let Some(d) = c.pop()
                    && !districts.contains(&d)
                {
                    districts.push(d);
                }
                let a = index.areas(AreaLevel::Street).nth(i as usize)?;
                street_refs.push(ParentRef {
                    kind: PlaceKind::Street,
                    code: a.code.to_owned(),
                    name: a.name.to_owned(),
                });
            }
            districts.extend(street_refs);
            Some(Place {
                kind: PlaceKind::Road,
                code: None,
                name: name.to_owned(),
                parents: districts,
                bbox,
            })
        })
        .collect()
}
