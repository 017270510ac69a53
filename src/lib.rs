//! git-credential-github-app: a git credential helper that answers with GitHub
//! App installation tokens. `main.rs` gathers the process's inputs (arguments,
//! environment, clock, stdio) and calls [`run`]; everything below is pure or
//! takes its I/O as parameters.

pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod configure;
pub mod diag;
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
use crate::config::{Config, Defaults, Location};
use crate::diag::Diag;
use crate::error::Error;
use crate::network::NetworkEnv;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
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
    /// `$GIT_CREDENTIAL_GITHUB_APP_TRACE` is on.
    pub trace: bool,
    /// This binary, for `configure`.
    pub exe: Option<PathBuf>,
    /// The working directory, to make a relative `--config` absolute for `configure`.
    pub cwd: Option<PathBuf>,
    /// This process's user id, where it can be known (Linux: the owner of `/proc/self`).
    pub uid: Option<u32>,
}

/// The process's standard streams.
pub struct Stdio<'a, R: Read, W: Write> {
    pub stdin: R,
    pub stdout: W,
    pub stderr: &'a mut dyn Write,
}

/// Runs the program for `args` (without the program name). `now` is the wall
/// clock in unix seconds, `started` the monotonic start for the deadline.
pub fn run<R: Read, W: Write>(
    args: &[OsString],
    env: &Environment,
    now: u64,
    started: Instant,
    io: Stdio<'_, R, W>,
) -> Result<(), Error> {
    let Stdio { stdin, mut stdout, stderr } = io;
    let invocation = cli::parse(args).map_err(Error::Usage)?;
    let location = config::locate(
        invocation.config.as_deref(),
        env.config_file.as_deref().map(OsStr::new),
        env.user_config_dir.as_deref(),
    );
    let command = invocation.command;
    match &command {
        Command::Help => return write_out(&mut stdout, cli::HELP.as_bytes()),
        Command::Version => {
            let version = concat!("git-credential-github-app ", env!("CARGO_PKG_VERSION"), "\n");
            return write_out(&mut stdout, version.as_bytes());
        }
        _ => {}
    }
    // An operation we do not know, and `store`, need no config: they must stay
    // silent even when the config is broken, as git calls every helper for them.
    let needs_config = !matches!(command, Command::Protocol(None | Some(protocol::Operation::Store)));
    let location = location.map(|l| match (&env.cwd, l.path.is_absolute()) {
        (Some(cwd), false) => Location { path: cwd.join(&l.path), explicit: l.explicit },
        _ => l,
    });
    let config = match &location {
        Some(location) if needs_config => config::load(location, &env.defaults)?,
        _ => None,
    };
    let timeout = config.as_ref().map_or(Duration::from_secs(30), |c| c.timeout);
    let sink = std::cell::RefCell::new(stderr);
    let diag = Diag::new(&sink, env.trace);
    let ctx = helper::Context {
        config: config.as_ref(),
        now,
        deadline: started + timeout,
        timeout,
        network: &env.network,
        var: env.var.unwrap_or(|_| None),
        uid: env.uid,
        diag: &diag,
    };
    let no_location = PathBuf::from("<user config dir>/git-credential-github-app/config.toml");
    let location_path = location.as_ref().map_or(no_location.as_path(), |l| l.path.as_path());
    match command {
        Command::Protocol(op) => helper::run(op, stdin, stdout, &ctx),
        Command::Token { target, host } => {
            commands::token(target.as_deref(), host.as_deref(), &ctx, location_path, &mut stdout)
        }
        Command::Explain { url } => commands::explain(&url, &ctx, location_path, &mut stdout),
        Command::Doctor => commands::doctor(&ctx, location_path, &mut stdout),
        Command::CacheList => commands::cache_list(&ctx, location_path, &mut stdout),
        Command::CacheClear => commands::cache_clear(&ctx, location_path, &mut stdout),
        Command::Revoke { target } => commands::revoke(target.as_deref(), &ctx, location_path, &mut stdout),
        Command::Configure { ref scope, dry_run } | Command::Unconfigure { ref scope, dry_run } => {
            let remove = matches!(command, Command::Unconfigure { .. });
            let config = config.as_ref().ok_or_else(|| Error::NoConfig(location_path.to_path_buf()))?;
            let helper = helper_string(env, invocation.config.as_deref())?;
            commands::configure(config, scope, dry_run, remove, &helper, &mut stdout)
        }
        Command::Help | Command::Version => Ok(()),
    }
}

/// The helper string `configure` writes: this binary, plus an absolute
/// `--config` when one was given.
fn helper_string(env: &Environment, config_flag: Option<&Path>) -> Result<String, Error> {
    let exe = env.exe.as_deref().ok_or_else(|| Error::Failed("cannot tell where this binary is".into()))?;
    let config = config_flag.map(|path| match (&env.cwd, path.is_absolute()) {
        (Some(cwd), false) => cwd.join(path),
        _ => path.to_path_buf(),
    });
    Ok(configure::helper_value(exe, config.as_deref()))
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).and_then(|()| out.flush()).map_err(Error::Output)
}

/// Loads the config named by `location` (for callers outside `run`).
pub fn load_config(location: &Location, defaults: &Defaults) -> Result<Option<Config>, Error> {
    Ok(config::load(location, defaults)?)
}
