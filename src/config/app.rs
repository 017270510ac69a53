//! One `[[app]]` table: the raw table as serde reads it (from the file, or
//! filled by the app options), its key source, and its validation into an
//! [`App`] on its own; what needs several apps at once (unique names) is
//! checked by the caller.

use super::public::{self, PublicReads};
use super::values::{
    Access, ApiUrl, AppId, EnvName, Host, PermissionName, RepoPattern, TokenScope, vault_name,
};
use super::{ConfigError, Source};
use crate::os;
use crate::program;
use crate::redact::{self, looks_secret};
use crate::repo::Pattern;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

const DEFAULT_TRANSIT_MOUNT: &str = "transit";

/// Where an app's private key comes from; exactly one per app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// A PEM file, owner-only permissions required.
    Path(PathBuf),
    /// The name of an environment variable holding the PEM text.
    Env(EnvName),
    /// A program and its arguments, run without a shell; its stdout is the PEM.
    Command(Vec<String>),
    /// A key in the vault's Transit engine that signs and never leaves it.
    Transit { key: String, mount: String },
    /// A program (argv, no shell) that reads the JWT's signing input on stdin
    /// and prints the RS256 signature (a cloud KMS, a PKCS#11 token).
    SignCommand(Vec<String>),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Path(p) => write!(f, "private key file {}", os::shown(p)),
            KeySource::Env(name) => write!(f, "private key in ${name}"),
            // Only the program: arguments may carry a vault token.
            KeySource::Command(argv) => {
                write!(f, "private key command {}", redact::program(argv.first().map_or("", String::as_str)))
            }
            KeySource::Transit { key, mount } => write!(f, "transit key {key:?} (mount {mount:?})"),
            KeySource::SignCommand(argv) => {
                write!(f, "sign_command {}", redact::program(argv.first().map_or("", String::as_str)))
            }
        }
    }
}

/// One validated `[[app]]` table.
#[derive(Debug, Clone)]
pub(crate) struct App {
    /// 1-based position in the file, for messages; 0 for the app given by flags.
    pub(crate) position: usize,
    /// A unique label for messages and `explain`.
    pub(crate) name: Option<String>,
    pub(crate) app_id: AppId,
    pub(crate) key: KeySource,
    pub(crate) host: Host,
    pub(crate) api_url: ApiUrl,
    pub(crate) repos: Vec<Pattern>,
    /// `None`: discovered per owner and remembered in the cache dir.
    pub(crate) installation_id: Option<u64>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) token_scope: TokenScope,
    /// Narrower permissions to ask for, sorted by name; empty = all the installation has.
    pub(crate) permissions: BTreeMap<String, Access>,
    /// `read_public_repos = true`: read-only tokens for the host's repositories
    /// no pattern serves, from this installation.
    pub(crate) read_public_repos: Option<PublicReads>,
}

