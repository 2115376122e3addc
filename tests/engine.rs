//! The assignment engine on the real demo city, without a database: properties that must hold for
//! every point, the boundary tie-break, frontage strips, and unassigned points.

use crate::common;

use std::path::Path;
use std::sync::OnceLock;

use geo::{
    BoundingRect, Contains, CoordinatePosition, Intersects, LineString,
    coordinate_position::CoordPos,
};
use wangge::assign::{CityIndex, CityLayers, EngineConfig, NONE, Status};
use wangge::domain::crs::Crs;
use wangge::domain::jurisdiction::{IndexedFeature, Layer};
use wangge::import;

fn layer(layer: Layer) -> Vec<IndexedFeature> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
    let name = [format!("{layer}.geojson"), format!("{layer}.geojson.gz")]
        .into_iter()
        .find(|n| dir.join(n).exists())
        .unwrap();
    let mut f = import::parse_layer(layer, &import::read_text(&dir.join(name)).unwrap()).unwrap();
    f.sort_by(|a, b| a.code.cmp(&b.code));
    f.into_iter().map(IndexedFeature::from).collect()
}

struct City {
    layers: CityLayers,
    index: CityIndex,
    grid_boxes: Vec<geo::Rect<f64>>,
    grid_tree: rstar::RTree<
        rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>,
    >,
}

fn city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
        let railways = import::parse_basemap(
            "railway",
            &import::read_text(&dir.join("railway.geojson")).unwrap(),
        )
        .unwrap()
        .into_iter()
        .filter_map(|f| match f.geometry {
            geo::Geometry::LineString(l) => Some(l),
            _ => None,
        })
        .collect();
        let layers = CityLayers {
            version: 1,
            districts: layer(Layer::District),
            streets: layer(Layer::Street),
            communities: layer(Layer::Community),
            grids: layer(Layer::Grid),
            frontages: layer(Layer::Frontage),
            zones: layer(Layer::Zone),
            railways,
            departments: vec![],
        };
        let index = CityIndex::build(&layers, EngineConfig::default());
        let grid_boxes: Vec<geo::Rect<f64>> = layers
            .grids
            .iter()
            .map(|g| g.geometry.bounding_rect().unwrap())
            .collect();
        let grid_tree = rstar::RTree::bulk_load(
            grid_boxes
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    rstar::primitives::GeomWithData::new(
                        rstar::primitives::Rectangle::from_corners(
                            [r.min().x, r.min().y],
                            [r.max().x, r.max().y],
                        ),
                        i,
                    )
                })
                .collect(),
        );
        City {
            layers,
            index,
            grid_boxes,
            grid_tree,
        }
    })
}

fn find<'a>(features: &'a [IndexedFeature], code: &str) -> &'a IndexedFeature {
    features.iter().find(|f| f.code == code).unwrap()
}

#[test]
fn every_point_inside_a_district_gets_exactly_one_grid_whose_community_and_street_cover_it() {
    let c = city();
    let extent = c.index.extent();
    let mut rng = common::Rng(7);
    let mut checked = 0;
    while checked < 20_000 {
        let lon = extent.min().x + rng.next() * extent.width();
        let lat = extent.min().y + rng.next() * extent.height();
        let p = geo::Point::new(lon, lat);
        let in_district = c.layers.districts.iter().any(|d| d.geometry.intersects(&p));
        let a = c.index.assign(lon, lat, Crs::Wgs84, None);
        if !in_district {
            assert_eq!(
                a.status,
                Status::Unassigned,
                "{p:?} is outside both districts"
            );
            continue;
        }
        checked += 1;
        let grid = a
            .grid
            .as_ref()
            .unwrap_or_else(|| panic!("{p:?} has no grid"));
        let g = find(&c.layers.grids, &grid.code);
        assert!(
            g.geometry.intersects(&p),
            "grid {} does not cover {p:?}",
            grid.code
        );
        // No other grid holds the point in its interior.
        let others = c
            .grid_tree
            .locate_in_envelope_intersecting(&rstar::AABB::from_point([lon, lat]))
            .map(|e| &c.layers.grids[e.data])
            .filter(|o| o.code != grid.code)
            .filter(|o| match &o.geometry {
                geo::Geometry::Polygon(poly) => poly.coordinate_position(&p.0) == CoordPos::Inside,
                geo::Geometry::MultiPolygon(m) => m.coordinate_position(&p.0) == CoordPos::Inside,
                _ => false,
            })
            .count();
        assert_eq!(
            others, 0,
            "{p:?} lies inside another grid besides {}",
            grid.code
        );
        let community = a.community.as_ref().unwrap();
        let street = a.street.as_ref().unwrap();
        assert!(
            find(&c.layers.communities, &community.code)
                .geometry
                .intersects(&p)
        );
        assert!(
            find(&c.layers.streets, &street.code)
                .geometry
                .intersects(&p)
        );
        assert!(grid.code.starts_with(&community.code) && community.code.starts_with(&street.code));
    }
}

