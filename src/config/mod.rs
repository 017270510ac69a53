//! The TOML configuration: where it lives, its exact keys, and validation into
//! a [`Config`] whose hosts, URLs, paths and patterns are already normalised,
//! so code downstream never re-checks them.
//!
//! [`parse_config`] is pure (text in, `Config` out); [`load`] adds the file I/O.
//! Each value checks itself while serde reads it (see [`values`]), so errors
//! carry the TOML line. One `[[app]]` is checked in [`app`], `[vault]` in
//! [`vault`]; what needs several tables at once is checked here.

mod app;
mod flags;
mod hints;
mod origin;
mod public;
mod values;
mod vault;

use flags::from_flags;
pub(crate) use flags::{APP_OPTIONS, AppFlags, ConfigFrom, app_option};
pub(crate) use origin::docs_url;
pub(crate) use public::PublicReads;

pub(crate) use app::{App, KeySource};
pub(crate) use values::{Access, ApiUrl, AppId, EnvName, Host, TokenScope, is_loopback};
pub use vault::VaultDefaults;
pub(crate) use vault::{Identity, Vault, VaultAuth, VaultLogin};

use crate::files::{self, FileError, Refusal};
use crate::os::{self, ConfigDir};
use crate::program;
use crate::redact::{looks_secret, scrub};
use app::{RawApp, validate_app};
use serde::Deserialize;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vault::{RawVault, apply_vault_defaults, vault_table};

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "GIT_CREDENTIAL_GITHUB_APP_CONFIG";
const APP_DIR: &str = "git-credential-github-app";
const DEFAULT_MIN_LIFETIME: u64 = 600;
const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// `timeout_secs` when no config gives one.
pub(crate) const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(DEFAULT_TIMEOUT_SECS);

/// Where the config file is, and whether the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) path: PathBuf,
    /// Named by `--config` or the environment: a missing file is an error.
    pub(crate) explicit: bool,
    /// The user config directory it was found in (`~/.config`, ...), when not named.
    pub(crate) found_in: Option<&'static str>,
}

/// `--config PATH`, else `$GIT_CREDENTIAL_GITHUB_APP_CONFIG`, else
/// `git-credential-github-app/config.toml` in the first of `user_config_dirs`
/// that has one (`exists`), else in the first of them (where a new one goes;
/// see [`crate::os::config_dirs`]). A relative path is taken from `cwd`.
pub(crate) fn locate(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    user_config_dirs: &[ConfigDir],
    cwd: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Option<Location> {
    let absolute = |path: PathBuf| match cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => path,
    };
    if let Some(path) = flag {
        return Some(Location { path: absolute(path.to_path_buf()), explicit: true, found_in: None });
    }
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        return Some(Location { path: absolute(PathBuf::from(path)), explicit: true, found_in: None });
    }
    let in_dir = |d: &ConfigDir| Location {
        path: d.dir.join(APP_DIR).join("config.toml"),
        explicit: false,
        found_in: Some(d.from),
    };
    let candidates = || user_config_dirs.iter().map(in_dir);
    candidates().find(|l| exists(&l.path)).or_else(|| candidates().next())
}

/// Facts from the process that config values default to or expand against.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub home: Option<PathBuf>,
    /// `$PATH`, where a program named by a bare name (`private_key_command =
    /// ["vault", ...]`) is looked up; only its absolute directories count.
    pub path: Option<std::ffi::OsString>,
    /// The user cache dir (`dirs::cache_dir()`), before our own subdirectory.
    pub user_cache_dir: Option<PathBuf>,
    /// `[vault]` defaults from the environment.
    pub vault: VaultDefaults,
}

impl Defaults {
    #[cfg(test)]
    pub(crate) fn for_tests() -> Defaults {
        Defaults {
            home: Some(PathBuf::from("/home/ci")),
            path: None,
            user_cache_dir: Some(PathBuf::from("/home/ci/.cache")),
            vault: VaultDefaults::default(),
        }
    }
}

