//! Unix (Linux, macOS, the BSDs).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Replaces this process with `cmd` (`execvp`), so its signals, terminal and
/// exit status are its own; returns only the error when it cannot start.
pub(crate) fn exec_replace(cmd: &mut Command) -> io::Error {
    cmd.exec()
}
