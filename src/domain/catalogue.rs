//! The category catalogue (部件/事件 分类) in CJ/T 214 style: 大类 (2 digits) + 小类 (2 digits), the
//! conditions to register (立案条件) and close (结案条件) a case, the time limit (处置时限) and the
//! default responsible department.
//!
//! These are the demo city's defaults. Cities edit them; the store keeps versions so an old case
//! keeps the rules it was opened under.

use serde::{Deserialize, Serialize};

/// 部件 (a physical component: manhole cover, lamp …) or 事件 (an event: garbage, vending …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// 部件.
    Component,
    /// 事件.
    Event,
}

/// A time limit in working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "value")]
pub enum TimeLimit {
    /// Working hours (工作时).
    WorkingHours(u32),
    /// Working days (工作日).
    WorkingDays(u32),
}

/// One 小类 of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// 4-digit code: 大类 + 小类.
    pub code: String,
    /// Name, e.g. 暴露垃圾.
    pub name: String,
    /// 部件 or 事件.
    pub kind: CategoryKind,
    /// 大类 name, e.g. 市容环境.
    pub major_name: String,
    /// 立案条件.
    pub register_condition: String,
    /// 结案条件.
    pub close_condition: String,
    /// 处置时限.
    pub time_limit: TimeLimit,
    /// Key of the default department in each district (`cgzf`, `hw`, `scjg`, `zj`, `jj`, `yl`).
    pub department: String,
    /// A sanitation problem (counts towards 卫生死角).
    pub sanitation: bool,
    /// A 门前三包 problem: the frontage shop is asked first.
    pub frontage: bool,
    /// Reports within this distance (m) …
    pub duplicate_radius_m: f64,
    /// … and this time (h) of an open case of the same category are linked to it.
    pub duplicate_window_h: f64,
    /// Link duplicates at once (merge) instead of suggesting the link to the intake clerk.
    #[serde(default)]
    pub duplicate_merge: bool,
}

/// A category definition that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid category: {0}")]
pub struct CategoryError(pub String);

impl Category {
    /// Checks an edited definition: a 4-digit code, names, a positive time limit, a plain
    /// department key, a duplicate radius of 0–1000 m and window of 0–720 h.
    pub fn check(&self) -> Result<(), CategoryError> {
        let bad = |m: String| Err(CategoryError(m));
        if self.code.len() != 4 || !self.code.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!(
                "code {:?} must be 4 digits (大类 2 + 小类 2)",
                self.code
            ));
        }
        if self.name.trim().is_empty() || self.major_name.trim().is_empty() {
            return bad("name and major_name must not be empty".into());
        }
        if matches!(
            self.time_limit,
            TimeLimit::WorkingHours(0) | TimeLimit::WorkingDays(0)
        ) {
            return bad("time_limit must be positive".into());
        }
        if self.department.is_empty() || !self.department.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return bad(format!(
                "department {:?} must be a plain key like \"hw\" (the unit is dept-<district>-<key>)",
                self.department
            ));
        }
        if !(0.0..=1000.0).contains(&self.duplicate_radius_m) {
            return bad("duplicate_radius_m must be 0–1000".into());
        }
        if !(0.0..=720.0).contains(&self.duplicate_window_h) {
            return bad("duplicate_window_h must be 0–720".into());
        }
        Ok(())
    }
}

/// Every version of every category, and which one is current: a case is answered by the
/// version it was opened under.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    versions: std::collections::BTreeMap<(String, i64), Category>,
    current: std::collections::BTreeMap<String, i64>,
}

impl Catalogue {
    /// From (version, category) rows.
    pub fn new(rows: impl IntoIterator<Item = (i64, Category)>) -> Self {
        let mut c = Catalogue::default();
        for (v, cat) in rows {
            let cur = c.current.entry(cat.code.clone()).or_insert(v);
            *cur = (*cur).max(v);
            c.versions.insert((cat.code.clone(), v), cat);
        }
        c
    }

    /// The current version of a category.
    pub fn current(&self, code: &str) -> Option<(i64, &Category)> {
        let v = *self.current.get(code)?;
        self.versions.get(&(code.to_owned(), v)).map(|c| (v, c))
    }

    /// A given version (falls back to the current one for a version never stored).
    pub fn version(&self, code: &str, version: i64) -> Option<&Category> {
        self.versions
            .get(&(code.to_owned(), version))
            .or_else(|| self.current(code).map(|(_, c)| c))
    }

    /// Every current category, by code.
    pub fn list(&self) -> Vec<(i64, &Category)> {
        self.current
            .keys()
            .filter_map(|k| self.current(k))
            .collect()
    }
}