impl Config {
    /// Where the config came from, for messages: `config file PATH`, with
    /// the user config directory it was found in when not named (`(in ~/.config)`),
    /// or `command-line flags`.
    pub(crate) fn describe(&self) -> String {
        match (self.from_flags, self.found_in) {
            (true, _) => "the app given by command-line flags".to_string(),
            (false, Some(dir)) => format!("config file {} (in {dir})", os::shown(&self.path)),
            (false, None) => format!("config file {}", os::shown(&self.path)),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The config file; empty when the app was given by flags.
    pub(crate) path: PathBuf,
    /// The app was given on the command line: no file was read.
    pub(crate) from_flags: bool,
    /// The user config directory the file was found in, when not named (`~/.config`, ...).
    pub(crate) found_in: Option<&'static str>,
    pub(crate) cache_dir: PathBuf,
    pub(crate) min_token_lifetime_secs: u64,
    /// The most one `get` may take, retries and lock waits included.
    pub(crate) timeout: Duration,
    pub(crate) apps: Vec<App>,
    /// Where the vault is and how to log in; `Some` when an app uses `transit_key`.
    pub(crate) vault: Option<Vault>,
    /// The absolute directories of `$PATH`, where a command's bare name is looked up.
    pub(crate) search_path: Vec<PathBuf>,
    /// Where programs named in the config (`private_key_command`,
    /// `sign_command`) run: the config file's directory, which its relative
    /// paths are resolved against too; for an app given by flags (no file),
    /// the home directory, else the filesystem root. Never git's working
    /// directory: a relative argument would open a file the repository committed.
    pub(crate) command_dir: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    cache_dir: Option<String>,
    min_token_lifetime_secs: Option<u64>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    app: Vec<RawApp>,
    vault: Option<toml::Spanned<RawVault>>,
}

/// A config problem, always naming the file.
#[derive(Debug)]
pub enum ConfigError {
    /// There is no config file and the command needs one.
    Missing { path: Option<PathBuf> },
    /// A file the user named cannot be read.
    Read { path: PathBuf, source: io::Error },
    /// The file is not one to trust: not a regular file, too large, or
    /// changeable by another user.
    Unsafe(FileError),
    /// TOML syntax, an unknown key, or a wrong type: `line` is 1-based when known.
    Syntax { path: PathBuf, line: Option<usize>, message: String },
    /// A value that parses but cannot work; `line` is where its table starts.
    Invalid { path: PathBuf, line: Option<usize>, message: String },
    /// An app given by command-line flags is invalid; `message` names the flag.
    Flags { message: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { path: Some(path) } => write!(
                f,
                "no config file at {}: create it (the format is at {}) or pass --config PATH",
                os::shown(path),
                docs_url("configuration.md")
            ),
            ConfigError::Missing { path: None } => write!(
                f,
                "no config file: no user config directory is known here; pass --config PATH or set ${CONFIG_ENV}"
            ),
            ConfigError::Read { path, source } => {
                write!(f, "cannot read config file {}: {source}", os::shown(path))
            }
            ConfigError::Unsafe(e) => write!(f, "config file {e}"),
            ConfigError::Syntax { path, line: Some(line), message } => {
                write!(f, "config file {} line {line}: {message}", os::shown(path))
            }
            ConfigError::Syntax { path, line: None, message } => {
                write!(f, "config file {}: {message}", os::shown(path))
            }
            ConfigError::Invalid { path, line: Some(line), message } => {
                write!(f, "config file {} line {line}: {message}", os::shown(path))
            }
            ConfigError::Invalid { path, line: None, message } => {
                write!(f, "config file {}: {message}", os::shown(path))
            }
            ConfigError::Flags { message } => write!(f, "command line: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The most a config file may hold: a thousand apps fit in far less.
pub(super) const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The config file's text; `Ok(None)` when the default file is absent.
/// It must be a regular file of at most 1 MiB that only this user (or root)
/// can change: it decides which program runs as `private_key_command` and
/// where the app's JWT is sent. `uid` is this process's user, where known.
fn read_text(location: &Location, uid: Option<u32>) -> Result<Option<String>, ConfigError> {
    let path = &location.path;
    let (file, meta) = match files::open_regular(path, MAX_CONFIG_BYTES) {
        Ok(opened) => opened,
        Err(FileError { refusal: Refusal::Io(e), .. })
            if e.kind() == io::ErrorKind::NotFound && !location.explicit =>
        {
            return Ok(None);
        }
        Err(FileError { refusal: Refusal::Io(source), .. }) => {
            return Err(ConfigError::Read { path: path.clone(), source });
        }
        Err(e) => return Err(ConfigError::Unsafe(e)),
    };
    files::check_trusted_owner(path, &meta, uid).map_err(ConfigError::Unsafe)?;
    let bytes = files::read_capped(file, path, MAX_CONFIG_BYTES).map_err(ConfigError::Unsafe)?;
    String::from_utf8(bytes).map(Some).map_err(|_| ConfigError::Read {
        path: path.clone(),
        source: io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"),
    })
}

/// What the process tells about where the config file is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Surroundings<'a> {
    /// `$GIT_CREDENTIAL_GITHUB_APP_CONFIG`.
    pub(crate) env_file: Option<&'a OsStr>,
    /// The user config directories, in order ([`crate::os::config_dirs`]).
    pub(crate) config_dirs: &'a [ConfigDir],
    pub(crate) cwd: Option<&'a Path>,
    pub(crate) defaults: &'a Defaults,
    pub(crate) uid: Option<u32>,
}

/// The config `from` names: the app options, or the file ([`locate`]).
/// [`ConfigError::Missing`] when there is no file to read (no location is
/// known, or the default file is absent): git's operations then serve
/// nothing, and the operator commands report it.
pub(crate) fn load(from: &ConfigFrom, place: &Surroundings<'_>) -> Result<Config, ConfigError> {
    let flag = match from {
        ConfigFrom::Flags(flags) => return from_flags(flags, place.defaults, place.cwd),
        ConfigFrom::File(flag) => flag.as_deref(),
    };
    let location = locate(flag, place.env_file, place.config_dirs, place.cwd, Path::exists);
    let text = match &location {
        Some(location) => read_text(location, place.uid)?,
        None => None,
    };
    match (text, location) {
        (Some(text), Some(location)) => parse_config(&text, &location.path, place.defaults)
            .map(|config| Config { found_in: location.found_in, ..config }),
        (_, location) => Err(ConfigError::Missing { path: location.map(|l| l.path) }),
    }
}

/// Parses and validates config text; `path` is used for messages and to
/// resolve relative paths.
pub(crate) fn parse_config(text: &str, path: &Path, defaults: &Defaults) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        // Say it in the user's terms where the mistake is a known one.
        let (line, message) = match hints::explain(text) {
            Some((line, hint)) => (Some(line), hint),
            None => (e.span().map(|span| line_of(text, span.start)), scrub(&one_line(e.message()))),
        };
        ConfigError::Syntax { path: path.to_path_buf(), line, message }
    })?;
    validate(raw, &Source::File { path, text }, defaults)
}

/// Where the values being validated came from: messages name the file and
/// line, or the command-line flag.
pub(crate) enum Source<'a> {
    File {
        path: &'a Path,
        text: &'a str,
    },
    /// Flags; relative paths are taken from the working directory.
    Flags {
        cwd: Option<&'a Path>,
    },
}

