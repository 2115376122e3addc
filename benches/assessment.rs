//! In-process figures of the assessment (考评) over a store that holds the demo city and its
//! replayed case lifecycles, for `benches/assessment.sh`, which prepares the store, runs this on
//! SQLite and on PostgreSQL, and adds the HTTP figures. Prints `RESULT name value` lines.
//!
//! - `load_ms`: the first read of the event log into the in-memory timelines (cold);
//! - `week_ms`: scoring every unit of every level for one week afresh (median of 21);
//! - `week_cached_ms`: the same week again from the service as it runs, which keeps the
//!   assessments of ended periods (median of 21);
//! - `year_ms`: the rankings of every level for 52 consecutive weeks (each with its previous
//!   periods for the change and the streaks) from the service as it runs, one run;
//! - `sql_week_ms` (PostgreSQL only): the handling-unit and area indicators of the same week by a
//!   straightforward `GROUP BY GROUPING SETS` over the `cases` table (median of 21): the ratio
//!   to beat.
//!
//! Reads `WANGGE_BENCH_DATABASE_URL` and `WANGGE_BENCH_WEEK` (an ISO week with cases, e.g.
//! `2026-W43`).

use std::time::Instant;

use chrono::Utc;
use wangge::assessment::AssessmentService;
use wangge::assessment::timelines::DEFAULT_MAX_EVENTS;
use wangge::domain::assessment::{Level, Period};
use wangge::live::LiveCity;
use wangge::store::{Store, StoreOptions};

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The straightforward SQL: a case counts in the week its handling ended on time (closed by the
/// deadline) or else in the week of its deadline; merged and void cases left out.
const SQL_WEEK: &str = "\
WITH reckoned AS (
  SELECT unit_code, street_code, community_code, grid_code, district_code, status, rework_count,
         (closed_at IS NOT NULL AND closed_at <= deadline_at) AS on_time,
         CASE WHEN closed_at IS NOT NULL AND closed_at <= deadline_at THEN closed_at
              ELSE deadline_at END AS reckoned_at
  FROM cases
  WHERE status NOT IN ('merged', 'voided') AND unit_code IS NOT NULL AND deadline_at IS NOT NULL
)
SELECT unit_code, street_code, community_code, grid_code, district_code,
       count(*) AS due,
       count(*) FILTER (WHERE status = 'closed') AS closed,
       count(*) FILTER (WHERE on_time) AS on_time,
       count(*) FILTER (WHERE rework_count > 0) AS reworks
FROM reckoned
WHERE reckoned_at >= $1 AND reckoned_at < LEAST($2, now())
GROUP BY GROUPING SETS ((unit_code), (street_code), (community_code), (grid_code), (district_code))";

#[tokio::main]
async fn main() {
    let url = std::env::var("WANGGE_BENCH_DATABASE_URL").expect("WANGGE_BENCH_DATABASE_URL");
    let week = Period::parse(&std::env::var("WANGGE_BENCH_WEEK").expect("WANGGE_BENCH_WEEK"))
        .expect("an ISO week");
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .expect("connect");
    let live = LiveCity::load(store.clone(), Default::default())
        .await
        .expect("the city");
    // Scoring measured afresh every time; the service as it runs (with the assessments of ended
    // periods kept) for the cached week and the year.
    let service = AssessmentService::new(store.clone(), live.clone(), DEFAULT_MAX_EVENTS)
        .without_past_cache();
    let running = AssessmentService::new(store.clone(), live, DEFAULT_MAX_EVENTS);
    let now = Utc::now();

    let t = Instant::now();
    let (_, first) = service.assessment(&week, now).await.expect("assess");
    println!("RESULT load_ms {:.1}", t.elapsed().as_secs_f64() * 1e3);
    let cards: usize = first.levels.values().map(Vec::len).sum();
    println!("RESULT scorecards {cards}");
    println!("RESULT cases_counted {}", first.inputs.len());

    let mut runs = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let (_, a) = service.assessment(&week, now).await.expect("assess");
        runs.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(a.digest, first.digest, "the same week reads the same");
    }
    println!("RESULT week_ms {:.2}", median(runs));

    let _ = running.assessment(&week, now).await.expect("assess");
    let mut runs = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let _ = running.assessment(&week, now).await.expect("assess");
        runs.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("RESULT week_cached_ms {:.2}", median(runs));

    let t = Instant::now();
    let mut p = week;
    let mut rows = 0;
    for _ in 0..52 {
        for r in running
            .rankings(&p, &Level::ALL, now)
            .await
            .expect("rankings")
        {
            rows += r.rows.len();
        }
        p = p.previous();
    }
    println!("RESULT year_ms {:.1}", t.elapsed().as_secs_f64() * 1e3);
    println!("RESULT year_rows {rows}");

    if let Some(pool) = store.postgres_pool() {
        let mut runs = Vec::new();
        let mut groups = 0;
        for _ in 0..21 {
            let t = Instant::now();
            let r = sqlx::query(SQL_WEEK)
                .bind(week.start())
                .bind(week.end())
                .fetch_all(pool)
                .await
                .expect("the SQL GROUP BY");
            runs.push(t.elapsed().as_secs_f64() * 1e3);
            groups = r.len();
        }
        println!("RESULT sql_week_ms {:.2}", median(runs));
        println!("RESULT sql_groups {groups}");
    }
}
