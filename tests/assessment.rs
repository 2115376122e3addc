//! 考评 through HTTP on either store: hand-built case histories written into the event log (the
//! assessment reads nothing else), numbers worked out by hand in the comments, publishing twice,
//! and a changed case that publishes a new version whose diff names it.

use crate::common;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use wangge::domain::assessment::{Period, PeriodKind};
use wangge::domain::case::{Case, Status};
use wangge::domain::identity::Role;
use wangge::store::Store;

use common::{TestApp, spawn_app};

const A: &str = "dept-410102-cgzf";
const B: &str = "dept-410102-hw";
const C: &str = "dept-410102-scjg";
const INSPECTOR: i64 = 9101;
const DISPATCHER: i64 = 9102;

/// Appends one event of a case's timeline, as the case service writes them.
async fn append(
    store: &Store,
    at: DateTime<Utc>,
    action: &str,
    actor: Option<i64>,
    detail: Value,
    id: i64,
) {
    append_as(store, None, at, action, actor, detail, id).await
}

/// [`append`] with the event id chosen: a transaction that took an earlier id and commits late.
async fn append_as(
    store: &Store,
    event_id: Option<i64>,
    at: DateTime<Utc>,
    action: &str,
    actor: Option<i64>,
    detail: Value,
    id: i64,
) {
    let name = actor.map(|a| format!("user{a}"));
    let action = format!("case.{action}");
    let detail = sqlx::types::Json(detail);
    // One statement, run on whichever pool the store has. PostgreSQL's identity column takes an
    // explicit id only when told to, and its sequence is then moved past it so that the
    // service's own inserts never collide with it.
    let columns = "at, actor_id, actor_name, action, entity_type, entity_id, detail";
    let values = "$1, $2, $3, $4, 'case', $5, $6";
    let (sqlite, postgres) = match event_id {
        None => {
            let sql = format!("INSERT INTO events ({columns}) VALUES ({values})");
            (sql.clone(), sql)
        }
        Some(e) => (
            format!("INSERT INTO events (id, {columns}) VALUES ({e}, {values})"),
            format!(
                "INSERT INTO events (id, {columns}) OVERRIDING SYSTEM VALUE VALUES ({e}, {values})"
            ),
        ),
    };
    macro_rules! run {
        ($pool:expr, $sql:expr) => {
            sqlx::query(sqlx::AssertSqlSafe($sql))
                .bind(at)
                .bind(actor)
                .bind(&name)
                .bind(&action)
                .bind(id.to_string())
                .bind(&detail)
                .execute($pool)
                .await
                .unwrap()
        };
    }
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => {
            run!(pool, sqlite);
        }
        (_, Some(pool)) => {
            run!(pool, postgres);
            if event_id.is_some() {
                sqlx::query(
                    "SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT MAX(id) FROM events))",
                )
                .execute(pool)
                .await
                .unwrap();
            }
        }
        _ => unreachable!("a store is SQLite or PostgreSQL"),
    }
}

/// A case whose timeline is written as it goes.
struct Story<'a> {
    store: &'a Store,
    case: Case,
}

impl<'a> Story<'a> {
    /// An inspector's report, registered by the dispatcher 20 minutes later (due in an hour).
    async fn report(store: &'a Store, id: i64, street: &str, at: DateTime<Utc>) -> Self {
        let mut case = Case::draft("inspector", "0101", 113.6, 34.7);
        case.id = id;
        case.reported_at = at;
        case.reported_by = Some(INSPECTOR);
        case.street_code = Some(street.into());
        case.step_due_at = Some(at + Duration::hours(1));
        append(
            store,
            at,
            "created",
            Some(INSPECTOR),
            json!({ "after": &case }),
            id,
        )
        .await;
        let mut s = Story { store, case };
        s.step(at + Duration::minutes(20), "register", DISPATCHER, |c| {
            c.status = Status::Registered;
            c.step_due_at = Some(at + Duration::minutes(80));
        })
        .await;
        s
    }

