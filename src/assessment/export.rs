//! Rankings as the files offices circulate: CSV (one level) and an XLSX workbook (one sheet per
//! level), both with the same Chinese headers and columns. No HTTP here: handlers pick the format
//! and send the bytes.

use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, XlsxError,
};

use crate::domain::assessment::{Ranking, RankingRow};

/// The columns of a ranking, in order.
pub const HEADERS: [&str; 10] = [
    "排名",
    "代码",
    "名称",
    "得分",
    "本单位得分",
    "等级",
    "上期得分",
    "变化",
    "低于及格线",
    "连续低于及格线期数",
];

/// One cell of a ranking row.
enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

fn cells(row: &RankingRow) -> [Cell; 10] {
    let opt = |x: Option<f64>| x.map_or(Cell::Empty, Cell::Number);
    [
        Cell::Number(row.rank as f64),
        Cell::Text(row.key.clone()),
        Cell::Text(row.name.clone().unwrap_or_default()),
        Cell::Number(row.score),
        Cell::Number(row.own_score),
        Cell::Text(row.grade.clone()),
        opt(row.previous_score),
        opt(row.change),
        Cell::Text(if row.below_pass { "是" } else { "否" }.to_owned()),
        Cell::Number(row.below_streak as f64),
    ]
}

/// One level's ranking as CSV (UTF-8, Chinese headers), best first.
pub fn ranking_csv(r: &Ranking) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADERS)?;
    for row in &r.rows {
        w.write_record(cells(row).map(|c| match c {
            Cell::Text(s) => s,
            Cell::Number(x) => x.to_string(),
            Cell::Empty => String::new(),
        }))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The sheet's title row: what, when, which level.
fn title(r: &Ranking) -> String {
    format!("{} 考评排名 · {}", r.period, r.level.label_zh())
}

/// The whole workbook: one sheet per ranking (named by its level in Chinese), a title, the pass
/// line and the 每日晚例会 count above the table; rows under the pass line in red, as a 黑榜 is
/// read; headers frozen and filterable.
pub fn workbook(period: &str, rankings: &[Ranking]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title(format!("{period} 考评排名"))
            .set_subject("网格化城市管理 考评")
            .set_author("wangge"),
    );
    let bold = Format::new().set_bold();
    let title_format = Format::new().set_bold().set_font_size(14);
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let text = Format::new().set_border(FormatBorder::Thin);
    let number = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("0.00");
    let change = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("+0.00;-0.00;0.00");
    let integer = Format::new().set_border(FormatBorder::Thin);
    let below = Color::RGB(0xFFC7CE);
    let last_col = (HEADERS.len() - 1) as u16;
    for r in rankings {
        let sheet = book.add_worksheet();
        sheet.set_name(r.level.label_zh())?;
        sheet.merge_range(0, 0, 0, last_col, &title(r), &title_format)?;
        sheet.write_string_with_format(
            1,
            0,
            format!(
                "及格线 {} 分；低于及格线 {} 个（每日晚例会），连续低于及格线 {} 个",
                r.pass_line,
                r.evening_meetings.len(),
                r.chronic.len()
            ),
            &bold,
        )?;
        const HEAD: u32 = 3;
        for (c, h) in HEADERS.iter().enumerate() {
            sheet.write_string_with_format(HEAD, c as u16, *h, &header)?;
        }
        if r.rows.is_empty() {
            sheet.write_string(HEAD + 1, 0, "本期无考评数据")?;
        }
        for (i, row) in r.rows.iter().enumerate() {
            let y = HEAD + 1 + i as u32;
            let paint = |f: &Format| {
                if row.below_pass {
                    f.clone().set_background_color(below)
                } else {
                    f.clone()
                }
            };
            for (c, cell) in cells(row).into_iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(s) => sheet.write_string_with_format(y, c, s, &paint(&text))?,
                    Cell::Number(x) => {
                        let f = match HEADERS[c as usize] {
                            "排名" | "连续低于及格线期数" => &integer,
                            "变化" => &change,
                            _ => &number,
                        };
                        sheet.write_number_with_format(y, c, x, &paint(f))?
                    }
                    Cell::Empty => sheet.write_blank(y, c, &paint(&text))?,
                };
            }
        }
        for (c, width) in [6.0, 18.0, 24.0, 9.0, 11.0, 6.0, 9.0, 8.0, 11.0, 18.0]
            .into_iter()
            .enumerate()
        {
            sheet.set_column_width(c as u16, width)?;
        }
        sheet.set_freeze_panes(HEAD + 1, 0)?;
        let last_row = HEAD + r.rows.len().max(1) as u32;
        sheet.autofilter(HEAD, 0, last_row, last_col)?;
    }
    book.save_to_buffer()
}
