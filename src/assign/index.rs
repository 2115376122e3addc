//! The in-memory index and its two queries: [`CityIndex::locate`] (compact, for batches) and
//! [`CityIndex::assign`] (the full chain with names and reasons).

use std::collections::HashMap;

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Coord, CoordinatePosition, Geometry, LineString, MultiPolygon, Rect};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use super::buckets::{Buckets, Footprint, INSIDE, Lattice};
use super::geodesy::Tangent;
use super::result::{AreaRef, Assignment, FrontageHit, Nearest, Owner, Status, ZoneHit, Zones};
use crate::domain::catalogue::Category;
use crate::domain::crs::Crs;
use crate::domain::jurisdiction::IndexedFeature;
use crate::domain::unit::ResponsibleUnit;

/// "No such feature" in a [`Hit`].
pub const NONE: u32 = u32::MAX;

/// Distances and resolution of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Railway corridor widths, metres (each answer says which it lies within).
    pub railway_m: Vec<f64>,
    /// A point this close to a back alley's centre line is on the alley, metres.
    pub back_alley_m: f64,
    /// A point this close to an inspection site is near it, metres.
    pub inspection_site_m: f64,
    /// Two frontage strips holding a point whose distances differ by less than this make the
    /// frontage owner ambiguous, metres.
    pub frontage_ambiguity_m: f64,
    /// Lattice cell size, metres.
    pub cell_m: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            railway_m: vec![50.0, 100.0, 200.0],
            back_alley_m: 10.0,
            inspection_site_m: 100.0,
            frontage_ambiguity_m: 1.0,
            cell_m: 25.0,
        }
    }
}

/// Everything the index is built from (WGS84 lon/lat degrees).
#[derive(Debug, Clone, Default)]
pub struct CityLayers {
    /// The data version these layers come from.
    pub version: i64,
    /// 区.
    pub districts: Vec<IndexedFeature>,
    /// 街道/镇.
    pub streets: Vec<IndexedFeature>,
    /// 社区/村.
    pub communities: Vec<IndexedFeature>,
    /// 单元网格.
    pub grids: Vec<IndexedFeature>,
    /// 门前三包 frontage segments (with their strip depth).
    pub frontages: Vec<IndexedFeature>,
    /// Zones (kind: urban_village, railway_land, back_alley, inspection_site).
    pub zones: Vec<IndexedFeature>,
    /// Railway centre lines.
    pub railways: Vec<LineString<f64>>,
    /// Departments, for naming the department of a category.
    pub departments: Vec<ResponsibleUnit>,
}

/// An administrative level of the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AreaLevel {
    /// 区.
    District,
    /// 街道/镇.
    Street,
    /// 社区/村.
    Community,
    /// 单元网格.
    Grid,
}

/// One administrative area as [`CityIndex::areas`] lists it (WGS84 degrees).
#[derive(Debug, Clone, Copy)]
pub struct AreaView<'a> {
    /// Code.
    pub code: &'a str,
    /// Name.
    pub name: &'a str,
    /// Index of the parent area one level up, or [`NONE`].
    pub parent: u32,
    /// Outline, WGS84 lon/lat degrees.
    pub polygon: &'a MultiPolygon<f64>,
    /// The area class (区域类别) for 考评: 1 or 2, if the feature says.
    pub class: Option<u8>,
}

/// One 门前三包 frontage as [`CityIndex::frontages`] lists it.
#[derive(Debug, Clone, Copy)]
pub struct FrontageView<'a> {
    /// Code.
    pub code: &'a str,
    /// The shop's name.
    pub name: &'a str,
    /// The shop's responsible unit.
    pub unit: Option<&'a str>,
    /// The shop type, if the feature says.
    pub kind: Option<&'a str>,
    /// Strip depth from the facade towards the kerb, metres.
    pub depth_m: f64,
    /// The facade line, WGS84 lon/lat degrees.
    pub line: &'a LineString<f64>,
}