impl Source<'_> {
    /// How messages name a key: `private_key_path`, or `--private-key-path`.
    fn key(&self, key: &str) -> String {
        match self {
            Source::File { .. } => key.to_string(),
            Source::Flags { .. } => format!("--{}", key.replace('_', "-")),
        }
    }

    /// An error in `[[app]]` #`position`, naming the table (and its line).
    fn app_error(&self, position: usize, app_id: &AppId, message: String) -> ConfigError {
        let which = match self {
            Source::File { .. } => format!("[[app]] #{position} (app_id {app_id})"),
            Source::Flags { .. } => format!("app {app_id} given by flags"),
        };
        // Found only for an error: keeping spans for every table costs a sixth of the parse.
        let line = match self {
            Source::File { text, .. } => app_table_line(text, position),
            Source::Flags { .. } => None,
        };
        self.error(line, format!("{which}: {message}"))
    }

    fn error(&self, line: Option<usize>, message: String) -> ConfigError {
        match self {
            Source::File { path, .. } => ConfigError::Invalid { path: path.to_path_buf(), line, message },
            Source::Flags { .. } => ConfigError::Flags { message },
        }
    }
}

/// Checks what needs several keys at once and resolves paths and defaults.
fn validate(raw: RawConfig, source: &Source<'_>, defaults: &Defaults) -> Result<Config, ConfigError> {
    let invalid = |message: String| source.error(None, message);
    let (path, base) = match source {
        Source::File { path, .. } => {
            (path.to_path_buf(), path.parent().unwrap_or(Path::new("")).to_path_buf())
        }
        Source::Flags { cwd } => (PathBuf::new(), cwd.map(Path::to_path_buf).unwrap_or_default()),
    };
    let resolve = |value: &str| resolve_path(value, &base, defaults.home.as_deref());
    let command_dir = match source {
        Source::File { .. } if base.is_absolute() => base.clone(),
        _ => defaults.home.clone().filter(|home| home.is_absolute()).unwrap_or_else(|| PathBuf::from("/")),
    };

    let cache_dir = match raw.cache_dir.as_deref() {
        Some(dir) => resolve(dir).map_err(|m| invalid(format!("cache_dir: {m}")))?,
        None => defaults
            .user_cache_dir
            .as_ref()
            .map(|d| d.join(APP_DIR))
            .ok_or_else(|| invalid("no user cache directory is known: set cache_dir".into()))?,
    };

    let timeout_secs = raw.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=3600).contains(&timeout_secs) {
        return Err(invalid(format!("timeout_secs = {timeout_secs}: give 1 to 3600 seconds")));
    }

    let mut apps: Vec<App> = Vec::with_capacity(raw.app.len());
    let mut names = std::collections::HashMap::new();
    for (i, app) in raw.app.into_iter().enumerate() {
        let app = validate_app(app, i + 1, source, &resolve)?;
        if let Some(name) = &app.name
            && let Some(other) = names.insert(name.clone(), app.position)
        {
            let message = format!("name {name:?} is already used by [[app]] #{other}");
            return Err(source.app_error(app.position, &app.app_id, message));
        }
        apps.push(app);
    }
    let fallbacks = apps.iter().map(|a| (a.position, &*a.host, a.read_public_repos.is_some()));
    if let Some((position, first)) = public::second_on_host(fallbacks) {
        let app = &apps[position - 1];
        let message = format!(
            "{} is already set by [[app]] #{first} for host {}: at most one app per host may set it",
            source.key("read_public_repos"),
            app.host
        );
        return Err(source.app_error(position, &app.app_id, message));
    }
    let first_transit = apps.iter().find(|a| matches!(a.key, KeySource::Transit { .. })).map(|a| a.position);

    let vault_line = match (source, raw.vault.as_ref()) {
        (Source::File { text, .. }, Some(v)) => Some(line_of(text, v.span().start)),
        _ => None,
    };
    let settings = match raw.vault.map(toml::Spanned::into_inner) {
        Some(table) => Some(
            vault_table(table, &resolve).map_err(|m| source.error(vault_line, format!("[vault]: {m}")))?,
        ),
        None => None,
    };
    let vault = match first_transit {
        Some(position) => {
            let line = match source {
                Source::File { text, .. } => vault_line.or_else(|| app_table_line(text, position)),
                Source::Flags { .. } => None,
            };
            let settings = settings.unwrap_or_default();
            Some(apply_vault_defaults(settings, &defaults.vault).map_err(|m| source.error(line, m))?)
        }
        None => None,
    };

    Ok(Config {
        from_flags: matches!(source, Source::Flags { .. }),
        found_in: None,
        path,
        cache_dir,
        min_token_lifetime_secs: raw.min_token_lifetime_secs.unwrap_or(DEFAULT_MIN_LIFETIME),
        timeout: Duration::from_secs(timeout_secs),
        apps,
        vault,
        search_path: program::search_path(defaults.path.as_deref()),
        command_dir,
    })
}

