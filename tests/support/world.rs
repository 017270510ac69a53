//! One test's world, shared by every integration test: a fake GitHub with the test app
//! installed on `acme`, a hermetic [`TestEnv`] that trusts the fake, the app's key copied in
//! with mode 0600, a builder for the helper's config, ways to run the helper, and the three
//! outcomes a run of git's `get` can have: [`World::served`], [`World::not_served`],
//! [`World::failed`].

use std::fmt;
use std::fs;
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{
    FakeGitHub, IssuedToken, Options, RunOutput, TestEnv, fixture_string, run, run_with_stdin, toml_path,
    toml_string,
};

/// The test app (the fixture key `app-key-pkcs1.pem`).
pub const APP_ID: u64 = 4242;
pub const CLIENT_ID: &str = "Iv23liTestClient";
/// The slug `GET /app` answers with.
pub const SLUG: &str = "test-app";
/// The test app's installation on [`OWNER`], covering all its repositories.
pub const INSTALLATION_ID: u64 = 777;
pub const OWNER: &str = "acme";
/// The test app's installation on `widgets` (only with [`WorldBuilder::widgets`]).
pub const WIDGETS_INSTALLATION_ID: u64 = 778;
/// A second app (another key), used where two apps serve the same host ([`World::other_app`]).
pub const OTHER_APP_ID: u64 = 5151;
pub const OTHER_CLIENT_ID: &str = "Iv23liOtherClient";
pub const OTHER_INSTALLATION_ID: u64 = 888;
/// Every line the helper writes to stderr starts with this.
pub const PREFIX: &str = "git-credential-github-app: ";
/// Every mint path starts with this (what `push_fault` and `count` match on).
pub const MINTS: &str = "/app/installations/";

/// A fake with the test app installed on all of `acme`'s repositories.
pub fn fake_with_app() -> FakeGitHub {
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, CLIENT_ID, SLUG, &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, None);
    fake
}

/// The API path that mints a token for an installation.
pub fn mint_path(installation_id: u64) -> String {
    format!("/app/installations/{installation_id}/access_tokens")
}

/// git's `get` request for an https URL on `host`; `path` only as with `useHttpPath`.
pub fn request(host: &str, path: Option<&str>) -> String {
    let mut r = format!("protocol=https\nhost={host}\n");
    if let Some(path) = path {
        r.push_str(&format!("path={path}\n"));
    }
    r
}

/// Set (to anything but empty) when the helper under test cannot find the test's cache
/// directory by itself: a Windows build under Wine takes `%LOCALAPPDATA%` from the Wine prefix
/// and ignores the tests' `HOME` and `XDG_CACHE_HOME`, so every test would share one cache.
/// [`World::config`] then names [`World::cache_dir`] in each config that names none.
pub const EXPLICIT_CACHE_DIR_ENV: &str = "GCGA_TEST_EXPLICIT_CACHE_DIR";

fn explicit_cache_dir() -> bool {
    std::env::var_os(EXPLICIT_CACHE_DIR_ENV).is_some_and(|v| !v.is_empty())
}

/// Whether a config sets `cache_dir` at the top level (before its first table).
pub fn sets_cache_dir(toml: &str) -> bool {
    toml.lines()
        .map(str::trim_start)
        .take_while(|line| !line.starts_with('['))
        .any(|line| line.strip_prefix("cache_dir").is_some_and(|rest| rest.trim_start().starts_with('=')))
}

/// A path as git's shell takes it in a helper value: Git for Windows runs helpers through its
/// sh, which would eat backslashes, so forward slashes there (`C:/Users/...`; the test paths have no
/// spaces).
fn shell_path(path: &Path) -> String {
    let text = path.display().to_string();
    if cfg!(windows) { text.replace('\\', "/") } else { text }
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// The exit code of a run (`None` if killed by a signal).
pub fn code(out: &RunOutput) -> Option<i32> {
    out.status.and_then(|s| s.code())
}

/// Files in `dir` whose names start with `prefix` and end with `.json`, sorted (none if `dir`
/// does not exist).
pub fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("reading cache dir").path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    files.sort();
    files
}

