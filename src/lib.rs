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
#[cfg(test)]
mod fuzz;
mod github;
mod hex;
mod http;
mod jwt;
mod mint;
mod network;
mod no_proxy;
mod os;
mod pem_key;
mod process;
mod program;
mod protocol;
mod redact;
mod repo;
mod route;
mod secret;
mod sign_command;
mod signer;
mod spelling;
#[cfg(test)]
mod testing;
mod time;
mod tls;
mod token;
mod vault;

pub use crate::config::{CONFIG_ENV, Defaults, VaultDefaults};
pub use crate::context::VaultEnv;
pub use crate::diag::{TRACE_ENV, trace_enabled};
pub use crate::error::{Error, ExecFailure};
pub use crate::files::fix_temp_suffix;
pub use crate::network::NetworkEnv;
pub use crate::os::{ConfigDir, PLATFORM, Platform, config_dirs, current_user, no_core_dumps};
pub use crate::secret::Secret;

use crate::cli::{Command, Invocation};
use crate::config::{Config, ConfigError};
use crate::context::Context;
use crate::diag::Diag;
use crate::protocol::Operation;
use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

/// Everything `main` reads from the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `$GIT_CREDENTIAL_GITHUB_APP_CONFIG`.
    pub config_file: Option<OsString>,
    /// The user config directories to look for the config in, in order ([`config_dirs`]).
    pub config_dirs: Vec<ConfigDir>,
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
    /// This process's effective user id (`geteuid`), where the system has one.
    pub uid: Option<u32>,
    /// stdin is a terminal: a person runs us, not git (git always gives a pipe).
    pub interactive: bool,
    /// Vault tokens and the GitHub Actions OIDC request variables (for `transit_key`).
    pub vault: VaultEnv,
}

impl Environment {
    /// Where the config file is looked for.
    fn surroundings(&self) -> config::Surroundings<'_> {
        config::Surroundings {
            env_file: self.config_file.as_deref(),
            config_dirs: &self.config_dirs,
            cwd: self.cwd.as_deref(),
            defaults: &self.defaults,
            uid: self.uid,
        }
    }

    /// What an operation on `config` is handed.
    fn context<'a>(&'a self, config: &'a Config, clock: Clock, diag: &'a Diag<'a>) -> Context<'a> {
        Context {
            config,
            now: clock.now,
            deadline: clock.started + config.timeout,
            network: &self.network,
            var: self.var.unwrap_or(|_| None),
            uid: self.uid,
            diag,
            vault_env: &self.vault,
        }
    }
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

/// Runs the program for `args` (without the program name): parse, then dispatch.
pub fn run<R: Read, W: Write>(
    args: &[OsString],
    env: &Environment,
    clock: Clock,
    io: Stdio<'_, R, W>,
) -> Result<(), Error> {
    let Stdio { stdin, mut stdout, stderr } = io;
    // `exec`'s own failures, usage included, exit 125 (COMMAND's statuses are its own).
    let exec = |e: Error| if cli::names_exec(args) { e.in_exec() } else { e };
    let Invocation { config: from, command } = cli::parse(args).map_err(|m| exec(Error::Usage(m)))?;
    let sink = RefCell::new(stderr);
    let diag = Diag::new(&sink, env.trace);
    let place = env.surroundings();
    let context = |config| env.context(config, clock, &diag);
    match command {
        Command::Help(topic) => write_out(&mut stdout, cli::help(topic).as_bytes()),
        Command::Version => write_out(
            &mut stdout,
            concat!("git-credential-github-app ", env!("CARGO_PKG_VERSION"), "\n").as_bytes(),
        ),
        // A person typed a word we do not know (git never gives us a terminal on stdin).
        Command::Unknown(word) if env.interactive => Err(Error::Usage(cli::hint(&word))),
        // git's operations: read the request first, so git is never left
        // writing. An operation we do not know, and `store`, need no config:
        // they stay silent even when it is broken, as git calls every helper.
        Command::Unknown(_) | Command::Protocol(Operation::Store) => {
            protocol::read_request(stdin).map_err(Error::Input).map(drop)
        }
        // Without a config nothing is served.
        Command::Protocol(op) => {
            let request = protocol::read_request(stdin).map_err(Error::Input)?;
            let config = match config::load(&from, &place) {
                Err(ConfigError::Missing { .. }) => {
                    diag.trace(|| "no config file: serving nothing".into());
                    return Ok(());
                }
                loaded => loaded?,
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
        // Removing every entry this helper added needs no config (it may be
        // gone), so no timeout_secs: the default bounds the git commands.
        Command::UnconfigureAll { scope, dry_run } => {
            commands::unconfigure_all(&scope, dry_run, clock.started + config::DEFAULT_TIMEOUT, &mut stdout)
        }
        // The commands people run need the config.
        Command::Operator(operator) => {
            let config = config::load(&from, &place).map_err(|e| exec(e.into()))?;
            commands::run(operator, &from, env.exe.as_deref(), &context(&config), &mut stdout).map_err(exec)
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
    fn a_typo_of_a_command_is_an_error_at_a_terminal_or_not_but_git_gets_silence() {
        for interactive in [true, false] {
            let (result, out, err) = run_words(&["doctr"], interactive);
            let error = result.unwrap_err();
            assert!(error.to_string().contains("did you mean `doctor`"), "{error}");
            assert_eq!(error.exit_code(), 2);
            assert!(out.is_empty() && err.is_empty());
        }
        // A word people try that is no typo gets a hint at a terminal only.
        let (result, out, err) = run_words(&["status"], true);
        assert!(result.unwrap_err().to_string().contains("`doctor`"));
        assert!(out.is_empty() && err.is_empty());
        for word in ["status", "capabilities", "set", "put"] {
            let (result, out, err) = run_words(&[word], false);
            assert!(result.is_ok() && out.is_empty() && err.is_empty(), "{word}");
        }
    }

    #[test]
    fn exec_fails_with_125_before_running_anything_when_the_helper_cannot_serve() {
        // A usage error, and no config: neither runs `true`.
        for words in [&["exec", "acme/web"][..], &["exec", "--", "true"]] {
            let (result, out, _) = run_words(words, false);
            let error = result.unwrap_err();
            assert_eq!(error.exit_code(), 125, "{words:?}: {error}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn config_flags_and_a_config_file_do_not_mix() {
        let (result, _, _) = run_words(&["--config", "/c.toml", "--app-id", "1", "doctor"], false);
        assert!(result.unwrap_err().to_string().contains("not both"));
    }
}
