//! The data rules of an import, written down once: which properties each layer's features carry,
//! which columns the units and history CSVs have, their formats and their common Chinese names.
//!
//! The parsers read their names from here (so a shapefile exported with `编码`/`名称` columns
//! imports as it is), `GET /api/import/schema/{name}` serves them as JSON Schema, and
//! `docs/import.md` shows them. A test removes each required field from a valid feature and
//! expects the import to refuse it, so the schema cannot claim more than the import enforces.

use serde_json::{Map, Value, json};

use crate::domain::jurisdiction::Layer;
use crate::domain::unit::UnitKind;

/// Whether a field must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Missing: the feature or row is refused.
    Required,
    /// Missing: a warning (the import needs `accept_warnings`).
    Recommended,
    /// May be left out.
    Optional,
}

/// What a field holds.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// Text matching a regular expression (JSON Schema `pattern`).
    Pattern(&'static str),
    /// Free text.
    Text,
    /// A number within a range.
    Number {
        /// The value must be above this.
        min_exclusive: f64,
        /// The value must be at most this.
        max: f64,
    },
    /// One of the given words.
    OneOf(&'static [&'static str]),
    /// An RFC 3339 instant.
    DateTime,
}

/// One property of a layer's features, or one column of a CSV.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The canonical (English) name.
    pub name: &'static str,
    /// Chinese headings accepted in its place.
    pub aliases: &'static [&'static str],
    /// Required, recommended or optional.
    pub need: Need,
    /// Its format.
    pub format: Format,
    /// What it means, in Chinese and English.
    pub description: &'static str,
}

const fn field(
    name: &'static str,
    aliases: &'static [&'static str],
    need: Need,
    format: Format,
    description: &'static str,
) -> Field {
    Field {
        name,
        aliases,
        need,
        format,
        description,
    }
}

const CODE_ALIASES: &[&str] = &["编码", "代码", "区划代码", "网格编码"];
const NAME_ALIASES: &[&str] = &["名称", "网格名称"];
const PARENT_ALIASES: &[&str] = &["上级编码", "所属编码", "上级代码"];
const UNIT_ALIASES: &[&str] = &["责任单位编码", "单位编码"];
const FREE_CODE: Format = Format::Pattern("^[!-~]{1,64}$");

fn layer_code(layer: Layer) -> Field {
    let (format, description) = match layer {
        Layer::District => (
            Format::Pattern("^[0-9]{6}$"),
            "6 位区县代码 (GB/T 2260) / the 6-digit county code",
        ),
        Layer::Street => (
            Format::Pattern("^[0-9]{9}$"),
            "9 位街道/乡镇代码，前 6 位为所属区 / 9 digits, starting with its district's",
        ),
        Layer::Community => (
            Format::Pattern("^[0-9]{12}$"),
            "12 位社区/村代码，前 9 位为所属街道 / 12 digits, starting with its street's",
        ),
        Layer::Grid => (
            Format::Pattern("^[0-9]{15}$"),
            "15 位单元网格编码：社区代码 + 3 位顺序号 (GB/T 30428.1) / community code + 3-digit sequence",
        ),
        Layer::Frontage => (
            FREE_CODE,
            "门前三包责任段编码，1–64 个可打印 ASCII 字符 / 1–64 printable ASCII characters",
        ),
        Layer::Zone => (
            FREE_CODE,
            "专题区域编码，1–64 个可打印 ASCII 字符 / 1–64 printable ASCII characters",
        ),
    };
    field("code", CODE_ALIASES, Need::Required, format, description)
}

