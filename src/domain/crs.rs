//! Coordinate systems at the boundary, and the one conversion into the system's own.
//!
//! Chinese phone maps (AMap/高德, Tencent) send GCJ-02; Baidu sends BD-09; official survey data is
//! CGCS2000 (EPSG:4490), which agrees with WGS84 (EPSG:4326) to about a metre. In Zhengzhou GCJ-02
//! sits about 570 m off WGS84 — enough to land a report in the wrong grid or street. So every
//! coordinate that enters says which system it is in, and the store holds WGS84/CGCS2000 only.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A declared input coordinate system. All are geographic: longitude, latitude in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS84 (EPSG:4326), GPS. The default.
    #[default]
    Wgs84,
    /// CGCS2000 (EPSG:4490), China's official datum; taken as WGS84 (≤ 1 m apart).
    Cgcs2000,
    /// GCJ-02 ("Mars coordinates"), the obfuscated system of AMap/高德 and Tencent maps.
    Gcj02,
    /// BD-09, Baidu's further offset of GCJ-02.
    Bd09,
}

impl Crs {
    /// Every supported system.
    pub const ALL: [Crs; 4] = [Crs::Wgs84, Crs::Cgcs2000, Crs::Gcj02, Crs::Bd09];

    /// The stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Cgcs2000 => "cgcs2000",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }

    /// Converts a coordinate in this system to WGS84 (lon, lat in degrees). The GCJ-02 and BD-09
    /// inverses are iterative and agree with the forward transform to about 1e-9°.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => (lon, lat),
            Crs::Gcj02 => coordtransform::gcj02_to_wgs84(lon, lat),
            Crs::Bd09 => coordtransform::bd09_to_wgs84(lon, lat),
        }
    }

    /// Converts a WGS84 coordinate into this system (for exports to phone maps, and tests).
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => (lon, lat),
            Crs::Gcj02 => coordtransform::wgs84_to_gcj02(lon, lat),
            Crs::Bd09 => coordtransform::wgs84_to_bd09(lon, lat),
        }
    }

    /// Converts a whole geometry to WGS84.
    pub fn geometry_to_wgs84(self, g: &geo::Geometry<f64>) -> geo::Geometry<f64> {
        use geo::MapCoords;
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => g.clone(),
            _ => g.map_coords(|c| {
                let (x, y) = self.to_wgs84(c.x, c.y);
                geo::coord! { x: x, y: y }
            }),
        }
    }

    /// Converts a whole WGS84 geometry into this system.
    pub fn geometry_from_wgs84(self, g: &geo::Geometry<f64>) -> geo::Geometry<f64> {
        use geo::MapCoords;
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => g.clone(),
            _ => g.map_coords(|c| {
                let (x, y) = self.from_wgs84(c.x, c.y);
                geo::coord! { x: x, y: y }
            }),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A coordinate system name that is not supported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown coordinate system {0:?}; declare one of wgs84 (EPSG:4326), cgcs2000 (EPSG:4490), gcj02 (AMap/高德, Tencent) or bd09 (Baidu)"
)]
pub struct UnknownCrs(pub String);

impl FromStr for Crs {
    type Err = UnknownCrs;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "wgs84"
            | "epsg:4326"
            | "urn:ogc:def:crs:epsg::4326"
            | "urn:ogc:def:crs:ogc:1.3:crs84"
            | "crs84" => Ok(Crs::Wgs84),
            "cgcs2000" | "epsg:4490" | "urn:ogc:def:crs:epsg::4490" => Ok(Crs::Cgcs2000),
            "gcj02" | "amap" | "gaode" | "tencent" => Ok(Crs::Gcj02),
            "bd09" | "bd09ll" | "baidu" => Ok(Crs::Bd09),
            _ => Err(UnknownCrs(s.to_owned())),
        }
    }
}

/// The area in which coordinates are plausible for this installation: a lon/lat box in WGS84
/// degrees, with a name for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct PlausibleArea {
    /// Name used in messages, e.g. "the city (郑州市 二七区, 中原区) + 20 km".
    pub name: String,
    /// West edge, degrees.
    pub min_lon: f64,
    /// South edge, degrees.
    pub min_lat: f64,
    /// East edge, degrees.
    pub max_lon: f64,
    /// North edge, degrees.
    pub max_lat: f64,
}

impl PlausibleArea {
    /// The whole Earth: only range checks apply.
    pub fn world() -> Self {
        Self {
            name: "the world".into(),
            min_lon: -180.0,
            min_lat: -90.0,
            max_lon: 180.0,
            max_lat: 90.0,
        }
    }

    /// Mainland China and its islands, the only place GCJ-02 and BD-09 exist.
    pub fn china() -> Self {
        Self {
            name: "China".into(),
            min_lon: 73.4,
            min_lat: 3.8,
            max_lon: 135.1,
            max_lat: 53.6,
        }
    }

