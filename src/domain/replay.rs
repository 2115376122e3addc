//! How the demo city's people behave when its history is replayed through the case workflow
//! (`crate::demo_cases` drives the real case service; this module only decides, with seeded
//! draws, what each of them does and how long it takes).
//!
//! The behaviour is plain and mostly good — a share of cases late, a few checks failed, a few
//! send-backs, extensions, parked, void and merged cases — except for the **planted performers**
//! of `geodata/planted_performers.json`: a few chronically late departments, a street whose
//! fixes often fail 核查, a consistently excellent street and an inspector whose grids are
//! reported by the public before they report them. The assessment (考评) must find them; the
//! test `tests/assessment_demo.rs` checks that it does, week by week.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Why the planted performers file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("planted_performers.json: {0}")]
pub struct PlantedError(String);

/// Shares of the everyday behaviour (each 0–1), for every unit and street not planted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Handled after the handling deadline.
    pub late: f64,
    /// Fixes failing 核查 (back to the unit: 返工).
    pub check_fail: f64,
    /// Public reports found untrue on 核实 (不属实: void).
    pub verify_false: f64,
    /// Collected reports voided on request (作废: not a city-management matter).
    pub void: f64,
    /// Cases parked (挂账) for a few days while handled.
    pub park: f64,
    /// Dispatches sent back by the unit as not theirs (回退).
    pub send_back: f64,
    /// Handling deadlines extended on the unit's request (延期).
    pub extend: f64,
    /// Reports with an open duplicate nearby that the command centre links (合并).
    pub link_duplicate: f64,
}

/// A department planted as chronically late.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateDepartment {
    /// Its unit code.
    pub unit: String,
    /// Share of its cases handled after the deadline.
    pub late: f64,
}

/// A street planted for how its cases go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantedStreet {
    /// The street's code.
    pub street: String,
    /// Share of fixes in it failing 核查.
    pub check_fail: f64,
    /// Share of its cases handled late.
    pub late: f64,
    /// Handling takes this share of the time it takes elsewhere (1: the same).
    pub speed: f64,
}

/// The inspector planted as missing problems: the public reports them first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingInspector {
    /// The street whose inspector (`demo_insp_<street>`) it is.
    pub street: String,
    /// Share of the problems an inspector would have reported that the public reports instead.
    pub missed: f64,
}

/// The truth file of the replay (`geodata/planted_performers.json`), as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlantedFile {
    seed: u64,
    #[serde(default, rename = "_note")]
    _note: Option<String>,
    baseline: Baseline,
    late_departments: Vec<LateDepartment>,
    failing_street: PlantedStreet,
    excellent_street: PlantedStreet,
    missing_inspector: MissingInspector,
}

/// The planted performers and the everyday behaviour, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Planted {
    /// The seed of every draw.
    pub seed: u64,
    /// Everyone else.
    pub baseline: Baseline,
    /// Chronically late departments, by unit code.
    pub late_departments: BTreeMap<String, f64>,
    /// The street whose fixes often fail 核查.
    pub failing_street: PlantedStreet,
    /// The consistently excellent street.
    pub excellent_street: PlantedStreet,
    /// The inspector who misses problems.
    pub missing_inspector: MissingInspector,
}

fn share(name: &str, v: f64) -> Result<f64, PlantedError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(PlantedError(format!(
            "{name} = {v} must be a share from 0 to 1"
        )))
    }
}

fn street(name: &str, s: PlantedStreet) -> Result<PlantedStreet, PlantedError> {
    share(&format!("{name}.check_fail"), s.check_fail)?;
    share(&format!("{name}.late"), s.late)?;
    if !(s.speed > 0.0 && s.speed <= 2.0) {
        return Err(PlantedError(format!(
            "{name}.speed = {} must be above 0 and at most 2",
            s.speed
        )));
    }
    if s.street.is_empty() {
        return Err(PlantedError(format!("{name}.street is empty")));
    }
    Ok(s)
}

