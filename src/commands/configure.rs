//! `configure` / `unconfigure`: runs the `git config` commands that [`plan`]
//! works out for every host in the config, or prints them (`--dry-run`).

mod plan;

use super::helper::helper_value;
use super::wiring::{self, Wiring};
use crate::cli::{Change, Scope};
use crate::config::{AppFlags, Config, ConfigFrom, KeySource};
use crate::context::Context;
use crate::error::Error;
use crate::process::{Failure, Output, Running};
use plan::{Extras, HostState};
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// `configure` / `unconfigure` for every host in the config.
#[allow(clippy::too_many_arguments)]
pub(crate) fn configure(
    config: &Config,
    scope: &Scope,
    dry_run: bool,
    change: Change,
    rewrite_ssh: bool,
    helper: &str,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut hosts: Vec<&str> = config.apps.iter().map(|a| &*a.host).collect();
    let mut seen = std::collections::BTreeSet::new();
    hosts.retain(|h| seen.insert(*h));
    if hosts.is_empty() {
        return Err(Error::NoHosts { config: config.path.clone() });
    }
    let remove = change == Change::Unconfigure;
    let fallback_hosts: Vec<&str> =
        hosts.iter().copied().filter(|h| crate::route::public_app(config, h).is_some()).collect();
    let proactive = !remove && !fallback_hosts.is_empty() && {
        let version = super::public_read::git_version(ctx.deadline);
        let supported = version.is_some_and(|v| v >= super::public_read::PROACTIVE_AUTH_SINCE);
        if !supported {
            ctx.diag.say(format_args!(
                "warning: {}",
                super::public_read::too_old_for_proactive_auth(version, &fallback_hosts)
            ));
        }
        supported
    };
    let extras = |host: &str| Extras {
        proactive_auth: proactive && fallback_hosts.contains(&host),
        rewrite_ssh: rewrite_ssh && !remove,
    };
    change_hosts(&hosts, scope, dry_run, change, helper, &extras, ctx.deadline, out)?;
    if change == Change::Configure && !dry_run {
        warn_about_storing_helpers(&hosts, ctx);
    }
    Ok(())
}

/// Once configured, a helper that stores credentials and runs after ours
/// would keep every token: say so, with the fix.
fn warn_about_storing_helpers(hosts: &[&str], ctx: &Context<'_>) {
    let Ok(entries) = wiring::read_git_config(ctx.deadline) else {
        return;
    };
    for host in hosts {
        let wiring = Wiring::of(&entries, host, None);
        let Some((position, _)) = wiring.ours() else {
            continue;
        };
        for finding in wiring::storing_after(&wiring, position) {
            ctx.diag.say(format_args!("warning: {}", finding.line()));
        }
    }
}

/// The helper value git should run for this config: this binary with
/// `--config PATH` when one was given, or with the app's options.
pub(crate) fn helper_for(exe: &Path, from: &ConfigFrom, config: &Config) -> Result<String, Error> {
    let value = match from {
        ConfigFrom::File(Some(_)) => helper_value(exe, Some(&config.path), &[]),
        ConfigFrom::File(None) => helper_value(exe, None, &[]),
        ConfigFrom::Flags(flags) => helper_value(exe, None, &helper_flags(flags, config)),
    };
    value.map_err(Error::Usage)
}

/// The app's flags for the helper value, with paths made absolute (git runs
/// the helper from each repository's directory).
fn helper_flags(flags: &AppFlags, config: &Config) -> Vec<(&'static str, Option<OsString>)> {
    let app = config.apps.first();
    flags
        .pairs()
        .into_iter()
        .map(|(flag, value)| match (flag, app.map(|a| (&a.key, &a.ca_file))) {
            ("--private-key-path", Some((KeySource::Path(path), _))) => (flag, Some(path.into())),
            ("--ca-file", Some((_, Some(path)))) => (flag, Some(path.into())),
            _ => (flag, value.cloned()),
        })
        .collect()
}