    /// A box around a city extent, grown by `margin_m` metres on every side.
    pub fn around(name: &str, extent: geo::Rect<f64>, margin_m: f64) -> Self {
        let dlat = margin_m / 111_320.0;
        let mid = (extent.min().y + extent.max().y) / 2.0;
        let dlon = margin_m / (111_320.0 * mid.to_radians().cos().max(0.01));
        Self {
            name: format!("{name} + {:.0} km", margin_m / 1000.0),
            min_lon: extent.min().x - dlon,
            min_lat: extent.min().y - dlat,
            max_lon: extent.max().x + dlon,
            max_lat: extent.max().y + dlat,
        }
    }

    fn contains(&self, lon: f64, lat: f64) -> bool {
        (self.min_lon..=self.max_lon).contains(&lon) && (self.min_lat..=self.max_lat).contains(&lat)
    }

    /// Checks one input coordinate (in its declared system, before conversion).
    pub fn check(&self, lon: f64, lat: f64) -> Result<(), CoordError> {
        if !lon.is_finite() || !lat.is_finite() {
            return Err(CoordError::NotFinite);
        }
        let in_range = lon.abs() <= 180.0 && lat.abs() <= 90.0;
        if in_range && self.contains(lon, lat) {
            return Ok(());
        }
        let swapped_in_range = lat.abs() <= 180.0 && lon.abs() <= 90.0;
        if swapped_in_range && self.contains(lat, lon) {
            return Err(CoordError::LooksSwapped { lon, lat });
        }
        if !in_range {
            return Err(CoordError::OutOfRange { lon, lat });
        }
        Err(CoordError::OutsideArea {
            lon,
            lat,
            area: self.name.clone(),
        })
    }
}

/// Why a coordinate was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CoordError {
    /// NaN or infinite.
    #[error("a coordinate is not a finite number")]
    NotFinite,
    /// Longitude beyond ±180° or latitude beyond ±90°.
    #[error(
        "({lon}, {lat}) is not a longitude/latitude pair: longitude must lie within ±180°, latitude within ±90°"
    )]
    OutOfRange {
        /// Given longitude.
        lon: f64,
        /// Given latitude.
        lat: f64,
    },
    /// The pair lies in the area only when read the other way round.
    #[error(
        "({lon}, {lat}) looks like latitude, longitude: send longitude first (GeoJSON order), i.e. ({lat}, {lon})"
    )]
    LooksSwapped {
        /// Given first value.
        lon: f64,
        /// Given second value.
        lat: f64,
    },
    /// Valid, but far from where this installation works.
    #[error("({lon}, {lat}) lies outside {area}; check the coordinate system and the data")]
    OutsideArea {
        /// Given longitude.
        lon: f64,
        /// Given latitude.
        lat: f64,
        /// The area's name.
        area: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 郑州站 (Zhengzhou railway station), WGS84: longitude, latitude.
    const STATION: (f64, f64) = (113.6584, 34.7459);

    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        use geo::{Distance, Haversine, Point};
        Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1))
    }

    #[test]
    fn gcj02_in_zhengzhou_is_about_570_metres_off_and_converts_back_within_a_millimetre() {
        let gcj = Crs::Gcj02.from_wgs84(STATION.0, STATION.1);
        let off = metres(STATION, gcj);
        assert!((500.0..650.0).contains(&off), "offset {off} m");
        let back = Crs::Gcj02.to_wgs84(gcj.0, gcj.1);
        assert!(metres(STATION, back) < 0.001);
    }

    #[test]
    fn bd09_converts_back_within_a_millimetre() {
        let bd = Crs::Bd09.from_wgs84(STATION.0, STATION.1);
        assert!(metres(STATION, bd) > 500.0);
        assert!(metres(STATION, Crs::Bd09.to_wgs84(bd.0, bd.1)) < 0.001);
    }

    #[test]
    fn swapped_coordinates_are_named_as_swapped() {
        let area = PlausibleArea::china();
        assert_eq!(area.check(STATION.0, STATION.1), Ok(()));
        assert!(matches!(
            area.check(STATION.1, STATION.0),
            Err(CoordError::LooksSwapped { .. })
        ));
    }

    #[test]
    fn a_point_in_helsinki_is_outside_a_chinese_city() {
        let city = PlausibleArea::around(
            "郑州",
            geo::Rect::new(
                geo::coord! {x: 113.4, y: 34.5},
                geo::coord! {x: 113.8, y: 34.9},
            ),
            20_000.0,
        );
        assert!(matches!(
            city.check(24.94, 60.17),
            Err(CoordError::OutsideArea { .. })
        ));
        assert!(matches!(
            city.check(f64::NAN, 1.0),
            Err(CoordError::NotFinite)
        ));
        assert!(matches!(
            PlausibleArea::world().check(200.0, 95.0),
            Err(CoordError::OutOfRange { .. })
        ));
    }

    #[test]
    fn crs_names_accept_epsg_codes_and_vendor_names() {
        assert_eq!("EPSG:4490".parse(), Ok(Crs::Cgcs2000));
        assert_eq!("GCJ-02".parse(), Ok(Crs::Gcj02));
        assert_eq!("baidu".parse(), Ok(Crs::Bd09));
        assert!("epsg:3857".parse::<Crs>().is_err());
    }
}
