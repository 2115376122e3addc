//! Roles, principals and the scope rules of who may act where.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The roles of a grid office (the README's role table says what each may do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 监督员/网格员: reports, verifies and checks; scoped to the grids they patrol.
    Inspector,
    /// 受理员: takes in citizen and hotline reports.
    IntakeClerk,
    /// 值班长: registers (立案) and closes (结案) cases.
    ShiftLead,
    /// 派遣员: dispatches cases to responsible units.
    Dispatcher,
    /// 处置人员: handles cases for exactly one responsible unit.
    Handler,
    /// Planner or leader: read-only analytics.
    Planner,
    /// Administrator: users, units, layers, catalogue.
    Admin,
    /// 志愿者 (市民找差团成员): a citizen volunteer with an account. Least privilege: reports
    /// problems (to 核实, like a citizen), visits the points of a 市民找差团 round they are part
    /// of, and sees their own reports and their outcome; nothing of other people's cases.
    Volunteer,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 8] = [
        Role::Inspector,
        Role::IntakeClerk,
        Role::ShiftLead,
        Role::Dispatcher,
        Role::Handler,
        Role::Planner,
        Role::Admin,
        Role::Volunteer,
    ];

    /// The roles of the grid office's own staff: every role but [`Role::Volunteer`]. Endpoints
    /// that show the city's cases, people or analytics allow these, so a volunteer is refused
    /// unless an endpoint names them.
    pub const STAFF: [Role; 7] = [
        Role::Inspector,
        Role::IntakeClerk,
        Role::ShiftLead,
        Role::Dispatcher,
        Role::Handler,
        Role::Planner,
        Role::Admin,
    ];

    /// The stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::IntakeClerk => "intake_clerk",
            Role::ShiftLead => "shift_lead",
            Role::Dispatcher => "dispatcher",
            Role::Handler => "handler",
            Role::Planner => "planner",
            Role::Admin => "admin",
            Role::Volunteer => "volunteer",
        }
    }

    /// The Chinese name shown in the interface.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Inspector => "监督员/网格员",
            Role::IntakeClerk => "受理员",
            Role::ShiftLead => "值班长",
            Role::Dispatcher => "派遣员",
            Role::Handler => "处置人员",
            Role::Planner => "规划/领导(只读分析)",
            Role::Admin => "系统管理员",
            Role::Volunteer => "志愿者(市民找差团)",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?}; expected one of inspector, intake_clerk, shift_lead, dispatcher, handler, planner, admin, volunteer"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Who is acting: an authenticated user with their role and scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// User id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// The one role of this user.
    pub role: Role,
    /// For handlers: the responsible unit they act for.
    pub unit_code: Option<String>,
    /// For inspectors: the unit grid codes they patrol.
    pub grids: BTreeSet<String>,
}

/// Why a principal may not act on something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The role is not among those allowed.
    #[error("role {role} may not do this; allowed: {allowed}")]
    Role {
        /// The principal's role.
        role: Role,
        /// The allowed roles, comma-separated.
        allowed: String,
    },
    /// The role fits but the object lies outside the principal's scope.
    #[error("{0}")]
    OutOfScope(String),
}

impl Principal {
    /// Checks the principal's role against an allowed set.
    pub fn require_role(&self, allowed: &[Role]) -> Result<(), ScopeError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(ScopeError::Role {
                role: self.role,
                allowed: allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// An admin acts everywhere; a handler only for their own unit; other roles never for a unit.
    pub fn require_unit(&self, unit_code: &str) -> Result<(), ScopeError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Handler if self.unit_code.as_deref() == Some(unit_code) => Ok(()),
            Role::Handler => Err(ScopeError::OutOfScope(format!(
                "handler {} acts for unit {}, not for {unit_code}",
                self.username,
                self.unit_code.as_deref().unwrap_or("-")
            ))),
            role => Err(ScopeError::OutOfScope(format!(
                "role {role} does not act for responsible units"
            ))),
        }
    }

    /// Whether a place in `grid_code` (None: in no grid) is within this principal's own patrol:
    /// an inspector's grids; every other role is not bounded by grids.
    pub fn patrols(&self, grid_code: Option<&str>) -> bool {
        self.role != Role::Inspector || grid_code.is_some_and(|g| self.grids.contains(g))
    }