#[test]
fn a_point_on_a_vertex_shared_by_several_grids_goes_to_the_lowest_code_and_is_flagged() {
    let c = city();
    // Vertices shared by at least three grids of one community's neighbourhood.
    let mut found = 0;
    for g in c.layers.grids.iter().take(400) {
        let geo::Geometry::Polygon(poly) = &g.geometry else {
            continue;
        };
        for v in poly.exterior().0.iter().take(4) {
            let covering: Vec<&str> = c
                .layers
                .grids
                .iter()
                .zip(&c.grid_boxes)
                .filter(|(o, r)| r.intersects(v) && o.geometry.intersects(&geo::Point::from(*v)))
                .map(|(o, _)| o.code.as_str())
                .collect();
            if covering.len() < 2 {
                continue;
            }
            let a = c.index.assign(v.x, v.y, Crs::Wgs84, None);
            assert!(a.on_boundary, "vertex {v:?} of {} is on a boundary", g.code);
            let lowest = covering.iter().min().unwrap();
            assert_eq!(a.grid.unwrap().code, *lowest);
            let mut listed = a.boundary_grids.clone();
            listed.sort();
            let mut want: Vec<String> = covering.iter().map(|s| (*s).to_owned()).collect();
            want.sort();
            assert_eq!(listed, want);
            found += 1;
        }
    }
    assert!(found > 100, "only {found} shared vertices checked");
}