impl Category {
    /// The department unit answering for this category in a district, e.g. `dept-410103-hw`.
    pub fn department_unit(&self, district_code: &str) -> String {
        format!("dept-{district_code}-{}", self.department)
    }
}

#[allow(clippy::too_many_arguments)]
fn cat(
    code: &str,
    name: &str,
    kind: CategoryKind,
    major: &str,
    register: &str,
    close: &str,
    limit: TimeLimit,
    department: &str,
    sanitation: bool,
    frontage: bool,
) -> Category {
    let litter = sanitation || frontage;
    Category {
        code: code.into(),
        name: name.into(),
        kind,
        major_name: major.into(),
        register_condition: register.into(),
        close_condition: close.into(),
        time_limit: limit,
        department: department.into(),
        sanitation,
        frontage,
        duplicate_radius_m: if litter { 50.0 } else { 30.0 },
        duplicate_window_h: if litter { 72.0 } else { 168.0 },
        // Litter is the same pile whoever reports it: merge. Others (a vendor, a car) may be a
        // new occurrence: let the intake clerk decide.
        duplicate_merge: litter,
    }
}

/// The demo city's catalogue: the problems the speeches behind the project name.
pub fn default_catalogue() -> Vec<Category> {
    use CategoryKind::{Component as C, Event as E};
    use TimeLimit::{WorkingDays as D, WorkingHours as H};
    vec![
        cat(
            "0101",
            "暴露垃圾",
            E,
            "市容环境",
            "道路、绿地、水域等公共区域有暴露垃圾",
            "垃圾清理干净，无残留",
            H(4),
            "hw",
            true,
            true,
        ),
        cat(
            "0102",
            "积存渣土",
            E,
            "市容环境",
            "公共区域积存建筑渣土、垃圾渣土",
            "渣土清运完毕",
            D(1),
            "hw",
            true,
            false,
        ),
        cat(
            "0103",
            "道路不洁",
            E,
            "市容环境",
            "道路有明显污渍、油污、散落物",
            "路面清洁",
            H(4),
            "hw",
            true,
            true,
        ),
        cat(
            "0104",
            "绿地脏乱",
            E,
            "市容环境",
            "绿地内有垃圾、杂物或被践踏毁损",
            "绿地清洁，毁损已修复",
            D(1),
            "yl",
            true,
            false,
        ),
        cat(
            "0105",
            "河道不洁",
            E,
            "市容环境",
            "河道水面或岸坡有漂浮物、垃圾",
            "河道水面、岸坡清洁",
            D(1),
            "hw",
            true,
            false,
        ),
        cat(
            "0106",
            "垃圾满溢",
            E,
            "市容环境",
            "垃圾桶、垃圾箱满溢",
            "垃圾清运，容器周边清洁",
            H(2),
            "hw",
            true,
            true,
        ),
        cat(
            "0201",
            "占道经营",
            E,
            "宣传广告与街面秩序",
            "占用道路、广场等公共场所摆摊经营",
            "经营者撤离，现场恢复",
            H(2),
            "cgzf",
            false,
            true,
        ),
        cat(
            "0202",
            "店外经营",
            E,
            "宣传广告与街面秩序",
            "沿街商户超出门窗外墙经营、作业",
            "经营回归店内",
            H(4),
            "cgzf",
            false,
            true,
        ),
        cat(
            "0203",
            "流动摊贩",
            E,
            "宣传广告与街面秩序",
            "流动摊点无序经营",
            "摊点撤离",
            H(2),
            "cgzf",
            false,
            false,
        ),
        cat(
            "0301",
            "乱停乱放(机动车)",
            E,
            "街面秩序",
            "机动车在人行道、禁停区域乱停",
            "车辆驶离或依法处理",
            H(2),
            "jj",
            false,
            false,
        ),
        cat(
            "0302",
            "非机动车乱停放",
            E,
            "街面秩序",
            "非机动车、共享单车无序停放",
            "车辆规范停放",
            H(4),
            "cgzf",
            false,
            true,
        ),
        cat(
            "0401",
            "私搭乱建",
            E,
            "施工管理",
            "未经批准搭建建筑物、构筑物",
            "违法建设拆除或依法处置",
            D(15),
            "zj",
            false,
            false,
        ),
        cat(
            "0501",
            "小广告",
            E,
            "宣传广告",
            "张贴、喷涂、刻画小广告",
            "小广告清除干净",
            D(1),
            "cgzf",
            false,
            true,
        ),
        cat(
            "0502",
            "乱涂乱画",
            E,
            "宣传广告",
            "在建筑物、设施上涂写刻画",
            "涂画清除干净",
            D(2),
            "cgzf",
            false,
            true,
        ),
        cat(
            "0601",
            "井盖缺失",
            C,
            "公用设施",
            "井盖缺失、破损、移位",
            "井盖补齐或更换到位",
            H(4),
            "zj",
            false,
            false,
        ),
        cat(
            "0602",
            "路灯不亮",
            C,
            "公用设施",
            "路灯不亮、损坏",
            "路灯恢复照明",
            D(2),
            "zj",
            false,
            false,
        ),
        cat(
            "0204",
            "市场秩序混乱",
            E,
            "街面秩序",
            "集贸市场内外摊位越线、通道堵塞、秩序混乱",
            "摊位归位，通道畅通",
            D(1),
            "scjg",
            false,
            false,
        ),
        cat(
            "0303",
            "出租车乱停靠",
            E,
            "交通秩序",
            "出租车、网约车在禁停路段随意停靠上下客",
            "车辆驶离，现场秩序恢复",
            H(2),
            "jj",
            false,
            false,
        ),
        cat(
            "0304",
            "代步车三轮车违规行驶",
            E,
            "交通秩序",
            "老年代步车、三轮车混入机动车道行驶或违规载客",
            "违规车辆劝离或依法处理",
            H(4),
            "jj",
            false,
            false,
        ),
        cat(
            "0305",
            "行人车辆闯红灯",
            E,
            "交通秩序",
            "路口行人、非机动车集中闯红灯",
            "路口设置劝导，秩序恢复",
            D(1),
            "jj",
            false,
            false,
        ),
        cat(
            "0402",
            "违规建房",
            E,
            "违法建设",
            "未经审批新建、扩建、改建房屋",
            "停工并依法处理，拆除或补办手续",
            D(20),
            "cgzf",
            false,
            false,
        ),
        cat(
            "0503",
            "立面不整",
            E,
            "宣传广告",
            "建筑立面破损、杂物悬挂、招牌残缺",
            "立面整洁，招牌完好",
            D(5),
            "cgzf",
            false,
            true,
        ),
        cat(
            "0603",
            "路面不平",
            C,
            "公共设施",
            "人行道、车行道破损、坑洼、塌陷",
            "路面修复平整",
            D(3),
            "zj",
            false,
            false,
        ),
        cat(
            "0604",
            "盲道不通",
            C,
            "公共设施",
            "盲道被占用、断头或破损",
            "盲道连续畅通",
            D(2),
            "zj",
            false,
            true,
        ),
        cat(
            "0605",
            "设施损坏",
            C,
            "公共设施",
            "护栏、果皮箱、座椅、指示牌等设施损坏失灵",
            "设施修复或更换，恢复功能",
            D(3),
            "zj",
            false,
            false,
        ),
    ]
}

