//! git-credential-github-app: a git credential helper that answers with GitHub
//! App installation tokens. `main.rs` gathers the process's inputs (arguments,
//! environment, clock, stdio) and calls [`run`]; everything below is pure or
//! takes its I/O as parameters.

pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod github;
pub mod helper;
pub mod jwt;
pub mod key;
pub mod network;
pub mod protocol;
pub mod routing;
pub mod secret;

use crate::cli::Command;
use crate::config::Defaults;
use crate::error::Error;
use crate::network::NetworkEnv;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Everything `main` reads from the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `$GIT_CREDENTIAL_GITHUB_APP_CONFIG`.
    pub config_file: Option<OsString>,
    /// `dirs::config_dir()`.
    pub user_config_dir: Option<PathBuf>,
    pub defaults: Defaults,
    pub network: NetworkEnv,
    /// Looks up one environment variable (for `private_key_env`).
    pub var: Option<fn(&str) -> Option<String>>,
}

/// Runs the program for `args` (without the program name).
pub fn run(
    args: &[OsString],
    env: &Environment,
    now: u64,
    started: Instant,
    stdin: impl Read,
    mut stdout: impl Write,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let invocation = cli::parse(args).map_err(Error::Usage)?;
    match invocation.command {
        Command::Help => write_out(&mut stdout, cli::HELP.as_bytes()),
        Command::Version => write_out(
            &mut stdout,
            concat!("git-credential-github-app ", env!("CARGO_PKG_VERSION"), "\n").as_bytes(),
        ),
        Command::Protocol(op) => {
            let location = config::locate(
                invocation.config.as_deref(),
                env.config_file.as_deref().map(OsStr::new),
                env.user_config_dir.as_deref(),
            );
            let config = match &location {
                Some(location) => config::load(location, &env.defaults)?,
                None => None,
            };
            let timeout = config.as_ref().map_or(Duration::from_secs(30), |c| c.timeout);
            let mut ctx = helper::Context {
                config: config.as_ref(),
                now,
                deadline: started + timeout,
                timeout,
                network: &env.network,
                var: env.var.unwrap_or(|_| None),
                diag: stderr,
            };
            helper::run(op, stdin, stdout, &mut ctx)
        }
    }
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).and_then(|()| out.flush()).map_err(Error::Output)
}
