//! Mapbox Vector Tiles (MVT 2.1) of the big jurisdiction layers, cut from memory (pure: no IO).
//! The protobuf wire format is written by hand in [`pbf`]: four small messages, no generated code.
//!
//! Coordinate systems, in the order a vertex passes through them:
//! - input features are WGS84 longitude/latitude degrees (EPSG:4326), as everywhere in wangge;
//! - [`TileSet::build`] projects them once to Web Mercator (EPSG:3857) scaled to the unit square
//!   with y pointing south ("world coordinates", the XYZ scheme's `z = 0` tile); the r-tree of
//!   bounding boxes lives in these coordinates too;
//! - a tile `z/x/y` covers `[x, x + 1] × [y, y + 1] / 2^z` of that square, and a vertex's tile
//!   coordinate is `round(world × 2^z × 4096) − (x, y) × 4096`: an integer in the tile's 4096 grid.
//!
//! **No gaps between neighbours.** Simplification is quantization to that integer grid, followed
//! only by dropping repeated points and points in the middle of a straight run. Quantization is
//! a function of the vertex alone, so the shared edge of two grids becomes the same integer
//! points on both sides; per-polygon Douglas–Peucker would move the two copies differently and
//! open slivers. Clipping to the tile (plus its buffer) computes a crossing point from the
//! segment's endpoints in a canonical order, so both neighbours get the same crossing too.

use std::collections::HashMap;

use geo::{BoundingRect, Geometry, LineString, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::assign::CityLayers;
use crate::domain::jurisdiction::IndexedFeature;

mod pbf;
pub mod points;
use pbf::{GeomType, Value};

/// Size of the tile grid (MVT `extent`).
pub const EXTENT: u32 = 4096;
/// How far geometry reaches beyond the tile edge, in tile units, so strokes join up.
pub const BUFFER: i64 = 64;
/// Lowest zoom served; lower zooms answer an empty tile.
pub const MIN_ZOOM: u8 = 10;
/// Highest zoom served; clients overzoom beyond it, higher zooms answer an empty tile.
pub const MAX_ZOOM: u8 = 18;
/// Highest zoom accepted as a tile address at all (beyond it `x`/`y` would overflow).
pub const MAX_ADDRESS_ZOOM: u8 = 24;

/// A layer served as vector tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileLayer {
    /// 街道.
    Street,
    /// 社区.
    Community,
    /// 单元网格.
    Grid,
    /// 门前三包 frontage segments.
    Frontage,
}

impl TileLayer {
    /// Every tiled layer.
    pub const ALL: [TileLayer; 4] = [Self::Street, Self::Community, Self::Grid, Self::Frontage];

