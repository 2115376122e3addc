//! Local metric projection and the fixed-point lon/lat type of the output.
//!
//! Everything is built in a local equirectangular projection centred on (113.56° E, 34.72° N):
//! x metres east, y metres north. The scale factors are the WGS84 meridional and parallel radii at
//! 34.72° N, written as literals so no platform's `cos` can change a bit. Over the two districts
//! (±15 km) distances are exact to about 0.3 %, which is plenty for synthetic geometry; the only
//! thing that must be exact is topology, and that lives in the fixed-point coordinates below.

/// Longitude of the projection origin, degrees (WGS84/CGCS2000).
pub const LON0: f64 = 113.56;
/// Latitude of the projection origin, degrees (WGS84/CGCS2000).
pub const LAT0: f64 = 34.72;
/// Metres per degree of latitude at `LAT0` (WGS84 meridional radius × π/180).
pub const M_PER_DEG_LAT: f64 = 110_935.456_815_113_23;
/// Metres per degree of longitude at `LAT0` (WGS84 N·cos φ × π/180).
pub const M_PER_DEG_LON: f64 = 91_598.045_112_068_07;
/// tan(`LAT0`), for the first-order area correction away from the origin latitude.
pub const TAN_LAT0: f64 = 0.692_949_383_055_387_6;
/// Radians per degree.
pub const RAD_PER_DEG: f64 = 0.017_453_292_519_943_295;

const SCALE: f64 = 1e7;
const LON0_Q: i64 = 1_135_600_000;
const LAT0_Q: i64 = 347_200_000;

/// A WGS84 lon/lat point in units of 1e-7 degree (RFC 7946 axis order). The output is written
/// from these integers, so two polygons that share a vertex id share its bits exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed {
    /// Longitude × 1e7.
    pub lon: i64,
    /// Latitude × 1e7.
    pub lat: i64,
}

impl Fixed {
    /// Rounds degrees (WGS84 lon, lat) to the 1e-7° lattice.
    pub fn from_deg(lon: f64, lat: f64) -> Self {
        Fixed {
            lon: (lon * SCALE).round() as i64,
            lat: (lat * SCALE).round() as i64,
        }
    }

    /// Local metres (x east, y north) → nearest fixed lon/lat.
    pub fn from_metres(p: [f64; 2]) -> Self {
        Fixed {
            lon: LON0_Q + (p[0] / M_PER_DEG_LON * SCALE).round() as i64,
            lat: LAT0_Q + (p[1] / M_PER_DEG_LAT * SCALE).round() as i64,
        }
    }

    /// Local metres (x east, y north) of this point; the integer offset is taken first so the
    /// conversion loses nothing.
    pub fn metres(self) -> [f64; 2] {
        [
            (self.lon - LON0_Q) as f64 / SCALE * M_PER_DEG_LON,
            (self.lat - LAT0_Q) as f64 / SCALE * M_PER_DEG_LAT,
        ]
    }

    /// Degrees (WGS84 lon, lat).
    pub fn deg(self) -> [f64; 2] {
        [self.lon as f64 / SCALE, self.lat as f64 / SCALE]
    }

    /// `[lon,lat]` with exactly 7 decimals, as written in every output file.
    pub fn json(self) -> String {
        format!("[{},{}]", fmt7(self.lon), fmt7(self.lat))
    }
}

/// Formats a value in 1e-7 units as a decimal with exactly 7 decimals.
pub fn fmt7(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:07}", a / 10_000_000, a % 10_000_000)
}

/// Degrees (WGS84 lon, lat) → local metres, unrounded.
pub fn to_metres(lon: f64, lat: f64) -> [f64; 2] {
    [(lon - LON0) * M_PER_DEG_LON, (lat - LAT0) * M_PER_DEG_LAT]
}

/// Signed shoelace area (m², counter-clockwise positive) of a ring in local metres, corrected to
/// first order for the shrinking of a degree of longitude away from `LAT0`, so it matches the
/// ellipsoidal area to about 0.01 % inside the two districts.
pub fn ring_area_m2(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    if n < 3 {
        return 0.0;
    }
    let (mut a, mut ysum) = (0.0, 0.0);
    for k in 0..n {
        let p = ring[k];
        let q = ring[(k + 1) % n];
        a += p[0] * q[1] - q[0] * p[1];
        ysum += p[1];
    }
    let dlat_rad = ysum / n as f64 / M_PER_DEG_LAT * RAD_PER_DEG;
    a * 0.5 * (1.0 - TAN_LAT0 * dlat_rad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_points_survive_a_round_trip_through_metres() {
        let p = Fixed::from_deg(113.658, 34.745);
        assert_eq!(Fixed::from_metres(p.metres()), p);
        assert_eq!(p.json(), "[113.6580000,34.7450000]");
    }
}
