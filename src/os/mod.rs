//! What differs between operating systems, behind one interface: each
//! family's module has the same functions, and the rest of the code calls
//! them here without any `cfg`.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