    /// The name in URLs and the MVT layer name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Street => "street",
            Self::Community => "community",
            Self::Grid => "grid",
            Self::Frontage => "frontage",
        }
    }

    /// Parses a URL name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// Lowest zoom with features: below it a tile would hold thousands of features too small to
    /// see (a unit grid is a few pixels wide at z12, a frontage a pixel at z14).
    pub fn min_zoom(self) -> u8 {
        match self {
            Self::Street | Self::Community => MIN_ZOOM,
            Self::Grid => 12,
            Self::Frontage => 14,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// A tile address that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tile {z}/{x}/{y} does not exist: z must be 0..={MAX_ADDRESS_ZOOM} and x, y below 2^z")]
pub struct BadTile {
    /// Zoom.
    pub z: u32,
    /// Column.
    pub x: u64,
    /// Row.
    pub y: u64,
}

/// Checks that `z/x/y` is a tile of the XYZ scheme.
pub fn check_address(z: u32, x: u64, y: u64) -> Result<(), BadTile> {
    if z > u32::from(MAX_ADDRESS_ZOOM) || x >= 1 << z || y >= 1 << z {
        return Err(BadTile { z, x, y });
    }
    Ok(())
}

/// WGS84 degrees → world coordinates (Web Mercator on the unit square, y south).
pub fn world(lon: f64, lat: f64) -> [f64; 2] {
    // Web Mercator's own latitude limit: beyond it the square would not be square.
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    [x, y]
}

/// The tile `z/x/y` as a WGS84 box `[west, south, east, north]`.
pub fn tile_bounds(z: u8, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    let lon = |t: f64| t / n * 360.0 - 180.0;
    let lat = |t: f64| {
        let m = std::f64::consts::PI * (1.0 - 2.0 * t / n);
        m.sinh().atan().to_degrees()
    };
    [
        lon(f64::from(x)),
        lat(f64::from(y) + 1.0),
        lon(f64::from(x) + 1.0),
        lat(f64::from(y)),
    ]
}

/// A property value.
#[derive(Debug, Clone, PartialEq)]
enum Prop {
    Text(Box<str>),
    Number(f64),
}

#[derive(Debug, Clone)]
enum Shape {
    /// Polygons, each exterior ring then holes; world coordinates, rings not closed.
    Polygons(Vec<Vec<Vec<[f64; 2]>>>),
    /// One line, world coordinates.
    Line(Vec<[f64; 2]>),
}

#[derive(Debug, Clone)]
struct Feature {
    /// `(key index, value)` pairs; keys index the layer's fixed key list.
    props: Vec<(u32, Prop)>,
    shape: Shape,
}

#[derive(Debug, Default)]
struct LayerData {
    keys: Vec<&'static str>,
    features: Vec<Feature>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
}

/// The features of every tiled layer of one data version, ready to be cut into tiles.
#[derive(Debug)]
pub struct TileSet {
    version: i64,
    layers: Vec<LayerData>,
}

fn ring(line: &LineString<f64>) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = line.0.iter().map(|c| world(c.x, c.y)).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts
}

fn polygon(p: &Polygon<f64>) -> Vec<Vec<[f64; 2]>> {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(ring)
        .collect()
}

fn shape(g: &Geometry<f64>) -> Option<Shape> {
    match g {
        Geometry::Polygon(p) => Some(Shape::Polygons(vec![polygon(p)])),
        Geometry::MultiPolygon(m) => Some(Shape::Polygons(m.0.iter().map(polygon).collect())),
        Geometry::LineString(l) => Some(Shape::Line(ring_open(l))),
        Geometry::MultiLineString(m) => Some(Shape::Line(
            m.0.iter().flat_map(|l| ring_open(l).into_iter()).collect(),
        )),
        _ => None,
    }
}

fn ring_open(line: &LineString<f64>) -> Vec<[f64; 2]> {
    line.0.iter().map(|c| world(c.x, c.y)).collect()
}

fn text(v: Option<&str>) -> Option<Prop> {
    v.map(|s| Prop::Text(s.into()))
}

fn layer_data(layer: TileLayer, features: &[IndexedFeature]) -> LayerData {
    let keys: Vec<&'static str> = match layer {
        TileLayer::Frontage => vec!["code", "name", "shop_type", "unit_code", "depth_m"],
        _ => vec!["code", "name", "parent_code", "unit_code"],
    };
    let mut out = Vec::with_capacity(features.len());
    let mut boxes = Vec::with_capacity(features.len());
    for f in features {
        let (Some(shape), Some(rect)) = (shape(&f.geometry), f.geometry.bounding_rect()) else {
            continue;
        };
        let values: Vec<Option<Prop>> = match layer {
            TileLayer::Frontage => vec![
                text(Some(&f.code)),
                text(Some(&f.name)),
                text(f.props.shop_type.as_deref().or(f.kind.as_deref())),
                text(f.unit_code.as_deref()),
                f.props.depth_m.map(Prop::Number),
            ],
            _ => vec![
                text(Some(&f.code)),
                text(Some(&f.name)),
                text(f.parent_code.as_deref()),
                text(f.unit_code.as_deref()),
            ],
        };
        let props = values
            .into_iter()
            .enumerate()
            .filter_map(|(k, v)| Some((k as u32, v?)))
            .collect();
        // Mercator is monotonic in both axes, so the WGS84 box's corners bound the feature.
        let a = world(rect.min().x, rect.max().y);
        let b = world(rect.max().x, rect.min().y);
        boxes.push(GeomWithData::new(
            Rectangle::from_corners(a, b),
            out.len() as u32,
        ));
        out.push(Feature { props, shape });
    }
    LayerData {
        keys,
        features: out,
        tree: RTree::bulk_load(boxes),
    }
}

impl TileSet {
    /// Projects the tiled layers of `layers` and indexes their bounding boxes.
    pub fn build(layers: &CityLayers) -> Self {
        let mut data: Vec<LayerData> = Vec::new();
        for layer in TileLayer::ALL {
            let features = match layer {
                TileLayer::Street => &layers.streets,
                TileLayer::Community => &layers.communities,
                TileLayer::Grid => &layers.grids,
                TileLayer::Frontage => &layers.frontages,
            };
            debug_assert_eq!(data.len(), layer.slot());
            data.push(layer_data(layer, features));
        }
        Self {
            version: layers.version,
            layers: data,
        }
    }

