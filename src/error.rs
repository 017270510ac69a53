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