#[test]
fn a_point_in_the_middle_of_a_shared_edge_is_on_the_boundary_of_exactly_two_grids() {
    let c = city();
    let g = &c.layers.grids[100];
    let geo::Geometry::Polygon(poly) = &g.geometry else {
        panic!("polygon")
    };
    let mut checked = 0;
    for line in poly.exterior().lines() {
        let mid = geo::coord! { x: (line.start.x + line.end.x) / 2.0, y: (line.start.y + line.end.y) / 2.0 };
        let hit = c.index.locate(mid.x, mid.y);
        let a = c.index.assign(mid.x, mid.y, Crs::Wgs84, None);
        // Floating-point midpoints may fall a hair to one side; either way the answer is exact.
        if a.on_boundary {
            assert_eq!(a.boundary_grids.len(), 2, "{:?}", a.boundary_grids);
            assert_eq!(a.grid.as_ref().unwrap().code, a.boundary_grids[0]);
        } else {
            assert_ne!(hit.grid, NONE);
        }
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn a_point_inside_a_frontage_strip_names_the_shop_and_its_distance() {
    let c = city();
    let mut hits = 0;
    for f in c.layers.frontages.iter().step_by(97).take(200) {
        let geo::Geometry::LineString(line) = &f.geometry else {
            continue;
        };
        let (a, b) = (line.0[0], line.0[1]);
        let mid = geo::coord! { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 };
        let r = c.index.assign(mid.x, mid.y, Crs::Wgs84, None);
        let first = r
            .frontages
            .first()
            .unwrap_or_else(|| panic!("no frontage at the middle of {}", f.code));
        assert!(
            r.frontages.iter().any(|h| h.code == f.code),
            "{} not among {:?}",
            f.code,
            r.frontages
        );
        assert!(first.distance_m < 0.01);
        hits += 1;
    }
    assert!(hits >= 150);
}

#[test]
fn a_point_beyond_the_city_edge_is_unassigned_with_its_nearest_grid_and_distance() {
    let c = city();
    let extent = c.index.extent();
    let lat = (extent.min().y + extent.max().y) / 2.0;
    // 1 km west of the westernmost point of the city.
    let lon = extent.min().x - 1000.0 / 91_600.0;
    let a = c.index.assign(lon, lat, Crs::Wgs84, None);
    assert_eq!(a.status, Status::Unassigned);
    assert!(a.grid.is_none() && a.owner.is_none());
    let nearest = a.nearest.unwrap();
    assert!(nearest.distance_m >= 990.0, "{nearest:?}");
    assert!(nearest.grid.starts_with("4101"));
}

#[test]
fn points_near_the_railway_carry_the_corridor_widths_they_lie_within() {
    let c = city();
    let rail: &LineString<f64> = &c.layers.railways[0];
    let v = rail.0[rail.0.len() / 2];
    // 75 m east of a vertex of the 京广 line (it runs north–south).
    let a = c.index.assign(v.x + 75.0 / 91_600.0, v.y, Crs::Wgs84, None);
    let d = a.zones.railway_distance_m.unwrap();
    assert!(d <= 75.5, "{d}");
    assert!(!a.zones.railway_within_m.contains(&50.0) || d <= 50.0);
    assert!(a.zones.railway_within_m.contains(&100.0));
}

#[test]
fn an_urban_village_point_is_tagged_and_owned_through_the_chain() {
    let c = city();
    let village = c
        .layers
        .zones
        .iter()
        .find(|z| z.kind.as_deref() == Some("urban_village"))
        .unwrap();
    let geo::Geometry::Polygon(poly) = &village.geometry else {
        panic!("polygon")
    };
    let p = geo::InteriorPoint::interior_point(poly).unwrap();
    assert!(poly.contains(&p));
    let a = c.index.assign(p.x(), p.y(), Crs::Wgs84, None);
    assert_eq!(a.zones.urban_village.unwrap().code, village.code);
    assert!(a.owner.is_some());
}

#[test]
fn area_sizes_add_up_from_grids_to_districts_and_every_frontage_is_counted_once() {
    use geo::{Haversine, Length};
    use wangge::assign::AreaLevel;
    let c = city();
    let stats = c.index.area_stats();
    let total = |level: AreaLevel| {
        c.index.areas(level).fold((0.0, 0.0), |(km2, fkm), a| {
            let s = stats.get(level, a.code).expect("every area is measured");
            (km2 + s.km2, fkm + s.frontage_km)
        })
    };
    // Every frontage by its own haversine length, independently of the index.
    let frontage_km: f64 = c
        .layers
        .frontages
        .iter()
        .filter_map(|f| match &f.geometry {
            geo::Geometry::LineString(l) => Some(Haversine.length(l) / 1000.0),
            _ => None,
        })
        .sum();
    let (grid_km2, grid_fkm) = total(AreaLevel::Grid);
    assert!(
        grid_km2 > 100.0,
        "the demo city's grids cover {grid_km2} km²"
    );
    for level in [AreaLevel::Community, AreaLevel::Street, AreaLevel::District] {
        let (km2, fkm) = total(level);
        // Areas are unions of grids: the same land within rounding of the ring sums.
        assert!(
            (km2 - grid_km2).abs() < grid_km2 * 1e-6,
            "{level:?}: {km2} vs {grid_km2}"
        );
        assert!(
            (fkm - grid_fkm).abs() < 1e-6,
            "{level:?}: {fkm} vs {grid_fkm}"
        );
    }
    assert!(
        (grid_fkm - frontage_km).abs() < 1e-6,
        "frontage in grids {grid_fkm} km vs all frontages {frontage_km} km"
    );
    // The demo grids carry `management_level`: every grid has a class, and both occur.
    let classes: std::collections::BTreeSet<Option<u8>> = c
        .index
        .areas(AreaLevel::Grid)
        .map(|a| stats.get(AreaLevel::Grid, a.code).unwrap().class)
        .collect();
    assert_eq!(classes, [Some(1), Some(2)].into());
}