    /// The data version the tiles are cut from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Features of a layer.
    pub fn feature_count(&self, layer: TileLayer) -> usize {
        self.layers[layer.slot()].features.len()
    }

    /// The encoded tile (MVT protobuf). Empty (zero bytes, a valid tile without layers) outside
    /// the zoom range of the layer or where the layer has no feature. The address must have
    /// passed [`check_address`].
    pub fn tile(&self, layer: TileLayer, z: u8, x: u32, y: u32) -> Vec<u8> {
        if z < layer.min_zoom() || z > MAX_ZOOM {
            return Vec::new();
        }
        let data = &self.layers[layer.slot()];
        let n = f64::from(1u32 << z);
        let pad = BUFFER as f64 / f64::from(EXTENT);
        let envelope = AABB::from_corners(
            [(f64::from(x) - pad) / n, (f64::from(y) - pad) / n],
            [
                (f64::from(x) + 1.0 + pad) / n,
                (f64::from(y) + 1.0 + pad) / n,
            ],
        );
        let mut hits: Vec<u32> = data
            .tree
            .locate_in_envelope_intersecting(&envelope)
            .map(|g| g.data)
            .collect();
        // Same data, same bytes: the ETag promises it.
        hits.sort_unstable();
        let q = Quantizer {
            scale: n * f64::from(EXTENT),
            ox: i64::from(x) * i64::from(EXTENT),
            oy: i64::from(y) * i64::from(EXTENT),
        };
        let mut values: Vec<Value> = Vec::new();
        let mut value_ids: HashMap<(u32, u32), u32> = HashMap::new();
        let mut features = Vec::new();
        for i in hits {
            let f = &data.features[i as usize];
            let (kind, geometry) = match &f.shape {
                Shape::Polygons(polys) => (GeomType::Polygon, encode_polygons(&q, polys)),
                Shape::Line(line) => (GeomType::Line, encode_line(&q, line)),
            };
            if geometry.is_empty() {
                continue;
            }
            let mut tags = Vec::with_capacity(f.props.len() * 2);
            for (k, v) in &f.props {
                // Parents, units and shop types repeat across a tile's features: one value each.
                let id = match v {
                    Prop::Text(s) => intern_text(&mut values, &mut value_ids, s),
                    Prop::Number(d) => intern_number(&mut values, &mut value_ids, *d),
                };
                tags.push(*k);
                tags.push(id);
            }
            features.push(pbf::Feature {
                id: u64::from(i) + 1,
                tags,
                kind,
                geometry,
            });
        }
        if features.is_empty() {
            return Vec::new();
        }
        pbf::encode_layer(layer.as_str(), &features, &data.keys, &values, EXTENT)
    }
}

/// Interns by a hash of the content; the map stores (hash-high, hash-low) → index and the
/// index is verified against the stored value, so a collision only costs a duplicate value.
fn intern_text(values: &mut Vec<Value>, ids: &mut HashMap<(u32, u32), u32>, s: &str) -> u32 {
    let h = fnv(s.as_bytes());
    let key = ((h >> 32) as u32, h as u32);
    if let Some(&id) = ids.get(&key)
        && values[id as usize] == Value::Text(s.into())
    {
        return id;
    }
    let id = values.len() as u32;
    values.push(Value::Text(s.into()));
    ids.insert(key, id);
    id
}

