//! 卫生死角: places where sanitation problems keep coming back.
//!
//! A *place* is either a DBSCAN cluster of the reports in metres (ε = `eps_m`, at least
//! `min_reports` reports within ε of a core report, itself included), or a area (grid, fishnet
//! cell) the caller assigned each report to. A place is a blind spot when some window of
//! `window_weeks` weeks holds at least `min_reports` of its reports, of which at least
//! `min_after_close` were reported after an earlier case at the same place had been closed (the
//! place was cleaned, and the problem came back). Blind spots are ranked by the reports in their
//! busiest such window, then by how often the problem came back after a close, then by all reports.
//! Places whose reports spread wider than `max_radius_m` from their centre are areas, not spots;
//! they are left to the hot spot tools. And a spot must stand out from its surroundings: its
//! report density (reports per m² within its radius, at least ε) must be at least `min_contrast`
//! times the density in the ring from there to `ring_m` metres further out (all selected reports
//! counted). In a uniformly busy urban village or along a busy alley every 20 m circle holds a
//! few reports; a 卫生死角 is one corner that keeps coming back while the street around it does not.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::frame::Metres;

/// Parameters.
#[derive(Debug, Clone, Copy)]
pub struct BlindSpotParams {
    /// Reports needed in one window (k).
    pub min_reports: usize,
    /// Window length in weeks (m).
    pub window_weeks: u32,
    /// Reports in the window that came after an earlier close at the place.
    pub min_after_close: usize,
    /// DBSCAN radius, metres.
    pub eps_m: f64,
    /// Largest spread of a spot: distance of its farthest report from its centre, metres.
    pub max_radius_m: f64,
    /// Width of the surrounding ring the spot is compared with, metres.
    pub ring_m: f64,
    /// Least ratio of the spot's report density to the ring's.
    pub min_contrast: f64,
}

/// The defaults were chosen on the demo city's planted 卫生死角 (reports within 14 m of a spot,
/// each after the previous case there was closed, 2–40 days later) against its busy urban
/// villages and back alleys; `tests/hotspots.rs` prints the precision and recall they give.
impl Default for BlindSpotParams {
    fn default() -> Self {
        Self {
            min_reports: 4,
            window_weeks: 12,
            min_after_close: 3,
            eps_m: 12.0,
            max_radius_m: 30.0,
            ring_m: 80.0,
            min_contrast: 8.0,
        }
    }
}

/// One report as the detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    /// Position in the frame, metres.
    pub at: Metres,
    /// Reported.
    pub reported: DateTime<Utc>,
    /// Closed, if it was.
    pub closed: Option<DateTime<Utc>>,
}

/// A detected blind spot.
#[derive(Debug, Clone)]
pub struct BlindSpot {
    /// Indices of its reports (into the input), in time order.
    pub members: Vec<usize>,
    /// Centre (mean of the reports), metres.
    pub centre: Metres,
    /// Farthest report from the centre, metres.
    pub radius_m: f64,
    /// Reports in the busiest qualifying window.
    pub window_reports: usize,
    /// Start of that window.
    pub window_start: DateTime<Utc>,
    /// Reports (over all time) made after an earlier case at the place was closed.
    pub after_close: usize,
    /// Report density within the spot / density in the ring around it (infinite for an empty
    /// ring).
    pub contrast: f64,
}