/// The properties of a layer's features, `code` first.
pub fn layer_fields(layer: Layer) -> Vec<Field> {
    let mut fields = vec![
        layer_code(layer),
        field(
            "name",
            NAME_ALIASES,
            Need::Required,
            Format::Text,
            "中文名称 / the name in Chinese",
        ),
    ];
    let parent = |need, what| field("parent_code", PARENT_ALIASES, need, FREE_CODE, what);
    let unit = |need, what| field("unit_code", UNIT_ALIASES, need, FREE_CODE, what);
    match layer {
        Layer::District => {
            fields.push(parent(Need::Optional, "所属城市代码 / the city's code"));
            fields.push(unit(Need::Optional, "责任单位编码 / its responsible unit"));
        }
        Layer::Street => {
            fields.push(parent(Need::Required, "所属区代码 / its district's code"));
            fields.push(unit(
                Need::Optional,
                "街道办事处的单位编码 / the street office's unit code",
            ));
        }
        Layer::Community => {
            fields.push(parent(Need::Required, "所属街道代码 / its street's code"));
            fields.push(unit(
                Need::Optional,
                "居(村)委会的单位编码 / the committee's unit code",
            ));
            fields.push(field(
                "committee",
                &["居委类型"],
                Need::Optional,
                Format::Text,
                "居委会 residents 或村委会 village / a residents' or a villagers' committee",
            ));
        }
        Layer::Grid => {
            fields.push(parent(
                Need::Required,
                "所属社区代码 / its community's code",
            ));
            fields.push(unit(
                Need::Recommended,
                "网格的责任单位；缺少时网格内的问题没有责任人 / the grid's owner: without it points get owner null",
            ));
        }
        Layer::Frontage => {
            fields.push(parent(Need::Required, "所在单元网格编码 / its grid's code"));
            fields.push(unit(
                Need::Required,
                "责任商户或单位的编码 / the shop or organisation responsible",
            ));
            fields.push(field(
                "depth_m",
                &["进深", "进深米", "责任进深"],
                Need::Required,
                Format::Number {
                    min_exclusive: 0.0,
                    max: super::validate::MAX_FRONTAGE_DEPTH_M,
                },
                "责任区进深，米 (0–100) / the strip's depth from the frontage line, metres",
            ));
            fields.push(field(
                "shop_type",
                &["商户类型", "业态"],
                Need::Recommended,
                Format::Text,
                "商户类型，如 餐饮、零售、单位 / the kind of shop",
            ));
            fields.push(field(
                "road_name",
                &["道路名称", "所在道路"],
                Need::Optional,
                Format::Text,
                "所临道路 / the road it faces",
            ));
        }
        Layer::Zone => {
            fields.push(field(
                "zone_kind",
                &["区域类型"],
                Need::Required,
                Format::OneOf(&[
                    "urban_village",
                    "railway_land",
                    "back_alley",
                    "inspection_site",
                ]),
                "城中村 urban_village、铁路用地 railway_land、背街小巷 back_alley、督查点位 inspection_site",
            ));
            fields.push(unit(
                Need::Optional,
                "区域的责任单位，如铁路部门；测评点位为主责单位 / e.g. the railway bureau for railway land; an inspection site's lead unit (主责)",
            ));
            fields.push(field(
                "site_type",
                &["点位类型", "测评点位类型"],
                Need::Optional,
                Format::OneOf(&crate::domain::inspection::POINT_TYPE_CODES),
                "测评点位类型（inspection_site 必填，见 docs/inspections.md）/ the assessment point type, needed for an inspection_site",
            ));
            fields.push(field(
                "support_units",
                &["配合单位"],
                Need::Optional,
                Format::Text,
                "测评点位的配合单位编码，逗号分隔 / an inspection site's supporting units (配合), unit codes separated by commas",
            ));
        }
    }
    fields
}

/// The geometry types a layer accepts.
pub fn layer_geometries(layer: Layer) -> &'static [&'static str] {
    match layer {
        Layer::District | Layer::Street | Layer::Community => &["Polygon", "MultiPolygon"],
        Layer::Grid => &["Polygon", "MultiPolygon"],
        Layer::Frontage => &["LineString", "MultiLineString"],
        Layer::Zone => &["Polygon", "MultiPolygon", "LineString", "Point"],
    }
}

const UNIT_KINDS: &[&str] = &[
    UnitKind::Department.as_str(),
    UnitKind::StreetOffice.as_str(),
    UnitKind::CommunityCommittee.as_str(),
    UnitKind::Shop.as_str(),
    UnitKind::Organisation.as_str(),
];

