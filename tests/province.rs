//! The synthetic province of `wangge-generate province` (issue 17), at a tiny scale: it is the
//! same bytes for the same seed, and it goes through the import paths a city's data takes (the
//! city package, a history export) and assigns. `benches/province.sh` runs it at full scale.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

fn generate(out: &Path, seed: &str) {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_wangge-generate"))
        .args(["province", "--seed", seed, "--scale", "0.001", "--out"])
        .arg(out)
        .output()
        .expect("run wangge-generate");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Every file under `dir`, by its path relative to it.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_province_is_the_same_bytes_for_the_same_seed_and_differs_for_another() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(a.path(), "7");
    generate(b.path(), "7");
    generate(c.path(), "8");
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between two runs");
    }
    assert!(fa["package/grid.geojson"] != fc["package/grid.geojson"]);

    let counts: Value = serde_json::from_slice(&fa["province.json"]).unwrap();
    assert_eq!(counts["cities"], 17);
    let grids = counts["grids"].as_u64().unwrap();
    assert!(
        (1000..=1200).contains(&grids),
        "{grids} grids at scale 0.001"
    );
    assert_eq!(counts["frontages"].as_u64(), Some(2 * grids));
    assert_eq!(counts["reports"].as_u64(), Some(20_000));
    let history_rows: usize = fa
        .iter()
        .filter(|(n, _)| n.starts_with("history/"))
        .map(|(_, b)| b.iter().filter(|&&c| c == b'\n').count() - 1)
        .sum();
    assert_eq!(history_rows, 20_000);
    let grid: Value = serde_json::from_slice(&fa["package/grid.geojson"]).unwrap();
    let codes: std::collections::BTreeSet<&str> = grid["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len() as u64, grids, "grid codes are unique");
    assert!(codes.iter().all(|c| c.len() == 15 && c.starts_with("41")));
}

// A tiny province still spans 17 cities over 410 × 440 km. Before the index's lattice was sparse,
// its cells covered that whole box: about 8 GB for these few grids (docs/scaling.md).
#[tokio::test]
async fn a_tiny_province_imports_as_a_city_package_with_its_history_and_every_point_is_assigned() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "1");
    let db = common::fresh_store().await;
    let package = dir.path().join("package");
    let import = common::wangge_cli(
        [
            "import",
            "city",
            package.to_str().unwrap(),
            "--crs",
            "wgs84",
        ],
        &db.url,
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let summary: Value = serde_json::from_slice(&import.stdout).expect("a JSON summary");
    assert_eq!(
        (summary["errors"].as_u64(), summary["warnings"].as_u64()),
        (Some(0), Some(0)),
        "{summary}"
    );
    assert_eq!(db.store.layer_versions(None).await.unwrap().len(), 5);

    // One city's 12345-style export through the history import.
    let zhengzhou = dir.path().join("history/4101.csv");
    let rows = std::fs::read_to_string(&zhengzhou).unwrap().lines().count() - 1;
    let history = common::wangge_cli(["import", "history", zhengzhou.to_str().unwrap()], &db.url);
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    assert_eq!(db.store.count_history().await.unwrap(), rows as i64);
    let per_grid = db.store.history_per_grid(1).await.unwrap();
    assert!(per_grid[0].0.starts_with("4101"), "{per_grid:?}");

    // Every benchmark point lies in a city, so each is assigned a grid.
    let assigned = dir.path().join("assigned.csv");
    let assign = common::wangge_cli(
        [
            "assign",
            dir.path().join("points.csv").to_str().unwrap(),
            "-o",
            assigned.to_str().unwrap(),
        ],
        &db.url,
    );
    assert!(
        assign.status.success(),
        "{}",
        String::from_utf8_lossy(&assign.stderr)
    );
    let text = std::fs::read_to_string(&assigned).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let grid = header.iter().position(|h| *h == "grid").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1000);
    let without = rows.iter().filter(|r| r[grid].is_empty()).count();
    assert_eq!(without, 0, "points without a grid");
}