impl Planted {
    /// Parses the truth file; every share must lie in 0–1 and the planted streets differ.
    pub fn from_json(text: &str) -> Result<Self, PlantedError> {
        let f: PlantedFile = serde_json::from_str(text).map_err(|e| PlantedError(e.to_string()))?;
        let b = &f.baseline;
        for (name, v) in [
            ("baseline.late", b.late),
            ("baseline.check_fail", b.check_fail),
            ("baseline.verify_false", b.verify_false),
            ("baseline.void", b.void),
            ("baseline.park", b.park),
            ("baseline.send_back", b.send_back),
            ("baseline.extend", b.extend),
            ("baseline.link_duplicate", b.link_duplicate),
            ("missing_inspector.missed", f.missing_inspector.missed),
        ] {
            share(name, v)?;
        }
        let mut late_departments = BTreeMap::new();
        for d in f.late_departments {
            share(&format!("late_departments[{}].late", d.unit), d.late)?;
            if late_departments.insert(d.unit.clone(), d.late).is_some() {
                return Err(PlantedError(format!("{} is listed twice", d.unit)));
            }
        }
        let failing_street = street("failing_street", f.failing_street)?;
        let excellent_street = street("excellent_street", f.excellent_street)?;
        if failing_street.street == excellent_street.street {
            return Err(PlantedError(
                "the failing and the excellent street must differ".into(),
            ));
        }
        Ok(Self {
            seed: f.seed,
            baseline: f.baseline,
            late_departments,
            failing_street,
            excellent_street,
            missing_inspector: f.missing_inspector,
        })
    }

    fn planted_street(&self, street: Option<&str>) -> Option<&PlantedStreet> {
        let s = street?;
        [&self.failing_street, &self.excellent_street]
            .into_iter()
            .find(|p| p.street == s)
    }

    /// The share of cases handled late by `unit` in `street`: a planted street's own share
    /// (its people keep the departments to it, or fail to), else the department's, else the
    /// baseline.
    pub fn late_share(&self, unit: Option<&str>, street: Option<&str>) -> f64 {
        if let Some(s) = self.planted_street(street) {
            return s.late;
        }
        unit.and_then(|u| self.late_departments.get(u))
            .copied()
            .unwrap_or(self.baseline.late)
    }

    /// The share of fixes in `street` failing 核查.
    pub fn check_fail_share(&self, street: Option<&str>) -> f64 {
        self.planted_street(street)
            .map_or(self.baseline.check_fail, |s| s.check_fail)
    }

    /// How much of the usual handling time cases in `street` take.
    pub fn speed(&self, street: Option<&str>) -> f64 {
        self.planted_street(street).map_or(1.0, |s| s.speed)
    }

    /// Whether an inspector's own sighting in `street` is reported by the public first.
    pub fn missed_share(&self, street: Option<&str>) -> f64 {
        if street == Some(self.missing_inspector.street.as_str()) {
            self.missing_inspector.missed
        } else {
            0.0
        }
    }
}

/// A seeded stream of draws (SplitMix64): the same seed and key give the same stream on every
/// machine, so the replay writes the same history every time.
#[derive(Debug, Clone)]
pub struct Draws(u64);

impl Draws {
    /// The stream of one thing (a report id, a person) under the replay's seed.
    pub fn new(seed: u64, key: &str) -> Self {
        // FNV-1a of the key, mixed with the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Self(h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A number in [lo, hi).
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// The channel a replayed report comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayChannel {
    /// The grid's inspector reports their own sighting; `register`: registered at once.
    Inspector {
        /// Registered and dispatched on report (else a 值班长 registers it).
        register: bool,
    },
    /// A citizen through the public API (goes to 核实).
    Citizen,
    /// An intake clerk enters it: 12345 calls, and video patrol sightings (wangge has no video
    /// channel of its own; the clerk at the video wall enters them like a call).
    Clerk,
}

/// Everything decided about one report up front, from its own draws.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePlan {
    /// How it comes in.
    pub channel: ReplayChannel,
    /// 核实 finds it true.
    pub verify_true: bool,
    /// Voided on request once collected.
    pub void: bool,
    /// Parked while handled.
    pub park: bool,
    /// Sent back by the first unit.
    pub send_back: bool,
    /// The unit asks for more time.
    pub extend: bool,
    /// Linked into an open duplicate, if one is suggested.
    pub link_duplicate: bool,
    /// The roll that decides lateness once the unit is known (compared with its late share).
    pub late_roll: f64,
    /// Where in the allowed time (or beyond it) the unit reports back, 0–1.
    pub pace: f64,
    /// The rolls of the first and second 核查 (compared with the street's fail share).
    pub check_rolls: [f64; 2],
}

