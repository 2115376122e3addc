//! Jurisdiction layers with their version history, and the basemap.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::Row;

use super::geometry::bbox;
use super::{
    Audit, Dialect, Store, StoreError, StoreResult, append_event, bump_revision, decode_wkb,
    encode_wkb, on_pool,
};
use crate::domain::jurisdiction::{
    INDEXED_PROPS, IndexedFeature, IndexedProps, Jurisdiction, Layer, LayerVersion,
    VersionedJurisdiction,
};

/// A basemap feature (road, railway, water, station) in WGS84 lon/lat degrees.
#[derive(Debug, Clone, PartialEq)]
pub struct BasemapFeature {
    /// `road`, `railway`, `water`, `station`, `building`.
    pub kind: String,
    /// Class within the kind (`main`, `secondary`, `alley` for roads).
    pub class: Option<String>,
    /// Name in Chinese.
    pub name: Option<String>,
    /// Other attributes.
    pub props: Map<String, Value>,
    /// Geometry, WGS84 lon/lat degrees.
    pub geometry: geo::Geometry<f64>,
}

/// The features valid at the moment bound as `$2` (the current ones when it is NULL).
const VALID_AT: &str = "(CASE WHEN $2 IS NULL THEN valid_to IS NULL \
     ELSE valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) END)";

/// A feature's properties reduced to the [`INDEXED_PROPS`] while they are parsed: the others are
/// skipped without being built.
struct ListedProps(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for ListedProps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = ListedProps;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of feature properties")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<ListedProps, A::Error> {
                let mut kept = Map::new();
                while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    if INDEXED_PROPS.contains(&&*key) {
                        kept.insert(key.into_owned(), m.next_value()?);
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(ListedProps(kept))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const BATCH: usize = 400;

struct EncodedFeature<'a> {
    f: &'a Jurisdiction,
    wkb: Vec<u8>,
    bbox: (f64, f64, f64, f64),
}

fn push_geom<'q, DB: sqlx::Database>(
    b: &mut sqlx::query_builder::Separated<'_, DB, &'static str>,
    d: Dialect,
    wkb: Vec<u8>,
) where
    Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB> + 'q,
{
    match d {
        Dialect::Sqlite => {
            b.push_bind(wkb);
        }
        Dialect::Postgres => {
            b.push("ST_GeomFromWKB(")
                .push_bind_unseparated(wkb)
                .push_unseparated(", 4326)");
        }
    }
}

/// What [`Store::publish_city`] writes, all in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct CityWrite<'a> {
    /// Responsible units, upserted first (the layers' `unit_code` names them).
    pub units: &'a [crate::domain::unit::ResponsibleUnit],
    /// Basemap kinds replaced whole.
    pub basemap: &'a [(&'a str, &'a [BasemapFeature])],
    /// Layers, parents first, each published as a new version.
    pub layers: &'a [(Layer, Vec<Jurisdiction>)],
    /// The layers' versions are valid from this instant.
    pub valid_from: DateTime<Utc>,
    /// Where the data came from.
    pub source: &'a str,
    /// Categories, each written as a new version.
    pub categories: &'a [crate::domain::catalogue::Category],
    /// Years of the holiday table, each replacing a stored one.
    pub calendar: &'a [crate::domain::calendar::YearTable],
    /// The dispatch rule table, stored as its next version.
    pub dispatch_rules: Option<&'a crate::domain::dispatch::RuleTable>,
}

/// What [`Store::publish_city`] wrote.
#[derive(Debug, Clone)]
pub struct CityPublished {
    /// The layers' new versions, parents first.
    pub layers: Vec<LayerVersion>,
    /// The version of the dispatch rule table, when the city brought one.
    pub dispatch_rules: Option<i64>,
}

type EncodedBasemap<'a> = Vec<(&'a str, &'a BasemapFeature, Vec<u8>, (f64, f64, f64, f64))>;

fn encode_layer(layer: Layer, features: &[Jurisdiction]) -> StoreResult<Vec<EncodedFeature<'_>>> {
    features
        .iter()
        .map(|f| {
            if f.layer != layer {
                return Err(StoreError::Corrupt(format!(
                    "feature {} is of layer {}, not {layer}",
                    f.code, f.layer
                )));
            }
            Ok(EncodedFeature {
                f,
                wkb: encode_wkb(&f.geometry)?,
                bbox: bbox(&f.geometry)?,
            })
        })
        .collect()
}

