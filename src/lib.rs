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
mod files;
mod github;
mod http;
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
mod sign_command;
mod signer;
mod spelling;
mod time;
mod tls;
mod token;
mod vault;

pub use crate::config::{CONFIG_ENV, Defaults, VaultDefaults};
pub use crate::context::VaultEnv;
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
use std::path::{Path, PathBuf};
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
    /// stdin is a terminal: a person runs us, not git (git always gives a pipe).
    pub interactive: bool,
    /// Vault tokens and the GitHub Actions OIDC request variables (for `transit_key`).
    pub vault: VaultEnv,
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
    let by_flags = invocation.app.gives_app();
    if by_flags && invocation.config.is_some() {
        return Err(Error::Usage("give either --config or the app flags (--app-id ...), not both".into()));
    }
    let location = config::locate(
        invocation.config.as_deref(),
        env.config_file.as_deref().map(OsStr::new),
        env.user_config_dir.as_deref(),
        env.cwd.as_deref(),
    );
    // The app given by flags replaces the config file: none is read.
    let load = || match by_flags {
        true => config::from_flags(&invocation.app, &env.defaults, env.cwd.as_deref()).map(Some),
        false => config::load(location.as_ref(), &env.defaults, env.uid),
    };
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
        vault_env: &env.vault,
    };
    // `--host` without an app is `token`'s host for OWNER/REPO, and nothing else.
    let token_host = invocation.app.host.as_deref().filter(|_| !by_flags);
    if token_host.is_some() && !matches!(invocation.command, Command::Token { .. } | Command::Help(_)) {
        return Err(Error::Usage(
            "--host describes an app: give --app-id and a key flag too (see --help)".into(),
        ));
    }
    match invocation.command {
        Command::Help(topic) => write_out(&mut stdout, cli::help(topic).as_bytes()),
        Command::Version => write_out(
            &mut stdout,
            concat!("git-credential-github-app ", env!("CARGO_PKG_VERSION"), "\n").as_bytes(),
        ),
        // A person typed a word we do not know: say what they likely meant.
        // git never gives us a terminal on stdin.
        Command::Unknown(word) if env.interactive => Err(Error::Usage(match cli::suggest(&word) {
            Some(meant) => {
                format!("unknown command {}: did you mean `{meant}`? (see --help)", redact::shown(&word))
            }
            None => format!("unknown command {} (see --help)", redact::shown(&word)),
        })),
        // git's operations: read the request first, so git is never left
        // writing; without a config nothing is served. An operation we do
        // not know, and `store`, need no config: they stay silent even when
        // it is broken, as git calls every helper for them.
        Command::Unknown(_) | Command::Protocol(Operation::Store) => {
            protocol::read_request(stdin).map_err(Error::Input)?;
            Ok(())
        }
        Command::Protocol(op) => {
            let request = protocol::read_request(stdin).map_err(Error::Input)?;
            let Some(config) = load()? else {
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
        // Removing every entry this helper added needs no config: it may be gone.
        Command::Unconfigure { ref scope, dry_run, all: true } => {
            // No config, so no timeout_secs: the default bounds the git commands.
            let deadline = clock.started + config::DEFAULT_TIMEOUT;
            commands::unconfigure_all(scope, dry_run, deadline, &mut stdout)
        }
        // The commands people run need the config.
        command => {
            let config = match by_flags {
                true => config::from_flags(&invocation.app, &env.defaults, env.cwd.as_deref())?,
                false => config::load_required(location.as_ref(), &env.defaults, env.uid)?,
            };
            let ctx = context(&config);
            let out = &mut stdout;
            // The helper value git should run for this config: --config, or the app's flags.
            let config_flag = invocation.config.as_ref().and(location.as_ref()).map(|l| l.path.as_path());
            let flags = if by_flags { commands::helper_flags(&invocation.app, &config) } else { Vec::new() };
            let helper = |exe: &Path| commands::helper_value(exe, config_flag, &flags);
            let configure = format!(
                "{} configure",
                env.exe.as_deref().map_or_else(|| "git-credential-github-app".to_string(), helper)
            );
            match command {
                Command::Token { target, json } => {
                    commands::token(target.as_deref(), token_host, json, &ctx, out)
                }
                Command::Explain { url, json } => commands::explain(&url, json, &configure, &ctx, out),
                Command::Doctor { json } => commands::doctor(json, &configure, &ctx, out),
                Command::CacheList { json } => commands::cache_list(json, &ctx, out),
                Command::CacheClear => commands::cache_clear(&ctx, out),
                Command::Revoke { target } => commands::revoke(target.as_deref(), &ctx, out),
                Command::Configure { ref scope, dry_run, .. }
                | Command::Unconfigure { ref scope, dry_run, .. } => {
                    let remove = matches!(command, Command::Unconfigure { .. });
                    let rewrite_ssh = matches!(command, Command::Configure { rewrite_ssh: true, .. });
                    let exe = env.exe.as_deref().ok_or(Error::NoExecutable)?;
                    commands::configure(&config, scope, dry_run, remove, rewrite_ssh, &helper(exe), &ctx, out)
                }
                Command::Help(_) | Command::Version | Command::Protocol(_) | Command::Unknown(_) => Ok(()),
            }
        }
    }
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).and_then(|()| out.flush()).map_err(Error::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_words(words: &[&str], interactive: bool) -> (Result<(), Error>, String, String) {
        let args: Vec<OsString> = words.iter().map(OsString::from).collect();
        let env = Environment { interactive, ..Environment::default() };
        let clock = Clock { now: 1_800_000_000, started: Instant::now() };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = run(&args, &env, clock, Stdio { stdin: &b""[..], stdout: &mut out, stderr: &mut err });
        (result, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn a_misspelt_command_from_a_terminal_gets_a_hint_but_git_gets_silence() {
        let (result, out, err) = run_words(&["doctr"], true);
        let message = result.unwrap_err().to_string();
        assert!(message.contains("did you mean `doctor`"), "{message}");
        assert!(out.is_empty() && err.is_empty());
        let (result, out, err) = run_words(&["status"], true);
        assert!(result.unwrap_err().to_string().contains("`doctor`"));
        assert!(out.is_empty() && err.is_empty());
        for word in ["doctr", "status", "capabilities"] {
            let (result, out, err) = run_words(&[word], false);
            assert!(result.is_ok() && out.is_empty() && err.is_empty(), "{word}");
        }
    }

    #[test]
    fn config_flags_and_a_config_file_do_not_mix() {
        let (result, _, _) = run_words(&["--config", "/c.toml", "--app-id", "1", "doctor"], false);
        assert!(result.unwrap_err().to_string().contains("not both"));
    }
}