/// The columns of the units CSV (`POST /api/import/units`).
pub const UNIT_COLUMNS: &[Field] = &[
    field(
        "code",
        &["单位编码", "编码"],
        Need::Required,
        FREE_CODE,
        "单位编码；专业部门为 dept-<区代码>-<部门键>，如 dept-410103-cgzf / departments are dept-<district>-<key>",
    ),
    field(
        "name",
        &["单位名称", "名称"],
        Need::Required,
        Format::Text,
        "单位名称 / the unit's name",
    ),
    field(
        "kind",
        &["单位类型", "类型"],
        Need::Required,
        Format::OneOf(UNIT_KINDS),
        "专业部门 department、街道办 street_office、居(村)委会 community_committee、商户 shop、单位 organisation",
    ),
    field(
        "parent_code",
        &["上级单位编码", "上级编码"],
        Need::Optional,
        FREE_CODE,
        "上级单位编码，可为空 / the parent unit, may be empty",
    ),
];

/// The columns of the history CSV (`POST /api/import/history`).
pub const HISTORY_COLUMNS: &[Field] = &[
    field(
        "id",
        &["编号", "案件编号", "工单编号"],
        Need::Required,
        Format::Text,
        "原系统中的编号，文件内唯一 / the id in the previous system",
    ),
    field(
        "reported_at",
        &["上报时间", "受理时间"],
        Need::Required,
        Format::DateTime,
        "上报时间，RFC 3339，如 2025-03-01T08:30:00+08:00",
    ),
    field(
        "category",
        &["问题类别", "类别编码", "类别"],
        Need::Required,
        Format::Pattern("^[0-9]{4}$"),
        "4 位问题类别编码（大类 + 小类）/ the 4-digit category code",
    ),
    field(
        "lon",
        &["经度"],
        Need::Required,
        Format::Number {
            min_exclusive: -180.0,
            max: 180.0,
        },
        "经度，按 crs 参数声明的坐标系 / longitude in the declared system",
    ),
    field(
        "lat",
        &["纬度"],
        Need::Required,
        Format::Number {
            min_exclusive: -90.0,
            max: 90.0,
        },
        "纬度 / latitude",
    ),
    field(
        "channel",
        &["来源", "渠道"],
        Need::Optional,
        Format::Text,
        "来源渠道，如 hotline、inspector / the channel",
    ),
    field(
        "closed_at",
        &["结案时间"],
        Need::Optional,
        Format::DateTime,
        "结案时间，RFC 3339，可为空 / when it was closed",
    ),
];

/// The canonical name of a property or column heading `key` among `fields`: the name itself, or
/// the field one of whose Chinese aliases it is.
pub fn canonical(fields: &[Field], key: &str) -> Option<&'static str> {
    let key = key.trim();
    fields
        .iter()
        .find(|f| f.name == key || f.aliases.contains(&key))
        .map(|f| f.name)
}

/// `headers` with every Chinese alias replaced by its canonical name.
pub fn canonical_headers(fields: &[Field], headers: &csv::StringRecord) -> csv::StringRecord {
    headers
        .iter()
        .map(|h| canonical(fields, h).unwrap_or(h))
        .collect()
}

/// `props` with Chinese aliases renamed to the canonical names (a canonical name already present
/// wins; the alias is then kept as an attribute).
pub fn canonical_properties(layer: Layer, props: Map<String, Value>) -> Map<String, Value> {
    let fields = layer_fields(layer);
    let mut out = Map::with_capacity(props.len());
    let mut aliased = Vec::new();
    for (k, v) in props {
        match canonical(&fields, &k) {
            Some(name) if name != k => aliased.push((name, k, v)),
            _ => {
                out.insert(k, v);
            }
        }
    }
    for (name, alias, v) in aliased {
        if out.contains_key(name) {
            out.insert(alias, v);
        } else {
            out.insert(name.to_owned(), v);
        }
    }
    out
}

