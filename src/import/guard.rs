//! The removal guard: an upload never silently empties or shrinks live data.
//!
//! An import replaces a whole layer (a new version) or a whole basemap kind. A file that lost
//! most of its features on the way (an empty export, the wrong layer, a truncated download)
//! would otherwise publish a city without railways or grids, and every answer after it would be
//! wrong without an error anywhere. So an import that would remove more than a set share of
//! what is live is refused unless the admin confirms it by naming how many features go.

/// How much an import may remove without confirmation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemovalGuard {
    /// The largest share (0–1) of a layer's or basemap kind's live features an import may remove
    /// unconfirmed.
    pub max_share: f64,
    /// The admin's confirmation: the exact number of features the import removes.
    pub confirmed: Option<u64>,
}

/// The default share: a fifth. A city's regular update changes a few grids or shops; losing a
/// fifth of a layer is what a wrong or truncated file looks like.
pub const DEFAULT_MAX_REMOVAL_SHARE: f64 = 0.2;

impl Default for RemovalGuard {
    fn default() -> Self {
        Self {
            max_share: DEFAULT_MAX_REMOVAL_SHARE,
            confirmed: None,
        }
    }
}

/// One set of features an import replaces: a layer or a basemap kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// `grid`, `basemap road` …
    pub name: String,
    /// Features live now.
    pub current: u64,
    /// Features in the upload.
    pub incoming: u64,
}

/// Why the guard refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// Nothing in the upload: never published, confirmed or not (an admin who wants a layer
    /// gone retires it with a smaller, deliberate file, not an empty one).
    #[error("the upload holds no features; an import never empties live data")]
    Empty,
    /// The import would remove more than the allowed share, unconfirmed or confirmed with another
    /// count.
    #[error(
        "导入将删除 {removed} 个现有要素 ({detail})，超过允许的 {share_pct:.0}%。The import would remove {removed} live features ({detail}), more than the {share_pct:.0} % allowed; if that is intended, repeat it with confirm_removal={removed}{given}"
    )]
    WouldRemove {
        /// Features removed over all sets beyond the share.
        removed: u64,
        /// Per set: "road 2806 → 0".
        detail: String,
        /// The allowed share, in percent.
        share_pct: f64,
        /// What the admin confirmed instead, if anything.
        given: String,
    },
}

/// Checks an import's replacements against the guard.
pub fn check(sets: &[Replacement], guard: RemovalGuard) -> Result<(), Refusal> {
    let incoming: u64 = sets.iter().map(|s| s.incoming).sum();
    if incoming == 0 {
        return Err(Refusal::Empty);
    }
    let over: Vec<&Replacement> = sets
        .iter()
        .filter(|s| {
            let removed = s.current.saturating_sub(s.incoming);
            // Exact in integers: removed / current > share.
            s.current > 0 && removed as f64 > guard.max_share * s.current as f64
        })
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    let removed: u64 = over
        .iter()
        .map(|s| s.current.saturating_sub(s.incoming))
        .sum();
    if guard.confirmed == Some(removed) {
        return Ok(());
    }
    Err(Refusal::WouldRemove {
        removed,
        detail: over
            .iter()
            .map(|s| format!("{} {} → {}", s.name, s.current, s.incoming))
            .collect::<Vec<_>>()
            .join(", "),
        share_pct: guard.max_share * 100.0,
        given: guard
            .confirmed
            .map(|n| format!(" (confirm_removal={n} was given)"))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, current: u64, incoming: u64) -> Replacement {
        Replacement {
            name: name.into(),
            current,
            incoming,
        }
    }

    #[test]
    fn an_empty_upload_is_refused_even_when_confirmed() {
        let confirmed = RemovalGuard {
            confirmed: Some(2806),
            ..RemovalGuard::default()
        };
        assert_eq!(
            check(&[set("road", 2806, 0)], confirmed),
            Err(Refusal::Empty)
        );
    }

    #[test]
    fn a_shrinking_upload_needs_the_exact_count_confirmed() {
        let sets = [
            set("road", 2806, 0),
            set("railway", 3, 0),
            set("building", 0, 10),
        ];
        let e = check(&sets, RemovalGuard::default()).unwrap_err();
        let Refusal::WouldRemove { removed, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*removed, 2809);
        assert!(e.to_string().contains("confirm_removal=2809"), "{e}");
        let wrong = RemovalGuard {
            confirmed: Some(2806),
            ..RemovalGuard::default()
        };
        assert!(check(&sets, wrong).is_err(), "the count must be exact");
        let right = RemovalGuard {
            confirmed: Some(2809),
            ..RemovalGuard::default()
        };
        assert_eq!(check(&sets, right), Ok(()));
    }

    #[test]
    fn nothing_in_is_empty_and_small_changes_pass() {
        assert_eq!(
            check(&[set("zone", 0, 0)], RemovalGuard::default()),
            Err(Refusal::Empty)
        );
        // 20 % is allowed, 20 % + 1 is not.
        assert_eq!(
            check(&[set("grid", 100, 80)], RemovalGuard::default()),
            Ok(())
        );
        assert!(check(&[set("grid", 100, 79)], RemovalGuard::default()).is_err());
        // Growth and a first import always pass.
        assert_eq!(check(&[set("grid", 0, 5)], RemovalGuard::default()), Ok(()));
        assert_eq!(
            check(&[set("grid", 10, 500)], RemovalGuard::default()),
            Ok(())
        );
    }
}