/// Looks a category up by code.
pub fn find<'a>(catalogue: &'a [Category], code: &str) -> Option<&'a Category> {
    catalogue.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalogue_has_unique_four_digit_codes() {
        let cats = default_catalogue();
        let mut codes: Vec<&str> = cats.iter().map(|c| c.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), cats.len());
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 4 && c.bytes().all(|b| b.is_ascii_digit()))
        );
    }

    #[test]
    fn a_case_keeps_the_version_it_was_opened_under() {
        let mut v1 = find(&default_catalogue(), "0101").cloned().unwrap();
        let mut v2 = v1.clone();
        v2.time_limit = TimeLimit::WorkingHours(2);
        v1.name = "暴露垃圾".into();
        let c = Catalogue::new([(2, v2.clone()), (1, v1.clone())]);
        assert_eq!(c.current("0101"), Some((2, &v2)));
        assert_eq!(c.version("0101", 1), Some(&v1));
        assert_eq!(c.version("0101", 9), Some(&v2));
        assert_eq!(c.list().len(), 1);
    }

    #[test]
    fn a_nonsensical_edit_is_refused() {
        let ok = find(&default_catalogue(), "0101").cloned().unwrap();
        assert!(ok.check().is_ok());
        for broken in [
            Category {
                code: "101".into(),
                ..ok.clone()
            },
            Category {
                time_limit: TimeLimit::WorkingDays(0),
                ..ok.clone()
            },
            Category {
                department: "../hw".into(),
                ..ok.clone()
            },
            Category {
                duplicate_radius_m: -1.0,
                ..ok.clone()
            },
        ] {
            assert!(broken.check().is_err(), "{broken:?}");
        }
    }

    #[test]
    fn exposed_garbage_goes_to_the_district_sanitation_department() {
        let cats = default_catalogue();
        let c = find(&cats, "0101").unwrap();
        assert_eq!(c.department_unit("410103"), "dept-410103-hw");
        assert_eq!(c.time_limit, TimeLimit::WorkingHours(4));
    }
}
