//! The one error type that reaches `main`, where it becomes a single stderr
//! line starting `git-credential-github-app: `. Every variant names what the
//! user must fix (file, app, endpoint) and never carries a secret.

use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::github::ApiError;
use crate::os;
use crate::signer::SignError;
use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// Wrong arguments; `main` exits 2.
    Usage(String),
    /// The config is missing (for a command that needs it), unreadable or invalid.
    Config(ConfigError),
    /// The app's JWT cannot be signed (its key cannot be read or used).
    Sign {
        app: String,
        error: SignError,
    },
    /// A GitHub API call failed.
    Api {
        app: String,
        error: ApiError,
    },
    Cache(CacheError),
    /// `read_public_repos` names no installation and the app is not installed
    /// on the owner of its first fixed-owner pattern.
    NoPublicInstallation {
        app: String,
        owner: String,
    },
    /// The process that held the entry's lock just failed with `message`;
    /// this one gives up too instead of asking GitHub again.
    Shared {
        message: String,
        age_secs: u64,
    },
    /// `token`/`revoke` for something no app serves; says why.
    NotServed(String),
    /// `doctor` found problems (already reported on stdout).
    ChecksFailed {
        count: usize,
    },
    /// `revoke` could not revoke some tokens (already reported on stdout).
    RevokeFailed {
        count: usize,
    },
    /// `configure` found no host to configure in the config.
    NoHosts {
        config: PathBuf,
    },
    /// `configure` cannot tell where this binary is.
    NoExecutable,
    /// A `git config` command failed.
    Git {
        command: String,
        detail: String,
    },
    /// `exec` failed before COMMAND took over; `main` exits 125, 126 or 127.
    Exec(ExecFailure),
    /// Reading git's request failed.
    Input(io::Error),
    /// Writing the answer failed (a broken pipe is not reported).
    Output(io::Error),
}

/// Why `exec` did not hand over to COMMAND, by the exit status `env` and
/// `timeout` use for each.
#[derive(Debug)]
pub enum ExecFailure {
    /// The helper's own failure (usage, no config, repository not served,
    /// mint failed): 125.
    Helper(Box<Error>),
    /// COMMAND exists but cannot be run (not executable, a directory...): 126.
    CannotRun { program: String, error: io::Error },
    /// COMMAND is neither a file nor found on `PATH`: 127.
    NotFound { program: String },
}

impl Error {
    /// The process's exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Exec(ExecFailure::Helper(_)) => 125,
            Error::Exec(ExecFailure::CannotRun { .. }) => 126,
            Error::Exec(ExecFailure::NotFound { .. }) => 127,
            _ => 1,
        }
    }

    /// This error as `exec`'s own failure (exit 125), unless it already is an `exec` failure.
    pub(crate) fn in_exec(self) -> Error {
        match self {
            Error::Exec(_) => self,
            other => Error::Exec(ExecFailure::Helper(Box::new(other))),
        }
    }
}

/// The line `main` prints, with control characters escaped: a message may
/// quote a file name, git config, the environment or a server's answer, and
/// none of them may drive the terminal.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::escape(&Unescaped(self).to_string()))
    }
}

/// The message as the variants put it, before escaping.
struct Unescaped<'a>(&'a Error);

impl fmt::Display for Unescaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::Usage(m) => f.write_str(m),
            Error::Config(e) => e.fmt(f),
            Error::Sign { app, error } => write!(f, "{app}: {error}"),
            Error::Api { app, error } => write!(f, "{app}: {error}"),
            Error::Cache(e) => e.fmt(f),
            Error::NoPublicInstallation { app, owner } => write!(
                f,
                "{app}: read_public_repos: the app is not installed on {owner} (the owner of its first repos pattern), so no read-only token can be minted: install it there or set installation_id"
            ),
            Error::Shared { message, age_secs } => write!(
                f,
                "{message} (another git process failed this way {age_secs} s ago; not retried: try again in a few seconds)"
            ),
            Error::NotServed(why) => write!(f, "no app serves {why}"),
            Error::ChecksFailed { count } => write!(f, "doctor: {count} check(s) failed"),
            Error::RevokeFailed { count } => write!(f, "{count} token(s) could not be revoked"),
            Error::NoHosts { config } => {
                write!(f, "config file {} has no [[app]]: no host to configure", os::shown(config))
            }
            Error::NoExecutable => f.write_str("cannot tell where this binary is"),
            Error::Git { command, detail } => write!(f, "{command} failed: {detail}"),
            Error::Exec(ExecFailure::Helper(e)) => write!(f, "{e} (exec: the command was not run)"),
            Error::Exec(ExecFailure::CannotRun { program, error }) => {
                write!(f, "exec: cannot run {program}: {error}")
            }
            Error::Exec(ExecFailure::NotFound { program }) => {
                write!(f, "exec: {program} not found (no such file, and not on PATH)")
            }
            Error::Input(e) => write!(f, "cannot read git's request on stdin: {e}"),
            Error::Output(e) => write!(f, "cannot write the answer on stdout: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Sign { error, .. } => Some(error),
            Error::Api { error, .. } => Some(error),
            Error::Cache(e) => Some(e),
            Error::Input(e) | Error::Output(e) => Some(e),
            Error::Exec(ExecFailure::Helper(e)) => Some(e.as_ref()),
            Error::Exec(ExecFailure::CannotRun { error, .. }) => Some(error),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<CacheError> for Error {
    fn from(e: CacheError) -> Self {
        Error::Cache(e)
    }
}