    async fn step(
        &mut self,
        at: DateTime<Utc>,
        action: &str,
        actor: i64,
        f: impl FnOnce(&mut Case),
    ) {
        let before = self.case.clone();
        f(&mut self.case);
        let detail = json!({ "before": before, "after": &self.case });
        append(self.store, at, action, Some(actor), detail, self.case.id).await;
    }

    /// 派遣 at `at` to `unit` with `hours` to handle it.
    async fn dispatch(&mut self, at: DateTime<Utc>, unit: &str, hours: i64) {
        self.step(at, "dispatch", DISPATCHER, |c| {
            c.status = Status::Dispatched;
            c.unit_code = Some(unit.into());
            c.dispatched_at = Some(at);
            c.deadline_at = Some(at + Duration::hours(hours));
            c.step_due_at = c.deadline_at;
        })
        .await;
    }

    async fn feedback(&mut self, at: DateTime<Utc>) {
        self.step(at, "feedback", 1, |c| {
            c.status = Status::FedBack;
            c.step_due_at = Some(at + Duration::hours(4));
        })
        .await;
    }

    /// 核查 an hour after `at`: passed, or back to the unit (返工).
    async fn check(&mut self, at: DateTime<Utc>, passed: bool) {
        let at = at + Duration::hours(1);
        self.step(at, "check", INSPECTOR, |c| {
            c.status = if passed {
                Status::Checked
            } else {
                Status::Dispatched
            };
            c.rework_count += i64::from(!passed);
            c.step_due_at = if passed {
                Some(at + Duration::hours(1))
            } else {
                c.deadline_at
            };
        })
        .await;
    }

    /// Feedback at `at`, a passed check an hour later, 结案 two hours later.
    async fn done(&mut self, at: DateTime<Utc>) {
        self.feedback(at).await;
        self.check(at, true).await;
        let closed = at + Duration::hours(2);
        self.step(closed, "close", 3, |c| {
            c.status = Status::Closed;
            c.closed_at = Some(closed);
            c.step_due_at = None;
        })
        .await;
    }
}

/// Week 2026-W40 starts on Monday 2026-09-28, Beijing midnight; `w40(h)` is h hours later.
fn w40(h: i64) -> DateTime<Utc> {
    Period::parse("2026-W40").unwrap().start() + Duration::hours(h)
}

