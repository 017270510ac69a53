//! Opening files another user could have prepared: the config, a key, a CA
//! bundle, and the cache's entries, locks and temp files.
//!
//! Every open is non-blocking (a FIFO or device never hangs the helper) and
//! every check is made on the file that was opened (`fstat`), not on the path,
//! so nothing can be swapped in between. Reads are capped, so `/dev/zero` or a
//! huge file cannot eat memory. The OS calls themselves (`O_NOFOLLOW`,
//! `O_NONBLOCK`, `openat`, `renameat`; their Windows counterparts) are in
//! [`crate::os`]; the rules are here.

use crate::os::{self, Open};
use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub(crate) use crate::os::DirRefusal;

/// Why a file was not used.
#[derive(Debug)]
pub enum Refusal {
    Io(io::Error),
    /// A FIFO, directory, device or socket where a file was expected.
    NotRegular(&'static str),
    TooLarge {
        max: u64,
    },
    /// Group or others may write to it.
    Writable {
        mode: u32,
    },
    /// Owned by another user (`uid`).
    Owner {
        uid: u32,
    },
}

/// A refused file, for a message that names it.
#[derive(Debug)]
pub struct FileError {
    pub(crate) path: PathBuf,
    pub(crate) refusal: Refusal,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = os::shown(&self.path);
        match &self.refusal {
            Refusal::Io(e) => write!(f, "{path}: {e}"),
            Refusal::NotRegular(kind) => write!(f, "{path} is {kind}, not a regular file"),
            Refusal::TooLarge { max } => {
                write!(f, "{path} is larger than {}: is it the right file", size(*max))
            }
            Refusal::Writable { mode } => {
                write!(f, "{path} has mode {mode:03o} and other users could change it: run chmod go-w {path}")
            }
            Refusal::Owner { uid } => {
                write!(f, "{path} belongs to uid {uid}, not to this user or root: use a file of your own")
            }
        }
    }
}

impl std::error::Error for FileError {}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Opens `path` for reading without blocking (following symlinks: a config
/// or CA bundle may be one) and checks that it is a regular file of at most
/// `max` bytes.
pub(crate) fn open_regular(path: &Path, max: u64) -> Result<(File, Metadata), FileError> {
    let err = |refusal| FileError { path: path.to_path_buf(), refusal };
    let file = os::open_read(path).map_err(|e| err(Refusal::Io(e)))?;
    let meta = file.metadata().map_err(|e| err(Refusal::Io(e)))?;
    if let Some(kind) = os::file_kind(&meta) {
        return Err(err(Refusal::NotRegular(kind)));
    }
    if meta.len() > max {
        return Err(err(Refusal::TooLarge { max }));
    }
    Ok((file, meta))
}

/// Reads all of `file` (opened from `path`), refusing more than `max` bytes
/// (a file can grow after `fstat`).
pub(crate) fn read_capped(file: File, path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let err = |refusal| FileError { path: path.to_path_buf(), refusal };
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| err(Refusal::Io(e)))?;
    if bytes.len() as u64 > max {
        return Err(err(Refusal::TooLarge { max }));
    }
    Ok(bytes)
}

/// [`open_regular`] then [`read_capped`].
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let (file, _) = open_regular(path, max)?;
    read_capped(file, path, max)
}

/// Refuses a file that group or others may write to, or that belongs to
/// neither `uid` nor root (when `uid` is known). Windows has neither modes
/// nor uids ([`os::mode_of`], [`os::owner_of`]): nothing is refused there.
pub(crate) fn check_trusted_owner(path: &Path, meta: &Metadata, uid: Option<u32>) -> Result<(), FileError> {
    let err = |refusal| FileError { path: path.to_path_buf(), refusal };
    if let (Some(uid), Some(owner)) = (uid, os::owner_of(meta))
        && owner != uid
        && owner != 0
    {
        return Err(err(Refusal::Owner { uid: owner }));
    }
    if let Some(mode) = os::mode_of(meta)
        && mode & 0o022 != 0
    {
        return Err(err(Refusal::Writable { mode: mode & 0o777 }));
    }
    Ok(())
}

/// A directory opened once and checked; files in it are opened relative to
/// it, so the checked directory is the one used even if its path is swapped
/// (on Windows, by path under the checked directory: see `os/windows.rs`).
#[derive(Debug)]
pub(crate) struct PrivateDir {
    dir: os::Dir,
    /// The uid that must own every file in it; `None` where it cannot be known.
    owner: Option<u32>,
}