fn encode_basemap<'a>(sets: &[(&'a str, &'a [BasemapFeature])]) -> StoreResult<EncodedBasemap<'a>> {
    let mut encoded = Vec::new();
    for (kind, features) in sets {
        for f in *features {
            encoded.push((*kind, f, encode_wkb(&f.geometry)?, bbox(&f.geometry)?));
        }
    }
    Ok(encoded)
}

/// Publishes a layer version inside the transaction `$tx` (a body shared by both backends and by
/// the one-layer and the whole-city publish); evaluates to the [`LayerVersion`].
macro_rules! publish_layer_in {
    ($tx:ident, $d:ident, $layer:expr, $encoded:expr, $valid_from:expr, $source:expr, $audit:expr) => {{
        let (layer, encoded, valid_from, source, audit): (Layer, &[EncodedFeature<'_>], DateTime<Utc>, &str, &Audit) =
            ($layer, $encoded, $valid_from, $source, $audit);
        let published_at = Utc::now();
        let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT version, valid_from FROM layer_versions WHERE layer = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(layer.as_str())
        .fetch_optional(&mut *$tx)
        .await?;
        if let Some((_, last_from)) = last
            && valid_from <= last_from
        {
            return Err(StoreError::Conflict(format!(
                "layer {layer} already has a version valid from {last_from}; a new version must be valid from a later instant"
            )));
        }
        let version = last.map_or(1, |(v, _)| v + 1);
        sqlx::query("UPDATE jurisdictions SET valid_to = $1 WHERE layer = $2 AND valid_to IS NULL")
            .bind(valid_from)
            .bind(layer.as_str())
            .execute(&mut *$tx)
            .await?;
        for chunk in encoded.chunks(BATCH) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO jurisdictions (layer, code, version, name, parent_code, unit_code, kind, props, \
                 min_lon, min_lat, max_lon, max_lat, valid_from, geom) ",
            );
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(layer.as_str())
                    .push_bind(e.f.code.clone())
                    .push_bind(version)
                    .push_bind(e.f.name.clone())
                    .push_bind(e.f.parent_code.clone())
                    .push_bind(e.f.unit_code.clone())
                    .push_bind(e.f.kind.clone())
                    .push_bind(sqlx::types::Json(e.f.props.clone()))
                    .push_bind(e.bbox.0)
                    .push_bind(e.bbox.1)
                    .push_bind(e.bbox.2)
                    .push_bind(e.bbox.3)
                    .push_bind(valid_from);
                push_geom(&mut b, $d, e.wkb.clone());
            });
            qb.build()
                .execute(&mut *$tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(m) => {
                        StoreError::Conflict(format!("duplicate {layer} code in the import: {m}"))
                    }
                    StoreError::InvalidReference(m) => StoreError::InvalidReference(format!(
                        "a {layer} feature names a responsible unit that does not exist: {m}"
                    )),
                    other => other,
                })?;
        }
        let count = i64::try_from(encoded.len()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO layer_versions (layer, version, valid_from, published_at, source, feature_count, published_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(layer.as_str())
        .bind(version)
        .bind(valid_from)
        .bind(published_at)
        .bind(source)
        .bind(count)
        .bind(audit.actor_id)
        .execute(&mut *$tx)
        .await?;
        let detail = serde_json::json!({
            "version": version, "valid_from": valid_from, "source": source, "feature_count": count,
        });
        append_event!(&mut *$tx, audit, "layer.published", "layer", layer.as_str(), &detail)?;
        bump_revision!(&mut *$tx)?;
        LayerVersion {
            layer,
            version,
            valid_from,
            published_at,
            source: source.to_owned(),
            feature_count: count,
        }
    }};
}

/// Replaces the basemap kinds of `$sets` inside the transaction `$tx`.
macro_rules! replace_basemap_in {
    ($tx:ident, $d:ident, $sets:expr, $encoded:expr, $audit:expr) => {{
        let (sets, encoded, audit): (&[(&str, &[BasemapFeature])], &EncodedBasemap<'_>, &Audit) =
            ($sets, $encoded, $audit);
        for (kind, features) in sets {
            sqlx::query("DELETE FROM basemap_features WHERE kind = $1")
                .bind(*kind)
                .execute(&mut *$tx)
                .await?;
            let detail = serde_json::json!({ "count": features.len() });
            append_event!(&mut *$tx, audit, "basemap.replaced", "basemap", *kind, &detail)?;
        }
        bump_revision!(&mut *$tx)?;
        for chunk in encoded.chunks(BATCH) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO basemap_features (kind, class, name, props, min_lon, min_lat, max_lon, max_lat, geom) ",
            );
            qb.push_values(chunk, |mut b, (kind, f, wkb, bb)| {
                b.push_bind(kind.to_string())
                    .push_bind(f.class.clone())
                    .push_bind(f.name.clone())
                    .push_bind(sqlx::types::Json(f.props.clone()))
                    .push_bind(bb.0)
                    .push_bind(bb.1)
                    .push_bind(bb.2)
                    .push_bind(bb.3);
                push_geom(&mut b, $d, wkb.clone());
            });
            qb.build().execute(&mut *$tx).await?;
        }
    }};
}

