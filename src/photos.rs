//! Photo files: a content-addressed folder, `<dir>/<aa>/<bb>/<sha256hex>`, written so that an
//! acknowledged photo survives a crash and a half-written file is never visible.
//!
//! No HTTP and no SQL here. The only key that reaches the file system is a parsed
//! [`PhotoHash`], never client text.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::domain::photo::PhotoHash;

/// Where photos live and how large and how many they may be.
#[derive(Debug, Clone)]
pub struct PhotoConfig {
    /// The folder of the photo files.
    pub dir: PathBuf,
    /// Largest accepted photo, bytes.
    pub max_bytes: usize,
    /// Most photos per case and stage (before / after).
    pub max_per_stage: u32,
}

impl Default for PhotoConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data/photos"),
            max_bytes: 8 * 1024 * 1024,
            max_per_stage: 6,
        }
    }
}

impl PhotoConfig {
    /// The default folder for a database URL: `photos/` next to a SQLite file, else
    /// `data/photos` under the working directory.
    pub fn default_dir(database_url: &str) -> PathBuf {
        let sqlite_file = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .map(|rest| rest.split('?').next().unwrap_or_default())
            .filter(|p| !p.is_empty() && *p != ":memory:");
        match sqlite_file.map(Path::new).and_then(Path::parent) {
            Some(parent) if !parent.as_os_str().is_empty() => parent.join("photos"),
            Some(_) => PathBuf::from("photos"),
            None => PathBuf::from("data/photos"),
        }
    }
}

/// The file in the photo folder that names the installation the folder belongs to.
pub const FOLDER_MARK: &str = ".wangge-photo-folder";

