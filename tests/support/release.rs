//! A fake GitHub release on loopback for the GitHub Action's tests, laid out as
//! `scripts/dist.sh` lays out a real one: `git-credential-github-app-VERSION-TARGET.tar.gz`
//! (made with the real `tar`) holding the directory `git-credential-github-app-VERSION-TARGET/`
//! with the binary under test, and `SHA256SUMS` in sha256sum's format. Served over plain HTTP
//! on `127.0.0.1` (the action allows `http://` only for a loopback address) under
//! `/releases/download/vVERSION/`; every requested path is recorded.
//!
//! Also [`node_bin`], the `node` that runs the action's scripts.
//!
//! One accept thread, one thread per connection; dropping the server stops it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::http::{self, Request, Response, Server};
use super::{TempDir, run, write_file};

pub const NAME: &str = "git-credential-github-app";

/// `node` on PATH (the runner's Node runs the action; this machine's runs the tests).
pub fn node_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{}", super::missing_component("node (Node.js, to run the GitHub Action)")))
}

/// The release target of this machine's runner (`RUNNER_OS`, `RUNNER_ARCH`, archive target).
pub fn runner_platform() -> (&'static str, &'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
        _ => ("Linux", "X64", "x86_64-unknown-linux-musl"),
    }
}

/// The running release server and its files.
pub struct FakeRelease {
    // First, so that it stops accepting before the files go.
    server: Server,
    dir: TempDir,
    version: String,
    target: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRelease {
    /// A release `vVERSION` with the archive for `target` holding `binary`, and its `SHA256SUMS`.
    pub fn start(version: &str, target: &str, binary: &Path) -> FakeRelease {
        let dir = TempDir::new("fake-release");
        let stem = format!("{NAME}-{version}-{target}");
        let stage = dir.path().join("stage");
        let bin = std::fs::read(binary).unwrap_or_else(|e| panic!("reading {}: {e}", binary.display()));
        write_file(&stage.join(&stem).join(NAME), bin, 0o755);
        write_file(&stage.join(&stem).join("README.md"), "the release's README\n", 0o644);
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).expect("creating release dir");
        let archive = format!("{stem}.tar.gz");
        let mut tar = Command::new("tar");
        tar.arg("-C").arg(&stage).arg("-czf").arg(files.join(&archive)).arg(&stem);
        run(tar).assert_success();
        let mut sha = Command::new("sha256sum");
        sha.current_dir(&files).arg("--").arg(&archive);
        let sums = run(sha);
        sums.assert_success();
        write_file(&files.join("SHA256SUMS"), &sums.stdout, 0o644);

        let requests = Arc::new(Mutex::new(Vec::new()));
        let conn_requests = requests.clone();
        let prefix = format!("/releases/download/v{version}/");
        let server = Server::start("fake-release", move |stream| {
            http::answer_each(stream, |req| answer(&conn_requests, &files, &prefix, req))
        });
        FakeRelease { server, dir, version: version.to_string(), target: target.to_string(), requests }
    }

    /// The value for the action's `base-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/releases/download/v{}", self.server.addr(), self.version)
    }

    pub fn archive_name(&self) -> String {
        format!("{NAME}-{}-{}.tar.gz", self.version, self.target)
    }

    /// Changes one byte of the archive after `SHA256SUMS` was written (a corrupted or swapped
    /// download).
    pub fn tamper_with_archive(&self) {
        let path = self.dir.path().join("files").join(self.archive_name());
        let mut bytes = std::fs::read(&path).expect("reading archive");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&path, bytes).expect("writing archive");
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Records the request's path and answers it with the release file it names.
fn answer(requests: &Mutex<Vec<String>>, files: &Path, prefix: &str, req: &Request) -> Response {
    requests.lock().unwrap_or_else(|e| e.into_inner()).push(req.path().to_string());
    let file = req
        .path()
        .strip_prefix(prefix)
        .filter(|name| !name.is_empty() && !name.contains('/') && !name.starts_with('.'))
        .and_then(|name| std::fs::read(files.join(name)).ok());
    match file {
        Some(body) if req.method == "GET" => {
            Response::new(200).header("Content-Type", "application/octet-stream").body(body)
        }
        _ => Response::new(404).body("Not Found"),
    }
}
