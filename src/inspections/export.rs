//! The 通报 as offices circulate it: a workbook with every problem of the notice on one sheet
//! and one sheet per street (任务分解: the street hands each row to its unit), read from the
//! frozen notice document, so the file says exactly what was published.

use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, XlsxError,
};
use serde_json::Value;

/// The columns of every sheet.
pub const HEADERS: [&str; 12] = [
    "序号",
    "街道",
    "社区",
    "点位",
    "点位类型",
    "问题",
    "情况说明",
    "扣分",
    "责任单位",
    "整改时限",
    "状态",
    "案卷号",
];

/// One problem of a notice, as a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Street name (or code when unnamed).
    pub street: String,
    /// Community name.
    pub community: String,
    /// Point name.
    pub point: String,
    /// Point type in Chinese.
    pub point_type: String,
    /// The criterion failed.
    pub problem: String,
    /// The inspector's note.
    pub note: String,
    /// Deduction, points.
    pub deduction: f64,
    /// Responsible unit (name, else code).
    pub unit: String,
    /// Deadline, Beijing time.
    pub deadline: String,
    /// Status when published.
    pub status: String,
    /// Case id.
    pub case_id: i64,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").to_owned()
}

/// The rows of a notice document (a published round report), in the round's point order.
pub fn rows(document: &Value) -> Vec<Row> {
    let mut out = Vec::new();
    for p in document["points"].as_array().into_iter().flatten() {
        let point = &p["point"];
        for f in p["findings"].as_array().into_iter().flatten() {
            let deadline = f["deadline"]
                .as_str()
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                .map(|d| {
                    d.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            out.push(Row {
                street: point["street_name"]
                    .as_str()
                    .or(point["street_code"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                community: text(&point["community_name"]),
                point: point["name"]
                    .as_str()
                    .map_or_else(|| text(&p["code"]), str::to_owned),
                point_type: text(&point["point_type_name"]),
                problem: text(&f["criterion_text"]),
                note: text(&f["note"]),
                deduction: f["deduction"].as_f64().unwrap_or(0.0),
                unit: f["unit_name"]
                    .as_str()
                    .or(f["unit_code"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                deadline,
                status: text(&f["status_zh"]),
                case_id: f["case_id"].as_i64().unwrap_or(0),
            });
        }
    }
    out
}

/// An XLSX sheet name: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    if clean.is_empty() {
        "未知街道".into()
    } else {
        clean
    }
}

/// The workbook of a notice: `总表` with every problem, then a sheet per street.
pub fn workbook(title: &str, version: i64, document: &Value) -> Result<Vec<u8>, XlsxError> {
    let rows = rows(document);
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title(format!("{title} 督查通报"))
            .set_subject("创建文明城市 督查通报")
            .set_author("wangge"),
    );
    let title_format = Format::new().set_bold().set_font_size(14);
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(FormatBorder::Thin).set_text_wrap();
    let number = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("0.0");
    let mut streets: Vec<&str> = rows.iter().map(|r| r.street.as_str()).collect();
    streets.sort_unstable();
    streets.dedup();
    let mut sheets: Vec<(String, Vec<&Row>)> = vec![("总表".into(), rows.iter().collect())];
    for s in streets {
        sheets.push((
            sheet_name(s),
            rows.iter().filter(|r| r.street == s).collect(),
        ));
    }
    let last_col = (HEADERS.len() - 1) as u16;
    for (name, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(&name)?;
        let heading = if name == "总表" {
            format!("{title} 督查通报（第 {version} 版）")
        } else {
            format!("{title} 督查通报（第 {version} 版）· {name}")
        };
        sheet.merge_range(0, 0, 0, last_col, &heading, &title_format)?;
        sheet.write_string(1, 0, format!("共 {} 个问题", rows.len()))?;
        const HEAD: u32 = 3;
        for (c, h) in HEADERS.iter().enumerate() {
            sheet.write_string_with_format(HEAD, c as u16, *h, &header)?;
        }
        for (i, r) in rows.iter().enumerate() {
            let y = HEAD + 1 + i as u32;
            sheet.write_number_with_format(y, 0, (i + 1) as f64, &cell)?;
            for (c, v) in [
                &r.street,
                &r.community,
                &r.point,
                &r.point_type,
                &r.problem,
                &r.note,
            ]
            .into_iter()
            .enumerate()
            {
                sheet.write_string_with_format(y, c as u16 + 1, v, &cell)?;
            }
            sheet.write_number_with_format(y, 7, r.deduction, &number)?;
            sheet.write_string_with_format(y, 8, &r.unit, &cell)?;
            sheet.write_string_with_format(y, 9, &r.deadline, &cell)?;
            sheet.write_string_with_format(y, 10, &r.status, &cell)?;
            sheet.write_number_with_format(y, 11, r.case_id as f64, &cell)?;
        }
        for (c, width) in [
            6.0, 14.0, 14.0, 18.0, 12.0, 22.0, 26.0, 6.0, 20.0, 16.0, 8.0, 8.0,
        ]
        .into_iter()
        .enumerate()
        {
            sheet.set_column_width(c as u16, width)?;
        }
        sheet.set_freeze_panes(HEAD + 1, 0)?;
        sheet.autofilter(HEAD, 0, HEAD + rows.len().max(1) as u32, last_col)?;
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_notice_document_becomes_one_row_per_problem_with_names_and_beijing_deadlines() {
        let doc = json!({"points": [
            {"code": "P1", "point": {"name": "淮河农贸市场", "street_name": "淮河路街道",
                "community_name": "某社区", "point_type_name": "农贸市场/集贸市场"},
             "findings": [{"criterion_text": "无占道经营", "note": "东门外摆摊", "deduction": 2.0,
                "unit_name": "二七区城管执法局", "unit_code": "dept-410103-cgzf",
                "deadline": "2026-05-10T16:30:00Z", "status_zh": "整改中", "case_id": 42}]},
            {"code": "P2", "point": null, "findings": []}
        ]});
        let r = rows(&doc);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].street, "淮河路街道");
        assert_eq!(r[0].unit, "二七区城管执法局");
        assert_eq!(r[0].deadline, "2026-05-11 00:30", "Beijing time");
        assert_eq!(r[0].case_id, 42);
        assert_eq!(sheet_name("a/b[c]"), "a_b_c_");
        let bytes = workbook("2026年第1期", 1, &doc).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
