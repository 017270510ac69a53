//! The one error type that reaches `main`, where it becomes a single stderr
//! line starting `git-credential-github-app: `. Every variant names what the
//! user must fix (file, app, endpoint) and never carries a secret.

use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::github::ApiError;
use crate::jwt::JwtError;
use crate::key::KeyError;
use std::fmt;
use std::io;

#[derive(Debug)]
pub enum Error {
    /// Wrong arguments; `main` exits 2.
    Usage(String),
    Config(ConfigError),
    /// The app's private key cannot be read.
    Key {
        app: String,
        error: KeyError,
    },
    /// The key was read but cannot sign.
    Jwt {
        app: String,
        source: String,
        error: JwtError,
    },
    Api {
        app: String,
        error: ApiError,
    },
    Cache(CacheError),
    /// An operator command needs a config file and there is none.
    NoConfig(std::path::PathBuf),
    /// `token`/`revoke` for something no app serves; says why.
    NotServed(String),
    /// A command ran and some of its checks or steps failed (already reported).
    Failed(String),
    /// A `git config` command failed.
    Git {
        command: String,
        detail: String,
    },
    /// Reading git's request failed.
    Input(io::Error),
    /// Writing the answer failed (a broken pipe is not reported).
    Output(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Config(e) => e.fmt(f),
            Error::Key { app, error } => write!(f, "{app}: {error}"),
            Error::Jwt { app, source, error } => {
                write!(f, "{app}: {source} {error}")
            }
            Error::Api { app, error } => write!(f, "{app}: {error}"),
            Error::Cache(e) => e.fmt(f),
            Error::NoConfig(path) => write!(
                f,
                "no config file at {}: create it (see docs/configuration.md) or pass --config PATH",
                path.display()
            ),
            Error::NotServed(why) => write!(f, "no app serves {why}"),
            Error::Failed(what) => f.write_str(what),
            Error::Git { command, detail } => write!(f, "{command} failed: {detail}"),
            Error::Input(e) => write!(f, "cannot read git's request on stdin: {e}"),
            Error::Output(e) => write!(f, "cannot write the answer on stdout: {e}"),
        }
    }
}

impl std::error::Error for Error {}

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