/// An `[[app]]` table. [`World::test_app`] starts one for the test app on the fake's host (no
/// `api_url`: the default must find the fake's `/api/v3`) with its key file and the fake's CA;
/// each method changes one part.
#[derive(Debug, Clone)]
pub struct App {
    /// The `app_id` value as TOML (a number, or a quoted client ID).
    id: String,
    /// The key source line(s), as TOML.
    key: String,
    host: String,
    api_url: Option<String>,
    ca_file: Option<PathBuf>,
    /// More lines, in order.
    lines: Vec<String>,
}

impl App {
    /// A numeric `app_id`.
    pub fn id(mut self, app_id: u64) -> App {
        self.id = app_id.to_string();
        self
    }

    /// `app_id` as a string (a client ID).
    pub fn client_id(mut self, client_id: &str) -> App {
        self.id = toml_string(client_id);
        self
    }

    /// `private_key_path = PATH`.
    pub fn key_file(mut self, path: &Path) -> App {
        self.key = format!("private_key_path = {}", toml_path(path));
        self
    }

    /// The key source given as raw TOML lines (none, one or several).
    pub fn key_lines(mut self, lines: &str) -> App {
        self.key = lines.to_string();
        self
    }

    pub fn host(mut self, host: &str) -> App {
        self.host = host.to_string();
        self
    }

    pub fn api_url(mut self, url: &str) -> App {
        self.api_url = Some(url.to_string());
        self
    }

    /// `ca_file = PATH` instead of the fake's CA.
    pub fn ca_file(mut self, path: &Path) -> App {
        self.ca_file = Some(path.to_path_buf());
        self
    }

    /// No `ca_file` key: the helper falls back to the env, git, the system store.
    pub fn no_ca_file(mut self) -> App {
        self.ca_file = None;
        self
    }

    /// `installation_id = ID`.
    pub fn installation(self, installation_id: u64) -> App {
        self.line(&format!("installation_id = {installation_id}"))
    }

