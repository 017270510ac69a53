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
pub mod memo;
pub mod network;
pub mod process;
pub mod protocol;
pub mod routing;
pub mod secret;

use crate::cli::Command;
use crate::config::{Defaults, Location};
use crate::diag::Diag;
use crate::error::Error;
use crate::memo::Memo;
use crate::network::NetworkEnv;
use crate::protocol::Operation;
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
    let location = location.map(|l| match (&env.cwd, l.path.is_absolute()) {
        (Some(cwd), false) => Location { path: cwd.join(&l.path), explicit: l.explicit },
        _ => l,
    });
    let sink = std::cell::RefCell::new(stderr);
    let diag = Diag::new(&sink, env.trace);
    // git's request, for the protocol operations (read first, so git is never left writing).
    let request = match &command {
        Command::Protocol(_) => Some(protocol::read_request(stdin).map_err(Error::Input)?),
        _ => None,
    };
    // An operation we do not know, and `store`, need no config: they must stay
    // silent even when the config is broken, as git calls every helper for them.
    let text = match (&location, &command) {
        (_, Command::Protocol(None | Some(Operation::Store))) => None,
        (Some(location), _) => config::read_text(location)?,
        (None, _) => None,
    };
    let memo = match (&text, &location, &request, &command) {
        (Some(text), Some(location), Some(request), Command::Protocol(Some(Operation::Get))) => {
            Memo::for_request(text, &location.path, request, &env.defaults, env.uid)
        }
        _ => None,
    };
    if let Some(token) = memo.as_ref().and_then(|m| m.answer(now)) {
        diag.trace(|| {
            format!(
                "cache: hit through the route memo, token expires {}",
                github::format_utc(token.expires_at)
            )
        });
        return helper::write_answer(stdout, &token);
    }
    let config = match (&text, &location) {
        (Some(text), Some(location)) => Some(config::parse_config(text, &location.path, &env.defaults)?),
        _ => None,
    };
    let timeout = config.as_ref().map_or(Duration::from_secs(30), |c| c.timeout);
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
        Command::Protocol(op) => {
            let request = request.unwrap_or_default();
            match op {
                Some(Operation::Get) => match helper::get(&request, &ctx)? {
                    Some(answer) => {
                        if let (Some(memo), Some(config)) = (&memo, &config) {
                            memo.remember(config, &answer.key);
                        }
                        helper::write_answer(stdout, &answer.token)
                    }
                    None => Ok(()),
                },
                Some(Operation::Erase) => helper::erase(&request, &ctx),
                Some(Operation::Store) | None => Ok(()),
            }
        }
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