impl PrivateDir {
    /// Opens `path` (not through a symlink) and checks it belongs to `owner`
    /// and no one else may write to it.
    pub(crate) fn open(path: &Path, owner: Option<u32>) -> Result<PrivateDir, DirRefusal> {
        Ok(PrivateDir { dir: os::Dir::open(path, owner)?, owner })
    }

    /// Takes read and search rights on the directory from group and others
    /// (it holds nothing they need). Write rights are refused, never fixed.
    pub(crate) fn make_private(&self) -> io::Result<()> {
        self.dir.make_private()
    }

    /// Checks that an opened file is a regular file of the owner that no one
    /// else may write to.
    fn check_file(&self, file: &File) -> io::Result<Metadata> {
        let meta = file.metadata()?;
        let refuse = |what: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, what));
        if let Some(kind) = os::file_kind(&meta) {
            return refuse(format!("it is {kind}, not a regular file"));
        }
        if let (Some(owner), Some(uid)) = (self.owner, os::owner_of(&meta))
            && uid != owner
        {
            return refuse(format!("it belongs to uid {uid}"));
        }
        if let Some(mode) = os::mode_of(&meta)
            && mode & 0o022 != 0
        {
            return refuse(format!("other users may write to it (mode {:03o})", mode & 0o777));
        }
        Ok(meta)
    }

    /// The contents of `name`, if it is a regular file of ours, private, and
    /// at most `max` bytes.
    pub(crate) fn read(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        let file = self.dir.open_file(name, Open::Read).ok()?;
        let meta = self.check_file(&file).ok()?;
        if meta.len() > max {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(max + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= max).then_some(bytes)
    }

    /// Opens (creating, owner-only) `name` for locking: a symlink, FIFO or
    /// directory there is an error at once, never a wait.
    pub(crate) fn open_lock(&self, name: &str) -> io::Result<File> {
        let file = self.dir.open_file(name, Open::Lock)?;
        self.check_file(&file)?;
        Ok(file)
    }

    /// Writes `bytes` to a new file with an unpredictable name (created with
    /// `O_EXCL|O_NOFOLLOW` or `CREATE_NEW`, owner-only) and renames it over `name`.
    pub(crate) fn replace(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.replace_through(name, &temp_name(name)?, bytes)
    }

    /// [`PrivateDir::replace`] through the temp file `tmp`.
    fn replace_through(&self, name: &str, tmp: &str, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut file = self.dir.open_file(tmp, Open::CreateNew)?;
        let written = file.write_all(bytes).and_then(|()| {
            drop(file);
            self.dir.rename(tmp, name)
        });
        if written.is_err() {
            let _ = self.dir.remove(tmp);
        }
        written
    }

    /// Deletes `name`; `Ok(false)` when it was not there.
    pub(crate) fn remove(&self, name: &str) -> io::Result<bool> {
        self.dir.remove(name)
    }

    /// The names in the directory.
    pub(crate) fn names(&self) -> Vec<String> {
        self.dir.names()
    }
}

/// The suffix temp files take instead of a random one: set only by debug
/// builds' `main` (a test seam), so a test can plant a symlink at the exact
/// name and see it refused.
static TEMP_SUFFIX: Mutex<Option<String>> = Mutex::new(None);

/// Makes every temp file `.{name}.tmp.{suffix}` (tests only; see `main.rs`).
#[doc(hidden)]
pub fn fix_temp_suffix(suffix: String) {
    if let Ok(mut fixed) = TEMP_SUFFIX.lock() {
        *fixed = Some(suffix);
    }
}

/// The temp file for `name`: `.{name}.tmp.` and 16 random hex digits.
fn temp_name(name: &str) -> io::Result<String> {
    let fixed = TEMP_SUFFIX.lock().ok().and_then(|fixed| fixed.clone());
    let suffix = match fixed {
        Some(suffix) => suffix,
        None => random_hex()?,
    };
    Ok(format!(".{name}.tmp.{suffix}"))
}