/// The compact answer for one point: indices into the index's tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The unit grid (lowest code among those covering the point), or [`NONE`].
    pub grid: u32,
    /// The point lies on a boundary of several grids.
    pub on_boundary: bool,
    /// Nearest frontage whose strip holds the point.
    pub frontage: u32,
    /// Its distance, metres.
    pub frontage_m: f32,
    /// The second nearest, or [`NONE`].
    pub frontage2: u32,
    /// Its distance, metres.
    pub frontage2_m: f32,
    /// How many strips hold the point.
    pub frontage_count: u16,
    /// Urban village zone.
    pub village: u32,
    /// Railway land zone.
    pub railway_land: u32,
    /// Distance to the nearest railway line if within the widest corridor, else infinity.
    pub railway_m: f32,
    /// Back alley within reach.
    pub alley: u32,
    /// Its distance.
    pub alley_m: f32,
    /// Inspection site within reach.
    pub site: u32,
    /// Its distance.
    pub site_m: f32,
}

impl Hit {
    const EMPTY: Hit = Hit {
        grid: NONE,
        on_boundary: false,
        frontage: NONE,
        frontage_m: f32::INFINITY,
        frontage2: NONE,
        frontage2_m: f32::INFINITY,
        frontage_count: 0,
        village: NONE,
        railway_land: NONE,
        railway_m: f32::INFINITY,
        alley: NONE,
        alley_m: f32::INFINITY,
        site: NONE,
        site_m: f32::INFINITY,
    };
}

#[derive(Debug, Clone)]
struct Area {
    code: Box<str>,
    name: Box<str>,
    unit: Option<Box<str>>,
    parent: u32,
    /// The area class (区域类别) for 考评, if the feature says; see [`crate::domain::jurisdiction::Jurisdiction::area_class`].
    class: Option<u8>,
    poly: MultiPolygon<f64>,
}

#[derive(Debug, Clone)]
struct Item {
    code: Box<str>,
    name: Box<str>,
    unit: Option<Box<str>>,
    kind: Option<Box<str>>,
    /// Strip depth for frontages, metres.
    depth_m: f64,
    line: LineString<f64>,
}

#[derive(Debug, Clone)]
struct Zone {
    code: Box<str>,
    name: Box<str>,
    unit: Option<Box<str>>,
    poly: MultiPolygon<f64>,
}

/// The index over one version of the city.
#[derive(Debug)]
pub struct CityIndex {
    version: i64,
    config: EngineConfig,
    lattice: Lattice,
    extent: Rect<f64>,
    districts: Vec<Area>,
    streets: Vec<Area>,
    communities: Vec<Area>,
    grids: Vec<Area>,
    grid_buckets: Buckets,
    grid_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    frontages: Vec<Item>,
    frontage_buckets: Buckets,
    villages: Vec<Zone>,
    village_buckets: Buckets,
    railway_lands: Vec<Zone>,
    railway_land_buckets: Buckets,
    railways: Vec<LineString<f64>>,
    railway_buckets: Buckets,
    alleys: Vec<Item>,
    alley_buckets: Buckets,
    sites: Vec<Item>,
    site_buckets: Buckets,
    departments: HashMap<String, String>,
    /// Sizes for the 考评 area indicators, measured on first use.
    stats: std::sync::OnceLock<super::AreaStats>,
}

fn polygonal(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}

fn lineal(g: &Geometry<f64>) -> Option<LineString<f64>> {
    match g {
        Geometry::LineString(l) => Some(l.clone()),
        Geometry::MultiLineString(m) => Some(LineString::from(
            m.0.iter()
                .flat_map(|l| l.0.iter().copied())
                .collect::<Vec<_>>(),
        )),
        Geometry::Point(p) => Some(LineString::from(vec![p.0])),
        // An inspection site drawn as an area (a market, a park): near it means near its outline.
        Geometry::Polygon(p) => Some(p.exterior().clone()),
        Geometry::MultiPolygon(m) => m.0.first().map(|p| p.exterior().clone()),
        _ => None,
    }
}

