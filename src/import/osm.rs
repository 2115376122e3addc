//! OpenStreetMap PBF → basemap roads, railways and buildings (WGS84 lon/lat degrees).
//!
//! Road classes are folded into the three the grid trade uses: `main` (motorway, trunk, primary),
//! `secondary` (secondary, tertiary) and `alley` (everything smaller that cars or people use).
//! Railway lines keep their OSM kind as class (rail, tram, subway, light_rail, narrow_gauge).

use std::collections::HashMap;

use geo::{Coord, LineString, Polygon};
use osmpbf::{Element, ElementReader};
use serde_json::{Map, Value};

use super::ImportError;
use crate::store::BasemapFeature;

/// The basemap features found in a PBF file.
#[derive(Debug, Default)]
pub struct OsmExtract {
    /// Roads.
    pub roads: Vec<BasemapFeature>,
    /// Railway lines.
    pub railways: Vec<BasemapFeature>,
    /// Building outlines (closed ways).
    pub buildings: Vec<BasemapFeature>,
}

struct Way {
    id: i64,
    refs: Vec<i64>,
    tags: Vec<(String, String)>,
}

fn road_class(highway: &str) -> Option<&'static str> {
    Some(match highway {
        "motorway" | "motorway_link" | "trunk" | "trunk_link" | "primary" | "primary_link" => {
            "main"
        }
        "secondary" | "secondary_link" | "tertiary" | "tertiary_link" => "secondary",
        "residential" | "unclassified" | "service" | "living_street" | "pedestrian" | "road"
        | "footway" | "path" | "cycleway" | "steps" | "track" => "alley",
        _ => return None,
    })
}

fn railway_class(railway: &str) -> Option<&'static str> {
    Some(match railway {
        "rail" => "rail",
        "tram" => "tram",
        "subway" => "subway",
        "light_rail" => "light_rail",
        "narrow_gauge" => "narrow_gauge",
        _ => return None,
    })
}

/// Reads a PBF file's bytes.
pub fn read_pbf(bytes: &[u8]) -> Result<OsmExtract, ImportError> {
    let mut nodes: HashMap<i64, Coord<f64>> = HashMap::new();
    let mut ways: Vec<Way> = Vec::new();
    ElementReader::new(bytes)
        .for_each(|element| match element {
            Element::Node(n) => {
                nodes.insert(
                    n.id(),
                    Coord {
                        x: n.lon(),
                        y: n.lat(),
                    },
                );
            }
            Element::DenseNode(n) => {
                nodes.insert(
                    n.id(),
                    Coord {
                        x: n.lon(),
                        y: n.lat(),
                    },
                );
            }
            Element::Way(w) => {
                let tags: Vec<(String, String)> = w
                    .tags()
                    .filter(|(k, _)| {
                        matches!(
                            *k,
                            "highway" | "railway" | "building" | "name" | "name:zh" | "service"
                        )
                    })
                    // Third-party text: a stray control character in one shop's name must
                    // not refuse a whole city's roads, so it is dropped, not refused.
                    .map(|(k, v)| (k.to_owned(), crate::domain::text::strip(v).into_owned()))
                    .collect();
                if tags
                    .iter()
                    .any(|(k, _)| matches!(k.as_str(), "highway" | "railway" | "building"))
                {
                    ways.push(Way {
                        id: w.id(),
                        refs: w.refs().collect(),
                        tags,
                    });
                }
            }
            Element::Relation(_) => {}
        })
        .map_err(|e| ImportError::Osm(e.to_string()))?;

    let mut out = OsmExtract::default();
    for w in ways {
        let tag = |key: &str| {
            w.tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        // Ways cut at the extract's edge lose nodes: keep what remains if it is still a line.
        let coords: Vec<Coord<f64>> = w
            .refs
            .iter()
            .filter_map(|r| nodes.get(r).copied())
            .collect();
        if coords.len() < 2 {
            continue;
        }
        let name = tag("name:zh").or_else(|| tag("name")).map(str::to_owned);
        let mut props = Map::new();
        props.insert("osm_id".into(), Value::from(w.id));
        let line = LineString::from(coords);
        if let Some(class) = tag("highway").and_then(road_class) {
            props.insert("highway".into(), tag("highway").into());
            out.roads.push(BasemapFeature {
                kind: "road".into(),
                class: Some(class.into()),
                name,
                props,
                geometry: line.into(),
            });
        } else if let Some(class) = tag("railway").and_then(railway_class) {
            out.railways.push(BasemapFeature {
                kind: "railway".into(),
                class: Some(class.into()),
                name,
                props,
                geometry: line.into(),
            });
        } else if tag("building").is_some() && line.is_closed() && line.0.len() >= 4 {
            props.insert("building".into(), tag("building").into());
            out.buildings.push(BasemapFeature {
                kind: "building".into(),
                class: tag("building").map(str::to_owned),
                name,
                props,
                geometry: Polygon::new(line, vec![]).into(),
            });
        }
    }
    Ok(out)
}