/// 16 random hex digits, for a temp file name no one can guess in advance.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| io::Error::other("no random numbers from the system"))?;
    Ok(crate::hex::encode(&bytes))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// mkfifo(1): rustix has no `mknodat` on macOS.
    fn mkfifo(path: &Path) {
        assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
    }

    #[test]
    fn a_fifo_a_directory_and_a_device_are_refused_at_once() {
        let tmp = TempDir::new("kinds");
        mkfifo(&tmp.0.join("fifo"));
        let e = read_regular(&tmp.0.join("fifo"), 1024).unwrap_err();
        assert!(e.to_string().ends_with("is a FIFO, not a regular file"), "{e}");
        let e = read_regular(&tmp.0, 1024).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.to_string().contains("/dev/zero is a device"), "{e}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_and_names_the_cap() {
        let tmp = TempDir::new("cap");
        std::fs::write(tmp.0.join("big"), vec![b'x'; 2048]).unwrap();
        let e = read_regular(&tmp.0.join("big"), 1024).unwrap_err();
        assert!(e.to_string().contains("larger than 1 KiB"), "{e}");
        assert_eq!(read_regular(&tmp.0.join("big"), 4096).unwrap().len(), 2048);
    }

    #[test]
    fn a_file_others_can_write_or_of_another_owner_is_not_trusted() {
        let tmp = TempDir::new("owner");
        let path = tmp.0.join("config");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        let (_, meta) = open_regular(&path, 1024).unwrap();
        let e = check_trusted_owner(&path, &meta, None).unwrap_err();
        assert!(e.to_string().contains("mode 664") && e.to_string().contains("chmod go-w"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, meta) = open_regular(&path, 1024).unwrap();
        assert!(check_trusted_owner(&path, &meta, Some(meta.uid())).is_ok());
        if meta.uid() != 0 {
            assert!(check_trusted_owner(&path, &meta, Some(meta.uid() + 1)).is_err());
        } else {
            // Root's files are trusted by everyone; another owner is not.
            assert!(check_trusted_owner(&path, &meta, Some(4242)).is_ok());
        }
    }

    #[test]
    fn a_private_dir_reads_no_symlink_fifo_or_loose_file() {
        let tmp = TempDir::new("private");
        let dir = PrivateDir::open(&tmp.0, None).unwrap();
        dir.replace("entry", b"hello").unwrap();
        assert_eq!(dir.read("entry", 100).as_deref(), Some(&b"hello"[..]));
        assert_eq!(std::fs::metadata(tmp.0.join("entry")).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(tmp.0.join("target"), "secret").unwrap();
        std::os::unix::fs::symlink(tmp.0.join("target"), tmp.0.join("link")).unwrap();
        assert_eq!(dir.read("link", 100), None);
        mkfifo(&tmp.0.join("fifo"));
        assert_eq!(dir.read("fifo", 100), None);
        assert!(dir.open_lock("fifo").is_err());
        assert!(dir.open_lock("link").is_err());
        std::fs::write(tmp.0.join("loose"), "x").unwrap();
        std::fs::set_permissions(tmp.0.join("loose"), std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(dir.read("loose", 100), None);
        assert!(dir.open_lock("fresh.lock").is_ok());
        // No temp file is left behind.
        let mut names = dir.names();
        names.sort();
        assert_eq!(names, ["entry", "fifo", "fresh.lock", "link", "loose", "target"]);
    }

    #[test]
    fn a_loose_or_symlinked_directory_is_refused() {
        let tmp = TempDir::new("loose-dir");
        std::fs::create_dir(tmp.0.join("open")).unwrap();
        std::fs::set_permissions(tmp.0.join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            PrivateDir::open(&tmp.0.join("open"), None),
            Err(DirRefusal::Writable { mode: 0o777 })
        ));
        std::os::unix::fs::symlink(&tmp.0, tmp.0.join("link")).unwrap();
        assert!(matches!(PrivateDir::open(&tmp.0.join("link"), None), Err(DirRefusal::NotADirectory)));
    }

    #[test]
    fn a_symlink_at_the_temp_name_is_refused_and_one_at_the_entry_is_replaced_not_followed() {
        let tmp = TempDir::new("planted");
        let dir = PrivateDir::open(&tmp.0, None).unwrap();
        let victim = tmp.0.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.0.join(".entry.tmp.planted")).unwrap();
        std::os::unix::fs::symlink(&victim, tmp.0.join("entry")).unwrap();
        let e = dir.replace_through("entry", ".entry.tmp.planted", b"token").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        // The open failed before anything was made: the link is left as it was.
        assert!(
            std::fs::symlink_metadata(tmp.0.join(".entry.tmp.planted")).unwrap().file_type().is_symlink()
        );
        dir.replace_through("entry", ".entry.tmp.fresh", b"token").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(std::fs::symlink_metadata(tmp.0.join("entry")).unwrap().file_type().is_file());
        assert_eq!(dir.read("entry", 100).as_deref(), Some(&b"token"[..]));
    }

    #[test]
    fn temp_names_are_not_guessable() {
        assert_ne!(random_hex().unwrap(), random_hex().unwrap());
        assert_eq!(random_hex().unwrap().len(), 16);
    }
}