fn intern_number(values: &mut Vec<Value>, ids: &mut HashMap<(u32, u32), u32>, d: f64) -> u32 {
    let h = fnv(&d.to_bits().to_le_bytes()) ^ 0x9e37_79b9_7f4a_7c15;
    let key = ((h >> 32) as u32, h as u32);
    if let Some(&id) = ids.get(&key)
        && values[id as usize] == Value::Number(d)
    {
        return id;
    }
    let id = values.len() as u32;
    values.push(Value::Number(d));
    ids.insert(key, id);
    id
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Quantizer {
    scale: f64,
    ox: i64,
    oy: i64,
}

type Pt = [i64; 2];

impl Quantizer {
    fn point(&self, p: [f64; 2]) -> Pt {
        // Round in the world grid of this zoom, then shift: the same vertex gets the same
        // integer in every tile and every feature that has it.
        [
            (p[0] * self.scale).round() as i64 - self.ox,
            (p[1] * self.scale).round() as i64 - self.oy,
        ]
    }
}

const LO: i64 = -BUFFER;
const HI: i64 = EXTENT as i64 + BUFFER;

/// Where the segment `a`–`b` crosses the line `axis = c`, computed from the endpoints in a
/// canonical order so that the segment and its reverse (the neighbour's copy) agree exactly.
fn crossing(a: Pt, b: Pt, axis: usize, c: i64) -> Pt {
    let (p, q) = if a <= b { (a, b) } else { (b, a) };
    let other = 1 - axis;
    let t = (c - p[axis]) as f64 / (q[axis] - p[axis]) as f64;
    let v = p[other] as f64 + t * (q[other] - p[other]) as f64;
    let mut out = [0; 2];
    out[axis] = c;
    out[other] = v.round() as i64;
    out
}

/// Sutherland–Hodgman against the buffered tile box.
fn clip_ring(mut ring: Vec<Pt>) -> Vec<Pt> {
    for (axis, c, keep_above) in [(0, LO, true), (0, HI, false), (1, LO, true), (1, HI, false)] {
        if ring.is_empty() {
            break;
        }
        let inside = |p: Pt| {
            if keep_above {
                p[axis] >= c
            } else {
                p[axis] <= c
            }
        };
        if ring.iter().all(|&p| inside(p)) {
            continue;
        }
        let mut out = Vec::with_capacity(ring.len() + 4);
        let mut prev = ring[ring.len() - 1];
        for &cur in &ring {
            match (inside(prev), inside(cur)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(crossing(prev, cur, axis, c)),
                (false, true) => {
                    out.push(crossing(prev, cur, axis, c));
                    out.push(cur);
                }
                (false, false) => {}
            }
            prev = cur;
        }
        ring = out;
    }
    ring
}

fn cross(a: Pt, b: Pt, c: Pt) -> i128 {
    i128::from(b[0] - a[0]) * i128::from(c[1] - a[1])
        - i128::from(b[1] - a[1]) * i128::from(c[0] - a[0])
}

/// `b` lies on the straight run from `a` to `c` (same line, between them).
fn straight(a: Pt, b: Pt, c: Pt) -> bool {
    cross(a, b, c) == 0
        && i128::from(b[0] - a[0]) * i128::from(c[0] - b[0])
            + i128::from(b[1] - a[1]) * i128::from(c[1] - b[1])
            > 0
}

/// Drops repeated points and points in the middle of straight runs, around a closed ring.
fn simplify_ring(ring: Vec<Pt>) -> Vec<Pt> {
    let mut out: Vec<Pt> = Vec::with_capacity(ring.len());
    for p in ring {
        if out.last() == Some(&p) {
            continue;
        }
        while out.len() >= 2 && straight(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        out.push(p);
    }
    // Close the loop: the seam may hold a repeat or a straight run too.
    loop {
        let n = out.len();
        if n < 3 {
            break;
        }
        if out[n - 1] == out[0] || straight(out[n - 2], out[n - 1], out[0]) {
            out.pop();
        } else if straight(out[n - 1], out[0], out[1]) {
            out.remove(0);
        } else {
            break;
        }
    }
    out
}

/// Twice the signed area by the MVT rule: positive is clockwise on screen (y down).
fn area2(ring: &[Pt]) -> i128 {
    let mut s = 0i128;
    for (i, a) in ring.iter().enumerate() {
        let b = ring[(i + 1) % ring.len()];
        s += i128::from(a[0]) * i128::from(b[1]) - i128::from(b[0]) * i128::from(a[1]);
    }
    s
}

fn zigzag(v: i64) -> u32 {
    ((v << 1) ^ (v >> 63)) as u32
}

fn command(id: u32, count: usize) -> u32 {
    (id & 7) | ((count as u32) << 3)
}

struct Pen {
    cursor: Pt,
    out: Vec<u32>,
}

impl Pen {
    fn path(&mut self, pts: &[Pt], close: bool) {
        self.out.push(command(1, 1));
        self.delta(pts[0]);
        self.out.push(command(2, pts.len() - 1));
        for &p in &pts[1..] {
            self.delta(p);
        }
        if close {
            self.out.push(command(7, 1));
        }
    }
    fn delta(&mut self, p: Pt) {
        self.out.push(zigzag(p[0] - self.cursor[0]));
        self.out.push(zigzag(p[1] - self.cursor[1]));
        self.cursor = p;
    }
}

fn encode_polygons(q: &Quantizer, polys: &[Vec<Vec<[f64; 2]>>]) -> Vec<u32> {
    let mut pen = Pen {
        cursor: [0, 0],
        out: Vec::new(),
    };
    for poly in polys {
        for (r, ring) in poly.iter().enumerate() {
            let pts: Vec<Pt> = ring.iter().map(|&p| q.point(p)).collect();
            let mut pts = simplify_ring(clip_ring(simplify_ring(pts)));
            if pts.len() < 3 {
                if r == 0 {
                    break;
                }
                continue;
            }
            let a = area2(&pts);
            if a == 0 {
                if r == 0 {
                    break;
                }
                continue;
            }
            // Exterior rings clockwise (positive), holes anticlockwise, whatever the input.
            if (r == 0) != (a > 0) {
                pts.reverse();
            }
            pen.path(&pts, true);
        }
    }
    pen.out
}

/// Clips a quantized line to the buffered box (Liang–Barsky per segment) into runs.
fn clip_line(pts: &[Pt]) -> Vec<Vec<Pt>> {
    let mut runs: Vec<Vec<Pt>> = Vec::new();
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, qv) in [
            (-dx, (a[0] - LO) as f64),
            (dx, (HI - a[0]) as f64),
            (-dy, (a[1] - LO) as f64),
            (dy, (HI - a[1]) as f64),
        ] {
            if p == 0.0 {
                if qv < 0.0 {
                    visible = false;
                }
            } else {
                let r = qv / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            continue;
        }
        let at = |t: f64| -> Pt {
            if t == 0.0 {
                a
            } else if t == 1.0 {
                b
            } else {
                [
                    (a[0] as f64 + t * dx).round() as i64,
                    (a[1] as f64 + t * dy).round() as i64,
                ]
            }
        };
        let (s, e) = (at(t0), at(t1));
        match runs.last_mut() {
            Some(run) if run.last() == Some(&s) => run.push(e),
            _ => runs.push(vec![s, e]),
        }
    }
    runs
}

fn simplify_line(pts: &[Pt]) -> Vec<Pt> {
    let mut out: Vec<Pt> = Vec::with_capacity(pts.len());
    for &p in pts {
        if out.last() == Some(&p) {
            continue;
        }
        while out.len() >= 2 && straight(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        out.push(p);
    }
    out
}

fn encode_line(q: &Quantizer, line: &[[f64; 2]]) -> Vec<u32> {
    let pts: Vec<Pt> = line.iter().map(|&p| q.point(p)).collect();
    let mut pen = Pen {
        cursor: [0, 0],
        out: Vec::new(),
    };
    for run in clip_line(&simplify_line(&pts)) {
        let run = simplify_line(&run);
        if run.len() >= 2 {
            pen.path(&run, false);
        }
    }
    pen.out
}

/// A decoded tile feature, for tests and tools: its properties and its rings or lines in tile
/// coordinates (rings not closed).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFeature {
    /// Feature id.
    pub id: u64,
    /// String and number properties, by key.
    pub props: HashMap<String, String>,
    /// Rings (polygons) or paths (lines).
    pub paths: Vec<Vec<[i64; 2]>>,
    /// Polygon (true) or line.
    pub polygon: bool,
}

/// Decodes an encoded tile: `(layer name, features)` per layer.
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, Vec<DecodedFeature>)>, String> {
    let mut out = Vec::new();
    for layer in pbf::decode_tile(bytes)? {
        let mut features = Vec::new();
        for f in &layer.features {
            let mut props = HashMap::new();
            for kv in f.tags.chunks(2) {
                let key = layer.keys.get(kv[0] as usize).ok_or("bad key index")?;
                let v = layer.values.get(*kv.get(1).ok_or("odd tags")? as usize);
                let text = match v.ok_or("bad value index")? {
                    Value::Text(s) => s.to_string(),
                    Value::Number(d) => d.to_string(),
                };
                props.insert(key.clone(), text);
            }
            let mut paths: Vec<Vec<[i64; 2]>> = Vec::new();
            let mut cursor = [0i64; 2];
            let g = &f.geometry;
            let mut i = 0;
            while i < g.len() {
                let (id, count) = (g[i] & 7, (g[i] >> 3) as usize);
                i += 1;
                match id {
                    1 | 2 => {
                        for _ in 0..count {
                            let dx = unzigzag(*g.get(i).ok_or("truncated")?);
                            let dy = unzigzag(*g.get(i + 1).ok_or("truncated")?);
                            i += 2;
                            cursor = [cursor[0] + dx, cursor[1] + dy];
                            if id == 1 {
                                paths.push(Vec::new());
                            }
                            paths.last_mut().ok_or("LineTo before MoveTo")?.push(cursor);
                        }
                    }
                    7 => {}
                    _ => return Err(format!("unknown command {id}")),
                }
            }
            features.push(DecodedFeature {
                id: f.id,
                props,
                paths,
                polygon: f.kind == GeomType::Polygon,
            });
        }
        out.push((layer.name, features));
    }
    Ok(out)
}