    /// More TOML lines for the table (`repos`, `token_scope`, ...).
    pub fn line(mut self, lines: &str) -> App {
        self.lines.push(lines.to_string());
        self
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[[app]]\napp_id = {}\n{}\nhost = {}", self.id, self.key, toml_string(&self.host))?;
        if let Some(url) = &self.api_url {
            writeln!(f, "api_url = {}", toml_string(url))?;
        }
        if let Some(ca) = &self.ca_file {
            writeln!(f, "ca_file = {}", toml_path(ca))?;
        }
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// A whole config: top-level keys, then `[[app]]` tables. Written with [`World::config`].
#[derive(Debug, Clone, Default)]
pub struct Config {
    top: Vec<String>,
    apps: Vec<String>,
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// A top-level line (`min_token_lifetime_secs = 600`, ...).
    pub fn top(mut self, line: &str) -> Config {
        self.top.push(line.to_string());
        self
    }

    pub fn timeout_secs(self, secs: u64) -> Config {
        self.top(&format!("timeout_secs = {secs}"))
    }

    pub fn cache_dir(self, dir: &Path) -> Config {
        self.top(&format!("cache_dir = {}", toml_path(dir)))
    }

    /// An `[[app]]` table (an [`App`] or its text).
    pub fn app(mut self, app: impl fmt::Display) -> Config {
        self.apps.push(app.to_string());
        self
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.top {
            writeln!(f, "{line}")?;
        }
        for app in &self.apps {
            write!(f, "\n{app}")?;
        }
        Ok(())
    }
}

/// How to start a [`World`]; the defaults suit most tests.
#[derive(Debug, Clone)]
pub struct WorldBuilder {
    widgets: bool,
    trust_in_env: bool,
}

impl WorldBuilder {
    /// Also install the test app on `widgets` ([`WIDGETS_INSTALLATION_ID`]).
    pub fn widgets(mut self) -> WorldBuilder {
        self.widgets = true;
        self
    }

    /// Leave `GIT_SSL_CAINFO` unset: only what the config names (or a test sets) is trusted.
    pub fn no_trust_in_env(mut self) -> WorldBuilder {
        self.trust_in_env = false;
        self
    }

    pub fn start(self) -> World {
        let fake = fake_with_app();
        if self.widgets {
            fake.add_installation(WIDGETS_INSTALLATION_ID, APP_ID, "widgets", None);
        }
        let mut env = TestEnv::new();
        if self.trust_in_env {
            env.set_ca(fake.ca_pem_path());
        }
        let key = env.copy_key("app-key-pkcs1.pem");
        World { fake, env, key }
    }
}

/// One test's world: a fake GitHub with the test app installed on `acme`, a hermetic env that
/// trusts the fake (`GIT_SSL_CAINFO`), and the app's PKCS#1 key copied into the env with mode
/// 0600.
pub struct World {
    pub fake: FakeGitHub,
    pub env: TestEnv,
    /// The test app's key file.
    pub key: PathBuf,
}

impl World {
    /// The default world.
    pub fn new() -> World {
        World::builder().start()
    }

    pub fn builder() -> WorldBuilder {
        WorldBuilder { widgets: false, trust_in_env: true }
    }

    // ---- config ----

    /// The test app's `[[app]]` table for the fake's host, with its key file and the fake's CA.
    pub fn test_app(&self) -> App {
        App {
            id: APP_ID.to_string(),
            key: format!("private_key_path = {}", toml_path(&self.key)),
            host: self.fake.host(),
            api_url: None,
            ca_file: Some(self.fake.ca_pem_path().to_path_buf()),
            lines: Vec::new(),
        }
    }

    /// The test app's table plus `extra` lines, as text.
    pub fn app(&self, extra: &str) -> String {
        self.test_app().line(extra).to_string()
    }

    /// Registers a second app (another key) on the fake, installed on `acme` as
    /// [`OTHER_INSTALLATION_ID`], and returns an `[[app]]` table for it plus `extra` lines.
    pub fn other_app(&self, extra: &str) -> String {
        self.fake.add_app(OTHER_APP_ID, OTHER_CLIENT_ID, "other-app", &fixture_string("other-key.pub.pem"));
        self.fake.add_installation(OTHER_INSTALLATION_ID, OTHER_APP_ID, OWNER, None);
        let key = self.env.copy_key("other-key-pkcs1.pem");
        self.test_app().id(OTHER_APP_ID).key_file(&key).line(extra).to_string()
    }

    /// Writes the helper's config (a [`Config`], an [`App`] or TOML text) and returns its path.
    /// With [`EXPLICIT_CACHE_DIR_ENV`] set, a config that names no `cache_dir` gets
    /// `cache_dir` = [`World::cache_dir`] as its first line.
    pub fn config(&self, toml: impl fmt::Display) -> PathBuf {
        let toml = toml.to_string();
        if explicit_cache_dir() && !sets_cache_dir(&toml) {
            let line = format!("cache_dir = {}\n", toml_path(&self.cache_dir()));
            return self.env.write_config(&(line + &toml));
        }
        self.env.write_config(&toml)
    }

    // ---- running the helper ----

    /// The helper with `--config cfg ARGS`.
    pub fn cmd(&self, cfg: &Path, args: &[&str]) -> Command {
        let mut cmd = self.env.helper(["--config"]);
        cmd.arg(cfg).args(args);
        cmd
    }

    /// Runs the helper with `--config cfg ARGS`, stdin closed.
    pub fn run(&self, cfg: &Path, args: &[&str]) -> RunOutput {
        run(self.cmd(cfg, args))
    }

    /// Runs the helper with `--config cfg OP`, feeding `input`.
    pub fn helper(&self, cfg: &Path, op: &str, input: &[u8]) -> RunOutput {
        run_with_stdin(self.cmd(cfg, &[op]), input)
    }

    /// `get` for `https://HOST/PATH` with `useHttpPath`.
    pub fn get(&self, cfg: &Path, path: &str) -> RunOutput {
        self.helper(cfg, "get", request(&self.fake.host(), Some(path)).as_bytes())
    }

    /// Makes real git use the helper with this config, for every https URL.
    pub fn use_helper_in_git(&self, cfg: &Path) {
        let helper = super::git_env::helper_path();
        let value = format!("{} --config {}", shell_path(&helper), shell_path(cfg));
        self.env.git_config_global("credential.helper", &value);
        self.env.git_config_global("credential.useHttpPath", "true");
    }

    /// Same, scoped to the fake's URL (`credential.https://HOST.*`).
    pub fn use_helper_in_git_for_host(&self, cfg: &Path) {
        let helper = super::git_env::helper_path();
        let value = format!("{} --config {}", shell_path(&helper), shell_path(cfg));
        let scope = format!("credential.{}", self.fake.base_url());
        self.env.git_config_global(&format!("{scope}.helper"), &value);
        self.env.git_config_global(&format!("{scope}.useHttpPath"), "true");
    }

    // ---- the cache ----

    /// The default cache dir (`$XDG_CACHE_HOME/git-credential-github-app`).
    pub fn cache_dir(&self) -> PathBuf {
        self.env.xdg_cache().join("git-credential-github-app")
    }

    /// Files in the default cache dir whose names start with `prefix` and end with `.json`.
    pub fn cache_files(&self, prefix: &str) -> Vec<PathBuf> {
        files_with_prefix(&self.cache_dir(), prefix)
    }

    // ---- what the fake saw ----

    /// `GET .../installation` lookups the fake saw.
    pub fn lookups(&self) -> usize {
        self.fake.count("GET", "/repos/") + self.fake.count("GET", "/users/")
    }

    /// Bodies of the mint requests, in order, as JSON (`null` for an empty body).
    pub fn mint_bodies(&self) -> Vec<serde_json::Value> {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("/access_tokens"))
            .map(|r| r.body_json())
            .collect()
    }

    /// The token the fake issued with this value.
    #[track_caller]
    pub fn issued(&self, token: &str) -> IssuedToken {
        self.fake
            .issued_tokens()
            .into_iter()
            .find(|t| t.token == token)
            .unwrap_or_else(|| panic!("the fake never issued the token the helper printed"))
    }

    // ---- outcomes ----

    /// Panics if `text` holds a PEM, a JWT, a token the fake issued, credentials the fake was
    /// sent, or panic text.
    #[track_caller]
    pub fn assert_no_secrets(&self, text: &str) {
        self.fake.assert_no_secrets(text);
    }

    /// Both streams of an output that must not carry a secret.
    #[track_caller]
    pub fn assert_output_has_no_secrets(&self, out: &RunOutput) {
        self.assert_no_secrets(&out.stdout);
        self.assert_no_secrets(&out.stderr);
    }

    /// The helper answered with a credential: exactly the three lines, a token the fake
    /// issued, no secret on stderr. Returns the token and the expiry printed, which may differ
    /// from the fake's by a clock offset the helper corrected.
    #[track_caller]
    pub fn served_on_local_clock(&self, out: &RunOutput) -> (String, i64) {
        let (token, expiry) = super::parse_credential(out);
        self.assert_no_secrets(&out.stderr);
        self.issued(&token);
        (token, expiry)
    }

    /// The helper answered with a credential: checks the exact three lines and that the token
    /// is one the fake issued with that expiry, and no secret on stderr. Returns the token.
    #[track_caller]
    pub fn served(&self, out: &RunOutput) -> String {
        let (token, expiry) = self.served_on_local_clock(out);
        assert_eq!(expiry, self.issued(&token).expires_at, "{out}");
        token
    }

    /// The helper answered "not mine": exit 0, nothing on stdout or stderr.
    #[track_caller]
    pub fn not_served(&self, out: &RunOutput) {
        out.assert_success();
        assert_eq!(out.stdout, "", "{out}");
        assert_eq!(out.stderr, "", "{out}");
    }

    /// The helper answered "not mine" for a host in its config, saying why: exit 0, nothing
    /// on stdout, exactly one stderr line `PREFIX not serving https://HOST/PATH: WHY`, no
    /// secret. Returns the line.
    #[track_caller]
    pub fn declined(&self, out: &RunOutput) -> String {
        out.assert_success();
        assert_eq!(out.stdout, "", "{out}");
        self.assert_no_secrets(&out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line:\n{out}");
        assert!(lines[0].starts_with(&format!("{PREFIX}not serving https://")), "{out}");
        lines[0].to_string()
    }

    /// The helper failed as specified: exit 1, no stdout, exactly one stderr line starting
    /// with the program name, no secret. Returns the line.
    #[track_caller]
    pub fn failed(&self, out: &RunOutput) -> String {
        assert_eq!(code(out), Some(1), "{out}");
        assert_eq!(out.stdout, "", "{out}");
        self.assert_no_secrets(&out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line:\n{out}");
        assert!(lines[0].starts_with(PREFIX), "{out}");
        assert!(out.stderr.ends_with('\n'), "{out}");
        lines[0].to_string()
    }
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}