/// Refuses to start when the photo folder is not the one this database's photos are kept in:
/// replicas on several machines must share one folder (NFS, CephFS…), see `docs/scaling.md`.
///
/// The first process to start on a database writes a random mark into its folder and the same
/// mark into the store; every later process must find that mark in its own folder. A replica on
/// a local folder of another machine finds none and stops, before it stores a photo the other
/// replicas cannot serve. SQLite is served by one process, so there is nothing to check.
pub async fn check_shared_folder(
    store: &crate::store::Store,
    config: &PhotoConfig,
) -> anyhow::Result<()> {
    use anyhow::Context;
    if store.backend_name() != "postgres" {
        return Ok(());
    }
    let path = config.dir.join(FOLDER_MARK);
    let found = match fs::read_to_string(&path) {
        Ok(text) => Some(text.trim().to_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let candidate = found.clone().unwrap_or_else(|| {
        let mut fresh = [0u8; 16];
        rand::fill(&mut fresh);
        hex::encode(fresh)
    });
    let stored = store
        .claim_service_value("photo_folder_mark", &candidate)
        .await
        .context("reading the photo folder's mark from the store")?;
    match found {
        Some(mark) if mark == stored => Ok(()),
        Some(mark) => anyhow::bail!(
            "照片目录 {} 属于另一套数据库(标记 {mark}),本库的标记是 {stored}。 The photo folder {} belongs to another database (mark {mark}; this database's is {stored}): give every replica the same shared folder with --photo-dir (docs/scaling.md)",
            config.dir.display(),
            config.dir.display()
        ),
        None if stored == candidate => {
            fs::create_dir_all(&config.dir)
                .with_context(|| format!("creating {}", config.dir.display()))?;
            fs::write(&path, format!("{stored}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(())
        }
        None => anyhow::bail!(
            "照片目录 {} 不是其他副本共用的目录(缺少标记文件 {FOLDER_MARK})。 The photo folder {} is not the one the other replicas of this database use (it has no {FOLDER_MARK} with the mark {stored}): with several replicas every one must use one shared folder (NFS, CephFS…), see docs/scaling.md. If this is that folder restored from a backup, write the mark back: echo {stored} > {}",
            config.dir.display(),
            config.dir.display(),
            path.display()
        ),
    }
}

/// The photo folder.
#[derive(Debug, Clone)]
pub struct PhotoFiles {
    root: PathBuf,
    /// Uploads of one hash take turns in this process (striped by hash), so that removing the
    /// file of a refused upload never races another upload of the same bytes.
    turns: std::sync::Arc<[tokio::sync::Mutex<()>]>,
}

/// Lock stripes of [`PhotoFiles::turn`].
const STRIPES: usize = 64;

/// What [`PhotoFiles::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The photo's hash.
    pub hash: PhotoHash,
    /// False when the same bytes were stored already (deduplicated).
    pub written: bool,
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl PhotoFiles {
    /// A photo folder at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            turns: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Waits for this process's turn with `hash`: hold it from [`PhotoFiles::put`] until the
    /// database answered, and through [`PhotoFiles::remove`] when it refused.
    pub async fn turn(&self, hash: PhotoHash) -> tokio::sync::MutexGuard<'_, ()> {
        let hex = hash.to_hex();
        let stripe = usize::from_str_radix(&hex[..2], 16).unwrap_or_default();
        self.turns[stripe % STRIPES].lock().await
    }

    /// Removes the file of a photo (no row refers to it: a refused upload); the folder is
    /// fsynced so the removal is durable. Missing already is fine. Blocking.
    pub fn remove(&self, hash: PhotoHash) -> io::Result<()> {
        let path = self.path(hash);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().unwrap_or(&self.root)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SHA-256 of `bytes`.
    pub fn hash(bytes: &[u8]) -> PhotoHash {
        PhotoHash::from_digest(Sha256::digest(bytes).into())
    }

    /// Where the photo with `hash` lives: two levels of fan-out keep folders small.
    pub fn path(&self, hash: PhotoHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[0..2]).join(&hex[2..4]).join(&hex)
    }

    /// Stores `bytes` under their hash, unless present. Blocking: call from `spawn_blocking`.
    ///
    /// The bytes go to a temp file in the target folder, are fsynced, renamed into place (atomic
    /// on POSIX within one file system), and the folder is fsynced so the rename itself is
    /// durable. A crash at any point leaves either no file or the whole file under its name; a
    /// crash before the rename may leave a `.tmp-` file, which is never served.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Stored> {
        let hash = Self::hash(bytes);
        let path = self.path(hash);
        if path.is_file() {
            return Ok(Stored {
                hash,
                written: false,
            });
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        let created = create_dirs_durably(&self.root, &dir)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}-{}",
            hash.to_hex(),
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = File::options().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &path)?;
            sync_dir(&dir)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // New fan-out folders must be durable in their parents too.
        for d in created {
            if let Some(parent) = d.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(Stored {
            hash,
            written: true,
        })
    }

    /// The bytes of a stored photo, or None. Blocking.
    pub fn read(&self, hash: PhotoHash) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(hash)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Creates `dir` and its missing parents up to `root`; answers the folders it created.
fn create_dirs_durably(root: &Path, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.is_dir() {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) if d != root => d = p,
            _ => break,
        }
    }
    fs::create_dir_all(dir)?;
    missing.reverse();
    Ok(missing)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a folder as a file; NTFS journals the rename itself.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_folder_sits_next_to_the_sqlite_file() {
        assert_eq!(
            PhotoConfig::default_dir("sqlite://data/wangge.db"),
            PathBuf::from("data/photos")
        );
        assert_eq!(
            PhotoConfig::default_dir("sqlite:///var/lib/wangge/w.db?mode=rwc"),
            PathBuf::from("/var/lib/wangge/photos")
        );
        assert_eq!(
            PhotoConfig::default_dir("sqlite://w.db"),
            PathBuf::from("photos")
        );
        assert_eq!(
            PhotoConfig::default_dir("postgres://u@h/db"),
            PathBuf::from("data/photos")
        );
    }

    #[test]
    fn a_photo_is_stored_once_under_its_hash_and_no_temp_file_remains() {
        let dir = std::env::temp_dir().join(format!("wangge-photos-{}", std::process::id()));
        let files = PhotoFiles::new(&dir);
        let a = files.put(b"\xFF\xD8\xFFjpeg").unwrap();
        let b = files.put(b"\xFF\xD8\xFFjpeg").unwrap();
        assert!(a.written && !b.written);
        assert_eq!(a.hash, b.hash);
        let path = files.path(a.hash);
        let hex = a.hash.to_hex();
        assert!(path.ends_with(format!("{}/{}/{hex}", &hex[..2], &hex[2..4])));
        assert_eq!(files.read(a.hash).unwrap().unwrap(), b"\xFF\xD8\xFFjpeg");
        let leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
        fs::remove_dir_all(dir).unwrap();
    }
}
