//! Opening files another user could have prepared: the config, a key, a CA
//! bundle, and the cache's entries, locks and temp files.
//!
//! Every open is non-blocking (a FIFO or device never hangs the helper) and
//! every check is made on the file that was opened (`fstat`), not on the path,
//! so nothing can be swapped in between. Reads are capped, so `/dev/zero` or a
//! huge file cannot eat memory. The OS calls std lacks (`O_NOFOLLOW`,
//! `O_NONBLOCK`, `openat`, `renameat`) come from `rustix` (docs/design.md).

use rustix::fs::{Mode, OFlags};
use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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
        let path = self.path.display();
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

/// What a file is, in words, when it is not a regular file.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    match () {
        () if t.is_file() => None,
        () if t.is_dir() => Some("a directory"),
        () if t.is_fifo() => Some("a FIFO"),
        () if t.is_socket() => Some("a socket"),
        () if t.is_char_device() || t.is_block_device() => Some("a device"),
        () if t.is_symlink() => Some("a symlink"),
        () => Some("not a file"),
    }
}

/// Opens `path` for reading without blocking (following symlinks: a config
/// or CA bundle may be one) and checks that it is a regular file of at most
/// `max` bytes.
pub(crate) fn open_regular(path: &Path, max: u64) -> Result<(File, Metadata), FileError> {
    let err = |refusal| FileError { path: path.to_path_buf(), refusal };
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| err(Refusal::Io(e.into())))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| err(Refusal::Io(e)))?;
    if let Some(kind) = not_regular(&meta) {
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
/// neither `uid` nor root (when `uid` is known).
pub(crate) fn check_trusted_owner(path: &Path, meta: &Metadata, uid: Option<u32>) -> Result<(), FileError> {
    let err = |refusal| FileError { path: path.to_path_buf(), refusal };
    if let Some(uid) = uid
        && meta.uid() != uid
        && meta.uid() != 0
    {
        return Err(err(Refusal::Owner { uid: meta.uid() }));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(err(Refusal::Writable { mode: mode & 0o777 }));
    }
    Ok(())
}

/// A directory opened once and checked; files in it are opened relative to
/// it, so the checked directory is the one used even if its path is swapped.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    fd: OwnedFd,
    /// The uid that must own every file in it; `None` where it cannot be known.
    owner: Option<u32>,
}

/// Why a private directory cannot be used.
#[derive(Debug)]
pub(crate) enum DirRefusal {
    Io(io::Error),
    /// A symlink, or not a directory.
    NotADirectory,
    Owner {
        uid: u32,
    },
    Writable {
        mode: u32,
    },
}

/// The open flags for a file in a private directory: never through a
/// symlink, never blocking on a FIFO.
const IN_DIR: OFlags = OFlags::NOFOLLOW.union(OFlags::NONBLOCK).union(OFlags::CLOEXEC).union(OFlags::NOCTTY);

impl PrivateDir {
    /// Opens `path` (not through a symlink) and checks it belongs to `owner`
    /// and no one else may write to it.
    pub(crate) fn open(path: &Path, owner: Option<u32>) -> Result<PrivateDir, DirRefusal> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                return Err(DirRefusal::NotADirectory);
            }
            Err(e) => return Err(DirRefusal::Io(e.into())),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| DirRefusal::Io(e.into()))?;
        if let Some(owner) = owner
            && stat.st_uid != owner
        {
            return Err(DirRefusal::Owner { uid: stat.st_uid });
        }
        let mode = stat.st_mode & 0o777;
        if mode & 0o022 != 0 {
            return Err(DirRefusal::Writable { mode });
        }
        Ok(PrivateDir { fd, owner })
    }

    /// Takes read and search rights on the directory from group and others
    /// (it holds nothing they need). Write rights are refused, never fixed.
    pub(crate) fn make_private(&self) -> io::Result<()> {
        let stat = rustix::fs::fstat(&self.fd)?;
        if stat.st_mode & 0o077 != 0 {
            rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(0o700))?;
        }
        Ok(())
    }

    /// Checks that an opened file is a regular file of the owner that no one
    /// else may write to.
    fn check_file(&self, file: &File) -> io::Result<Metadata> {
        let meta = file.metadata()?;
        let refuse = |what: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, what));
        if let Some(kind) = not_regular(&meta) {
            return refuse(format!("it is {kind}, not a regular file"));
        }
        if let Some(owner) = self.owner
            && meta.uid() != owner
        {
            return refuse(format!("it belongs to uid {}", meta.uid()));
        }
        if meta.mode() & 0o022 != 0 {
            return refuse(format!("other users may write to it (mode {:03o})", meta.mode() & 0o777));
        }
        Ok(meta)
    }

    /// The contents of `name`, if it is a regular file of ours, private, and
    /// at most `max` bytes.
    pub(crate) fn read(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        let fd = rustix::fs::openat(&self.fd, name, OFlags::RDONLY | IN_DIR, Mode::empty()).ok()?;
        let file = File::from(fd);
        let meta = self.check_file(&file).ok()?;
        if meta.len() > max {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(max + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= max).then_some(bytes)
    }

    /// Opens (creating, 0600) `name` for locking: a symlink, FIFO or
    /// directory there is an error at once, never a wait.
    pub(crate) fn open_lock(&self, name: &str) -> io::Result<File> {
        // Read-write: a FIFO opens at once (and is then refused as one) where
        // write-only would fail with a puzzling "no such device or address".
        let flags = OFlags::RDWR | OFlags::CREATE | IN_DIR;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, "it is a symlink"));
            }
            Err(e) => return Err(e.into()),
        };
        let file = File::from(fd);
        self.check_file(&file)?;
        Ok(file)
    }

    /// Writes `bytes` to a new file with an unpredictable name (created with
    /// `O_EXCL`, mode 0600) and renames it over `name`.
    pub(crate) fn replace(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let tmp = format!(".{name}.tmp.{}", random_hex()?);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | IN_DIR;
        let fd = rustix::fs::openat(&self.fd, &tmp, flags, Mode::from_raw_mode(0o600))?;
        let mut file = File::from(fd);
        let written = file
            .write_all(bytes)
            .and_then(|()| rustix::fs::renameat(&self.fd, &tmp, &self.fd, name).map_err(Into::into));
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, &tmp, rustix::fs::AtFlags::empty());
        }
        written
    }

    /// Deletes `name`; `Ok(false)` when it was not there.
    pub(crate) fn remove(&self, name: &str) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names in the directory.
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(dir) = rustix::fs::Dir::read_from(self.fd.as_fd()) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().ok().map(str::to_string))
            .filter(|name| name != "." && name != "..")
            .collect()
    }
}

/// 16 random hex digits, for a temp file name no one can guess in advance.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| io::Error::other("no random numbers from the system"))?;
    Ok(crate::hex::encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use std::os::unix::fs::PermissionsExt;

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(rustix::fs::CWD, path, rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o600), 0)
            .unwrap();
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
    fn temp_names_are_not_guessable() {
        assert_ne!(random_hex().unwrap(), random_hex().unwrap());
        assert_eq!(random_hex().unwrap().len(), 16);
    }
}
