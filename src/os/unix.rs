//! The Unix side of [`crate::os`] (Linux, macOS, the BSDs), through `rustix`:
//! `O_NOFOLLOW`/`O_NONBLOCK` opens, `fstat`, `openat`/`renameat`/`unlinkat`
//! relative to a checked directory, modes and owners, `geteuid`,
//! `RLIMIT_CORE`, process groups.
//!
//! Where macOS differs from Linux it says so next to the call. In general:
//! macOS has no `/proc` (nothing here reads it), its `mode_t` is `u16`
//! (modes are widened to `u32` through `Mode`/`MetadataExt`, never cast from
//! `st_mode`), and it gives `O_NOFOLLOW` on a directory symlink `ELOOP` like
//! Linux (the BSDs may give `ENOTDIR`; both are refused).

use super::{DirRefusal, Open, symlink_refused};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Resource, Rlimit, Signal, WaitId, WaitIdOptions};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

/// Opens `path` for reading without blocking (a FIFO never hangs the helper),
/// following symlinks: a config, key or CA bundle may be one.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

/// What a file is, in words, when it is not a regular file.
pub(crate) fn file_kind(meta: &Metadata) -> Option<&'static str> {
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

/// The permission bits (`0o7777`).
pub(crate) fn mode_of(meta: &Metadata) -> Option<u32> {
    // `MetadataExt::mode` is `u32` everywhere (`st_mode` is `u16` on macOS).
    Some(meta.mode() & 0o7777)
}

/// The owner's uid.
pub(crate) fn owner_of(meta: &Metadata) -> Option<u32> {
    Some(meta.uid())
}

/// A regular file (after symlinks) that someone may execute.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// This process's effective uid, the owner the cache and config must have.
pub fn current_user() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

/// No core file: the whole run may hold a private key, a JWT or a token in
/// memory, and a core file would write them to disk (docs/security.md).
pub fn no_core_dumps() {
    let maximum = rustix::process::getrlimit(Resource::Core).maximum;
    let _ = rustix::process::setrlimit(Resource::Core, Rlimit { current: Some(0), maximum });
}

/// Creates `path` (one level) with mode 0700; an existing one is fine.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// A directory opened once (not through a symlink) and checked; files in it
/// are opened relative to it (`openat`), so the checked directory is the one
/// used even if its path is swapped.
#[derive(Debug)]
pub(crate) struct Dir {
    /// The directory's descriptor, as a `File` for std's `u32` mode accessors.
    dir: File,
}

/// The flags for every file in a [`Dir`]: never through a symlink, never
/// blocking on a FIFO.
const IN_DIR: OFlags = OFlags::NOFOLLOW.union(OFlags::NONBLOCK).union(OFlags::CLOEXEC).union(OFlags::NOCTTY);

impl Dir {
    /// Opens `path` and checks that it belongs to `owner` (when known) and
    /// that group and others cannot write to it.
    pub(crate) fn open(path: &Path, owner: Option<u32>) -> Result<Dir, DirRefusal> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            // Linux and macOS answer a symlink with ELOOP under O_NOFOLLOW|O_DIRECTORY;
            // some BSDs answer ENOTDIR. Either way it is refused, not followed.
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                return Err(DirRefusal::NotADirectory);
            }
            Err(e) => return Err(DirRefusal::Io(e.into())),
        };
        let dir = File::from(fd);
        // std's `MetadataExt::mode` is `u32` on every Unix; `st_mode` itself is
        // `u16` on macOS and `u32` on Linux, so it is never read raw here.
        let meta = dir.metadata().map_err(DirRefusal::Io)?;
        if let Some(owner) = owner
            && meta.uid() != owner
        {
            return Err(DirRefusal::Owner { uid: meta.uid() });
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(DirRefusal::Writable { mode });
        }
        Ok(Dir { dir })
    }

    /// Takes read and search rights on the directory from group and others.
    pub(crate) fn make_private(&self) -> io::Result<()> {
        if self.dir.metadata()?.mode() & 0o077 != 0 {
            rustix::fs::fchmod(&self.dir, Mode::from_raw_mode(0o700))?;
        }
        Ok(())
    }

    /// Opens `name` in the directory; a symlink there is refused
    /// ([`symlink_refused`]), a FIFO opens at once (and is refused by the caller's checks).
    pub(crate) fn open_file(&self, name: &str, how: Open) -> io::Result<File> {
        let flags = match how {
            Open::Read => OFlags::RDONLY,
            // Read-write: a FIFO opens at once where write-only would fail with a
            // puzzling "no such device or address".
            Open::Lock => OFlags::RDWR | OFlags::CREATE,
            Open::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
        };
        match rustix::fs::openat(&self.dir, name, flags | IN_DIR, Mode::from_raw_mode(0o600)) {
            Ok(fd) => Ok(File::from(fd)),
            // O_NOFOLLOW on a symlink: ELOOP on Linux and macOS (FreeBSD: EMLINK).
            Err(rustix::io::Errno::LOOP) => Err(symlink_refused()),
            Err(e) => Err(e.into()),
        }
    }

    /// Renames `from` over `to`, both in the directory (`renameat`), atomically.
    pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(&self.dir, from, &self.dir, to)?)
    }

    /// Deletes `name`; `Ok(false)` when it was not there.
    pub(crate) fn remove(&self, name: &str) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.dir, name, rustix::fs::AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names in the directory (UTF-8 ones; ours all are).
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(dir) = rustix::fs::Dir::read_from(self.dir.as_fd()) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().ok().map(str::to_string))
            .filter(|name| name != "." && name != "..")
            .collect()
    }
}

/// Replaces this process with `cmd` (`execvp`), so its signals, terminal and
/// exit status are its own; returns only the error when it cannot start.
/// (Not in a group of its own: `exec` runs the user's program in the foreground.)
pub(crate) fn exec_replace(cmd: &mut Command) -> io::Error {
    cmd.exec()
}

/// A child and everything it starts, as one process group whose id is the
/// child's pid. The child is not reaped before the group is ended (see
/// [`Group::child_exited`]), so that id cannot name another group by then.
#[derive(Debug)]
pub(crate) struct Group {
    pid: Option<Pid>,
}

impl Group {
    /// Makes `command`'s child the leader of a new process group.
    pub(crate) fn prepare(command: &mut Command) {
        command.process_group(0);
    }

    /// The group of `child` (started from a prepared command). Never fails
    /// here (the Windows side may).
    pub(crate) fn of(child: &Child) -> io::Result<Group> {
        Ok(Group { pid: i32::try_from(child.id()).ok().and_then(Pid::from_raw) })
    }

    /// Whether the child has exited, without reaping it: while it is a zombie
    /// its pid, the group's id, cannot be reused. (`waitid` with `WNOWAIT`;
    /// macOS has it too.)
    pub(crate) fn child_exited(&self, child: &mut Child) -> io::Result<bool> {
        let Some(pid) = self.pid else {
            return child.try_wait().map(|status| status.is_some());
        };
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        Ok(rustix::process::waitid(WaitId::Pid(pid), options)?.is_some())
    }

    /// Kills every process still in the group (the child, if it has not
    /// exited, and whatever it left behind). Call before reaping the child.
    pub(crate) fn end(&self) {
        if let Some(pid) = self.pid {
            // ESRCH: the group is already empty.
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
    }
}
