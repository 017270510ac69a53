//! A hermetic environment for running `git` and the helper: a temp HOME, XDG dirs, an empty
//! global gitconfig, no system config, no prompts, and the test CA as git's only trust anchor.
//!
//! Every command starts from `env_clear()`. That matters on this machine: `SSL_CERT_FILE`,
//! `SSL_CERT_DIR`, `CURL_CA_BUNDLE` and `GIT_SSL_CAINFO` are preset globally, and would
//! otherwise decide what git and the helper trust. Only `GIT_SSL_CAINFO` is set again, to the
//! fake server's CA (see `set_ca`); the helper must be told about the CA through its own config.

use std::borrow::BorrowMut;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{TempDir, fixture, set_mode, write_file};

/// How long `run` lets a command live before killing it (a hang fails the test, not CI).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub const AUTHOR_NAME: &str = "Test Author";
pub const AUTHOR_EMAIL: &str = "author@example.invalid";

pub struct TestEnv {
    dir: TempDir,
    ca: Option<PathBuf>,
    extra_env: Vec<(String, String)>,
}

impl Default for TestEnv {
    fn default() -> TestEnv {
        TestEnv::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = TempDir::new("gcga-env");
        for sub in ["home", "xdg_config", "xdg_cache", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("creating env dir");
        }
        write_file(&dir.path().join("gitconfig"), "", 0o600);
        TestEnv { dir, ca: None, extra_env: Vec::new() }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    pub fn xdg_config(&self) -> PathBuf {
        self.root().join("xdg_config")
    }
    pub fn xdg_cache(&self) -> PathBuf {
        self.root().join("xdg_cache")
    }
    /// A scratch dir to clone into; commands run here unless `current_dir` is changed.
    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }
    /// The file `GIT_CONFIG_GLOBAL` points at (starts empty).
    pub fn global_config(&self) -> PathBuf {
        self.root().join("gitconfig")
    }

    /// Trust this CA for git (`GIT_SSL_CAINFO`).
    pub fn set_ca(&mut self, path: &Path) {
        self.ca = Some(path.to_path_buf());
    }

    /// An extra variable for every command made from now on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    /// Applies the hermetic environment to any command.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.xdg_config())
            .env("XDG_CACHE_HOME", self.xdg_cache())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.global_config())
            .env("GIT_TERMINAL_PROMPT", "0")
            // Empty: git skips askpass programs rather than running one.
            .env("GIT_ASKPASS", "")
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .current_dir(self.work());
        if let Some(ca) = &self.ca {
            cmd.env("GIT_SSL_CAINFO", ca);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
    }

    /// `git ARGS` in the hermetic environment (cwd: `work()`).
    pub fn git<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("git");
        self.apply(&mut cmd);
        cmd.args(args);
        cmd
    }

    /// The helper binary under test, same environment.
    pub fn helper<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(helper_path());
        self.apply(&mut cmd);
        cmd.args(args);
        cmd
    }

    /// `git config --file <global> KEY VALUE`; panics on failure.
    pub fn git_config_global(&self, key: &str, value: &str) {
        let mut cmd = self.git(["config", "--file"]);
        cmd.arg(self.global_config()).arg(key).arg(value);
        run(&mut cmd).assert_success();
    }

    /// `git config --file <global> --add KEY VALUE` (multi-valued keys like credential.helper).
    pub fn git_config_global_add(&self, key: &str, value: &str) {
        let mut cmd = self.git(["config", "--file"]);
        cmd.arg(self.global_config()).args(["--add", key, value]);
        run(&mut cmd).assert_success();
    }

    /// Writes the helper's TOML config to `<root>/helper-config.toml` (mode 0600).
    pub fn write_config(&self, toml: &str) -> PathBuf {
        let path = self.root().join("helper-config.toml");
        write_file(&path, toml, 0o600);
        path
    }

    /// Copies a fixture (a key) into `<root>/keys/NAME` with mode 0600: git does not keep
    /// modes, and the helper refuses keys readable by others.
    pub fn copy_key(&self, fixture_name: &str) -> PathBuf {
        let dest = self.root().join("keys").join(fixture_name);
        let contents = std::fs::read(fixture(fixture_name)).expect("reading fixture");
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("creating keys dir");
        set_mode(dest.parent().expect("parent"), 0o700);
        write_file(&dest, contents, 0o600);
        dest
    }
}