/// Expands `~` and makes a relative path relative to the config file's directory.
fn resolve_path(value: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err("the path is empty".into());
    }
    if looks_secret(value) || value.contains('\0') {
        return Err("expected a file path, but the value looks like a key or token (not shown)".into());
    }
    let tilde = value.strip_prefix("~/").or((value == "~").then_some(""));
    if let Some(rest) = tilde {
        let home = home.ok_or("~ is used but no home directory is known")?;
        return Ok(home.join(rest));
    }
    let path = Path::new(value);
    Ok(if path.is_absolute() { path.to_path_buf() } else { base.join(path) })
}

/// The line of the `position`th `[[app]]` header, found only for an error
/// (keeping spans for every table costs a sixth of the parse).
fn app_table_line(text: &str, position: usize) -> Option<usize> {
    let is_header = |line: &str| {
        let line = line.split('#').next().unwrap_or("").trim();
        line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")).is_some_and(|name| name.trim() == "app")
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| is_header(line))
        .nth(position.checked_sub(1)?)
        .map(|(i, _)| i + 1)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_config(text, Path::new("/etc/gh/config.toml"), &Defaults::for_tests())
    }

    const MINIMAL: &str = "[[app]]\napp_id = 1\nprivate_key_path = \"k.pem\"\ninstallation_id = 2\n";

    fn dir(path: &str, from: &'static str) -> ConfigDir {
        ConfigDir { dir: path.into(), from }
    }

    fn named(path: &str) -> Option<Location> {
        Some(Location { path: path.into(), explicit: true, found_in: None })
    }

    #[test]
    fn the_config_flag_wins_over_the_environment_and_the_default() {
        let x = [dir("/x", "~/.config")];
        let none = |_: &Path| false;
        assert_eq!(
            locate(Some(Path::new("/a.toml")), Some(OsStr::new("/b.toml")), &x, None, none),
            named("/a.toml")
        );
        assert_eq!(locate(None, Some(OsStr::new("/b.toml")), &x, None, none), named("/b.toml"));
        assert_eq!(
            locate(None, Some(OsStr::new("")), &x, None, none),
            Some(Location {
                path: "/x/git-credential-github-app/config.toml".into(),
                explicit: false,
                found_in: Some("~/.config")
            })
        );
        assert_eq!(locate(None, None, &[], None, none), None);
        assert_eq!(
            locate(Some(Path::new("c.toml")), None, &[], Some(Path::new("/work")), none),
            named("/work/c.toml")
        );
    }

    #[test]
    fn the_first_user_config_dir_with_a_config_is_used_else_the_first() {
        let dirs = [
            dir("/Users/ci/.config", "~/.config"),
            dir("/Users/ci/Library/Application Support", "~/Library/Application Support"),
        ];
        let support = "/Users/ci/Library/Application Support/git-credential-github-app/config.toml";
        let only_support = |p: &Path| p == Path::new(support);
        let l = locate(None, None, &dirs, None, only_support).unwrap();
        assert_eq!((l.path, l.found_in), (support.into(), Some("~/Library/Application Support")));
        let l = locate(None, None, &dirs, None, |_| true).unwrap();
        assert_eq!(l.found_in, Some("~/.config"));
        let l = locate(None, None, &dirs, None, |_| false).unwrap();
        assert_eq!((l.found_in, l.explicit), (Some("~/.config"), false));
    }

    #[test]
    fn a_missing_default_file_serves_nothing_but_a_missing_named_file_is_an_error() {
        let missing = PathBuf::from("/nonexistent/dir/config.toml");
        let default = Location { path: missing.clone(), explicit: false, found_in: Some("~/.config") };
        assert!(read_text(&default, None).unwrap().is_none());
        let named = Location { path: missing, explicit: true, found_in: None };
        let err = read_text(&named, None).unwrap_err().to_string();
        assert!(err.contains(&os::shown(Path::new("/nonexistent/dir/config.toml"))), "{err}");
    }

    #[test]
    fn defaults_fill_host_api_url_repos_lifetime_and_cache_dir() {
        let c = parse(MINIMAL).unwrap();
        let app = &c.apps[0];
        assert_eq!(&*app.host, "github.com");
        assert_eq!(&*app.api_url, "https://api.github.com");
        assert_eq!(app.repos.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["*/*"]);
        assert_eq!(app.key, KeySource::Path(PathBuf::from("/etc/gh/k.pem")));
        assert_eq!(app.token_scope, TokenScope::Installation);
        assert!(app.permissions.is_empty());
        assert_eq!(c.min_token_lifetime_secs, 600);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert!(
            parse(&format!("timeout_secs = 0\n{MINIMAL}")).unwrap_err().to_string().contains("timeout_secs")
        );
        assert_eq!(parse(&format!("timeout_secs = 5\n{MINIMAL}")).unwrap().timeout, Duration::from_secs(5));
        assert_eq!(c.cache_dir, PathBuf::from("/home/ci/.cache/git-credential-github-app"));
    }

    #[test]
    fn an_enterprise_host_gets_the_api_v3_url_and_keeps_its_port() {
        let c = parse(&format!("{MINIMAL}host = \"GHE.Example.COM:8443\"\n")).unwrap();
        assert_eq!(&*c.apps[0].host, "ghe.example.com:8443");
        assert_eq!(&*c.apps[0].api_url, "https://ghe.example.com:8443/api/v3");
    }

    #[test]
    fn an_explicit_api_url_wins_and_loses_its_trailing_slash() {
        let c = parse(&format!("{MINIMAL}api_url = \"https://proxy.example/gh/\"\n")).unwrap();
        assert_eq!(&*c.apps[0].api_url, "https://proxy.example/gh");
        assert!(parse(&format!("{MINIMAL}api_url = \"http://x\"\n")).is_err());
    }

    // Unix paths: `/etc/gh` and `/home/ci` are not absolute on Windows.
    #[cfg(unix)]
    #[test]
    fn commands_run_in_the_config_files_directory() {
        assert_eq!(parse(MINIMAL).unwrap().command_dir, PathBuf::from("/etc/gh"));
    }

    #[test]
    fn tilde_expands_to_home() {
        let text =
            "cache_dir = \"~/c\"\n[[app]]\napp_id = 1\nprivate_key_path = \"~/k.pem\"\ninstallation_id = 2\n";
        let c = parse(text).unwrap();
        assert_eq!(c.cache_dir, PathBuf::from("/home/ci/c"));
        assert_eq!(c.apps[0].key, KeySource::Path(PathBuf::from("/home/ci/k.pem")));
    }

    #[test]
    fn an_app_id_of_the_wrong_type_says_what_is_expected() {
        for bad in ["1.5", "-3", "true"] {
            let err = parse(&format!("[[app]]\napp_id = {bad}\nprivate_key_path = \"k\"\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("App ID") && err.contains("line 2"), "{err}");
        }
    }

    #[test]
    fn a_client_id_string_is_kept_verbatim() {
        let c = parse("[[app]]\napp_id = \"Iv23liABC\"\nprivate_key_path = \"k\"\ninstallation_id = 2\n")
            .unwrap();
        assert_eq!(c.apps[0].app_id, AppId::ClientId("Iv23liABC".into()));
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_the_file_and_the_line() {
        let err = parse(&format!("{MINIMAL}instalation_id = 3\n")).unwrap_err().to_string();
        assert!(err.contains("instalation_id"), "{err}");
        assert!(err.contains(&os::shown(Path::new("/etc/gh/config.toml"))), "{err}");
        assert!(err.contains("line 5"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = parse("cache_dri = \"/x\"\n").unwrap_err().to_string();
        assert!(err.contains("cache_dri"), "{err}");
    }

    #[test]
    fn a_bad_pattern_names_the_app_and_the_pattern() {
        let err = parse(&format!("{MINIMAL}repos = [\"acme\"]\n")).unwrap_err().to_string();
        assert!(err.contains("acme") && err.contains("OWNER/REPO"), "{err}");
    }

    #[test]
    fn read_public_repos_needs_an_installation_and_one_app_per_host() {
        let err =
            parse("[[app]]\napp_id = 1\nprivate_key_path = \"k\"\nread_public_repos = true\n").unwrap_err();
        let err = err.to_string();
        assert!(err.contains("line 1") && err.contains("read_public_repos needs an installation"), "{err}");
        assert!(err.contains("set installation_id, or give repos a pattern with a fixed owner"), "{err}");
        let two = "[[app]]\napp_id = 1\nprivate_key_path = \"k\"\ninstallation_id = 2\nread_public_repos = true\n\
                   [[app]]\napp_id = 3\nprivate_key_path = \"k\"\nrepos = [\"x/*\"]\nread_public_repos = true\n";
        let err = parse(two).unwrap_err().to_string();
        assert!(
            err.contains("[[app]] #2") && err.contains("already set by [[app]] #1 for host github.com"),
            "{err}"
        );
        let other_host = two.replacen("repos = [\"x/*\"]", "repos = [\"x/*\"]\nhost = \"ghe.example\"", 1);
        let c = parse(&other_host).unwrap();
        assert_eq!(c.apps[1].read_public_repos, Some(PublicReads::Owner("x".into())));
        let off =
            parse("[[app]]\napp_id = 1\nprivate_key_path = \"k\"\nread_public_repos = false\n").unwrap();
        assert_eq!(off.apps[0].read_public_repos, None);
    }

    #[test]
    fn installation_id_may_be_left_out_for_discovery() {
        let c = parse("[[app]]\napp_id = 9\nprivate_key_path = \"k\"\n").unwrap();
        assert_eq!(c.apps[0].installation_id, None);
    }

    #[test]
    fn exactly_one_key_source_is_required() {
        let none = parse("[[app]]\napp_id = 9\n").unwrap_err().to_string();
        assert!(none.contains("#1") && none.contains("exactly one"), "{none}");
        let two = parse("[[app]]\napp_id = 9\nprivate_key_path = \"k\"\nprivate_key_env = \"PEM\"\n")
            .unwrap_err()
            .to_string();
        assert!(two.contains("app_id 9") && two.contains("exactly one"), "{two}");
        let c = parse("[[app]]\napp_id = 9\nprivate_key_command = [\"vault\", \"read\"]\n").unwrap();
        assert_eq!(c.apps[0].key, KeySource::Command(vec!["vault".into(), "read".into()]));
        assert!(parse("[[app]]\napp_id = 9\nprivate_key_command = []\n").is_err());
        let c = parse("[[app]]\napp_id = 9\nprivate_key_env = \"ACME_PEM\"\n").unwrap();
        assert_eq!(c.apps[0].key, KeySource::Env(EnvName::try_from("ACME_PEM".to_string()).unwrap()));
        for pasted in ["-----BEGIN RSA PRIVATE KEY-----\\nMIIEsecret", "MIIEsecret=", "1ABC", ""] {
            let err = parse(&format!("[[app]]\napp_id = 9\nprivate_key_env = \"{pasted}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("value not shown") && !err.contains("MIIE") && !err.contains("BEGIN"),
                "{err}"
            );
        }
        let argv = KeySource::Command(vec!["vault".into(), "-token=s.secret".into()]);
        assert_eq!(argv.to_string(), "private key command \"vault\"");
    }

    const TRANSIT: &str = "[[app]]\napp_id = 9\ntransit_key = \"github-app\"\n";

    fn with_vault_env(address: Option<&str>) -> Defaults {
        let mut defaults = Defaults::for_tests();
        defaults.vault.address = address.map(|a| ("$VAULT_ADDR", a.to_string()));
        defaults.vault.namespace = Some(("$BAO_NAMESPACE", "ci".to_string()));
        defaults.vault.ca_cert = Some(("$VAULT_CACERT", PathBuf::from("/env/ca.pem")));
        defaults
    }

    #[test]
    fn transit_and_sign_command_are_key_sources_too() {
        let c = parse(&format!("[vault]\naddress = \"https://vault.example:8200/\"\n{TRANSIT}")).unwrap();
        assert_eq!(c.apps[0].key, KeySource::Transit { key: "github-app".into(), mount: "transit".into() });
        let vault = c.vault.unwrap();
        assert_eq!(
            (vault.address.as_str(), vault.address_origin),
            ("https://vault.example:8200", "[vault] address")
        );
        assert_eq!(vault.auth, VaultAuth::Ambient);
        let c =
            parse(&format!("[vault]\naddress = \"https://v\"\n{TRANSIT}transit_mount = \"team/transit\"\n"))
                .unwrap();
        assert_eq!(
            c.apps[0].key,
            KeySource::Transit { key: "github-app".into(), mount: "team/transit".into() }
        );
        let c = parse("[[app]]\napp_id = 9\nsign_command = [\"aws-kms-sign\", \"--key\", \"k\"]\n").unwrap();
        assert_eq!(c.apps[0].key.to_string(), "sign_command \"aws-kms-sign\"");
        assert!(c.vault.is_none());
        for two in [
            format!("{TRANSIT}private_key_path = \"k\"\n"),
            format!("{TRANSIT}sign_command = [\"x\"]\n"),
            "[[app]]\napp_id = 9\ntransit_mount = \"t\"\nprivate_key_path = \"k\"\n".into(),
        ] {
            let err = parse(&format!("[vault]\naddress = \"https://v\"\n{two}")).unwrap_err().to_string();
            assert!(err.contains("exactly one") || err.contains("transit_mount is set"), "{err}");
        }
        let err = parse("[[app]]\napp_id = 9\nsign_command = [\"kms\", \"ghs_0123456789abcdef\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sign_command") && !err.contains("ghs_"), "{err}");
        assert!(parse("[[app]]\napp_id = 9\nsign_command = []\n").is_err());
        assert!(
            parse("[vault]\naddress = \"https://v\"\n[[app]]\napp_id = 9\ntransit_key = \"a/b\"\n").is_err()
        );
    }

    #[test]
    fn the_vault_address_comes_from_the_table_then_the_environment() {
        let text_of = |t: &str| {
            parse_config(t, Path::new("/etc/gh/config.toml"), &with_vault_env(Some("http://127.0.0.1:8200")))
        };
        let vault = text_of(TRANSIT).unwrap().vault.unwrap();
        assert_eq!((vault.address.as_str(), vault.address_origin), ("http://127.0.0.1:8200", "$VAULT_ADDR"));
        assert_eq!(vault.namespace.as_deref(), Some("ci"));
        assert_eq!(vault.ca_file, Some((PathBuf::from("/env/ca.pem"), "$VAULT_CACERT")));
        let vault = text_of(&format!(
            "[vault]\naddress = \"https://v:8200\"\nnamespace = \"team\"\nca_file = \"ca.pem\"\n{TRANSIT}"
        ))
        .unwrap()
        .vault
        .unwrap();
        assert_eq!(vault.address, "https://v:8200");
        assert_eq!(vault.namespace.as_deref(), Some("team"));
        assert_eq!(vault.ca_file, Some((PathBuf::from("/etc/gh/ca.pem"), "[vault] ca_file")));
        let err = parse(TRANSIT).unwrap_err().to_string();
        assert!(err.contains("$VAULT_ADDR") && err.contains("line"), "{err}");
        let remote_http =
            parse_config(TRANSIT, Path::new("/c.toml"), &with_vault_env(Some("http://vault.corp:8200")));
        let err = remote_http.unwrap_err().to_string();
        assert!(err.contains("$VAULT_ADDR \"http://vault.corp:8200\" must be https://"), "{err}");
        // Without a transit app the environment is not consulted: a bad $VAULT_ADDR breaks nothing.
        let pem =
            parse_config(MINIMAL, Path::new("/c.toml"), &with_vault_env(Some("http://vault.corp:8200")));
        assert!(pem.unwrap().vault.is_none());
        let err =
            parse(&format!("[vault]\naddress = \"http://vault.corp\"\n{MINIMAL}")).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("https://"), "{err}");
    }

    #[test]
    fn vault_login_takes_a_role_and_exactly_one_identity() {
        let head = "[vault]\naddress = \"https://v\"\n";
        let c = parse(&format!("{head}[vault.login]\nrole = \"ci-runner\"\njwt_path = \"/var/run/secrets/tokens/vault\"\n{TRANSIT}")).unwrap();
        let login = VaultLogin {
            role: "ci-runner".into(),
            mount: "jwt".into(),
            identity: Identity::JwtFile("/var/run/secrets/tokens/vault".into()),
        };
        assert_eq!(c.vault.unwrap().auth, VaultAuth::Login(login));
        let c = parse(&format!("{head}[vault.login]\nrole = \"r\"\nmount = \"kubernetes\"\ngithub_actions_audience = \"https://v\"\n{TRANSIT}")).unwrap();
        let VaultAuth::Login(login) = c.vault.unwrap().auth else { panic!("login expected") };
        assert_eq!(login.mount, "kubernetes");
        assert_eq!(login.identity, Identity::GitHubActions { audience: "https://v".into() });
        let c =
            parse(&format!("[vault]\naddress = \"https://v\"\ntoken_path = \"/run/vault/token\"\n{TRANSIT}"))
                .unwrap();
        assert_eq!(c.vault.unwrap().auth, VaultAuth::TokenFile("/run/vault/token".into()));
        for bad in [
            format!("{head}token_path = \"/t\"\n[vault.login]\nrole = \"r\"\njwt_path = \"/j\"\n"),
            format!("{head}[vault.login]\nrole = \"r\"\n"),
            format!(
                "{head}[vault.login]\nrole = \"r\"\njwt_path = \"/j\"\ngithub_actions_audience = \"a\"\n"
            ),
            format!("{head}[vault.login]\nrole = \"r s\"\njwt_path = \"/j\"\n"),
            format!(
                "{head}[vault.login]\nrole = \"r\"\ngithub_actions_audience = \"eyJhbGciOiJSUzI1NiJ9.e30\"\n"
            ),
        ] {
            let err = parse(&format!("{bad}{TRANSIT}")).unwrap_err().to_string();
            assert!(err.contains("[vault]") && err.contains("line 1") && !err.contains("eyJ"), "{err}");
        }
        for unknown in ["[vault]\nadress = \"https://v\"\n", "[vault.login]\nrole = \"r\"\njwt = \"x\"\n"] {
            let err = parse(unknown).unwrap_err().to_string();
            assert!(err.contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn an_error_that_needs_the_whole_table_names_the_tables_line() {
        let err = parse("timeout_secs = 5\n\n[[app]]\napp_id = 9\n").unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("exactly one"), "{err}");
    }

    #[test]
    fn a_pem_pasted_into_any_value_is_never_quoted() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----";
        for key in
            ["private_key_path", "app_id", "name", "api_url", "host", "token_scope", "ca_file", "cache_dir"]
        {
            let text = format!("[[app]]\napp_id = 1\nprivate_key_env = \"K\"\n{key} = \"\"\"{pem}\"\"\"\n");
            let text =
                if key == "cache_dir" { format!("cache_dir = \"\"\"{pem}\"\"\"\n{}", MINIMAL) } else { text };
            let err = parse(&text).map(|_| ()).unwrap_err().to_string();
            for line in pem.lines() {
                assert!(!err.contains(line), "{key}: {err}");
            }
        }
        for list in ["repos", "private_key_command"] {
            let text = format!("[[app]]\napp_id = 1\ninstallation_id = 2\n{list} = [\"\"\"{pem}\"\"\"]\n");
            let err = parse(&text).map(|_| ()).unwrap_err().to_string();
            assert!(!err.contains("MIIE") && !err.contains("BEGIN"), "{list}: {err}");
        }
        let err = parse(&format!("{MINIMAL}permissions = {{ contents = \"\"\"{pem}\"\"\" }}\n"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("MIIE") && !err.contains("BEGIN"), "{err}");
    }

    #[test]
    fn scope_and_permissions_are_validated_at_load() {
        let c = parse(&format!(
            "{MINIMAL}token_scope = \"repository\"\npermissions = {{ contents = \"read\", pull_requests = \"write\" }}\n"
        ))
        .unwrap();
        assert_eq!(c.apps[0].token_scope, TokenScope::Repository);
        assert_eq!(c.apps[0].permissions.get("contents"), Some(&Access::Read));
        assert_eq!(c.apps[0].permissions.get("pull_requests"), Some(&Access::Write));
        let err =
            parse(&format!("{MINIMAL}permissions = {{ contents = \"all\" }}\n")).unwrap_err().to_string();
        assert!(err.contains("all") && err.contains("line"), "{err}");
        let err = parse(&format!("{MINIMAL}token_scope = \"org\"\n")).unwrap_err().to_string();
        assert!(err.contains("org"), "{err}");
        assert!(parse(&format!("{MINIMAL}permissions = {{ Contents = \"read\" }}\n")).is_err());
    }

    #[test]
    fn app_names_are_optional_and_unique() {
        let c = parse(&format!("{MINIMAL}name = \"ci-bot\"\n")).unwrap();
        assert_eq!(c.apps[0].name.as_deref(), Some("ci-bot"));
        assert!(c.apps[0].label().contains("ci-bot"));
        let twice = format!("{MINIMAL}name = \"x\"\n{MINIMAL}name = \"x\"\n");
        let err = parse(&twice).unwrap_err().to_string();
        assert!(err.contains("already used by [[app]] #1"), "{err}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// TOML-ish text built from the config's own keys and TOML syntax,
        /// so the loader's deeper paths are reached, not just the parser's.
        fn toml_like() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                Just("app_id"),
                Just("private_key_path"),
                Just("private_key_env"),
                Just("private_key_command"),
                Just("transit_key"),
                Just("transit_mount"),
                Just("sign_command"),
                Just("address"),
                Just("token_path"),
                Just("role"),
                Just("jwt_path"),
                Just("github_actions_audience"),
                Just("host"),
                Just("api_url"),
                Just("repos"),
                Just("installation_id"),
                Just("ca_file"),
                Just("token_scope"),
                Just("permissions"),
                Just("name"),
                Just("cache_dir"),
                Just("min_token_lifetime_secs"),
                Just("timeout_secs"),
                Just("bogus")
            ];
            let value = prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                "[ -~]{0,20}".prop_map(|s| format!("{s:?}")),
                Just("[\"acme/*\", \"*/web\"]".to_string()),
                Just("{ contents = \"read\" }".to_string()),
                Just("true".to_string()),
                Just("\"~/k.pem\"".to_string()),
                "[ -~]{0,12}",
            ];
            let line = prop_oneof![
                (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
                Just("[[app]]".to_string()),
                Just("[app]".to_string()),
                Just("[vault]".to_string()),
                Just("[vault.login]".to_string()),
                "[ -~]{0,30}",
            ];
            proptest::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
        }

        /// A PEM private key: header, 64-character base64 lines, footer.
        fn pem() -> impl Strategy<Value = String> {
            let kind = prop_oneof![Just("RSA PRIVATE KEY"), Just("PRIVATE KEY")];
            (kind, proptest::collection::vec("[A-Za-z0-9+/]{64}", 1..6)).prop_map(|(kind, body)| {
                format!("-----BEGIN {kind}-----\n{}\n-----END {kind}-----", body.join("\n"))
            })
        }

        /// Every key of the config, and names that are not keys.
        fn any_key() -> impl Strategy<Value = &'static str> {
            prop_oneof![
                Just("app_id"),
                Just("name"),
                Just("private_key_path"),
                Just("private_key_env"),
                Just("private_key_command"),
                Just("host"),
                Just("api_url"),
                Just("repos"),
                Just("installation_id"),
                Just("ca_file"),
                Just("token_scope"),
                Just("permissions"),
                Just("cache_dir"),
                Just("timeout_secs"),
                Just("min_token_lifetime_secs"),
                Just("unknown_key"),
            ]
        }

        /// `pem` pasted into a config the way people paste: as a value of
        /// any key (multi-line, escaped, literal, in a list, in a table), as
        /// a key name, or as bare lines, before or after a valid app.
        fn config_with_pem() -> impl Strategy<Value = (String, String)> {
            (pem(), any_key(), 0..8usize, any::<bool>()).prop_map(|(pem, key, form, first)| {
                let line = pem.lines().nth(1).unwrap_or_default().to_string();
                let pasted = match form {
                    0 => format!("{key} = \"\"\"\n{pem}\n\"\"\""),
                    1 => format!("{key} = {pem:?}"),
                    2 => format!("{key} = '''\n{pem}'''"),
                    3 => format!("{key} = [{pem:?}]"),
                    4 => format!("{key} = {{ contents = {pem:?} }}"),
                    5 => format!("{key} = {{ {line} = \"read\" }}"),
                    6 => format!("{line} = 1"),
                    _ => pem.clone(),
                };
                let text = if first {
                    format!("{pasted}\n[[app]]\napp_id = 1\nprivate_key_env = \"K\"\n")
                } else {
                    format!("[[app]]\napp_id = 1\nprivate_key_env = \"K\"\n{pasted}\n")
                };
                (text, pem)
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn no_config_error_repeats_any_line_of_a_pasted_pem((text, pem) in config_with_pem()) {
                if let Err(e) = parse(&text) {
                    let message = e.to_string();
                    for line in pem.lines() {
                        prop_assert!(!message.contains(line), "{}\n---\n{}", message, text);
                    }
                }
            }

            #[test]
            fn arbitrary_toml_never_panics_and_errors_name_the_file(text in toml_like()) {
                if let Err(e) = parse(&text) {
                    let message = e.to_string();
                    prop_assert!(message.contains(&os::shown(Path::new("/etc/gh/config.toml"))), "{}", message);
                    prop_assert!(!message.contains('\n'), "{}", message);
                }
            }
        }
    }

    #[test]
    fn an_empty_config_serves_nothing() {
        assert!(parse("").unwrap().apps.is_empty());
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let err = parse("[[app]\n").unwrap_err().to_string();
        let file = os::shown(Path::new("/etc/gh/config.toml"));
        assert!(err.starts_with(&format!("config file {file} line 1")), "{err}");
        assert!(!err.contains('\n'));
    }
}
