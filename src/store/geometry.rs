//! Geometry at the storage boundary: WKB in EPSG:4326 (longitude, latitude in degrees).

use geo::BoundingRect;
use geozero::{CoordDimensions, ToGeo, ToWkb};

use super::{StoreError, StoreResult};

/// Encodes a WGS84 geometry as 2D WKB.
pub fn encode_wkb(geometry: &geo::Geometry<f64>) -> StoreResult<Vec<u8>> {
    geometry
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| StoreError::Corrupt(format!("cannot encode geometry as WKB: {e}")))
}

/// Decodes 2D WKB into a WGS84 geometry.
pub fn decode_wkb(bytes: &[u8]) -> StoreResult<geo::Geometry<f64>> {
    geozero::wkb::Wkb(bytes)
        .to_geo()
        .map_err(|e| StoreError::Corrupt(format!("stored WKB does not decode: {e}")))
}

/// Bounding box `(min_lon, min_lat, max_lon, max_lat)` in degrees; refuses empty geometry.
pub(crate) fn bbox(geometry: &geo::Geometry<f64>) -> StoreResult<(f64, f64, f64, f64)> {
    let r = geometry
        .bounding_rect()
        .ok_or_else(|| StoreError::Corrupt("empty geometry has no bounding box".into()))?;
    Ok((r.min().x, r.min().y, r.max().x, r.max().y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polygon_survives_the_wkb_round_trip_bit_for_bit() {
        // 二七区 near 郑州站: longitude, latitude.
        let poly: geo::Geometry<f64> = geo::Polygon::new(
            geo::LineString::from(vec![
                (113.6581, 34.7452),
                (113.6600, 34.7452),
                (113.6600, 34.7470),
                (113.6581, 34.7452),
            ]),
            vec![],
        )
        .into();
        let back = decode_wkb(&encode_wkb(&poly).unwrap()).unwrap();
        assert_eq!(back, poly);
    }
}
