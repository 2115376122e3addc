//! QR codes of the shop pages, for the 门前三包 责任书 placard: the matrix from the `qrcode`
//! crate (error correction M: a placard outdoors gets dirty), drawn as SVG by hand and as PNG
//! with `flate2` and `crc32fast` (already in the tree) instead of an image crate.

use std::io::Write;

use qrcode::{Color, EcLevel, QrCode};

/// The quiet zone around the code, in modules (ISO/IEC 18004 asks for 4).
pub const QUIET: usize = 4;
/// PNG pixels per module.
pub const PNG_SCALE: usize = 8;

/// A QR matrix: `width` × `width` modules, row by row, true = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// Modules per side.
    pub width: usize,
    /// Row-major, true = dark.
    pub dark: Vec<bool>,
}

/// Why a text cannot be encoded (too long for the largest QR version).
#[derive(Debug, thiserror::Error)]
#[error("the text is too long for a QR code: {0}")]
pub struct QrError(String);

/// The QR matrix of `text`.
pub fn matrix(text: &str) -> Result<Matrix, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| QrError(e.to_string()))?;
    Ok(Matrix {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

impl Matrix {
    /// An SVG with one path of unit squares, the quiet zone included; scales to any size.
    pub fn svg(&self) -> String {
        let side = self.width + 2 * QUIET;
        let mut path = String::with_capacity(self.dark.len() * 6);
        for (i, _) in self.dark.iter().enumerate().filter(|(_, d)| **d) {
            let (x, y) = (i % self.width + QUIET, i / self.width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }

    /// A greyscale PNG, [`PNG_SCALE`] pixels per module, the quiet zone included.
    pub fn png(&self) -> Vec<u8> {
        let side = (self.width + 2 * QUIET) * PNG_SCALE;
        let mut raw = Vec::with_capacity((side + 1) * side);
        for py in 0..side {
            raw.push(0); // filter: none
            let my = (py / PNG_SCALE).checked_sub(QUIET);
            for px in 0..side {
                let mx = (px / PNG_SCALE).checked_sub(QUIET);
                let dark = match (mx, my) {
                    (Some(x), Some(y)) if x < self.width && y < self.width => {
                        self.dark[y * self.width + x]
                    }
                    _ => false,
                };
                raw.push(if dark { 0 } else { 255 });
            }
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).expect("writing to memory");
        let idat = z.finish().expect("writing to memory");
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::with_capacity(13);
        let side = u32::try_from(side).expect("a QR code is at most 177 modules");
        ihdr.extend_from_slice(&side.to_be_bytes());
        ihdr.extend_from_slice(&side.to_be_bytes());
        // 8-bit greyscale, deflate, no filter method beyond the default, not interlaced.
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).expect("a PNG chunk under 4 GB");
    out.extend_from_slice(&len.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_a_valid_greyscale_image_of_the_matrix_with_its_quiet_zone() {
        let m = matrix("http://example.test/shops/410102001002001M001").unwrap();
        let png = m.png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let side = ((m.width + 2 * QUIET) * PNG_SCALE) as u32;
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), side);
        // The IHDR's CRC checks out.
        let crc = crc32fast::hash(&png[12..29]);
        assert_eq!(u32::from_be_bytes(png[29..33].try_into().unwrap()), crc);
        // Inflate the pixels back and compare every module's centre with the matrix.
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&png[41..41 + idat_len]),
            &mut raw,
        )
        .unwrap();
        let side = side as usize;
        assert_eq!(raw.len(), (side + 1) * side);
        for y in 0..m.width {
            for x in 0..m.width {
                let (px, py) = ((x + QUIET) * PNG_SCALE + 4, (y + QUIET) * PNG_SCALE + 4);
                let v = raw[py * (side + 1) + 1 + px];
                assert_eq!(v == 0, m.dark[y * m.width + x], "module {x},{y}");
            }
        }
        assert!(png.ends_with(b"IEND\xaeB`\x82"));
    }

    #[test]
    fn the_svg_draws_one_square_per_dark_module() {
        let m = matrix("http://example.test/shops/X").unwrap();
        let svg = m.svg();
        let squares = svg.matches("h1v1h-1z").count();
        assert_eq!(squares, m.dark.iter().filter(|d| **d).count());
        let side = m.width + 2 * QUIET;
        assert!(svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
        // The top-left finder pattern's corner module is dark.
        assert!(svg.contains(&format!("M{QUIET} {QUIET}h1v1h-1z")));
    }
}
