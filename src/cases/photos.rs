//! Before/after photos of a case: who may add which photo to which case, the image checks and
//! the durable write, in the documented order — role and scope, stage, declared type, size,
//! magic bytes, the per-stage limit — so that a refused upload leaves neither a file nor a row.
//! And the photos themselves, by hash.

use futures_util::{Stream, StreamExt};

use super::{CaseError, CaseService};
use crate::domain::case::Case;
use crate::domain::identity::{Principal, ScopeError};
use crate::domain::photo::{
    self, CitizenPhotoError, ImageType, PhotoHash, PhotoStage, PhotoTarget,
};
use crate::store::{AddPhotoOutcome, Audit, CasePhoto, NewCasePhoto};

/// Who adds a photo.
#[derive(Debug, Clone, Copy)]
pub enum PhotoAdder<'a> {
    /// A logged-in user, within their role and scope (`domain::photo::may_add`).
    Staff(&'a Principal),
    /// A citizen with the follow token of their report: before-photos while it is open.
    Citizen {
        /// The token of the report's receipt.
        token: &'a str,
    },
}

/// Why a photo is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    /// The stage is not `before` or `after` (400 `invalid_stage`).
    #[error("stage must be `before` or `after`, got {0:?}")]
    BadStage(String),
    /// The declared type is missing or not an accepted image type, or the bytes are no image
    /// (415 `unsupported_media_type`).
    #[error("{0}; send the raw image as image/jpeg, image/png or image/webp")]
    Unsupported(String),
    /// The bytes are another image type than declared (415 `content_type_mismatch`).
    #[error("the body is {} but Content-Type says {}", .body.mime(), .declared.mime())]
    Mismatch {
        /// What the bytes are.
        body: ImageType,
        /// What the request said.
        declared: ImageType,
    },
    /// Larger than allowed (413 `photo_too_large`).
    #[error("a photo may be at most {max} bytes (WANGGE_PHOTO_MAX_BYTES); send a smaller JPEG")]
    TooLarge {
        /// The limit, bytes.
        max: usize,
    },
    /// The body broke off (400 `body_read_failed`).
    #[error("reading the photo failed: {0}")]
    BodyRead(String),
    /// The stage has the most photos allowed (409 `too_many_photos`).
    #[error("this case has {max} {} photos already, the most allowed", .stage.as_str())]
    TooMany {
        /// The limit.
        max: u32,
        /// The stage.
        stage: PhotoStage,
    },
    /// The report is closed; citizens add no more photos (409 `case_closed`).
    #[error("{0}")]
    CaseClosed(String),
    /// The photo folder failed (500, logged).
    #[error("{0}")]
    Storage(String),
}

/// Parses the `stage` of an upload; `default` when none is given (a citizen's upload is a
/// before-photo unless it says otherwise). The service reports a bad stage in its place in the
/// order of checks.
pub fn parse_stage(
    text: Option<&str>,
    default: Option<PhotoStage>,
) -> Result<PhotoStage, PhotoError> {
    match text {
        Some(s) => PhotoStage::parse(s),
        None => default,
    }
    .ok_or_else(|| PhotoError::BadStage(text.unwrap_or("").to_owned()))
}

/// An upload as it arrives: the declared `Content-Type`, the announced length and the body.
#[derive(Debug)]
pub struct PhotoUpload<'a, S> {
    /// The `Content-Type` header, when sent.
    pub declared: Option<&'a str>,
    /// The `Content-Length` header, when sent and a number.
    pub announced: Option<u64>,
    /// The body, chunk by chunk.
    pub body: S,
}

/// What an accepted upload did.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoAdded {
    /// False when this photo was attached to this case at this stage already (a retry).
    pub created: bool,
    /// The photo.
    pub photo: CasePhoto,
}

