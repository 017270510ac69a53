//! `configure` / `unconfigure`: runs the `git config` commands that [`plan`]
//! works out for every host in the config, or prints them (`--dry-run`).

mod plan;

pub(crate) use plan::helper_value;

use super::out_err;
use crate::cli::Scope;
use crate::config::Config;
use crate::error::Error;
use plan::HostState;
use std::io::Write;
use std::process::{Command, Stdio};

/// `configure` / `unconfigure` for every host in the config.
pub(crate) fn configure(
    config: &Config,
    scope: &Scope,
    dry_run: bool,
    remove: bool,
    helper: &str,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut hosts: Vec<&str> = config.apps.iter().map(|a| &*a.host).collect();
    hosts.dedup();
    let mut seen = std::collections::BTreeSet::new();
    hosts.retain(|h| seen.insert(*h));
    if hosts.is_empty() {
        return Err(Error::NoHosts { config: config.path.clone() });
    }
    let scope_args = plan::scope_args(scope);
    for host in hosts {
        let state = HostState {
            helpers: git_get_all(&scope_args, &plan::helper_key(host))?,
            use_http_path: git_get_all(&scope_args, &plan::use_http_path_key(host))?.pop(),
            replaced_use_http_path: git_get_all(&scope_args, &plan::marker_key(host))?.pop(),
        };
        let commands = if remove {
            plan::plan_unconfigure(scope, host, &state)
        } else {
            plan::plan_configure(scope, host, helper, &state)
        };
        if commands.is_empty() {
            let done = if remove { "not configured" } else { "already configured" };
            writeln!(out, "{host}: {done}, nothing to change").map_err(out_err)?;
        }
        for command in commands {
            if dry_run {
                writeln!(out, "{}", plan::display(&command)).map_err(out_err)?;
            } else {
                run_git(&command)?;
                writeln!(out, "ran: {}", plan::display(&command)).map_err(out_err)?;
            }
        }
    }
    Ok(())
}

/// Every value of `key` in the scope's file (none when unset).
fn git_get_all(scope: &[String], key: &str) -> Result<Vec<String>, Error> {
    let mut command = vec!["config".to_string()];
    command.extend(scope.iter().cloned());
    command.extend(["--null".into(), "--get-all".into(), key.to_string()]);
    let output = Command::new("git")
        .args(&command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Git { command: plan::display(&command), detail: e.to_string() })?;
    match output.status.code() {
        Some(0) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let mut values: Vec<String> = text.split('\0').map(str::to_string).collect();
            values.pop();
            Ok(values)
        }
        Some(1) => Ok(Vec::new()),
        _ => Err(Error::Git {
            command: plan::display(&command),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }),
    }
}

fn run_git(command: &[String]) -> Result<(), Error> {
    let output = Command::new("git")
        .args(command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Git { command: plan::display(command), detail: e.to_string() })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Git {
            command: plan::display(command),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}