fn unzigzag(v: u32) -> i64 {
    i64::from(v >> 1) ^ -i64::from(v & 1)
}

/// Twice the signed area of a decoded ring (positive: an exterior ring by the MVT rule).
pub fn ring_area2(ring: &[[i64; 2]]) -> i128 {
    area2(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_edge_is_clipped_to_the_same_points_from_both_sides() {
        let a = [-500, 100];
        let b = [300, 4500];
        assert_eq!(crossing(a, b, 0, LO), crossing(b, a, 0, LO));
        assert_eq!(crossing(a, b, 1, HI), crossing(b, a, 1, HI));
    }

    #[test]
    fn a_polygon_touching_only_a_sub_pixel_corner_of_the_buffer_is_dropped_and_a_band_is_kept() {
        // Grid 410103015021024 at 16/53445/26032 (see docs/map.md): its edge enters the buffer's
        // corner by a triangle of less than one pixel; quantized and clipped, it has no area.
        let q = Quantizer {
            scale: 1.0,
            ox: 0,
            oy: 0,
        };
        let sliver = vec![vec![vec![
            [-1578.0, -51.0],
            [-729.0, -56.0],
            [118.0, -66.0],
            [119.0, -883.0],
            [-1579.0, -1743.0],
            [-1578.0, -51.0],
        ]]];
        assert!(encode_polygons(&q, &sliver).is_empty());
        // Ten pixels into the buffer along the whole tile: kept, as ST_AsMVTGeom keeps it.
        let band = vec![vec![vec![
            [-100.0, -54.0],
            [5000.0, -54.0],
            [5000.0, -900.0],
            [-100.0, -900.0],
            [-100.0, -54.0],
        ]]];
        assert!(!encode_polygons(&q, &band).is_empty());
    }

    #[test]
    fn simplification_keeps_corners_and_drops_repeats_and_straight_runs() {
        let ring = vec![[0, 0], [5, 0], [5, 0], [10, 0], [10, 10], [0, 10], [0, 5]];
        assert_eq!(
            simplify_ring(ring),
            vec![[0, 0], [10, 0], [10, 10], [0, 10]]
        );
        // A spike is not a straight run and stays: dropping it would differ from the neighbour.
        let spike = vec![[0, 0], [10, 0], [20, 0], [10, 0], [10, 10]];
        assert_eq!(simplify_ring(spike.clone()).len(), 4);
    }

    #[test]
    fn geometry_round_trips_through_the_encoder_and_decoder() {
        let mut pen = Pen {
            cursor: [0, 0],
            out: Vec::new(),
        };
        pen.path(&[[1, 1], [4000, 1], [4000, 3000]], true);
        let bytes = pbf::encode_layer(
            "grid",
            &[pbf::Feature {
                id: 7,
                tags: vec![0, 0],
                kind: GeomType::Polygon,
                geometry: pen.out,
            }],
            &["code"],
            &[Value::Text("410103001001001".into())],
            EXTENT,
        );
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded[0].0, "grid");
        assert_eq!(decoded[0].1[0].id, 7);
        assert_eq!(decoded[0].1[0].props["code"], "410103001001001");
        assert_eq!(
            decoded[0].1[0].paths,
            vec![vec![[1, 1], [4000, 1], [4000, 3000]]]
        );
        assert!(ring_area2(&decoded[0].1[0].paths[0]) > 0);
    }

    #[test]
    fn a_tile_address_beyond_the_scheme_is_refused() {
        assert!(check_address(14, 13_000, 6_000).is_ok());
        assert!(check_address(2, 4, 0).is_err());
        assert!(check_address(25, 0, 0).is_err());
    }

    #[test]
    fn tile_bounds_and_world_coordinates_agree() {
        let [w, s, e, n] = tile_bounds(14, 13_364, 6_474);
        let a = world(w, n);
        let b = world(e, s);
        assert!((a[0] * 16384.0 - 13_364.0).abs() < 1e-6);
        assert!((b[1] * 16384.0 - 6_475.0).abs() < 1e-6);
    }
}