impl CaseService {
    /// Adds a photo to case `id`. Every check of the request happens before the file is
    /// written; when the store then refuses (racing uploads past the per-stage limit), the file
    /// this upload wrote is removed again unless another case shows the same photo.
    pub async fn add_photo<S, B, E>(
        &self,
        id: i64,
        adder: PhotoAdder<'_>,
        stage: Result<PhotoStage, PhotoError>,
        upload: PhotoUpload<'_, S>,
        audit: &Audit,
    ) -> Result<PhotoAdded, CaseError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let (case, added_by) = match adder {
            PhotoAdder::Staff(who) => (self.get(id).await?, Some(who.user_id)),
            PhotoAdder::Citizen { token } => (self.reported_by_citizen(id, token).await?, None),
        };
        let stage = stage?;
        match adder {
            PhotoAdder::Staff(who) => photo::may_add(
                who,
                &PhotoTarget {
                    grid_code: case.grid_code.as_deref(),
                    unit_code: case.unit_code.as_deref(),
                    status: case.status,
                    reported_by: case.reported_by,
                },
                stage,
            )?,
            PhotoAdder::Citizen { .. } => {
                photo::citizen_may_add(case.status, stage).map_err(|e| match e {
                    CitizenPhotoError::StageNotAllowed => {
                        CaseError::Forbidden(ScopeError::OutOfScope(e.to_string()))
                    }
                    _ => PhotoError::CaseClosed(e.to_string()).into(),
                })?
            }
        }
        let (declared, bytes) = self.read_photo(upload).await?;
        self.store_photo(&case, stage, declared, bytes, added_by, audit)
            .await
    }

    /// Checks the declared type and the size, reads the body with a running count (a chunked
    /// body without `Content-Length` is cut off at the limit instead of buffered whole) and
    /// checks its magic bytes against the declared type.
    async fn read_photo<S, B, E>(
        &self,
        upload: PhotoUpload<'_, S>,
    ) -> Result<(ImageType, Vec<u8>), PhotoError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let max = self.photo_limits.max_bytes;
        let declared = upload
            .declared
            .ok_or_else(|| PhotoError::Unsupported("the Content-Type header is missing".into()))?;
        let declared = ImageType::from_mime(declared).ok_or_else(|| {
            PhotoError::Unsupported(format!("Content-Type {declared:?} is not accepted"))
        })?;
        if upload.announced.is_some_and(|n| n > max as u64) {
            return Err(PhotoError::TooLarge { max });
        }
        let mut bytes = Vec::with_capacity(upload.announced.map_or(64 * 1024, |n| n as usize));
        let mut body = upload.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| PhotoError::BodyRead(e.to_string()))?;
            let chunk = chunk.as_ref();
            if bytes.len() + chunk.len() > max {
                return Err(PhotoError::TooLarge { max });
            }
            bytes.extend_from_slice(chunk);
        }
        let sniffed = ImageType::sniff(&bytes).ok_or_else(|| {
            PhotoError::Unsupported("the body is not a JPEG, PNG or WebP image".into())
        })?;
        if sniffed != declared {
            return Err(PhotoError::Mismatch {
                body: sniffed,
                declared,
            });
        }
        Ok((sniffed, bytes))
    }

    /// Checks the per-stage limit, writes the file durably, then the row.
    async fn store_photo(
        &self,
        case: &Case,
        stage: PhotoStage,
        kind: ImageType,
        bytes: Vec<u8>,
        added_by: Option<i64>,
        audit: &Audit,
    ) -> Result<PhotoAdded, CaseError> {
        let max_per_stage = self.photo_limits.max_per_stage;
        let hash = crate::photos::PhotoFiles::hash(&bytes);
        let existing = self.store.case_photos(case.id).await?;
        let attached = existing
            .iter()
            .any(|p| p.stage == stage && p.sha256 == hash.to_hex());
        let of_stage = existing.iter().filter(|p| p.stage == stage).count();
        if !attached && of_stage >= max_per_stage as usize {
            return Err(PhotoError::TooMany {
                max: max_per_stage,
                stage,
            }
            .into());
        }
        let size = bytes.len();
        let files = self.photos.clone();
        // One upload of these bytes at a time in this process: a refused upload below removes
        // the file it wrote, which must not pull it from under a concurrent upload of the same
        // photo.
        let _turn = self.photos.turn(hash).await;
        let (stored, bytes) = self
            .blocking(move || files.put(&bytes).map(|s| (s, bytes)), hash)
            .await?;
        let outcome = self
            .store
            .add_case_photo(
                &NewCasePhoto {
                    case_id: case.id,
                    hash: stored.hash,
                    content_type: kind.mime().to_owned(),
                    bytes: i64::try_from(size).unwrap_or(i64::MAX),
                    stage,
                    added_by,
                    max_per_stage,
                },
                &audit.stamped(self.clock.now()),
            )
            .await;
        let refused = !matches!(
            outcome,
            Ok(AddPhotoOutcome::Added(_) | AddPhotoOutcome::AlreadyThere(_))
        );
        if refused && stored.written {
            self.forget_unreferenced(hash).await;
        } else if !refused && !stored.written {
            // The file was there already. Another replica sharing the folder may have removed it
            // since for a refused upload of its own; the row is committed now, so put it back.
            let files = self.photos.clone();
            self.blocking(move || files.put(&bytes), hash).await?;
        }
        match outcome? {
            AddPhotoOutcome::Added(photo) => Ok(PhotoAdded {
                created: true,
                photo,
            }),
            AddPhotoOutcome::AlreadyThere(photo) => Ok(PhotoAdded {
                created: false,
                photo,
            }),
            AddPhotoOutcome::TooMany { max } => Err(PhotoError::TooMany { max, stage }.into()),
        }
    }

    /// Runs file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
        hash: PhotoHash,
    ) -> Result<T, PhotoError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| PhotoError::Storage(e.to_string()))?
            .map_err(|e| PhotoError::Storage(format!("storing photo {hash}: {e}")))
    }

    /// Removes the file a refused upload wrote, unless a row refers to its hash (the same photo
    /// on another case: files are shared by content). When the store cannot tell, the file
    /// stays: an orphan file is harmless, a missing one is a lost photo.
    async fn forget_unreferenced(&self, hash: PhotoHash) {
        match self.store.photo_content_type(hash).await {
            Ok(None) => {
                let files = self.photos.clone();
                let removed = tokio::task::spawn_blocking(move || files.remove(hash)).await;
                if !matches!(removed, Ok(Ok(()))) {
                    tracing::warn!(%hash, "could not remove the file of a refused photo upload");
                }
            }
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::warn!(%hash, error = %e, "refused photo upload: its file is kept, the store could not say whether it is used");
            }
        }
    }

    /// The type of a stored photo; None when no case shows it.
    pub async fn photo_type(&self, hash: PhotoHash) -> Result<Option<String>, CaseError> {
        Ok(self.store.photo_content_type(hash).await?)
    }

    /// The bytes of a photo that has a row.
    pub async fn photo_bytes(&self, hash: PhotoHash) -> Result<Vec<u8>, CaseError> {
        let files = self.photos.clone();
        let bytes = tokio::task::spawn_blocking(move || files.read(hash))
            .await
            .map_err(|e| PhotoError::Storage(e.to_string()))?
            .map_err(|e| PhotoError::Storage(format!("reading photo {hash}: {e}")))?;
        bytes.ok_or_else(|| {
            PhotoError::Storage(format!(
                "photo {hash} is in the database but not in the photo folder"
            ))
            .into()
        })
    }
}