/// The hand-built histories of weeks W39 and W40 (every case reported, registered and
/// dispatched by the same inspector and dispatcher; 9001–9006 on street S1, 9010–9011 on S2):
/// - 9001 → A, 48 h, handled at h20 and closed: on time.
/// - 9002 → A, 24 h, handled at h34 (10 h late) and closed: late.
/// - 9003 → A, 24 h, never handled: open past its deadline.
/// - 9004 → B, 48 h, fails its first check, then handled at h20 and closed: on time, 返工.
/// - 9006 → B, 48 h, handled at h10 and closed: on time.
/// - 9010 → C in W39, 24 h, never handled: due in W39, open past its deadline there.
/// - 9011 → C, 24 h, never handled: the same in W40.
async fn histories(store: &Store) {
    for (id, street, unit, hours, at, handled) in [
        (9001, "S1", A, 48, w40(1), Some(20)),
        (9002, "S1", A, 24, w40(1), Some(34)),
        (9003, "S1", A, 24, w40(1), None),
        (9006, "S1", B, 48, w40(2), Some(10)),
        (9010, "S2", C, 24, w40(-100), None),
        (9011, "S2", C, 24, w40(2), None),
    ] {
        let mut s = Story::report(store, id, street, at).await;
        s.dispatch(at + Duration::minutes(30), unit, hours).await;
        if let Some(h) = handled {
            s.done(w40(h)).await;
        }
    }
    let mut s = Story::report(store, 9004, "S1", w40(2)).await;
    s.dispatch(w40(2) + Duration::minutes(30), B, 48).await;
    s.feedback(w40(5)).await;
    s.check(w40(5), false).await;
    s.done(w40(20)).await;
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let a = app.get(path, Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    a.body
}

async fn set_scheme(app: &TestApp, admin: &str) {
    let mut scheme = get(app, "/api/assessment/scheme", admin).await["scheme"].clone();
    scheme["streak"] = 2.into();
    scheme["public"]["top_n"] = 1.into();
    let a = app
        .call(
            Method::PUT,
            "/api/assessment/scheme",
            Some(admin),
            Some(scheme),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["version"], 1);
}

#[tokio::test]
async fn rankings_scorecards_and_the_pass_line_follow_the_hand_worked_weeks() {
    let app = spawn_app().await;
    histories(&app.db.store).await;
    let admin = app.login(Role::Admin).await;
    let leader = app.login(Role::Planner).await;
    set_scheme(&app, &admin).await;

    // Departments in W40 (default weights 10/30/30/30, 捆绑 0.7 own + 0.3 partners):
    // A: 应结案 3 (9001, 9002, 9003), 结案 2, 按期 1, no rework: 10 + 20 + 10 + 30 = 70.
    // B: 应结案 2 (9004, 9006), both closed on time, 9004 reworked: 10 + 30 + 30 + 15 = 85.
    // C: 应结案 1 (9011; 9010 fell due in W39), not closed: 10 + 0 + 0 + 30 = 40.
    // S1 (9001–9006, 5 due): 结案 4/5 → 24, 按期 3/5 → 18, 返工 1/5 → 24, 5 cases → 10: 76.
    // S2: like C, 40. Bundled: A = 0.7 × 70 + 0.3 × 76 = 71.8; B = 0.7 × 85 + 0.3 × 76 = 82.3;
    // C = 0.7 × 40 + 0.3 × 40 = 40. S1's partners: A (3 cases, 70), B (2, 85) → 76, so S1 = 76.
    let r = get(
        &app,
        "/api/assessment/rankings?level=departments&period=2026-W40",
        &leader,
    )
    .await;
    let rows: Vec<(u64, &str, f64, f64, &str)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["rank"].as_u64().unwrap(),
                x["key"].as_str().unwrap(),
                x["score"].as_f64().unwrap(),
                x["own_score"].as_f64().unwrap(),
                x["grade"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, B, 82.3, 85.0, "B"),
            (2, A, 71.8, 70.0, "C"),
            (3, C, 40.0, 40.0, "D")
        ]
    );
    assert_eq!(r["rows"][1]["name"], "中原区城市管理执法局");
    // C was under the line in W39 too (9010: 40): two weeks in a row, the scheme's streak.
    assert_eq!(r["evening_meetings"], json!([C]));
    assert_eq!(r["chronic"], json!([C]));
    assert_eq!(r["rows"][2]["change"], 0.0);
    assert_eq!(r["rows"][2]["below_streak"], 2);

    // The same as CSV, with Chinese headers.
    let csv = app
        .get(
            "/api/assessment/rankings?level=departments&period=2026-W40&format=csv",
            Some(&leader),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines[0],
        "排名,代码,名称,得分,本单位得分,等级,上期得分,变化,低于及格线,连续低于及格线期数"
    );
    assert_eq!(
        lines[3],
        format!("3,{C},中原区市场监督管理局,40,40,D,40,0,是,2")
    );

    // Every level as one workbook: a sheet per level, named in Chinese, the same rows.
    let book = app
        .get("/api/assessment/workbook?period=2026-W40", Some(&leader))
        .await;
    assert_eq!(book.status, StatusCode::OK, "{}", book.text);
    assert_eq!(
        book.headers[axum::http::header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = book.headers[axum::http::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(
        disposition.contains("filename=\"assessment-2026-W40.xlsx\"")
            && disposition.contains("filename*=UTF-8''%E8%80%83%E8%AF%84"),
        "{disposition}"
    );
    let xlsx = Xlsx::read(&book.bytes);
    assert_eq!(
        xlsx.sheet_names(),
        [
            "区",
            "街道",
            "社区",
            "单元网格",
            "专业部门",
            "监督员",
            "指挥中心"
        ]
    );
    let departments = xlsx.sheet_text(5);
    for h in [
        "排名",
        "连续低于及格线期数",
        "中原区市场监督管理局",
        "2026-W40 考评排名 · 专业部门",
    ] {
        assert!(departments.contains(h), "{h} missing from {departments}");
    }
    // B, A, C in order with their bundled scores, as numbers.
    let scores = xlsx.numbers(5, 'D');
    assert_eq!(scores, [82.3, 71.8, 40.0]);
    assert!(departments.contains("低于及格线 1 个"), "{departments}");
    let other = app
        .get("/api/assessment/workbook?period=2026-W99", Some(&leader))
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.body["code"], "invalid_period");

    let s = get(
        &app,
        "/api/assessment/rankings?level=streets&period=2026-W40",
        &leader,
    )
    .await;
    assert_eq!(s["rows"][0]["key"], "S1");
    assert_eq!(s["rows"][0]["score"], 76.0);

    // A's scorecard: 按期结案率 1/3, the late cases are 9002 and 9003; 9003 is overdue.
    let a = get(
        &app,
        &format!("/api/assessment/scorecards/departments/{A}?period=2026-W40"),
        &leader,
    )
    .await;
    let on_time = &a["measures"]["on_time_rate"];
    assert_eq!(
        (
            on_time["numerator"].as_u64(),
            on_time["denominator"].as_u64()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(on_time["cases"], json!([9001]));
    assert_eq!(on_time["other_cases"], json!([9002, 9003]));
    assert_eq!(a["counts"]["overdue_open"]["cases"], json!([9003]));

    // The inspector: 6 reports in W40 (9010 was in W39), all registered; 5 checks, each an hour after the
    // feedback (due in 4): 100. The dispatcher: 6 dispatches in W40 (9010 was in W39), all within
    // the 立案 step and never sent back; 6 is the ladder's first rung (0): 0 + 40 + 40 = 80.
    let i = get(
        &app,
        &format!("/api/assessment/scorecards/inspectors/{INSPECTOR}?period=2026-W40"),
        &leader,
    )
    .await;
    assert_eq!(i["measures"]["valid_report_rate"]["denominator"], 6);
    assert_eq!(i["measures"]["on_time_check_rate"]["denominator"], 5);
    assert_eq!(
        (i["score"].as_f64(), i["name"].as_str()),
        (Some(100.0), Some("user9101"))
    );
    let d = get(
        &app,
        &format!("/api/assessment/scorecards/dispatchers/{DISPATCHER}?period=2026-W40"),
        &leader,
    )
    .await;
    assert_eq!(d["measures"]["on_time_dispatch_rate"]["denominator"], 6);
    assert_eq!(d["score"], 80.0);

    let missing = app
        .get(
            "/api/assessment/scorecards/departments/nobody?period=2026-W40",
            Some(&leader),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for (path, code) in [
        (
            "/api/assessment/rankings?level=departments&period=2026-W60",
            "invalid_period",
        ),
        (
            "/api/assessment/rankings?level=planets&period=2026-W40",
            "invalid_level",
        ),
    ] {
        let a = app.get(path, Some(&leader)).await;
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{path}"
        );
    }
    let bad = app
        .call(
            Method::PUT,
            "/api/assessment/scheme",
            Some(&admin),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_scheme"))
    );
}

#[tokio::test]
async fn publishing_freezes_the_numbers_and_a_changed_case_publishes_a_version_naming_it() {
    let app = spawn_app().await;
    let store = &app.db.store;
    histories(store).await;
    let admin = app.login(Role::Admin).await;
    set_scheme(&app, &admin).await;
    let publish = |period: String| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let a = app
                .call(
                    Method::POST,
                    &format!("/api/assessment/publish?period={period}"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a.body
        }
    };

    // A past week: publishing twice gives the same snapshot.
    let first = publish("2026-W40".into()).await;
    assert_eq!(
        (
            first["created"].as_bool(),
            first["snapshot"]["version"].as_i64()
        ),
        (Some(true), Some(1))
    );
    let again = publish("2026-W40".into()).await;
    assert_eq!(again["created"], false);
    assert_eq!(again["snapshot"]["id"], first["snapshot"]["id"]);
    let snap = get(
        &app,
        &format!("/api/assessment/snapshots/{}", first["snapshot"]["id"]),
        &admin,
    )
    .await;
    assert_eq!(snap["numbers"], first["snapshot"]["numbers"]);
    assert_eq!(snap["scheme_version"], 1);

    // The public 红黑榜 (no login), top 1 and bottom 1 of streets and departments: B red, C black;
    // no inspectors.
    let board = app.get("/api/public/board", None).await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.text);
    assert_eq!(board.body["period"], "2026-W40");
    let levels: Vec<&str> = board.body["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["streets", "departments"]);
    assert_eq!(board.body["levels"][1]["red"][0]["key"], B);
    assert_eq!(board.body["levels"][1]["black"][0]["key"], C);
    // The public map's grades: every street (S1 76 → B, S2 40 → D), no department.
    assert_eq!(
        board.body["levels"][0]["grades"],
        json!([{"key": "S1", "grade": "B"}, {"key": "S2", "grade": "D"}])
    );
    assert_eq!(board.body["levels"][1]["grades"], json!([]));
    assert_eq!(
        board.body["grade_bands"][0],
        json!({"grade": "A", "min": 90.0})
    );

    // The running week: case 9020 went to A an instant ago with a deadline already past (open
    // late). Published; then the case is handled and closed: the next publish is version 2 and
    // its diff names 9020 and A.
    let now = Utc::now();
    let week = Period::containing(PeriodKind::Week, now);
    let t0 = week.start() + (now - week.start()) / 2;
    let mut s = Story::report(store, 9020, "S1", t0).await;
    s.step(
        t0 + Duration::milliseconds(1),
        "dispatch",
        DISPATCHER,
        |c| {
            c.status = Status::Dispatched;
            c.unit_code = Some(A.into());
            c.dispatched_at = Some(t0);
            c.deadline_at = Some(t0 + Duration::milliseconds(2));
        },
    )
    .await;
    let v1 = publish(week.label()).await;
    assert_eq!(v1["snapshot"]["version"], 1);
    let numbers = &v1["snapshot"]["numbers"]["departments"];
    let a1 = numbers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == A)
        .unwrap();
    // Open past their deadlines now: 9003 (since W40) and 9020.
    assert_eq!(a1["counts"]["overdue_open"]["cases"], json!([9003, 9020]));
    let handled = t0 + (Utc::now() - t0) / 4;
    s.feedback(handled).await;
    s.step(
        handled + Duration::milliseconds(1),
        "check",
        INSPECTOR,
        |c| c.status = Status::Checked,
    )
    .await;
    s.step(handled + Duration::milliseconds(2), "close", 3, |c| {
        c.status = Status::Closed;
        c.closed_at = Some(handled + Duration::milliseconds(2));
    })
    .await;
    let v2 = publish(week.label()).await;
    assert_eq!(
        (v2["created"].as_bool(), v2["snapshot"]["version"].as_i64()),
        (Some(true), Some(2))
    );
    let diff = &v2["snapshot"]["diff"];
    assert_eq!(diff["cases"], json!([9020]));
    assert!(
        diff["units"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["level"] == "departments" && u["key"] == A),
        "{diff}"
    );
    let list = get(
        &app,
        &format!("/api/assessment/snapshots?period={}", week.label()),
        &admin,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // W40 is untouched.
    let w40 = get(&app, "/api/assessment/snapshots?period=2026-W40", &admin).await;
    assert_eq!(w40.as_array().unwrap().len(), 1);
    // The public board follows the newest snapshot (it is cached per snapshot and scheme).
    let board = app.get("/api/public/board", None).await;
    assert_eq!(
        (
            board.body["period"].as_str(),
            board.body["version"].as_i64()
        ),
        (Some(week.label().as_str()), Some(2))
    );
}

/// An XLSX workbook read back with `zip`: sheet names, a sheet's text (shared strings it uses and
/// inline text), a column's numbers. Enough to check what an office would see, without a
/// spreadsheet library.
struct Xlsx {
    files: std::collections::BTreeMap<String, String>,
}

impl Xlsx {
    fn read(bytes: &[u8]) -> Self {
        use std::io::Read;
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an XLSX is a zip");
        let mut files = std::collections::BTreeMap::new();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut text = String::new();
            if name.ends_with(".xml") {
                f.read_to_string(&mut text).unwrap();
                files.insert(name, text);
            }
        }
        Self { files }
    }

    /// The values of the elements `tag` in `xml`, in order.
    fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
        let open = format!("<{tag}");
        let close = format!("</{tag}>");
        let mut out = Vec::new();
        let mut rest = xml;
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            // `<t>` or `<t xml:space=...>`, not `<tr…>`.
            if !(after.starts_with('>') || after.starts_with(' ')) {
                rest = after;
                continue;
            }
            let start = after.find('>').unwrap() + 1;
            let end = after.find(&close).unwrap();
            out.push(&after[start..end]);
            rest = &after[end..];
        }
        out
    }

    fn sheet_names(&self) -> Vec<String> {
        let book = &self.files["xl/workbook.xml"];
        book.split("<sheet ")
            .skip(1)
            .map(|s| {
                let name = &s[s.find("name=\"").unwrap() + 6..];
                name[..name.find('"').unwrap()].to_owned()
            })
            .collect()
    }

    fn sheet(&self, n: usize) -> &str {
        &self.files[&format!("xl/worksheets/sheet{n}.xml")]
    }

    /// Every string the sheet shows, joined by newlines.
    fn sheet_text(&self, n: usize) -> String {
        let shared = Self::elements(&self.files["xl/sharedStrings.xml"], "t");
        let sheet = self.sheet(n);
        let mut out = Vec::new();
        for cell in sheet.split("<c ").skip(1) {
            let cell = &cell[..cell.find("</c>").unwrap_or(cell.len())];
            if cell.contains("t=\"s\"") {
                let v = Self::elements(cell, "v")[0];
                out.push(shared[v.parse::<usize>().unwrap()].to_owned());
            }
        }
        out.join("\n")
    }

    /// The numbers of column `col` below the header row, top to bottom.
    fn numbers(&self, n: usize, col: char) -> Vec<f64> {
        self.sheet(n)
            .split("<c ")
            .skip(1)
            .filter(|c| {
                c.starts_with(&format!("r=\"{col}")) && !c.contains("t=\"s\"") && c.contains("<v>")
            })
            .map(|c| Self::elements(c, "v")[0].parse().unwrap())
            .collect()
    }
}

