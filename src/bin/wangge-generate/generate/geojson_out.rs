//! Hand-rolled, byte-stable GeoJSON and gzip writing.
//!
//! Writing by hand keeps the byte layout under our control (one feature per line, properties in
//! the order given, coordinates with exactly 7 decimals from fixed-point integers), so the output
//! cannot change with a serializer's version.

use std::io::Write;

use flate2::{Compression, GzBuilder};

use super::projection::Fixed;

/// Builder of a JSON object of properties, in insertion order.
#[derive(Debug, Default)]
pub struct Props(String);

impl Props {
    /// Empty properties.
    pub fn new() -> Self {
        Props(String::new())
    }
    fn key(&mut self, k: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push_str(&json_str(k));
        self.0.push(':');
    }
    /// String property.
    pub fn s(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.0.push_str(&json_str(v));
        self
    }
    /// Number property written verbatim (caller formats it).
    pub fn raw(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.0.push_str(v);
        self
    }
    /// Integer property.
    pub fn i(self, k: &str, v: i64) -> Self {
        self.raw(k, &v.to_string())
    }
    /// Number with one decimal.
    pub fn f1(self, k: &str, v: f64) -> Self {
        self.raw(k, &format!("{v:.1}"))
    }
    /// Boolean property.
    pub fn b(self, k: &str, v: bool) -> Self {
        self.raw(k, if v { "true" } else { "false" })
    }
    /// The finished JSON object.
    pub fn done(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

/// JSON string literal.
pub fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn ring_json(out: &mut String, ring: &[Fixed]) {
    out.push('[');
    for p in ring {
        out.push_str(&p.json());
        out.push(',');
    }
    out.push_str(&ring[0].json());
    out.push(']');
}

/// Polygon (one polygon given as rings, unclosed) or MultiPolygon (several) geometry, WGS84.
pub fn polygons(polys: &[Vec<Vec<Fixed>>]) -> String {
    let mut out = String::new();
    let poly = |out: &mut String, rings: &Vec<Vec<Fixed>>| {
        out.push('[');
        for (k, r) in rings.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            ring_json(out, r);
        }
        out.push(']');
    };
    if polys.len() == 1 {
        out.push_str("{\"type\":\"Polygon\",\"coordinates\":");
        poly(&mut out, &polys[0]);
    } else {
        out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
        for (k, p) in polys.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            poly(&mut out, p);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// LineString geometry, WGS84.
pub fn line(pts: &[Fixed]) -> String {
    let body: Vec<String> = pts.iter().map(|p| p.json()).collect();
    format!(
        "{{\"type\":\"LineString\",\"coordinates\":[{}]}}",
        body.join(",")
    )
}

/// Point geometry, WGS84.
pub fn point(p: Fixed) -> String {
    format!("{{\"type\":\"Point\",\"coordinates\":{}}}", p.json())
}

/// A FeatureCollection being written, one feature per line.
#[derive(Debug, Default)]
pub struct Collection {
    buf: String,
    count: usize,
}

impl Collection {
    /// Empty collection.
    pub fn new() -> Self {
        Collection {
            buf: String::from("{\"type\":\"FeatureCollection\",\"features\":[\n"),
            count: 0,
        }
    }
    /// Appends a feature.
    pub fn push(&mut self, props: String, geometry: &str) {
        if self.count > 0 {
            self.buf.push_str(",\n");
        }
        self.buf.push_str("{\"type\":\"Feature\",\"properties\":");
        self.buf.push_str(&props);
        self.buf.push_str(",\"geometry\":");
        self.buf.push_str(geometry);
        self.buf.push('}');
        self.count += 1;
    }
    /// The finished document.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push_str("\n]}\n");
        self.buf.into_bytes()
    }
}

/// Gzip with a fixed header (no name, mtime 0), so the bytes depend only on the content.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::new(6));
    // Writing to a Vec cannot fail.
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}
