//! Case photos (现场照片) as values: the content hash that names a stored photo, the two stages of
//! a case a photo documents, the image types accepted (recognised by their magic bytes), and who
//! may add a photo to which case.
//!
//! Pure code: no IO. File storage lives in `crate::photos`, SQL in `crate::store`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::case::Status;
use super::identity::{Principal, Role, ScopeError};

/// The SHA-256 of a photo's bytes, as 64 lowercase hex digits: the only key that ever reaches the
/// file system, so no client text (`../`, a drive letter, a NUL) can become a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhotoHash([u8; 32]);

/// A text that is not 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a photo id is the SHA-256 of the photo as 64 lowercase hex digits")]
pub struct BadPhotoHash;

impl PhotoHash {
    /// Parses exactly 64 lowercase hex digits. Uppercase is refused so that one photo has one
    /// URL (and one cache entry), not 2^64 spellings.
    pub fn parse(s: &str) -> Result<Self, BadPhotoHash> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadPhotoHash);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BadPhotoHash)?;
        Ok(Self(out))
    }

    /// The hash of raw bytes.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The 64-digit lowercase hex form.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for PhotoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Which moment of the case a photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStage {
    /// 处置前: the problem as reported or verified.
    Before,
    /// 处置后: the result of the handling, shown back to the reporter (反馈给反映人).
    After,
}

impl PhotoStage {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoStage::Before => "before",
            PhotoStage::After => "after",
        }
    }

    /// Parses `before` or `after`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "before" => Some(PhotoStage::Before),
            "after" => Some(PhotoStage::After),
            _ => None,
        }
    }
}

/// The accepted image types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageType {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (the 8-byte signature).
    Png,
    /// WebP (`RIFF....WEBP`).
    Webp,
}

impl ImageType {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Webp => "image/webp",
        }
    }

    /// Parses a declared `Content-Type` (parameters such as `; charset` are ignored; `image/jpg`
    /// is a common misspelling of phones and is accepted as JPEG).
    pub fn from_mime(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" => Some(ImageType::Jpeg),
            "image/png" => Some(ImageType::Png),
            "image/webp" => Some(ImageType::Webp),
            _ => None,
        }
    }

    /// Recognises the type from the first bytes. The declared type is never trusted alone: a
    /// browser sniffing an "image" that is really HTML is how stored XSS happens.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else {
            None
        }
    }
}

/// The parts of a case the photo rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoTarget<'a> {
    /// The case's unit grid.
    pub grid_code: Option<&'a str>,
    /// The unit it is dispatched to.
    pub unit_code: Option<&'a str>,
    /// Its status.
    pub status: Status,
    /// Who reported it (staff).
    pub reported_by: Option<i64>,
}

/// The roles that add photos at all, each within the scope [`may_add`] gives it.
pub const ADDERS: &[Role] = &[
    Role::Inspector,
    Role::IntakeClerk,
    Role::ShiftLead,
    Role::Dispatcher,
    Role::Handler,
    Role::Admin,
    Role::Volunteer,
];

/// Who may add a photo of `stage` to a case: an inspector on the grids they patrol (and
/// before-photos of their own open report anywhere, as a citizen may); a volunteer only
/// before-photos of their own open report; a handler
/// only after-photos (处置后) of cases dispatched to their unit; intake clerks, dispatchers, shift
/// leads and admins on any case; planners never (read-only).
pub fn may_add(
    principal: &Principal,
    target: &PhotoTarget<'_>,
    stage: PhotoStage,
) -> Result<(), ScopeError> {
    match principal.role {
        Role::Inspector
            if stage == PhotoStage::Before
                && target.reported_by == Some(principal.user_id)
                && !target.status.is_final() =>
        {
            Ok(())
        }
        Role::Inspector => principal.require_grid(target.grid_code.unwrap_or("-")),
        // A volunteer documents their own report (or a finding of their visit) while it is
        // open, as a citizen may, and nothing else.
        Role::Volunteer
            if stage == PhotoStage::Before
                && target.reported_by == Some(principal.user_id)
                && !target.status.is_final() =>
        {
            Ok(())
        }
        Role::Volunteer => Err(ScopeError::OutOfScope(
            "a volunteer adds before-photos (处置前) of their own open reports only".into(),
        )),
        Role::Handler => {
            if stage != PhotoStage::After {
                return Err(ScopeError::OutOfScope(
                    "a handler adds after-photos (处置后) only".into(),
                ));
            }
            principal.require_unit(target.unit_code.unwrap_or("-"))
        }
        Role::IntakeClerk | Role::Dispatcher | Role::ShiftLead | Role::Admin => Ok(()),
        Role::Planner => principal.require_role(ADDERS),
    }
}