/// The largest event id so far.
async fn max_event_id(app: &TestApp) -> i64 {
    let sql = "SELECT COALESCE(MAX(id), 0) FROM events";
    match (app.db.store.sqlite_pool(), app.db.store.postgres_pool()) {
        (Some(pool), _) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        (_, Some(pool)) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        _ => unreachable!("a store is SQLite or PostgreSQL"),
    }
}

#[tokio::test]
async fn an_event_that_commits_after_a_later_one_still_counts() {
    // The assessment keeps the timelines in memory and reads only what was appended since. In
    // PostgreSQL a transaction holding id n may commit after one holding n + 2: the reader must
    // come back for n.
    let app = spawn_app().await;
    histories(&app.db.store).await;
    let leader = app.login(Role::Planner).await;
    let read = || async {
        get(
            &app,
            &format!("/api/assessment/scorecards/inspectors/{INSPECTOR}?period=2026-W40"),
            &leader,
        )
        .await["measures"]["valid_report_rate"]["denominator"]
            .as_u64()
            .unwrap()
    };
    let before = read().await;
    assert_eq!(
        before, 6,
        "six inspector reports in the hand-worked week (9010 was in W39)"
    );
    let report = |id: i64| {
        let mut case = Case::draft("inspector", "0101", 113.6, 34.7);
        case.id = id;
        case.reported_at = w40(3);
        case.reported_by = Some(INSPECTOR);
        case.street_code = Some("S1".into());
        json!({ "after": case })
    };
    let n = max_event_id(&app).await;
    // n + 3 commits first; n + 1 and n + 2 are taken but not visible yet.
    append_as(
        &app.db.store,
        Some(n + 3),
        w40(3),
        "created",
        Some(INSPECTOR),
        report(9201),
        9201,
    )
    .await;
    assert_eq!(read().await, before + 1);
    // n + 1 commits late: it is still read. n + 2 never commits (rolled back): nothing breaks.
    append_as(
        &app.db.store,
        Some(n + 1),
        w40(3),
        "created",
        Some(INSPECTOR),
        report(9202),
        9202,
    )
    .await;
    assert_eq!(read().await, before + 2);
    // And an ordinary append after all of it.
    append(
        &app.db.store,
        w40(3),
        "created",
        Some(INSPECTOR),
        report(9203),
        9203,
    )
    .await;
    assert_eq!(read().await, before + 3);
}