impl App {
    /// How messages name this app: `app 123456 (#2 in the config)`, or
    /// `app "ci-bot" (123456, #2 in the config)` when it has a name.
    pub(crate) fn label(&self) -> String {
        match (&self.name, self.position) {
            (Some(name), 0) => format!("app {name:?} ({}, given by command-line flags)", self.app_id),
            (None, 0) => format!("app {} (given by command-line flags)", self.app_id),
            (Some(name), _) => format!("app {name:?} ({}, #{} in the config)", self.app_id, self.position),
            (None, _) => format!("app {} (#{} in the config)", self.app_id, self.position),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApp {
    pub(super) name: Option<String>,
    pub(super) app_id: AppId,
    pub(super) private_key_path: Option<String>,
    pub(super) private_key_env: Option<EnvName>,
    pub(super) private_key_command: Option<Vec<String>>,
    pub(super) transit_key: Option<String>,
    pub(super) transit_mount: Option<String>,
    pub(super) sign_command: Option<Vec<String>>,
    pub(super) host: Option<Host>,
    pub(super) api_url: Option<ApiUrl>,
    pub(super) repos: Option<Vec<RepoPattern>>,
    pub(super) installation_id: Option<u64>,
    pub(super) ca_file: Option<String>,
    pub(super) token_scope: Option<TokenScope>,
    pub(super) permissions: Option<BTreeMap<PermissionName, Access>>,
    pub(super) read_public_repos: Option<bool>,
}

/// One `[[app]]` table (number `position`), checked on its own; names
/// shared by two apps are checked by [`super::validate`].
pub(super) fn validate_app(
    app: RawApp,
    position: usize,
    source: &Source<'_>,
    resolve: &dyn Fn(&str) -> Result<PathBuf, String>,
) -> Result<App, ConfigError> {
    let at = |m: String| source.app_error(position, &app.app_id, m);
    let key = |k: &str| source.key(k);
    let host = app.host.unwrap_or_else(Host::github_com);
    let api_url = app.api_url.unwrap_or_else(|| ApiUrl::default_for(&host));
    let repos: Vec<Pattern> = match app.repos {
        Some(repos) => repos.into_iter().map(Pattern::from).collect(),
        None => Pattern::parse("*/*").into_iter().collect(),
    };
    if repos.is_empty() {
        return Err(at(format!("{} is empty: leave it out to serve every repository", key("repos"))));
    }
    if app.installation_id == Some(0) {
        return Err(at(format!("{} must be a positive number", key("installation_id"))));
    }
    let given = [
        app.private_key_path.is_some(),
        app.private_key_env.is_some(),
        app.private_key_command.is_some(),
        app.transit_key.is_some(),
        app.sign_command.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        let choices = match source {
            Source::File { .. } => {
                "private_key_path, private_key_env, private_key_command, transit_key, sign_command"
            }
            Source::Flags { .. } => "--private-key-path, --private-key-env, --transit-key",
        };
        return Err(at(format!("give exactly one of {choices}")));
    }
    if app.transit_mount.is_some() && app.transit_key.is_none() {
        return Err(at(format!("{} is set but {} is not", key("transit_mount"), key("transit_key"))));
    }
    let key_source = if let Some(p) = app.private_key_path {
        KeySource::Path(resolve(&p).map_err(|m| at(format!("{}: {m}", key("private_key_path"))))?)
    } else if let Some(name) = app.private_key_env {
        KeySource::Env(name)
    } else if let Some(argv) = app.private_key_command {
        KeySource::Command(check_argv(argv, "private_key_command", resolve).map_err(at)?)
    } else if let Some(argv) = app.sign_command {
        KeySource::SignCommand(check_argv(argv, "sign_command", resolve).map_err(at)?)
    } else {
        let name = vault_name(app.transit_key.as_deref().unwrap_or(""), "transit_key", false).map_err(at)?;
        let mount =
            vault_name(app.transit_mount.as_deref().unwrap_or(DEFAULT_TRANSIT_MOUNT), "transit_mount", true)
                .map_err(at)?;
        KeySource::Transit { key: name, mount }
    };
    let permissions = app
        .permissions
        .unwrap_or_default()
        .into_iter()
        .map(|(name, access)| (name.to_string(), access))
        .collect();
    let ca_file = match app.ca_file.as_deref() {
        Some(f) => Some(resolve(f).map_err(|m| at(format!("{}: {m}", key("ca_file"))))?),
        None => None,
    };
    if let Some(name) = &app.name
        && (name.trim().is_empty() || name.chars().any(char::is_control) || looks_secret(name))
    {
        return Err(at("name must be a short printable label; value not shown".into()));
    }
    let read_public_repos = match app.read_public_repos {
        Some(true) => Some(public::fallback_installation(app.installation_id, &repos, &key).map_err(at)?),
        _ => None,
    };
    Ok(App {
        read_public_repos,
        position,
        name: app.name,
        app_id: app.app_id,
        key: key_source,
        host,
        api_url,
        repos,
        installation_id: app.installation_id,
        ca_file,
        token_scope: app.token_scope.unwrap_or(TokenScope::Installation),
        permissions,
    })
}

/// A program and its arguments for `what`, refusing what looks like a pasted key.
/// A command's argv, its program made absolute unless it is a bare name
/// (`program::normalise`): never relative to git's working directory.
fn check_argv(
    mut argv: Vec<String>,
    what: &str,
    resolve: &dyn Fn(&str) -> Result<PathBuf, String>,
) -> Result<Vec<String>, String> {
    if argv.first().is_none_or(|program| program.is_empty()) {
        return Err(format!("{what} must name a program: [\"prog\", \"arg\", ...]"));
    }
    if argv.iter().any(|word| looks_secret(word)) {
        return Err(format!("{what} must be a program and its arguments, not the key; value not shown"));
    }
    argv[0] = program::normalise(&argv[0], resolve).map_err(|m| format!("{what}: {m}"))?;
    Ok(argv)
}