/// A citizen adds before-photos to their own report while it is open.
pub fn citizen_may_add(status: Status, stage: PhotoStage) -> Result<(), CitizenPhotoError> {
    if stage != PhotoStage::Before {
        return Err(CitizenPhotoError::StageNotAllowed);
    }
    if status.is_final() {
        return Err(CitizenPhotoError::CaseFinished);
    }
    Ok(())
}

/// Why a citizen may not add a photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CitizenPhotoError {
    /// Citizens document the problem, not its handling.
    #[error("citizens add before-photos (stage=before) only")]
    StageNotAllowed,
    /// The case is closed or void.
    #[error("this report is already closed; photos can no longer be added")]
    CaseFinished,
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
            unit_code: (role == Role::Handler).then(|| "dept-a".to_owned()),
            grids: ["g1".to_owned()].into(),
        }
    }

    const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn a_photo_hash_is_exactly_64_lowercase_hex_digits() {
        assert_eq!(PhotoHash::parse(HASH).unwrap().to_hex(), HASH);
        for bad in [
            "",
            "../../etc/passwd",
            &HASH.to_uppercase(),
            &HASH[..63],
            &format!("{HASH}0"),
            &format!("{}g", &HASH[..63]),
            &format!("{}/", &HASH[..63]),
        ] {
            assert_eq!(PhotoHash::parse(bad), Err(BadPhotoHash), "{bad:?}");
        }
    }

    #[test]
    fn image_types_are_recognised_by_their_magic_bytes() {
        assert_eq!(
            ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageType::Webp)
        );
        assert_eq!(ImageType::sniff(b"<html><script>"), None);
        assert_eq!(ImageType::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(
            ImageType::from_mime("image/JPEG; q=1"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(ImageType::from_mime("image/svg+xml"), None);
    }

    #[test]
    fn each_role_adds_photos_only_within_its_scope() {
        let t = PhotoTarget {
            grid_code: Some("g1"),
            unit_code: Some("dept-a"),
            status: Status::Handling,
            reported_by: None,
        };
        let other = PhotoTarget {
            grid_code: Some("g2"),
            unit_code: Some("dept-b"),
            status: Status::Handling,
            reported_by: None,
        };
        let i = principal(Role::Inspector);
        assert!(may_add(&i, &t, PhotoStage::Before).is_ok());
        assert!(may_add(&i, &other, PhotoStage::Before).is_err());
        // Their own report outside their grids: before-photos while it is open, nothing else.
        let own = PhotoTarget {
            reported_by: Some(i.user_id),
            status: Status::Verifying,
            ..other
        };
        assert!(may_add(&i, &own, PhotoStage::Before).is_ok());
        assert!(may_add(&i, &own, PhotoStage::After).is_err());
        let closed = PhotoTarget {
            status: Status::Closed,
            ..own
        };
        assert!(may_add(&i, &closed, PhotoStage::Before).is_err());
        let h = principal(Role::Handler);
        assert!(may_add(&h, &t, PhotoStage::After).is_ok());
        assert!(may_add(&h, &t, PhotoStage::Before).is_err());
        assert!(may_add(&h, &other, PhotoStage::After).is_err());
        for r in [
            Role::IntakeClerk,
            Role::Dispatcher,
            Role::ShiftLead,
            Role::Admin,
        ] {
            assert!(may_add(&principal(r), &other, PhotoStage::Before).is_ok());
        }
        assert!(matches!(
            may_add(&principal(Role::Planner), &t, PhotoStage::Before),
            Err(ScopeError::Role { .. })
        ));
    }

    #[test]
    fn a_volunteer_adds_before_photos_to_their_own_open_report_only() {
        let v = principal(Role::Volunteer);
        let own = PhotoTarget {
            grid_code: Some("g1"),
            unit_code: None,
            status: Status::Verifying,
            reported_by: Some(v.user_id),
        };
        assert!(may_add(&v, &own, PhotoStage::Before).is_ok());
        assert!(may_add(&v, &own, PhotoStage::After).is_err());
        let someone_elses = PhotoTarget {
            reported_by: Some(v.user_id + 1),
            ..own
        };
        assert!(may_add(&v, &someone_elses, PhotoStage::Before).is_err());
        let closed = PhotoTarget {
            status: Status::Closed,
            ..own
        };
        assert!(may_add(&v, &closed, PhotoStage::Before).is_err());
    }

    #[test]
    fn a_citizen_adds_before_photos_to_an_open_report_only() {
        assert!(citizen_may_add(Status::Verifying, PhotoStage::Before).is_ok());
        assert_eq!(
            citizen_may_add(Status::Verifying, PhotoStage::After),
            Err(CitizenPhotoError::StageNotAllowed)
        );
        assert_eq!(
            citizen_may_add(Status::Closed, PhotoStage::Before),
            Err(CitizenPhotoError::CaseFinished)
        );
    }
}
