//! Windows.

use std::io;
use std::process::Command;

/// Windows cannot replace a process: runs `cmd`, waits for it and exits with
/// its exit status; returns only the error when it cannot start.
pub(crate) fn exec_replace(cmd: &mut Command) -> io::Error {
    match cmd.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}