impl Store {
    /// Publishes a new version of a whole layer, valid from `valid_from`: the current features
    /// are closed (their `valid_to` set), never deleted, and the new ones inserted, all in one
    /// transaction. `valid_from` must lie after the current version's.
    pub async fn publish_layer(
        &self,
        layer: Layer,
        features: &[Jurisdiction],
        valid_from: DateTime<Utc>,
        source: &str,
        audit: &Audit,
    ) -> StoreResult<LayerVersion> {
        let encoded = encode_layer(layer, features)?;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let v = publish_layer_in!(tx, d, layer, &encoded, valid_from, source, audit);
            tx.commit().await?;
            Ok(v)
        })
    }

    /// Publishes a whole city in one transaction: units, basemap kinds, every layer given
    /// (parents first), categories, holiday years and the dispatch rules. Either all of it is
    /// written or none.
    pub async fn publish_city(
        &self,
        city: &CityWrite<'_>,
        audit: &Audit,
    ) -> StoreResult<CityPublished> {
        let layers = city
            .layers
            .iter()
            .map(|(layer, features)| Ok((*layer, encode_layer(*layer, features)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let basemap = encode_basemap(city.basemap)?;
        let calendar = city
            .calendar
            .iter()
            .map(|t| {
                serde_json::to_string(t)
                    .map(|body| (t, body))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            if !city.units.is_empty() {
                super::units::upsert_units_in!(tx, city.units, audit);
            }
            if !city.basemap.is_empty() {
                replace_basemap_in!(tx, d, city.basemap, &basemap, audit);
            }
            let mut versions = Vec::with_capacity(layers.len());
            for (layer, encoded) in &layers {
                versions.push(publish_layer_in!(
                    tx,
                    d,
                    *layer,
                    encoded,
                    city.valid_from,
                    city.source,
                    audit
                ));
            }
            for category in city.categories {
                super::catalogue::put_category_in!(tx, category, audit);
            }
            for (table, body) in &calendar {
                super::calendar::put_calendar_year_in!(tx, *table, body, audit);
            }
            let dispatch_rules = match city.dispatch_rules {
                Some(table) => Some(super::dispatch_rules::put_dispatch_rules_in!(
                    tx, table, audit
                )),
                None => None,
            };
            tx.commit().await?;
            Ok(CityPublished {
                layers: versions,
                dispatch_rules,
            })
        })
    }

    /// The published versions, of one layer or all, oldest first.
    pub async fn layer_versions(&self, layer: Option<Layer>) -> StoreResult<Vec<LayerVersion>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(
                "SELECT layer, version, valid_from, published_at, source, feature_count FROM layer_versions \
                 WHERE ($1 IS NULL OR layer = $1) ORDER BY id",
            )
            .bind(layer.map(Layer::as_str))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let layer: String = r.try_get("layer")?;
                    Ok(LayerVersion {
                        layer: Layer::from_str(&layer)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        version: r.try_get("version")?,
                        valid_from: r.try_get("valid_from")?,
                        published_at: r.try_get("published_at")?,
                        source: r.try_get("source")?,
                        feature_count: r.try_get("feature_count")?,
                    })
                })
                .collect()
        })
    }

    /// A number that grows with every change of what the in-memory index and catalogue are
    /// built from (layers, basemap, units, categories): the data version replicas poll.
    pub async fn data_version(&self) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            Ok(
                sqlx::query_scalar::<_, i64>("SELECT n FROM data_revision WHERE id = 1")
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    /// The features of a layer valid at `at` (the current ones when `None`), ordered by code.
    pub async fn features_at(
        &self,
        layer: Layer,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<VersionedJurisdiction>> {
        self.features_in(layer, at, None).await
    }

    /// The features of a layer valid at `at` (the current ones when `None`), ordered by code, as
    /// the assignment index and the tile set read them: [`IndexedFeature`]s, decoded as the rows
    /// arrive instead of all being held first, their properties parsed for the
    /// [`INDEXED_PROPS`] alone. For a province (3 million features) the process holds 1.4 GB
    /// before the index is built instead of 4.5 (docs/scaling.md).
    pub async fn index_features(
        &self,
        layer: Layer,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<IndexedFeature>> {
        use futures_util::TryStreamExt;
        on_pool!(self, |pool, d| {
            let sql = format!(
                "SELECT code, name, parent_code, unit_code, kind, props, {} AS wkb \
                 FROM jurisdictions WHERE layer = $1 AND {VALID_AT} ORDER BY code",
                d.geom_column("geom")
            );
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(layer.as_str())
                .bind(at)
                .fetch(pool);
            let mut out = Vec::new();
            while let Some(r) = rows.try_next().await? {
                let props = r.try_get::<sqlx::types::Json<ListedProps>, _>("props")?.0;
                out.push(IndexedFeature {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    parent_code: r.try_get("parent_code")?,
                    unit_code: r.try_get("unit_code")?,
                    kind: r.try_get("kind")?,
                    props: IndexedProps::of(&props.0),
                    geometry: decode_wkb(r.try_get::<&[u8], _>("wkb")?)?,
                });
            }
            Ok(out)
        })
    }

    /// Like [`Store::features_at`], limited to features whose bounding box meets `bbox`
    /// (`[min_lon, min_lat, max_lon, max_lat]`, WGS84 degrees).
    pub async fn features_in(
        &self,
        layer: Layer,
        at: Option<DateTime<Utc>>,
        bbox: Option<[f64; 4]>,
    ) -> StoreResult<Vec<VersionedJurisdiction>> {
        let [w, s, e, n] = bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0]);
        on_pool!(self, |pool, d| {
            let sql = format!(
                "SELECT code, version, name, parent_code, unit_code, kind, props, valid_from, valid_to, {} AS wkb \
                 FROM jurisdictions WHERE layer = $1 AND {VALID_AT} \
                 AND max_lon >= $3 AND min_lon <= $4 AND max_lat >= $5 AND min_lat <= $6 \
                 ORDER BY code",
                d.geom_column("geom")
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(layer.as_str())
                .bind(at)
                .bind(w)
                .bind(e)
                .bind(s)
                .bind(n)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let wkb: Vec<u8> = r.try_get("wkb")?;
                    Ok(VersionedJurisdiction {
                        feature: Jurisdiction {
                            layer,
                            code: r.try_get("code")?,
                            name: r.try_get("name")?,
                            parent_code: r.try_get("parent_code")?,
                            unit_code: r.try_get("unit_code")?,
                            kind: r.try_get("kind")?,
                            props: r
                                .try_get::<sqlx::types::Json<Map<String, Value>>, _>("props")?
                                .0,
                            geometry: decode_wkb(&wkb)?,
                        },
                        version: r.try_get("version")?,
                        valid_from: r.try_get("valid_from")?,
                        valid_to: r.try_get("valid_to")?,
                    })
                })
                .collect()
        })
    }

    /// Replaces every basemap feature of the given kinds (roads, railway …), all in one
    /// transaction: either every kind is replaced or none is.
    pub async fn replace_basemap(
        &self,
        sets: &[(&str, &[BasemapFeature])],
        audit: &Audit,
    ) -> StoreResult<u64> {
        let encoded = encode_basemap(sets)?;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            replace_basemap_in!(tx, d, sets, &encoded, audit);
            tx.commit().await?;
            Ok(encoded.len() as u64)
        })
    }

    /// How many features of `layer` are live now (for the import's removal guard).
    pub async fn current_feature_count(&self, layer: Layer) -> StoreResult<u64> {
        on_pool!(self, |pool, d| {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jurisdictions WHERE layer = $1 AND valid_to IS NULL",
            )
            .bind(layer.as_str())
            .fetch_one(pool)
            .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// How many basemap features of `kind` there are.
    pub async fn basemap_count(&self, kind: &str) -> StoreResult<u64> {
        on_pool!(self, |pool, d| {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM basemap_features WHERE kind = $1")
                    .bind(kind)
                    .fetch_one(pool)
                    .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// The basemap features of one kind.
    pub async fn basemap(&self, kind: &str) -> StoreResult<Vec<BasemapFeature>> {
        on_pool!(self, |pool, d| {
            let sql = format!(
                "SELECT kind, class, name, props, {} AS wkb FROM basemap_features WHERE kind = $1 ORDER BY id",
                d.geom_column("geom")
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(kind)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let wkb: Vec<u8> = r.try_get("wkb")?;
                    Ok(BasemapFeature {
                        kind: r.try_get("kind")?,
                        class: r.try_get("class")?,
                        name: r.try_get("name")?,
                        props: r
                            .try_get::<sqlx::types::Json<Map<String, Value>>, _>("props")?
                            .0,
                        geometry: decode_wkb(&wkb)?,
                    })
                })
                .collect()
        })
    }
}
