//! Responsible units (责任单位) and their codes; `units.csv` lists every `unit_code` used anywhere.

use std::collections::BTreeMap;

use super::frontage::Frontage;
use super::{City, RAILWAY_BUREAU};

/// The departments each district has, (key, name suffix). Codes are `dept-<district>-<key>`.
pub const DEPARTMENTS: [(&str, &str); 7] = [
    ("cgzf", "城市管理局(综合行政执法局)"),
    ("hw", "环境卫生服务中心"),
    ("scjg", "市场监督管理局"),
    ("zj", "住房和城乡建设局"),
    ("jj", "交警大队"),
    ("yl", "园林绿化中心"),
    ("cwb", "创建文明城市工作办公室(创文办)"),
];

/// Unit code of a district department.
pub fn dept_code(district: &str, key: &str) -> String {
    format!("dept-{district}-{key}")
}

/// Unit code of a street office.
pub fn street_code(street: &str) -> String {
    format!("street-{street}")
}

/// Unit code of a community or village committee.
pub fn community_code(community: &str) -> String {
    format!("comm-{community}")
}

/// Writes `units.csv` (header `code,name,kind,parent_code`).
pub fn write(city: &City, fronts: &[Frontage], files: &mut BTreeMap<String, Vec<u8>>) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |a: &str, b: &str, c: &str, d: &str| {
        // Writing to a Vec cannot fail.
        w.write_record([a, b, c, d]).expect("csv into memory");
    };
    row("code", "name", "kind", "parent_code");
    row(
        RAILWAY_BUREAU,
        "中国铁路郑州局集团有限公司",
        "department",
        "410100",
    );
    let inp = &city.inputs;
    for d in &inp.districts {
        for (key, name) in DEPARTMENTS {
            let n = if key == "jj" {
                format!("郑州市公安局交通警察支队{}大队", d.name)
            } else {
                format!("{}{}", d.name, name)
            };
            row(&dept_code(&d.code, key), &n, "department", &d.code);
        }
    }
    for s in &inp.streets {
        let n = if s.name.ends_with('镇') {
            format!("{}人民政府", s.name)
        } else {
            format!("{}办事处", s.name)
        };
        row(
            &street_code(&s.code),
            &n,
            "street_office",
            &inp.districts[s.district].code,
        );
    }
    for c in &inp.communities {
        row(
            &community_code(&c.code),
            &c.name,
            "community_committee",
            &inp.streets[c.street].code,
        );
    }
    for f in fronts {
        let kind = if f.shop_type.is_organisation() {
            "organisation"
        } else {
            "shop"
        };
        row(&f.unit_code, &f.name, kind, &f.grid_code);
    }
    files.insert("units.csv".into(), w.into_inner().expect("csv into memory"));
}
