//! The protobuf wire format of `vector_tile.proto` (MVT 2.1), by hand: the schema is four small
//! messages, and writing them directly avoids a code generator and an intermediate copy of every
//! feature. Field numbers are the specification's.

/// MVT geometry type (`Tile.GeomType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomType {
    /// Unknown (0), only ever decoded.
    Unknown = 0,
    /// POINT (1).
    Point = 1,
    /// LINESTRING (2).
    Line = 2,
    /// POLYGON (3).
    Polygon = 3,
}

/// A property value (`Tile.Value`): wangge only writes strings and doubles.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `string_value` (1).
    Text(Box<str>),
    /// `double_value` (3); other numeric kinds are read into it too.
    Number(f64),
}

/// One feature, geometry already command-encoded.
#[derive(Debug, Clone)]
pub struct Feature {
    /// `id` (1).
    pub id: u64,
    /// `tags` (2): key index, value index pairs.
    pub tags: Vec<u32>,
    /// `type` (3).
    pub kind: GeomType,
    /// `geometry` (4).
    pub geometry: Vec<u32>,
}

/// A decoded layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// `name` (1).
    pub name: String,
    /// `features` (2).
    pub features: Vec<Feature>,
    /// `keys` (3).
    pub keys: Vec<String>,
    /// `values` (4).
    pub values: Vec<Value>,
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from((field << 3) | wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn packed(out: &mut Vec<u8>, field: u32, vs: &[u32], scratch: &mut Vec<u8>) {
    if vs.is_empty() {
        return;
    }
    scratch.clear();
    for &v in vs {
        varint(scratch, u64::from(v));
    }
    bytes(out, field, scratch);
}

/// A tile of one layer (`Tile { layers: [layer] }`), version 2.
pub fn encode_layer(
    name: &str,
    features: &[Feature],
    keys: &[&str],
    values: &[Value],
    extent: u32,
) -> Vec<u8> {
    let mut layer = Vec::with_capacity(features.len() * 48);
    key(&mut layer, 15, VARINT);
    varint(&mut layer, 2);
    bytes(&mut layer, 1, name.as_bytes());
    let mut feature = Vec::new();
    let mut scratch = Vec::new();
    for f in features {
        feature.clear();
        key(&mut feature, 1, VARINT);
        varint(&mut feature, f.id);
        packed(&mut feature, 2, &f.tags, &mut scratch);
        key(&mut feature, 3, VARINT);
        varint(&mut feature, f.kind as u64);
        packed(&mut feature, 4, &f.geometry, &mut scratch);
        bytes(&mut layer, 2, &feature);
    }
    for k in keys {
        bytes(&mut layer, 3, k.as_bytes());
    }
    let mut value = Vec::new();
    for v in values {
        value.clear();
        match v {
            Value::Text(s) => bytes(&mut value, 1, s.as_bytes()),
            Value::Number(d) => {
                key(&mut value, 3, FIXED64);
                value.extend_from_slice(&d.to_le_bytes());
            }
        }
        bytes(&mut layer, 4, &value);
    }
    key(&mut layer, 5, VARINT);
    varint(&mut layer, u64::from(extent));
    let mut tile = Vec::with_capacity(layer.len() + 8);
    bytes(&mut tile, 3, &layer);
    tile
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or("truncated field")?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }
    /// The next field: number, wire type, and its bytes (LEN) or value (VARINT, fixed).
    fn field(&mut self) -> Result<(u32, Field<'a>), String> {
        let k = self.varint()?;
        let (field, wire) = ((k >> 3) as u32, (k & 7) as u32);
        let f = match wire {
            VARINT => Field::Int(self.varint()?),
            FIXED64 => Field::Fixed64(self.take(8)?.try_into().map_err(|_| "fixed64")?),
            LEN => {
                let n = self.varint()? as usize;
                Field::Bytes(self.take(n)?)
            }
            FIXED32 => Field::Fixed32(self.take(4)?.try_into().map_err(|_| "fixed32")?),
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok((field, f))
    }
}

enum Field<'a> {
    Int(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Bytes(&'a [u8]),
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|e| e.to_string())
}

fn unpack(b: &[u8]) -> Result<Vec<u32>, String> {
    let mut r = Reader::new(b);
    let mut out = Vec::new();
    while !r.done() {
        out.push(r.varint()? as u32);
    }
    Ok(out)
}

/// Reads every layer of a tile (for tests and tools; unknown fields are skipped).
pub fn decode_tile(buf: &[u8]) -> Result<Vec<Layer>, String> {
    let mut tile = Reader::new(buf);
    let mut layers = Vec::new();
    while !tile.done() {
        let (3, Field::Bytes(b)) = tile.field()? else {
            continue;
        };
        let mut layer = Layer {
            name: String::new(),
            features: Vec::new(),
            keys: Vec::new(),
            values: Vec::new(),
        };
        let mut r = Reader::new(b);
        while !r.done() {
            match r.field()? {
                (1, Field::Bytes(b)) => layer.name = text(b)?,
                (2, Field::Bytes(b)) => {
                    let mut f = Feature {
                        id: 0,
                        tags: Vec::new(),
                        kind: GeomType::Unknown,
                        geometry: Vec::new(),
                    };
                    let mut fr = Reader::new(b);
                    while !fr.done() {
                        match fr.field()? {
                            (1, Field::Int(v)) => f.id = v,
                            (2, Field::Bytes(b)) => f.tags = unpack(b)?,
                            (3, Field::Int(1)) => f.kind = GeomType::Point,
                            (3, Field::Int(2)) => f.kind = GeomType::Line,
                            (3, Field::Int(3)) => f.kind = GeomType::Polygon,
                            (4, Field::Bytes(b)) => f.geometry = unpack(b)?,
                            _ => {}
                        }
                    }
                    layer.features.push(f);
                }
                (3, Field::Bytes(b)) => layer.keys.push(text(b)?),
                (4, Field::Bytes(b)) => {
                    let mut vr = Reader::new(b);
                    let mut value = Value::Number(f64::NAN);
                    while !vr.done() {
                        value = match vr.field()? {
                            (1, Field::Bytes(b)) => Value::Text(text(b)?.into()),
                            (2, Field::Fixed32(b)) => {
                                Value::Number(f64::from(f32::from_le_bytes(b)))
                            }
                            (3, Field::Fixed64(b)) => Value::Number(f64::from_le_bytes(b)),
                            (4 | 5, Field::Int(v)) => Value::Number(v as i64 as f64),
                            (6, Field::Int(v)) => {
                                Value::Number(((v >> 1) as i64 ^ -((v & 1) as i64)) as f64)
                            }
                            (7, Field::Int(v)) => Value::Number(v as f64),
                            _ => value,
                        };
                    }
                    layer.values.push(value);
                }
                _ => {}
            }
        }
        layers.push(layer);
    }
    Ok(layers)
}
