//! Test support for the integration tests: a fake GitHub (Enterprise Server layout) over TLS on
//! loopback, a hermetic git environment, a tiny API client, and the fixture keys.
//!
//! - [`FakeGitHub`]: apps, installations, JWT verification, token minting, fault injection,
//!   request recording, and git smart HTTP through `git http-backend` with token checks.
//! - [`TestEnv`]: a temp HOME/XDG/global gitconfig and `git`/helper commands that see nothing
//!   of the machine's configuration; [`run`] with a kill-after-timeout guard.
//! - [`client`]: sign a JWT with a fixture key and call the fake API (used by the self-tests).
//! - [`world`]: one test's world built from those, with a config builder and the helpers
//!   `served`/`not_served`/`failed` every integration test uses.
//! - `self_tests`: the support's own tests, compiled into the integration test binary only.
//!
//! Nothing here sleeps to synchronise: the server answers as soon as state is set, and every
//! setter takes effect for the next request.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod echo_vault;
pub mod fake_github;
pub mod git_backend;
pub mod git_env;
pub mod http;
pub mod idp;
// Only in the test harness (the benchmark includes this module tree too).
#[cfg(test)]
mod infra_self_tests;
pub mod oidc;
pub mod openbao;
pub mod proxy;
pub mod release;
pub mod selfsigned;
pub mod socks;
pub mod tls;
pub mod world;

#[cfg(test)]
mod self_tests;

pub use fake_github::{DEFAULT_PERMISSIONS, FakeGitHub, Fault, GitAuth, IssuedToken, Options, Recorded};
pub use git_env::{RUN_TIMEOUT, RunOutput, TestEnv, as_the_helper_shows, run, run_with_stdin};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Panics if `text` holds what a PEM, a JWT or a token starts with, or panic text.
#[track_caller]
pub fn assert_no_secret_markers(text: &str) {
    for needle in ["BEGIN", "PRIVATE KEY", "eyJ", "ghs_", "panicked", "RUST_BACKTRACE"] {
        assert!(!text.contains(needle), "{needle:?} in:\n{text}");
    }
}

/// A TOML basic string (the temp paths used here are plain ASCII).
pub fn toml_string(s: &str) -> String {
    format!("{s:?}")
}

/// A path as a TOML basic string.
pub fn toml_path(p: &Path) -> String {
    toml_string(p.to_str().expect("temp paths are UTF-8"))
}

/// The helper's answer to `get`: checks it is exactly `username=x-access-token`,
/// `password=...`, `password_expiry_utc=...` (newline-terminated) and returns
/// the token and the expiry.
#[track_caller]
pub fn parse_credential(out: &RunOutput) -> (String, i64) {
    out.assert_success();
    let lines: Vec<&str> = out.stdout.split_terminator('\n').collect();
    assert_eq!(lines.len(), 3, "expected exactly three lines:\n{out}");
    assert!(out.stdout.ends_with('\n'), "{out}");
    assert_eq!(lines[0], "username=x-access-token", "{out}");
    let token = lines[1].strip_prefix("password=").unwrap_or_else(|| panic!("no password:\n{out}"));
    let expiry = lines[2]
        .strip_prefix("password_expiry_utc=")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no password_expiry_utc:\n{out}"));
    (token.to_string(), expiry)
}

/// What a test says when a program it needs is missing: the README's test command installs
/// every component the tests use (git, openssl, curl, microsocks, node, OpenBao's `bao`).
pub fn missing_component(component: &str) -> String {
    format!("{component} was not found: run `scripts/test.sh` (the README's test command), which installs it")
}

/// The panic message for a failure to start `program`: when it is not installed, the README's
/// test command that installs it.
pub fn spawn_error(program: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        missing_component(program)
    } else {
        format!("running {program}: {e}")
    }
}

/// Path of a file under `tests/fixtures/` (throwaway keys, see its README).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name)
}

/// Contents of a file under `tests/fixtures/`.
pub fn fixture_string(name: &str) -> String {
    let path = fixture(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A directory removed (best effort) when dropped. Own small type rather than the `tempfile`
/// crate: we need nothing beyond "unique dir, delete later".
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    set_mode(&path, 0o700);
                    // Canonical so paths compare equal to what git prints (/tmp may be a symlink).
                    let path = fs::canonicalize(&path).unwrap_or(path);
                    return TempDir { path };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("creating temp dir {}: {e}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// chmod; panics on failure (tests only).
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Windows has no mode bits: the profile's ACL keeps test files private.
#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) {}

/// Write `contents` to `path` with `mode` (the mode is set after writing, so it holds even if
/// the file already existed).
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>, mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    set_mode(path, mode);
}

/// Seconds since the Unix epoch by the real clock.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the format of GitHub's `expires_at`.
pub fn iso8601(unix: i64) -> String {
    let (y, mo, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (the HTTP `Date` header).
pub fn http_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix.div_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let s = unix.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(mo - 1) as usize],
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (for `Authorization: Basic`).
pub fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { B64[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { B64[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Standard base64 (padding optional); `None` on any invalid character.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let input = input.trim_end_matches('=');
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in input.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