/// `unconfigure --all`: removes every entry this helper ever added to the
/// scope's file, for any host, whatever the config says (or without one).
pub(crate) fn unconfigure_all(
    scope: &Scope,
    dry_run: bool,
    deadline: Instant,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let scope_args = plan::scope_args(scope)?;
    let mut command = vec!["config".to_string()];
    command.extend(scope_args.iter().cloned());
    command.extend([
        "--null".into(),
        "--get-regexp".into(),
        r"^(credential\..*\.helper|git-credential-github-app\..*)$".into(),
    ]);
    let listing = git_output(&command, deadline)?;
    let hosts = plan::hosts_we_configured(&listing);
    if hosts.is_empty() {
        super::print_line(out, "no entry of this helper in that git config file, nothing to change")?;
        return Ok(());
    }
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    change_hosts(&hosts, scope, dry_run, Change::Unconfigure, "", &|_| Extras::default(), deadline, out)
}

#[allow(clippy::too_many_arguments)]
fn change_hosts(
    hosts: &[&str],
    scope: &Scope,
    dry_run: bool,
    change: Change,
    helper: &str,
    extras: &dyn Fn(&str) -> Extras,
    deadline: Instant,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let scope_args = plan::scope_args(scope)?;
    for &host in hosts {
        let get = |key: &str| git_get_all(&scope_args, key, deadline);
        let state = HostState {
            helpers: get(&plan::helper_key(host))?,
            use_http_path: get(&plan::use_http_path_key(host))?.pop(),
            replaced_use_http_path: get(&plan::marker_key(host))?.pop(),
            proactive_auth: get(&plan::proactive_auth_key(host))?.pop(),
            replaced_proactive_auth: get(&plan::proactive_marker_key(host))?.pop(),
            instead_of: get(&plan::instead_of_key(host))?,
            added_instead_of: get(&plan::instead_of_marker_key(host))?,
        };
        let commands = match change {
            Change::Configure => plan::plan_configure(&scope_args, host, helper, &state, extras(host)),
            Change::Unconfigure => plan::plan_unconfigure(&scope_args, host, &state),
        };
        if commands.is_empty() {
            let done = match change {
                Change::Configure => "already configured",
                Change::Unconfigure => "not configured",
            };
            super::print_line(out, &format!("{host}: {done}, nothing to change"))?;
        }
        for command in commands {
            if dry_run {
                super::print_line(out, &plan::display(&command))?;
            } else {
                run_git(&command, deadline)?;
                super::print_line(out, &format!("ran: {}", plan::display(&command)))?;
            }
        }
    }
    Ok(())
}

/// Every value of `key` in the scope's file (none when unset).
fn git_get_all(scope: &[String], key: &str, deadline: Instant) -> Result<Vec<String>, Error> {
    let mut command = vec!["config".to_string()];
    command.extend(scope.iter().cloned());
    command.extend(["--null".into(), "--get-all".into(), key.to_string()]);
    let text = git_output(&command, deadline)?;
    let mut values: Vec<String> = text.split('\0').map(str::to_string).collect();
    values.pop();
    Ok(values)
}

/// What a `git config` query prints; empty when nothing matches (exit 1).
fn git_output(command: &[String], deadline: Instant) -> Result<String, Error> {
    let output = git(command, deadline)?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        Some(1) => Ok(String::new()),
        _ => Err(git_failed(command, &output)),
    }
}

fn run_git(command: &[String], deadline: Instant) -> Result<(), Error> {
    let output = git(command, deadline)?;
    if output.status.success() { Ok(()) } else { Err(git_failed(command, &output)) }
}

/// git's own message for a command that exited non-zero.
fn git_failed(command: &[String], output: &Output) -> Error {
    let detail = crate::redact::escape(String::from_utf8_lossy(&output.stderr).trim());
    Error::Git { command: plan::display(command), detail }
}

/// Runs git, waiting at most until `deadline`: a git config file that
/// includes a FIFO would otherwise hang it, and us with it.
fn git(command: &[String], deadline: Instant) -> Result<Output, Error> {
    Running::start_keeping_stderr("git", command, None, 4 * 1024 * 1024)
        .and_then(|running| running.finish_output(deadline))
        .map_err(|failure| Error::Git {
            command: plan::display(command),
            detail: match failure {
                Failure::Start(e) | Failure::Read(e) => e.to_string(),
                Failure::NoOutput | Failure::NoExit => {
                    "it did not finish within timeout_secs (does a git config file include a FIFO?)"
                        .to_string()
                }
                Failure::TooLarge => "it printed more than 4 MiB".to_string(),
                Failure::Status(status) => status.to_string(),
            },
        })
}