fn field_schema(f: &Field) -> Value {
    let mut s = match f.format {
        Format::Pattern(p) => json!({ "type": "string", "pattern": p }),
        Format::Text => json!({ "type": "string", "minLength": 1 }),
        Format::Number { min_exclusive, max } => {
            json!({ "type": "number", "exclusiveMinimum": min_exclusive, "maximum": max })
        }
        Format::OneOf(words) => json!({ "type": "string", "enum": words }),
        Format::DateTime => json!({ "type": "string", "format": "date-time" }),
    };
    s["description"] = f.description.into();
    if !f.aliases.is_empty() {
        s["x-aliases"] = json!(f.aliases);
    }
    if f.need == Need::Recommended {
        s["x-warning-when-missing"] = true.into();
    }
    s
}

fn object_schema(fields: &[Field]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_owned(), field_schema(f)))
        .collect();
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.need == Need::Required)
        .map(|f| f.name)
        .collect();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// The JSON Schema (draft 2020-12) of one feature of `layer`: its geometry types and the
/// properties it needs. Further properties are kept as attributes.
pub fn layer_schema(layer: Layer) -> Value {
    let mut props = object_schema(&layer_fields(layer));
    props["additionalProperties"] = true.into();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("/api/import/schema/{layer}"),
        "title": format!("{layer} {} feature", layer.label_zh()),
        "description": "One Feature of the layer's FeatureCollection; coordinates in the declared crs (wgs84, cgcs2000, gcj02 or bd09).",
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": { "const": "Feature" },
            "geometry": {
                "type": "object",
                "required": ["type", "coordinates"],
                "properties": { "type": { "enum": layer_geometries(layer) } }
            },
            "properties": props
        }
    })
}

/// The CSV files with a schema.
pub const CSV_FILES: [(&str, &[Field], &str); 2] = [
    (
        "units",
        UNIT_COLUMNS,
        "责任单位 responsible units: POST /api/import/units",
    ),
    (
        "history",
        HISTORY_COLUMNS,
        "历史案件 past reports for hot spots: POST /api/import/history",
    ),
];

/// The schema of one CSV file: a JSON Schema of one row, with the column order and headings.
pub fn csv_schema(name: &str) -> Option<Value> {
    let (name, fields, what) = CSV_FILES.iter().find(|(n, _, _)| *n == name)?;
    let mut row = object_schema(fields);
    row["$schema"] = "https://json-schema.org/draft/2020-12/schema".into();
    row["$id"] = format!("/api/import/schema/{name}").into();
    row["title"] = format!("{name}.csv: one row").into();
    row["description"] = format!(
        "{what}. UTF-8 CSV (a BOM is allowed) with a heading row; the English or the Chinese headings (x-aliases) may be used."
    )
    .into();
    row["x-columns"] = json!(fields.iter().map(|f| f.name).collect::<Vec<_>>());
    Some(row)
}

/// Every schema name `GET /api/import/schema/{name}` answers: the six layers, then the CSVs.
pub fn schema_names() -> Vec<&'static str> {
    Layer::ALL
        .iter()
        .map(|l| l.as_str())
        .chain(CSV_FILES.iter().map(|(n, _, _)| *n))
        .collect()
}

/// The schema named `name` (a layer or a CSV file).
pub fn schema(name: &str) -> Option<Value> {
    match name.parse::<Layer>() {
        Ok(layer) => Some(layer_schema(layer)),
        Err(_) => csv_schema(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_headings_map_to_the_canonical_columns() {
        let h = csv::StringRecord::from(vec!["单位编码", "单位名称", "类型", "上级编码"]);
        let c = canonical_headers(UNIT_COLUMNS, &h);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            ["code", "name", "kind", "parent_code"]
        );
    }

    #[test]
    fn a_canonical_property_wins_over_its_alias() {
        let props =
            serde_json::from_value(json!({"code": "a", "编码": "b", "名称": "某网格"})).unwrap();
        let out = canonical_properties(Layer::Frontage, props);
        assert_eq!(out["code"], "a");
        assert_eq!(out["编码"], "b");
        assert_eq!(out["name"], "某网格");
    }

    #[test]
    fn every_schema_name_has_a_schema() {
        for name in schema_names() {
            let s = schema(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(s["$id"], format!("/api/import/schema/{name}"));
        }
        assert!(schema("roads").is_none());
    }
}