fn areas(features: &[IndexedFeature], parents: &[Area]) -> Vec<Area> {
    let by_code: HashMap<&str, u32> = parents
        .iter()
        .enumerate()
        .map(|(i, a)| (&*a.code, i as u32))
        .collect();
    let mut out: Vec<Area> = features
        .iter()
        .filter_map(|f| {
            Some(Area {
                code: f.code.as_str().into(),
                name: f.name.as_str().into(),
                unit: f.unit_code.as_deref().map(Into::into),
                parent: f
                    .parent_code
                    .as_deref()
                    .and_then(|p| by_code.get(p))
                    .copied()
                    .unwrap_or(NONE),
                class: f.props.area_class,
                poly: polygonal(&f.geometry)?,
            })
        })
        .collect();
    // Lowest code first: the boundary tie-break takes the lowest index.
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

fn item(f: &IndexedFeature, depth_m: f64) -> Option<Item> {
    Some(Item {
        code: f.code.as_str().into(),
        name: f.name.as_str().into(),
        unit: f.unit_code.as_deref().map(Into::into),
        kind: f
            .props
            .site_type
            .as_deref()
            .or(f.kind.as_deref())
            .map(Into::into),
        depth_m,
        line: lineal(&f.geometry)?,
    })
}

fn zone(f: &IndexedFeature) -> Option<Zone> {
    Some(Zone {
        code: f.code.as_str().into(),
        name: f.name.as_str().into(),
        unit: f.unit_code.as_deref().map(Into::into),
        poly: polygonal(&f.geometry)?,
    })
}

fn extent_of<'a>(polys: impl Iterator<Item = &'a MultiPolygon<f64>>) -> Option<Rect<f64>> {
    polys
        .filter_map(BoundingRect::bounding_rect)
        .reduce(|a, b| {
            Rect::new(
                Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
}

/// The position of a point relative to a multipolygon (covers semantics).
#[inline]
fn position(poly: &MultiPolygon<f64>, c: Coord<f64>) -> CoordPos {
    poly.coordinate_position(&c)
}

impl CityIndex {
    /// Builds the index. Features of the wrong geometry type are skipped (the importer refuses
    /// them in the first place).
    pub fn build(layers: &CityLayers, config: EngineConfig) -> Self {
        let districts = areas(&layers.districts, &[]);
        let streets = areas(&layers.streets, &districts);
        let communities = areas(&layers.communities, &streets);
        let grids = areas(&layers.grids, &communities);
        let extent = extent_of(districts.iter().chain(&grids).map(|a| &a.poly))
            .unwrap_or_else(|| Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 }));
        let grid_tree = RTree::bulk_load(
            grids
                .iter()
                .enumerate()
                .filter_map(|(i, g)| {
                    let r = g.poly.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i as u32,
                    ))
                })
                .collect(),
        );

        let mut frontages: Vec<Item> = layers
            .frontages
            .iter()
            .filter_map(|f| item(f, f.props.depth_m.unwrap_or(0.0)))
            .collect();
        frontages.sort_by(|a, b| a.code.cmp(&b.code));

        let kind_is = |f: &&IndexedFeature, k: &str| f.kind.as_deref() == Some(k);
        let zones_of = |kind: &str| {
            let mut z: Vec<Zone> = layers
                .zones
                .iter()
                .filter(|f| kind_is(f, kind))
                .filter_map(zone)
                .collect();
            z.sort_by(|a, b| a.code.cmp(&b.code));
            z
        };
        let items_of = |kind: &str| {
            let mut z: Vec<Item> = layers
                .zones
                .iter()
                .filter(|f| kind_is(f, kind))
                .filter_map(|f| item(f, 0.0))
                .collect();
            z.sort_by(|a, b| a.code.cmp(&b.code));
            z
        };
        let villages = zones_of("urban_village");
        let railway_lands = zones_of("railway_land");
        let railways = layers.railways.clone();
        let alleys = items_of("back_alley");
        let sites = items_of("inspection_site");

        // What each bucket set lists; the lattice gets cells wherever any of them may.
        fn polys(z: &[Zone]) -> Vec<&MultiPolygon<f64>> {
            z.iter().map(|z| &z.poly).collect()
        }
        fn lines(z: &[Item]) -> Vec<&LineString<f64>> {
            z.iter().map(|z| &z.line).collect()
        }
        let widest = config.railway_m.iter().copied().fold(0.0, f64::max);
        let (grid_polys, village_polys, railway_land_polys) = (
            grids.iter().map(|g| &g.poly).collect::<Vec<_>>(),
            polys(&villages),
            polys(&railway_lands),
        );
        let (frontage_lines, railway_lines, alley_lines, site_lines) = (
            lines(&frontages),
            railways.iter().collect::<Vec<_>>(),
            lines(&alleys),
            lines(&sites),
        );
        let frontage_reach: Vec<f64> = frontages.iter().map(|f| f.depth_m).collect();
        let (railway_reach, alley_reach, site_reach) = (
            vec![widest; railways.len()],
            vec![config.back_alley_m; alleys.len()],
            vec![config.inspection_site_m; sites.len()],
        );
        let footprints = [
            Footprint::Polygons(&grid_polys),
            Footprint::Lines(&frontage_lines, &frontage_reach),
            Footprint::Polygons(&village_polys),
            Footprint::Polygons(&railway_land_polys),
            Footprint::Lines(&railway_lines, &railway_reach),
            Footprint::Lines(&alley_lines, &alley_reach),
            Footprint::Lines(&site_lines, &site_reach),
        ];
        let lattice = Lattice::sparse(extent, config.cell_m, &footprints.each_ref());
        let [
            grid_buckets,
            frontage_buckets,
            village_buckets,
            railway_land_buckets,
            railway_buckets,
            alley_buckets,
            site_buckets,
        ] = footprints.each_ref().map(|fp| Buckets::of(&lattice, fp));

        Self {
            version: layers.version,
            config,
            lattice,
            extent,
            districts,
            streets,
            communities,
            grids,
            grid_buckets,
            grid_tree,
            frontages,
            frontage_buckets,
            villages,
            village_buckets,
            railway_lands,
            railway_land_buckets,
            railways,
            railway_buckets,
            alleys,
            alley_buckets,
            sites,
            site_buckets,
            departments: layers
                .departments
                .iter()
                .map(|u| (u.code.clone(), u.name.clone()))
                .collect(),
            stats: std::sync::OnceLock::new(),
        }
    }

    /// The size of every area (km², km of frontage, area class), measured once per index.
    pub fn area_stats(&self) -> &super::AreaStats {
        self.stats.get_or_init(|| super::AreaStats::compute(self))
    }

    /// The data version the index was built from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The extent of the covered area (WGS84 degrees).
    pub fn extent(&self) -> Rect<f64> {
        self.extent
    }

    /// Counts of indexed features: grids, frontages, zones.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.grids.len(),
            self.frontages.len(),
            self.villages.len() + self.railway_lands.len() + self.alleys.len() + self.sites.len(),
        )
    }

    /// Approximate heap memory of the lookup tables (not the geometry), bytes.
    pub fn table_bytes(&self) -> usize {
        self.lattice.bytes()
            + [
                &self.grid_buckets,
                &self.frontage_buckets,
                &self.village_buckets,
                &self.railway_land_buckets,
                &self.railway_buckets,
                &self.alley_buckets,
                &self.site_buckets,
            ]
            .iter()
            .map(|b| b.bytes())
            .sum::<usize>()
    }

    fn polygon_hit(buckets: &Buckets, zones: &[Zone], cell: usize, c: Coord<f64>) -> u32 {
        for &item in buckets.get(cell) {
            if item & INSIDE != 0 {
                return item & !INSIDE;
            }
            if position(&zones[item as usize].poly, c) != CoordPos::Outside {
                return item;
            }
        }
        NONE
    }

    /// The compact answer for one WGS84 point.
    pub fn locate(&self, lon: f64, lat: f64) -> Hit {
        let mut hit = Hit::EMPTY;
        let c = Coord { x: lon, y: lat };
        let Some(cell) = self.lattice.cell(lon, lat) else {
            return hit;
        };

        for &item in self.grid_buckets.get(cell) {
            if item & INSIDE != 0 {
                hit.grid = item & !INSIDE;
                break;
            }
            match position(&self.grids[item as usize].poly, c) {
                CoordPos::Inside => {
                    hit.grid = item;
                    hit.on_boundary = false;
                    break;
                }
                CoordPos::OnBoundary => {
                    if hit.grid != NONE {
                        hit.on_boundary = true;
                    }
                    hit.grid = hit.grid.min(item);
                }
                CoordPos::Outside => {}
            }
        }
        // A single boundary hit is on the edge of the covered area, not between grids: no tie.

        hit.village = Self::polygon_hit(&self.village_buckets, &self.villages, cell, c);
        hit.railway_land =
            Self::polygon_hit(&self.railway_land_buckets, &self.railway_lands, cell, c);

        let (fr, rw, al, si) = (
            self.frontage_buckets.get(cell),
            self.railway_buckets.get(cell),
            self.alley_buckets.get(cell),
            self.site_buckets.get(cell),
        );
        if fr.is_empty() && rw.is_empty() && al.is_empty() && si.is_empty() {
            return hit;
        }
        let t = Tangent::at(lon, lat);
        for &i in fr {
            let f = &self.frontages[i as usize];
            let d = t.to_line(&f.line);
            if d <= f.depth_m {
                hit.frontage_count += 1;
                let d32 = d as f32;
                if d32 < hit.frontage_m || (d32 == hit.frontage_m && i < hit.frontage) {
                    hit.frontage2 = hit.frontage;
                    hit.frontage2_m = hit.frontage_m;
                    hit.frontage = i;
                    hit.frontage_m = d32;
                } else if d32 < hit.frontage2_m || (d32 == hit.frontage2_m && i < hit.frontage2) {
                    hit.frontage2 = i;
                    hit.frontage2_m = d32;
                }
            }
        }
        let widest = self.config.railway_m.iter().copied().fold(0.0, f64::max);
        for &i in rw {
            let d = t.to_line(&self.railways[i as usize]);
            if d <= widest {
                hit.railway_m = hit.railway_m.min(d as f32);
            }
        }
        for &i in al {
            let d = t.to_line(&self.alleys[i as usize].line);
            if d <= self.config.back_alley_m && (d as f32) < hit.alley_m {
                hit.alley = i;
                hit.alley_m = d as f32;
            }
        }
        for &i in si {
            let d = t.to_line(&self.sites[i as usize].line);
            if d <= self.config.inspection_site_m && (d as f32) < hit.site_m {
                hit.site = i;
                hit.site_m = d as f32;
            }
        }
        hit
    }

    /// The codes of the grid, community, street and district of a hit (for batch output).
    pub fn chain_codes(&self, hit: &Hit) -> [Option<&str>; 4] {
        let Some(g) = self.grids.get(hit.grid as usize) else {
            return [None; 4];
        };
        let c = self.communities.get(g.parent as usize);
        let s = c.and_then(|c| self.streets.get(c.parent as usize));
        let d = s.and_then(|s| self.districts.get(s.parent as usize));
        [
            Some(&*g.code),
            c.map(|a| &*a.code),
            s.map(|a| &*a.code),
            d.map(|a| &*a.code),
        ]
    }

    /// Code, shop name and unit of a frontage of a hit.
    pub fn frontage(&self, i: u32) -> Option<(&str, &str, Option<&str>)> {
        self.frontages
            .get(i as usize)
            .map(|f| (&*f.code, &*f.name, f.unit.as_deref()))
    }

    /// Code of an urban village, railway land, back alley or inspection site of a hit.
    pub fn zone_codes(&self, hit: &Hit) -> [Option<&str>; 4] {
        [
            self.villages.get(hit.village as usize).map(|z| &*z.code),
            self.railway_lands
                .get(hit.railway_land as usize)
                .map(|z| &*z.code),
            self.alleys.get(hit.alley as usize).map(|z| &*z.code),
            self.sites.get(hit.site as usize).map(|z| &*z.code),
        ]
    }

    /// Whether a department unit is known.
    pub fn has_department(&self, unit_code: &str) -> bool {
        self.departments.contains_key(unit_code)
    }

    /// The areas of one administrative level, lowest code first: the position of an area in this
    /// list is the index a [`Hit`] (grid) or [`CityIndex::parent`] returns. WGS84 degrees.
    pub fn areas(&self, level: AreaLevel) -> impl ExactSizeIterator<Item = AreaView<'_>> + '_ {
        self.level(level).iter().map(|a| AreaView {
            code: &a.code,
            name: &a.name,
            parent: a.parent,
            polygon: &a.poly,
            class: a.class,
        })
    }

    fn level(&self, level: AreaLevel) -> &[Area] {
        match level {
            AreaLevel::District => &self.districts,
            AreaLevel::Street => &self.streets,
            AreaLevel::Community => &self.communities,
            AreaLevel::Grid => &self.grids,
        }
    }

    /// The name of the area `code` of `level`, if the index has it.
    pub fn area_name(&self, level: AreaLevel, code: &str) -> Option<&str> {
        let areas = self.level(level);
        areas
            .binary_search_by(|a| (*a.code).cmp(code))
            .ok()
            .map(|i| &*areas[i].name)
    }

    /// The index of the parent (one level up) of area `i` of `level`, or [`NONE`].
    pub fn parent(&self, level: AreaLevel, i: u32) -> u32 {
        self.level(level).get(i as usize).map_or(NONE, |a| a.parent)
    }

    /// Every 门前三包 frontage: code, shop name, centre line (WGS84), index order as in [`Hit`].
    pub fn frontage_lines(&self) -> impl Iterator<Item = (&str, &str, &LineString<f64>)> + '_ {
        self.frontages.iter().map(|f| (&*f.code, &*f.name, &f.line))
    }

    /// Every 门前三包 frontage with its shop, in index order.
    pub fn frontages(&self) -> impl ExactSizeIterator<Item = FrontageView<'_>> + '_ {
        self.frontages.iter().map(|f| FrontageView {
            code: &f.code,
            name: &f.name,
            unit: f.unit.as_deref(),
            kind: f.kind.as_deref(),
            depth_m: f.depth_m,
            line: &f.line,
        })
    }

    /// Centre lines of the back alleys (WGS84).
    pub fn alley_lines(&self) -> impl Iterator<Item = &LineString<f64>> + '_ {
        self.alleys.iter().map(|a| &a.line)
    }

    /// Whether two frontage distances are too close to call.
    pub fn is_ambiguous(&self, hit: &Hit) -> bool {
        hit.frontage2 != NONE
            && f64::from(hit.frontage2_m - hit.frontage_m) < self.config.frontage_ambiguity_m
    }

    fn area_ref(a: &Area) -> AreaRef {
        AreaRef {
            code: a.code.to_string(),
            name: a.name.to_string(),
            unit_code: a.unit.as_deref().map(str::to_owned),
        }
    }

    fn nearest_grid(&self, c: Coord<f64>) -> Option<(u32, f64)> {
        let t = Tangent::at(c.x, c.y);
        self.grid_tree
            .nearest_neighbor_iter(&[c.x, c.y])
            .take(24)
            .map(|g| {
                let poly = &self.grids[g.data as usize].poly;
                let d = poly
                    .iter()
                    .map(|p| t.to_line(p.exterior()))
                    .fold(f64::INFINITY, f64::min);
                (g.data, d)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The full chain for one WGS84 point, with names and reasons.
    pub fn assign(
        &self,
        lon: f64,
        lat: f64,
        input_crs: Crs,
        category: Option<&Category>,
    ) -> Assignment {
        let hit = self.locate(lon, lat);
        let c = Coord { x: lon, y: lat };
        let mut reasons = Vec::new();
        let grid = self.grids.get(hit.grid as usize);
        // Without a grid (a partial city, or a point outside every grid), each level is looked
        // up on its own: a district-only city still answers with its district.
        let community = match grid {
            Some(g) => self.communities.get(g.parent as usize),
            None => covering(&self.communities, c),
        };
        let street = match community {
            Some(a) => self.streets.get(a.parent as usize),
            None if grid.is_none() => covering(&self.streets, c),
            None => None,
        };
        let district = match street {
            Some(a) => self.districts.get(a.parent as usize),
            None if grid.is_none() => covering(&self.districts, c),
            None => None,
        };
        let missing_layers = self.missing_layers();
        if !missing_layers.is_empty() {
            reasons.push(format!(
                "尚未发布的图层：{}；答案只到已发布的层级。Layers not published yet: {}; the answer stops at the published levels.",
                missing_layers.join("、"),
                missing_layers.join(", ")
            ));
        }

        let mut boundary_grids = Vec::new();
        if let Some(g) = grid {
            if hit.on_boundary {
                if let Some(cell) = self.lattice.cell(lon, lat) {
                    boundary_grids = self
                        .grid_buckets
                        .get(cell)
                        .iter()
                        .filter(|&&i| {
                            i & INSIDE == 0
                                && position(&self.grids[i as usize].poly, c) == CoordPos::OnBoundary
                        })
                        .map(|&i| self.grids[i as usize].code.to_string())
                        .collect();
                    boundary_grids.sort();
                }
                reasons.push(format!(
                    "点位在网格边界上（{}），按规则取编码最小者 {}。On the shared boundary of grids {}; the lowest code wins.",
                    boundary_grids.join("、"),
                    g.code,
                    boundary_grids.join(", ")
                ));
            } else {
                reasons.push(format!(
                    "点位位于单元网格 {}（{}）内。Inside unit grid {}.",
                    g.code, g.name, g.code
                ));
            }
            if let (Some(cm), Some(st), Some(d)) = (community, street, district) {
                reasons.push(format!(
                    "网格属于 {} → {} → {}（层级划分，上级由网格确定）。The grid lies in community {}, street {}, district {}.",
                    cm.name, st.name, d.name, cm.code, st.code, d.code
                ));
            }
        }

        let mut frontages: Vec<FrontageHit> = Vec::new();
        if hit.frontage_count > 0 {
            let t = Tangent::at(lon, lat);
            if let Some(cell) = self.lattice.cell(lon, lat) {
                let mut all: Vec<(f64, &Item)> = self
                    .frontage_buckets
                    .get(cell)
                    .iter()
                    .map(|&i| &self.frontages[i as usize])
                    .map(|f| (t.to_line(&f.line), f))
                    .filter(|(d, f)| *d <= f.depth_m)
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.code.cmp(&b.1.code)));
                frontages = all
                    .into_iter()
                    .enumerate()
                    .map(|(k, (d, f))| FrontageHit {
                        rank: k as u32 + 1,
                        code: f.code.to_string(),
                        name: f.name.to_string(),
                        shop_type: f.kind.as_deref().map(str::to_owned),
                        unit_code: f.unit.as_deref().map(str::to_owned),
                        distance_m: (d * 100.0).round() / 100.0,
                        depth_m: f.depth_m,
                    })
                    .collect();
            }
        }
        let ambiguous = self.is_ambiguous(&hit);
        if let Some(first) = frontages.first() {
            if ambiguous {
                reasons.push(format!(
                    "两个门前三包责任区距离相近（{} 与 {}，相差不足 {} 米），责任商户待定。Two frontage strips hold the point within {} m of each other: ambiguous.",
                    frontages[0].code, frontages[1].code, self.config.frontage_ambiguity_m, self.config.frontage_ambiguity_m
                ));
            } else {
                reasons.push(format!(
                    "点位在「{}」门前三包责任区内（距责任段 {:.1} 米，责任进深 {} 米）。Within the frontage strip of {} ({:.1} m from the frontage, depth {} m).",
                    first.name, first.distance_m, first.depth_m, first.code, first.distance_m, first.depth_m
                ));
            }
        }

        let zone_hit = |z: &Zone| ZoneHit {
            code: z.code.to_string(),
            name: z.name.to_string(),
            unit_code: z.unit.as_deref().map(str::to_owned),
            distance_m: 0.0,
            kind: None,
        };
        let item_hit = |z: &Item, d: f32| ZoneHit {
            code: z.code.to_string(),
            name: z.name.to_string(),
            unit_code: z.unit.as_deref().map(str::to_owned),
            distance_m: (f64::from(d) * 100.0).round() / 100.0,
            kind: z.kind.as_deref().map(str::to_owned),
        };
        let railway_m = hit.railway_m.is_finite().then(|| f64::from(hit.railway_m));
        let zones = Zones {
            urban_village: self.villages.get(hit.village as usize).map(zone_hit),
            railway_land: self
                .railway_lands
                .get(hit.railway_land as usize)
                .map(zone_hit),
            railway_distance_m: railway_m.map(|d| (d * 100.0).round() / 100.0),
            railway_within_m: railway_m
                .map(|d| {
                    self.config
                        .railway_m
                        .iter()
                        .copied()
                        .filter(|&w| d <= w)
                        .collect()
                })
                .unwrap_or_default(),
            back_alley: self
                .alleys
                .get(hit.alley as usize)
                .map(|a| item_hit(a, hit.alley_m)),
            inspection_site: self
                .sites
                .get(hit.site as usize)
                .map(|a| item_hit(a, hit.site_m)),
        };
        if let Some(v) = &zones.urban_village {
            reasons.push(format!(
                "位于城中村 {}。Inside urban village {}.",
                v.name, v.code
            ));
        }
        if let Some(r) = &zones.railway_land {
            reasons.push(format!(
                "位于铁路用地 {}，归铁路部门管理。On railway land {} (railway bureau).",
                r.name, r.code
            ));
        }
        if let Some(d) = railway_m {
            reasons.push(format!("距铁路 {d:.0} 米。{d:.0} m from the railway."));
        }
        if let Some(a) = &zones.back_alley {
            reasons.push(format!(
                "位于背街小巷 {}。On back alley {}.",
                a.name, a.code
            ));
        }
        if let Some(s) = &zones.inspection_site {
            reasons.push(format!(
                "距测评点位「{}」{:.0} 米。{:.0} m from inspection site {}.",
                s.name, s.distance_m, s.distance_m, s.code
            ));
        }

        let department = match (category, district) {
            (Some(cat), Some(d)) => {
                let code = cat.department_unit(&d.code);
                let name = self.departments.get(&code).cloned();
                reasons.push(format!(
                    "「{}」({}) 的责任部门为 {}。Category {} is handled by {}.",
                    cat.name,
                    cat.code,
                    name.as_deref().unwrap_or(&code),
                    cat.code,
                    code
                ));
                Some(AreaRef {
                    // The unit answering, when the department is a known unit.
                    unit_code: name.is_some().then(|| code.clone()),
                    name: name.unwrap_or_else(|| code.clone()),
                    code,
                })
            }
            _ => None,
        };

        let owner = if let (Some(f), false) = (frontages.first(), ambiguous) {
            f.unit_code.clone().map(|u| Owner {
                level: "frontage",
                unit_code: u,
                reason: "门前三包责任商户。The frontage's shop.".into(),
            })
        } else {
            None
        }
        .or_else(|| {
            [
                (grid, "grid", "网格责任单位。The grid's unit."),
                (community, "community", "社区/村委会。The community."),
                (street, "street", "街道办事处。The street office."),
            ]
            .into_iter()
            .find_map(|(a, level, why)| {
                a.and_then(|a| a.unit.as_deref()).map(|u| Owner {
                    level,
                    unit_code: u.to_owned(),
                    reason: format!("属地兜底：{why}"),
                })
            })
        });

        let nearest = if grid.is_none() {
            self.nearest_grid(c).map(|(i, d)| {
                let g = &self.grids[i as usize];
                let district = self.communities.get(g.parent as usize)
                    .and_then(|cm| self.streets.get(cm.parent as usize))
                    .and_then(|s| self.districts.get(s.parent as usize))
                    .map(|d| d.code.to_string());
                reasons.push(format!(
                    "点位不在任何单元网格内；最近的网格为 {}，相距 {:.0} 米。Outside every unit grid; the nearest is {} at {:.0} m.",
                    g.code, d, g.code, d
                ));
                Nearest { grid: g.code.to_string(), district, distance_m: (d * 10.0).round() / 10.0 }
            })
        } else {
            None
        };

        Assignment {
            status: if grid.is_some() {
                Status::Assigned
            } else {
                Status::Unassigned
            },
            point: [lon, lat],
            input_crs,
            version: self.version,
            on_boundary: hit.on_boundary,
            ambiguous,
            district: district.map(Self::area_ref),
            street: street.map(Self::area_ref),
            community: community.map(Self::area_ref),
            grid: grid.map(Self::area_ref),
            boundary_grids,
            frontages,
            zones,
            department,
            owner,
            nearest,
            reasons,
            missing_layers,
        }
    }

    /// The jurisdiction layers (district, street, community, grid) without a feature here.
    pub fn missing_layers(&self) -> Vec<&'static str> {
        [
            ("district", self.districts.is_empty()),
            ("street", self.streets.is_empty()),
            ("community", self.communities.is_empty()),
            ("grid", self.grids.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
        .collect()
    }

    /// Whether any jurisdiction layer is published: without one there is no city to answer from.
    pub fn has_jurisdictions(&self) -> bool {
        self.missing_layers().len() < 4
    }
}

/// The lowest-coded area covering a point (boundary included), by a scan with an envelope test:
/// used only when no grid holds the point.
fn covering(areas: &[Area], c: Coord<f64>) -> Option<&Area> {
    areas.iter().find(|a| {
        a.poly.bounding_rect().is_some_and(|r| {
            r.min().x <= c.x && c.x <= r.max().x && r.min().y <= c.y && c.y <= r.max().y
        }) && position(&a.poly, c) != CoordPos::Outside
    })
}