    /// An admin acts everywhere; an inspector only on the grids they patrol.
    pub fn require_grid(&self, grid_code: &str) -> Result<(), ScopeError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Inspector if self.grids.contains(grid_code) => Ok(()),
            Role::Inspector => Err(ScopeError::OutOfScope(format!(
                "inspector {} does not patrol grid {grid_code}",
                self.username
            ))),
            role => Err(ScopeError::OutOfScope(format!(
                "role {role} is not scoped to grids"
            ))),
        }
    }
}

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password, in characters (checked before hashing).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A login name: 3–64 characters of a–z, 0–9, `_`, `.`, `-` (surrounding blanks trimmed).
pub fn parse_username(text: &str) -> Result<String, String> {
    let username = text.trim();
    if (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        Ok(username.to_owned())
    } else {
        Err("username must be 3–64 characters of a–z, 0–9, _, . or -".into())
    }
}

/// Refuses a weak password: shorter than [`MIN_PASSWORD_CHARS`] or longer than
/// [`MAX_PASSWORD_CHARS`], fewer than 5 different characters, containing the login name, or the
/// demo password. The same rule holds for `POST /api/users` and `wangge user create`.
pub fn check_password(password: &str, username: &str, demo_password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "密码太短 / password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "密码太长 / password must have at most {MAX_PASSWORD_CHARS} characters"
        ));
    }
    let distinct: BTreeSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Err("密码太弱 / password must use at least 5 different characters".into());
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("密码不能包含用户名 / password must not contain the username".into());
    }
    if password == demo_password {
        return Err(
            "不能使用演示密码 / the demo password is not accepted for real accounts".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            display_name: "U".into(),
            role,
            unit_code: (role == Role::Handler).then(|| "dept-410103-cgzf".to_owned()),
            grids: ["410103001001001".to_owned()].into(),
        }
    }

    #[test]
    fn every_role_round_trips_through_its_wire_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_volunteer_is_a_role_but_not_staff_and_has_no_unit_or_grid() {
        assert_eq!("volunteer".parse::<Role>(), Ok(Role::Volunteer));
        assert!(Role::ALL.contains(&Role::Volunteer));
        assert!(!Role::STAFF.contains(&Role::Volunteer));
        assert_eq!(Role::STAFF.len() + 1, Role::ALL.len());
        let v = principal(Role::Volunteer);
        assert!(v.require_role(&Role::STAFF).is_err());
        assert!(v.require_unit("dept-410103-cgzf").is_err());
        assert!(v.require_grid("410103001001001").is_err());
    }

    #[test]
    fn a_handler_acts_only_for_their_own_unit() {
        let h = principal(Role::Handler);
        assert!(h.require_unit("dept-410103-cgzf").is_ok());
        assert!(matches!(
            h.require_unit("dept-410103-hw"),
            Err(ScopeError::OutOfScope(_))
        ));
        assert!(
            principal(Role::Admin)
                .require_unit("dept-410103-hw")
                .is_ok()
        );
        assert!(
            principal(Role::Planner)
                .require_unit("dept-410103-cgzf")
                .is_err()
        );
    }

    #[test]
    fn an_inspector_acts_only_on_the_grids_they_patrol() {
        let i = principal(Role::Inspector);
        assert!(i.require_grid("410103001001001").is_ok());
        assert!(i.require_grid("410103001001002").is_err());
    }

    #[test]
    fn an_inspector_patrols_only_their_grids_and_other_roles_are_not_bounded() {
        let i = principal(Role::Inspector);
        assert!(i.patrols(Some("410103001001001")));
        assert!(!i.patrols(Some("410103001001002")));
        assert!(!i.patrols(None));
        assert!(principal(Role::Admin).patrols(None));
    }

    #[test]
    fn a_role_outside_the_allowed_set_is_named_in_the_refusal() {
        let err = principal(Role::Planner)
            .require_role(&[Role::Admin, Role::Dispatcher])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "role planner may not do this; allowed: admin, dispatcher"
        );
    }

    #[test]
    fn weak_passwords_are_refused_and_a_good_one_is_accepted() {
        for weak in [
            "",
            "short",
            "aaaaaaaaaaaaaa",
            "abababababab",
            "xx-admin01-xx",
            "wangge-demo",
        ] {
            assert!(
                check_password(weak, "admin01", "wangge-demo").is_err(),
                "{weak:?}"
            );
        }
        assert!(check_password(&"a1b2c3".repeat(60), "admin01", "wangge-demo").is_err());
        assert!(check_password("long-enough-pw", "admin01", "wangge-demo").is_ok());
        assert_eq!(parse_username(" ops.admin "), Ok("ops.admin".to_owned()));
        assert!(parse_username("Admin").is_err());
        assert!(parse_username("ab").is_err());
    }
}
