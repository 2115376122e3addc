//! A density raster as a PNG a web map can lay over the city: transparent where there is nothing,
//! yellow to dark red with rising density. Written with `flate2` and `crc32fast` (both already in
//! the build for compression) rather than an image crate: a PNG is a signature, three chunks and a
//! zlib stream.

use std::io::Write;

use super::kde::Raster;

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Encodes 8-bit RGBA pixels (row-major, `width × height × 4` bytes) as a PNG.
pub fn encode_rgba(width: u32, height: u32, rgba: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(rgba.len() + height as usize);
    for row in rgba.chunks(width as usize * 4) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The raster as a heat image: alpha and colour rise with density relative to `max` (the
/// raster's own maximum when `None`); zero is fully transparent.
pub fn heat_png(r: &Raster, max: Option<f64>) -> Vec<u8> {
    let top = max
        .unwrap_or_else(|| r.values.iter().copied().fold(0.0, f64::max))
        .max(f64::MIN_POSITIVE);
    // Stops of a yellow–orange–red–dark red ramp.
    const STOPS: [(f64, [f64; 3]); 4] = [
        (0.0, [255.0, 255.0, 178.0]),
        (0.33, [254.0, 178.0, 76.0]),
        (0.66, [240.0, 59.0, 32.0]),
        (1.0, [128.0, 0.0, 38.0]),
    ];
    let mut px = Vec::with_capacity(r.values.len() * 4);
    for &v in &r.values {
        let t = (v / top).clamp(0.0, 1.0);
        if t <= 1e-3 {
            px.extend_from_slice(&[0, 0, 0, 0]);
            continue;
        }
        let k = STOPS.iter().position(|s| s.0 >= t).unwrap_or(3).max(1);
        let (a, b) = (STOPS[k - 1], STOPS[k]);
        let f = (t - a.0) / (b.0 - a.0);
        for ch in 0..3 {
            px.push((a.1[ch] + f * (b.1[ch] - a.1[ch])).round() as u8);
        }
        px.push((60.0 + 180.0 * t.sqrt()).round() as u8);
    }
    encode_rgba(r.width as u32, r.height as u32, &px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_starts_with_its_signature_and_ends_with_iend() {
        let png = encode_rgba(2, 1, &[255, 0, 0, 255, 0, 0, 0, 0]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
        // The CRC of an empty IEND chunk is fixed by the standard.
        assert_eq!(&png[png.len() - 4..], &[0xAE, 0x42, 0x60, 0x82]);
    }
}
