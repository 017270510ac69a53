//! Everything that depends on the operating system, behind one interface:
//! opening files without blocking or following links, what a file is and who
//! may change it, the cache directory's handle and the files in it, the
//! process's user, core dumps, child processes in a group of their own, and
//! `exec`'s replacing of this process by the user's program.
//!
//! One module per OS family implements it: [`unix`] (Linux, macOS, the BSDs;
//! through `rustix`) and [`windows`] (through std and, for the owner check and
//! the job object, `windows-sys`). The rest of the crate has no `cfg`: it calls
//! the functions re-exported here, whose names and signatures both modules
//! share. What differs by OS but is pure (where the config may live, paths
//! for Git for Windows' shell and for messages) is in [`places`], tested for
//! every OS on any OS.

mod places;

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

pub use places::{ConfigDir, Platform, config_dirs};
pub(crate) use places::{path_for_git_shell, path_for_people};

/// This build's platform, for [`config_dirs`], [`path_for_git_shell`] and [`shown`].
#[cfg(target_os = "macos")]
pub const PLATFORM: Platform = Platform::MacOs;
#[cfg(windows)]
pub const PLATFORM: Platform = Platform::Windows;
#[cfg(not(any(target_os = "macos", windows)))]
pub const PLATFORM: Platform = Platform::Unix;

#[cfg(unix)]
pub(crate) use unix::{
    Dir, Group, create_private_dir, exec_replace, file_kind, is_executable, mode_of, open_read, owner_of,
};
#[cfg(unix)]
pub use unix::{current_user, no_core_dumps};
#[cfg(windows)]
pub(crate) use windows::{
    Dir, Group, create_private_dir, exec_replace, file_kind, is_executable, mode_of, open_read, owner_of,
};
#[cfg(windows)]
pub use windows::{current_user, no_core_dumps};

use std::io;
use std::path::Path;

/// A path in a message, as this OS's users write it ([`path_for_people`]:
/// `C:\keys\app.pem` on Windows). Every path the crate prints goes through
/// here (clippy.toml forbids `Path::display`).
pub(crate) fn shown(path: &Path) -> String {
    path_for_people(PLATFORM, path)
}

/// Why a private directory cannot be used.
#[derive(Debug)]
pub(crate) enum DirRefusal {
    Io(io::Error),
    /// A symlink (a reparse point on Windows), or not a directory.
    NotADirectory,
    /// Owned by another user (`uid`; Unix only: Windows reports an `Io` refusal
    /// naming the owner check, as it has no uid).
    #[cfg_attr(windows, allow(dead_code))]
    Owner {
        uid: u32,
    },
    /// Group or others may write to it (`mode`; Unix only).
    #[cfg_attr(windows, allow(dead_code))]
    Writable {
        mode: u32,
    },
}

/// How a file in a [`Dir`] is opened. Never through a symlink (or reparse
/// point), never blocking on a FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// Read an existing file.
    Read,
    /// Read and write, created (owner-only) when missing: a lock file.
    Lock,
    /// Write a file that must not exist yet (`O_EXCL` / `CREATE_NEW`), owner-only.
    CreateNew,
}

/// The error for a symlink (or reparse point) where a file was expected.
pub(crate) fn symlink_refused() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "it is a symlink")
}