impl CasePlan {
    /// Draws the plan of a report that came through `history_channel` in `street`.
    pub fn draw(
        planted: &Planted,
        draws: &mut Draws,
        history_channel: &str,
        street: Option<&str>,
    ) -> Self {
        let b = &planted.baseline;
        let inspector = history_channel == "inspector";
        // The planted inspector misses problems: the public reports them first.
        let missed = inspector && draws.chance(planted.missed_share(street));
        let register = draws.chance(0.6);
        let channel = match history_channel {
            "inspector" if !missed => ReplayChannel::Inspector { register },
            "inspector" | "citizen" => ReplayChannel::Citizen,
            _ => ReplayChannel::Clerk,
        };
        Self {
            channel,
            verify_true: !draws.chance(b.verify_false),
            void: draws.chance(b.void),
            park: draws.chance(b.park),
            send_back: draws.chance(b.send_back),
            extend: draws.chance(b.extend),
            link_duplicate: draws.chance(b.link_duplicate),
            late_roll: draws.unit(),
            pace: draws.unit(),
            check_rolls: [draws.unit(), draws.unit()],
        }
    }

    /// Whether the unit handles it late, given the unit and street.
    pub fn late(&self, planted: &Planted, unit: Option<&str>, street: Option<&str>) -> bool {
        self.late_roll < planted.late_share(unit, street)
    }

    /// The share of the allowed handling time (dispatch to deadline) the unit takes to report
    /// back: within it (about 15–95 %, faster in a quick street), or 10–300 % beyond it when late.
    pub fn handling_share(&self, late: bool, speed: f64) -> f64 {
        if late {
            1.1 + 2.9 * self.pace
        } else {
            ((0.15 + 0.8 * self.pace) * speed).min(0.97)
        }
    }

    /// Whether the `n`-th 核查 (0 or 1) of a fix in a street with this fail share fails; a
    /// third check always passes (the trade's supervisors step in after two reworks).
    pub fn check_fails(&self, n: usize, fail_share: f64) -> bool {
        self.check_rolls.get(n).is_some_and(|r| *r < fail_share)
    }
}

/// Whether a report is in the replayed sample (`share` of all, by a draw of its own id).
pub fn sampled(seed: u64, report_id: &str, share: f64) -> bool {
    Draws::new(seed ^ 0x5a5a, report_id).unit() < share
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../geodata/planted_performers.json");

    #[test]
    fn the_committed_truth_file_parses() {
        let p = Planted::from_json(FILE).unwrap();
        assert!(!p.late_departments.is_empty());
        assert!(p.late_share(p.late_departments.keys().next().map(String::as_str), None) > 0.5);
        assert!(p.check_fail_share(Some(&p.failing_street.street)) > p.baseline.check_fail);
        assert!(p.missed_share(Some(&p.missing_inspector.street)) > 0.0);
        assert_eq!(p.missed_share(Some("nowhere")), 0.0);
    }

    #[test]
    fn shares_outside_zero_to_one_are_refused() {
        let bad = FILE.replacen("\"check_fail\": 0.45", "\"check_fail\": 1.45", 1);
        assert_ne!(bad, FILE, "the test edits a real field");
        let e = Planted::from_json(&bad).unwrap_err();
        assert!(e.to_string().contains("failing_street.check_fail"), "{e}");
    }

    #[test]
    fn draws_repeat_for_the_same_seed_and_key_and_differ_otherwise() {
        let a: Vec<f64> = {
            let mut d = Draws::new(7, "R1");
            (0..5).map(|_| d.unit()).collect()
        };
        let b: Vec<f64> = {
            let mut d = Draws::new(7, "R1");
            (0..5).map(|_| d.unit()).collect()
        };
        let c: Vec<f64> = {
            let mut d = Draws::new(7, "R2");
            (0..5).map(|_| d.unit()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
    }

    #[test]
    fn a_late_case_reports_back_after_the_deadline_and_an_on_time_one_before() {
        let p = Planted::from_json(FILE).unwrap();
        let mut d = Draws::new(1, "x");
        for _ in 0..200 {
            let plan = CasePlan::draw(&p, &mut d, "citizen", None);
            assert!(plan.handling_share(true, 1.0) > 1.0);
            assert!(plan.handling_share(false, 1.0) < 1.0);
        }
    }

    #[test]
    fn the_missing_inspectors_sightings_mostly_come_from_the_public() {
        let p = Planted::from_json(FILE).unwrap();
        let street = p.missing_inspector.street.clone();
        let mut d = Draws::new(1, "y");
        let public = (0..1000)
            .filter(|_| {
                CasePlan::draw(&p, &mut d, "inspector", Some(&street)).channel
                    == ReplayChannel::Citizen
            })
            .count();
        let expected = p.missing_inspector.missed * 1000.0;
        assert!((public as f64 - expected).abs() < 60.0, "{public}");
        let elsewhere = (0..1000)
            .filter(|_| {
                CasePlan::draw(&p, &mut d, "inspector", Some("elsewhere")).channel
                    == ReplayChannel::Citizen
            })
            .count();
        assert_eq!(elsewhere, 0);
    }
}