/// Path of the helper binary under test: `GCGA_TEST_HELPER` when set (another build of the
/// same version: the static or aarch64 release binary, a wrapper running it under qemu, the
/// binary a `.deb` installed), else the one cargo built for this test run.
pub fn helper_path() -> PathBuf {
    std::env::var_os("GCGA_TEST_HELPER")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_git-credential-github-app")), PathBuf::from)
}

/// Set when the helper under test is a Windows build under Wine (`.ci/run`): the drive Wine
/// maps `/` to (`Z:`). Such a helper is given the tests' Linux paths and writes them as Windows
/// users do: `/tmp/t/config.toml` is `Z:\\tmp\\t\\config.toml` in its messages.
pub const HELPER_DRIVE_ENV: &str = "GCGA_TEST_HELPER_DRIVE";

/// `path` as the helper under test writes it in a message (see [`HELPER_DRIVE_ENV`]). A
/// Windows build (natively or under Wine) writes backslashes, without the `\\?\` that
/// `canonicalize` puts before the tests' temp directories on Windows.
pub fn as_the_helper_shows(path: &Path) -> String {
    let text = path.display().to_string();
    let windows = |text: &str| {
        let text = text.replace('/', "\\");
        text.strip_prefix(r"\\?\").map_or_else(|| text.clone(), str::to_string)
    };
    match std::env::var(HELPER_DRIVE_ENV) {
        Ok(drive) if !drive.is_empty() => format!("{drive}{}", windows(&text)),
        _ if cfg!(windows) => windows(&text),
        _ => text,
    }
}

#[derive(Debug, Clone)]
#[must_use = "check what the command did: a run nobody looks at tests nothing"]
pub struct RunOutput {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// Killed after `RUN_TIMEOUT`.
    pub timed_out: bool,
    /// The command, for assertion messages.
    pub command: String,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Panics with the command, status, stdout and stderr unless it exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &RunOutput {
        assert!(self.success(), "command failed:\n{self}");
        self
    }

    /// Panics unless it exited non-zero (and did not time out).
    #[track_caller]
    pub fn assert_failure(&self) -> &RunOutput {
        assert!(
            !self.timed_out && self.status.is_some_and(|s| !s.success()),
            "command was expected to fail:\n{self}"
        );
        self
    }
}

impl std::fmt::Display for RunOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        if self.timed_out {
            writeln!(f, "TIMED OUT after {RUN_TIMEOUT:?} and killed")?;
        }
        writeln!(f, "status: {:?}", self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// Runs a command to completion with stdin closed; kills it after `RUN_TIMEOUT`.
/// Takes `Command` or `&mut Command`.
pub fn run(mut cmd: impl BorrowMut<Command>) -> RunOutput {
    run_inner(cmd.borrow_mut(), None, RUN_TIMEOUT)
}

/// Like `run`, feeding `stdin` and then closing it (as git does with helpers).
pub fn run_with_stdin(mut cmd: impl BorrowMut<Command>, stdin: &[u8]) -> RunOutput {
    run_inner(cmd.borrow_mut(), Some(stdin.to_vec()), RUN_TIMEOUT)
}

/// Like `run` with a custom timeout.
pub fn run_with_timeout(
    mut cmd: impl BorrowMut<Command>,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> RunOutput {
    run_inner(cmd.borrow_mut(), stdin.map(<[u8]>::to_vec), timeout)
}

fn run_inner(cmd: &mut Command, stdin: Option<Vec<u8>>, timeout: Duration) -> RunOutput {
    let command = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child: Child = cmd.spawn().unwrap_or_else(|e| {
        panic!("spawning {command}: {}", super::spawn_error(&cmd.get_program().to_string_lossy(), &e))
    });

    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that does not read its stdin must not block us: write from a thread.
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }

    // Readers collect into shared buffers so we can still report partial output after a kill
    // even if a grandchild keeps a pipe open.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let tx = done_tx.clone();
        thread::spawn(move || {
            if let Some(mut pipe) = pipe {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&chunk[..n]);
                }
            }
            let _ = tx.send(());
        });
        buf
    };
    let out_buf = collect(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err_buf = collect(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    drop(done_tx);

    // Wait for both pipes to close, or the deadline.
    let deadline = Instant::now() + timeout;
    let mut closed = 0;
    let mut timed_out = false;
    while closed < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(()) => closed += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if timed_out {
        let _ = child.kill();
    }
    // Both pipes closed: the process is exiting (or was killed), so wait() returns promptly.
    let status = child.wait().ok();
    let text = |b: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&b.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    };
    RunOutput { status, stdout: text(&out_buf), stderr: text(&err_buf), timed_out, command }
}
