//! git-credential-github-app: a git credential helper that answers with GitHub
//! App installation tokens. `main.rs` gathers the process's inputs (arguments,
//! environment, clock, stdio) and calls [`run`]; everything below is pure or
//! takes its I/O as parameters.
//!
//! A request flows one way: protocol -> route -> cache -> lock -> sign ->
//! mint -> cache -> answer (see docs/design.md for the module map).

mod cache;
mod cli;
mod commands;
mod config;
mod context;
mod credential;
mod diag;
mod error;
mod github;
mod jwt;
mod mint;
mod network;
mod pem_key;
mod process;
mod protocol;
mod redact;
mod repo;
mod route;
mod secret;
mod signer;
mod time;
mod token;

pub use crate::config::{CONFIG_ENV, Defaults};
pub use crate::diag::{TRACE_ENV, trace_enabled};
pub use crate::error::Error;
pub use crate::network::NetworkEnv;

use crate::cli::Command;
use crate::context::Context;
use crate::diag::Diag;
use crate::protocol::Operation;
use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

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
    /// The working directory, to make a relative `--config` absolute.
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

/// The clock: wall time for tokens and JWTs, the monotonic start for the deadline.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Unix seconds.
    pub now: u64,
    pub started: Instant,
}

/// Runs the program for `args` (without the program name).
pub fn run<R: Read, W: Write>(
    args: &[OsString],
    env: &Environment,
    clock: Clock,
    io: Stdio<'_, R, W>,
) -> Result<(), Error> {
    let Stdio { stdin, mut stdout, stderr } = io;
    let invocation = cli::parse(args).map_err(Error::Usage)?;
    let location = config::locate(
        invocation.config.as_deref(),
        env.config_file.as_deref().map(OsStr::new),
        env.user_config_dir.as_deref(),
        env.cwd.as_deref(),
    );
    let sink = RefCell::new(stderr);
    let diag = Diag::new(&sink, env.trace);
    let context = |config| Context {
        config,
        now: clock.now,
        deadline: clock.started + config.timeout,
        network: &env.network,
        var: env.var.unwrap_or(|_| None),
        uid: env.uid,
        diag: &diag,
    };
    match invocation.command {
        Command::Help => write_out(&mut stdout, cli::HELP.as_bytes()),
        Command::Version => write_out(
            &mut stdout,
            concat!("git-credential-github-app ", env!("CARGO_PKG_VERSION"), "\n").as_bytes(),
        ),
        // git's operations: read the request first, so git is never left
        // writing; without a config file nothing is served. An operation we
        // do not know, and `store`, need no config: they stay silent even
        // when it is broken, as git calls every helper for them.
        Command::Protocol(op) => {
            let request = protocol::read_request(stdin).map_err(Error::Input)?;
            let op = match op {
                Some(op @ (Operation::Get | Operation::Erase)) => op,
                Some(Operation::Store) | None => return Ok(()),
            };
            let Some(config) = config::load(location.as_ref(), &env.defaults)? else {
                diag.trace(|| "no config file: serving nothing".into());
                return Ok(());
            };
            let ctx = context(&config);
            match op {
                Operation::Get => match credential::get(&request, &ctx)? {
                    Some(token) => protocol::write_token(stdout, &token).map_err(Error::Output),
                    None => Ok(()),
                },
                _ => credential::erase(&request, &ctx),
            }
        }
        // The commands people run need the config.
        command => {
            let config = config::load_required(location.as_ref(), &env.defaults)?;
            let ctx = context(&config);
            let out = &mut stdout;
            match command {
                Command::Token { target, host } => {
                    commands::token(target.as_deref(), host.as_deref(), &ctx, out)
                }
                Command::Explain { url } => commands::explain(&url, &ctx, out),
                Command::Doctor => commands::doctor(&ctx, out),
                Command::CacheList => commands::cache_list(&ctx, out),
                Command::CacheClear => commands::cache_clear(&ctx, out),
                Command::Revoke { target } => commands::revoke(target.as_deref(), &ctx, out),
                Command::Configure { ref scope, dry_run } | Command::Unconfigure { ref scope, dry_run } => {
                    let remove = matches!(command, Command::Unconfigure { .. });
                    let exe = env.exe.as_deref().ok_or(Error::NoExecutable)?;
                    let config_flag =
                        invocation.config.as_ref().and(location.as_ref()).map(|l| l.path.as_path());
                    let helper = commands::helper_value(exe, config_flag);
                    commands::configure(&config, scope, dry_run, remove, &helper, out)
                }
                Command::Help | Command::Version | Command::Protocol(_) => Ok(()),
            }
        }
    }
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).and_then(|()| out.flush()).map_err(Error::Output)
}