/// DBSCAN in metres: a cluster label per point (`None` = noise).
pub fn dbscan(points: &[Metres], eps: f64, min_pts: usize) -> Vec<Option<u32>> {
    let cell = eps.max(1e-9);
    let key = |p: &Metres| ((p.x / cell).floor() as i64, (p.y / cell).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
    for (i, p) in points.iter().enumerate() {
        grid.entry(key(p)).or_default().push(i as u32);
    }
    let e2 = eps * eps;
    let neighbours = |i: usize| {
        let p = &points[i];
        let (cx, cy) = key(p);
        let mut out = Vec::new();
        for dy in -1..=1 {
            for dx in -1..=1 {
                for &j in grid.get(&(cx + dx, cy + dy)).map_or(&[][..], |v| v) {
                    let q = &points[j as usize];
                    if (q.x - p.x).powi(2) + (q.y - p.y).powi(2) <= e2 {
                        out.push(j as usize);
                    }
                }
            }
        }
        out
    };
    let mut label: Vec<Option<u32>> = vec![None; points.len()];
    let mut visited = vec![false; points.len()];
    let mut next = 0u32;
    for i in 0..points.len() {
        if visited[i] {
            continue;
        }
        visited[i] = true;
        let nb = neighbours(i);
        if nb.len() < min_pts {
            continue;
        }
        label[i] = Some(next);
        let mut queue = nb;
        while let Some(j) = queue.pop() {
            if label[j].is_none() {
                label[j] = Some(next);
            }
            if visited[j] {
                continue;
            }
            visited[j] = true;
            let nb2 = neighbours(j);
            if nb2.len() >= min_pts {
                queue.extend(
                    nb2.into_iter()
                        .filter(|&k| !visited[k] || label[k].is_none()),
                );
            }
        }
        next += 1;
    }
    label
}

/// Finds the blind spots among places (`place[i]` = the place of visit i, `None` = none).
pub fn detect(visits: &[Visit], place: &[Option<u32>], p: &BlindSpotParams) -> Vec<BlindSpot> {
    let mut groups: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, pl) in place.iter().enumerate() {
        if let Some(pl) = pl {
            groups.entry(*pl).or_default().push(i);
        }
    }
    let window = Duration::weeks(i64::from(p.window_weeks));
    let cell = (p.max_radius_m.max(p.eps_m) + p.ring_m).max(1.0);
    let key = |m: &Metres| ((m.x / cell).floor() as i64, (m.y / cell).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
    for (i, v) in visits.iter().enumerate() {
        grid.entry(key(&v.at)).or_default().push(i as u32);
    }
    let around = |c: Metres, r: f64| {
        let (cx, cy) = key(&c);
        let (mut inner, mut ring) = (0usize, 0usize);
        for dy in -1..=1 {
            for dx in -1..=1 {
                for &j in grid.get(&(cx + dx, cy + dy)).map_or(&[][..], |v| v) {
                    let d = (visits[j as usize].at.x - c.x).hypot(visits[j as usize].at.y - c.y);
                    if d <= r {
                        inner += 1;
                    } else if d <= r + p.ring_m {
                        ring += 1;
                    }
                }
            }
        }
        (inner, ring)
    };
    let mut out: Vec<BlindSpot> = groups
        .into_values()
        .filter(|m| m.len() >= p.min_reports)
        .filter_map(|mut members| {
            members.sort_by_key(|&i| (visits[i].reported, i));
            let n = members.len() as f64;
            let cx = members.iter().map(|&i| visits[i].at.x).sum::<f64>() / n;
            let cy = members.iter().map(|&i| visits[i].at.y).sum::<f64>() / n;
            let radius = members
                .iter()
                .map(|&i| (visits[i].at.x - cx).hypot(visits[i].at.y - cy))
                .fold(0.0, f64::max);
            if radius > p.max_radius_m {
                return None;
            }
            let r = radius.max(p.eps_m);
            let (inner, ring) = around(Metres { x: cx, y: cy }, r);
            let inner_area = std::f64::consts::PI * r * r;
            let ring_area = std::f64::consts::PI * ((r + p.ring_m).powi(2) - r * r);
            let contrast = if ring == 0 {
                f64::INFINITY
            } else {
                (inner as f64 / inner_area) / (ring as f64 / ring_area)
            };
            if contrast < p.min_contrast {
                return None;
            }
            // after[j]: some earlier report at the place was closed before report j came in.
            let mut earliest_close: Option<DateTime<Utc>> = None;
            let after: Vec<bool> = members
                .iter()
                .map(|&i| {
                    let v = &visits[i];
                    let a = earliest_close.is_some_and(|c| c <= v.reported);
                    if let Some(c) = v.closed {
                        earliest_close = Some(earliest_close.map_or(c, |e| e.min(c)));
                    }
                    a
                })
                .collect();
            let mut best: Option<(usize, usize, DateTime<Utc>)> = None;
            let mut hi = 0;
            let mut after_in = 0;
            for lo in 0..members.len() {
                let start = visits[members[lo]].reported;
                while hi < members.len() && visits[members[hi]].reported < start + window {
                    after_in += usize::from(after[hi]);
                    hi += 1;
                }
                let count = hi - lo;
                if count >= p.min_reports
                    && after_in >= p.min_after_close
                    && best.is_none_or(|b| (count, after_in) > (b.0, b.1))
                {
                    best = Some((count, after_in, start));
                }
                after_in -= usize::from(after[lo]);
            }
            let (window_reports, _, window_start) = best?;
            Some(BlindSpot {
                after_close: after.iter().filter(|&&a| a).count(),
                members,
                centre: Metres { x: cx, y: cy },
                radius_m: radius,
                window_reports,
                window_start,
                contrast,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (b.window_reports, b.after_close, b.members.len())
            .cmp(&(a.window_reports, a.after_close, a.members.len()))
            .then(a.centre.x.total_cmp(&b.centre.x))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(day: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_730_000_000 + day * 86_400, 0).unwrap()
    }

    #[test]
    fn a_spot_that_comes_back_after_each_clean_up_is_found_and_a_busy_day_is_not() {
        let mut visits = Vec::new();
        // Place A: four reports 10 days apart, each closed a day later.
        for k in 0..4 {
            visits.push(Visit {
                at: Metres {
                    x: f64::from(k),
                    y: 0.0,
                },
                reported: t(10 * i64::from(k)),
                closed: Some(t(10 * i64::from(k) + 1)),
            });
        }
        // Place B, 1 km away: four reports on one day, none closed before the next came.
        for k in 0..4 {
            visits.push(Visit {
                at: Metres {
                    x: 1000.0 + f64::from(k),
                    y: 0.0,
                },
                reported: t(5),
                closed: Some(t(9)),
            });
        }
        let pts: Vec<Metres> = visits.iter().map(|v| v.at).collect();
        let place = dbscan(&pts, 20.0, 3);
        assert_eq!(place[0], place[3]);
        assert_ne!(place[0], place[4]);
        let spots = detect(&visits, &place, &BlindSpotParams::default());
        assert_eq!(spots.len(), 1);
        assert_eq!(spots[0].members, vec![0, 1, 2, 3]);
        assert_eq!(spots[0].after_close, 3);
        assert_eq!(spots[0].window_reports, 4);
    }

    #[test]
    fn dbscan_leaves_lonely_points_as_noise() {
        let pts = [
            Metres { x: 0.0, y: 0.0 },
            Metres { x: 5.0, y: 0.0 },
            Metres { x: 500.0, y: 0.0 },
        ];
        assert_eq!(dbscan(&pts, 10.0, 2), vec![Some(0), Some(0), None]);
    }
}
