//! Server-side git: bare repositories on disk and `git http-backend` run as a CGI per request.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;

use super::http::{Request, Response};

/// `$(git --exec-path)/git-http-backend`, found once per test process.
pub fn http_backend_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap_or_else(|e| panic!("{}", super::spawn_error("git", &e)));
        assert!(out.status.success(), "git --exec-path failed");
        let dir = String::from_utf8(out.stdout).expect("exec path is UTF-8");
        let path = Path::new(dir.trim()).join("git-http-backend");
        assert!(path.exists(), "{} does not exist", path.display());
        path
    })
}

/// A `git` command for the server side: no system/global config, fixed identity and dates.
pub fn server_git(home: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LANG", "C")
        .env("GIT_AUTHOR_NAME", "Fake GitHub")
        .env("GIT_AUTHOR_EMAIL", "fake@github.invalid")
        .env("GIT_COMMITTER_NAME", "Fake GitHub")
        .env("GIT_COMMITTER_EMAIL", "fake@github.invalid")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000");
    cmd
}

fn run_git(cmd: &mut Command, stdin: Option<&[u8]>) -> String {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    if let Some(input) = stdin {
        // Small inputs only (a blob, a tree line): the pipe buffer holds them.
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input).expect("writing git stdin");
    }
    let out = child.wait_with_output().expect("waiting for git");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("git output is UTF-8").trim().to_string()
}

pub fn repo_dir(root: &Path, owner: &str, repo: &str) -> PathBuf {
    root.join(owner).join(format!("{repo}.git"))
}

/// Bare repo with one commit (README.md naming the repo, so ids differ between repos) on
/// `main`, HEAD -> main, `http.receivepack=true`. Built with plumbing: no work tree needed.
pub fn create_bare_repo(root: &Path, home: &Path, owner: &str, repo: &str) {
    let dir = repo_dir(root, owner, repo);
    std::fs::create_dir_all(&dir).expect("creating repo dir");
    run_git(server_git(home).args(["init", "--quiet", "--bare", "--initial-branch=main"]).arg(&dir), None);
    let git = || {
        let mut cmd = server_git(home);
        cmd.arg("--git-dir").arg(&dir);
        cmd
    };
    let readme = format!("# {owner}/{repo}\n\nCreated by the fake GitHub for tests.\n");
    let blob = run_git(git().args(["hash-object", "-w", "--stdin"]), Some(readme.as_bytes()));
    let tree = run_git(git().arg("mktree"), Some(format!("100644 blob {blob}\tREADME.md\n").as_bytes()));
    let commit = run_git(git().args(["commit-tree", &tree, "-m", "Initial commit"]), None);
    run_git(git().args(["update-ref", "refs/heads/main", &commit]), None);
    run_git(git().args(["symbolic-ref", "HEAD", "refs/heads/main"]), None);
    run_git(git().args(["config", "http.receivepack", "true"]), None);
}

pub fn rev_parse(root: &Path, home: &Path, owner: &str, repo: &str, rev: &str) -> String {
    let dir = repo_dir(root, owner, repo);
    run_git(server_git(home).arg("--git-dir").arg(&dir).args(["rev-parse", "--verify", rev]), None)
}

/// Runs `git http-backend` for one request and turns its CGI output into a response.
pub fn run_http_backend(
    root: &Path,
    home: &Path,
    req: &Request,
    path_info: &str,
    remote_addr: &str,
) -> Response {
    let mut cmd = Command::new(http_backend_path());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        // Pushes are refused unless receive-pack is enabled (REMOTE_USER alone would do too).
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env("GIT_CONFIG_VALUE_0", "true")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", req.query())
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", remote_addr)
        // The body is already de-chunked, so its length is known.
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ct) = req.header("content-type") {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(proto) = req.header("git-protocol") {
        cmd.env("GIT_PROTOCOL", proto);
    }
    // git gzips large request bodies; http-backend inflates them when told.
    if let Some(enc) = req.header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", enc);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Response::new(500).body(format!("spawning git http-backend: {e}\n"));
        }
    };
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let body = req.body.clone();
    // Feed stdin from another thread: http-backend may write before it has read everything.
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return Response::new(500).body(format!("waiting for git http-backend: {e}\n")),
    };
    let _ = feeder.join();
    parse_cgi_output(&out.stdout).unwrap_or_else(|| {
        Response::new(500).body(format!(
            "git http-backend failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// CGI response: header lines (`Status: 404 Not Found` sets the status), blank line, body.
fn parse_cgi_output(out: &[u8]) -> Option<Response> {
    let crlf = out.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let lf = out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let (end, sep) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    let head = std::str::from_utf8(&out[..end]).ok()?;
    let mut resp = Response::new(200).body(out[end + sep..].to_vec());
    for line in head.lines() {
        let (k, v) = line.split_once(':')?;
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            resp.status = v.split(' ').next()?.parse().ok()?;
        } else {
            resp.headers.push((k.to_string(), v.to_string()));
        }
    }
    Some(resp)
}