#[tokio::test]
async fn a_trend_gives_every_unit_its_scores_over_the_periods_from_one_request() {
    let app = spawn_app().await;
    histories(&app.db.store).await;
    let admin = app.login(Role::Admin).await;
    let leader = app.login(Role::Planner).await;
    set_scheme(&app, &admin).await;

    // W39: only 9010 (C, overdue): C 40. W40: A 71.8, B 82.3, C 40 (see the rankings test).
    let t = get(
        &app,
        "/api/assessment/trend?level=departments&period=2026-W40&periods=2",
        &leader,
    )
    .await;
    assert_eq!(t["periods"], json!(["2026-W39", "2026-W40"]));
    assert_eq!(t["pass_line"], 60.0);
    let series: Vec<(&str, Value)> = t["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["key"].as_str().unwrap(), u["scores"].clone()))
        .collect();
    assert_eq!(
        series,
        [
            (A, json!([null, 71.8])),
            (B, json!([null, 82.3])),
            (C, json!([40.0, 40.0]))
        ]
    );
    assert_eq!(t["units"][2]["name"], "中原区市场监督管理局");

    // Twelve weeks by default, ending with the one asked for; one unit with `key`.
    let one = get(
        &app,
        &format!("/api/assessment/trend?level=departments&key={C}&period=2026-W40"),
        &leader,
    )
    .await;
    assert_eq!(one["periods"].as_array().unwrap().len(), 12);
    assert_eq!(one["periods"][0], "2026-W29");
    assert_eq!(one["units"].as_array().unwrap().len(), 1);
    assert_eq!(one["units"][0]["scores"][11], 40.0);
    // Months step back by months.
    let months = get(
        &app,
        "/api/assessment/trend?level=streets&period=2026-10&periods=3",
        &leader,
    )
    .await;
    assert_eq!(months["periods"], json!(["2026-08", "2026-09", "2026-10"]));

    for (path, status, code) in [
        (
            "/api/assessment/trend?level=departments&periods=0",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/assessment/trend?level=departments&periods=54",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/assessment/trend?level=planets",
            StatusCode::BAD_REQUEST,
            "invalid_level",
        ),
        (
            "/api/assessment/trend?level=departments&period=2026-W40&key=nobody",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let a = app.get(path, Some(&leader)).await;
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (status, Some(code)),
            "{path}"
        );
    }
}
