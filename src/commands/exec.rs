//! `exec [URL | OWNER/REPO] -- COMMAND [ARGS...]`: runs COMMAND with the
//! token `get` would answer with in `GH_TOKEN` and `GITHUB_TOKEN` (and, for a
//! GitHub Enterprise Server host, `GH_ENTERPRISE_TOKEN` and `GH_HOST`), for
//! clients that are not git: `gh`, curl scripts, Terraform. The token is
//! fetched first (cache, locks, mint: as `get`), so COMMAND never runs
//! without one, and without the private key the config may read from the
//! environment (`private_key_env`); then the helper hands over to COMMAND
//! ([`crate::os::exec_replace`]: on Unix it becomes COMMAND). Nothing is
//! printed, the token least of all.

use super::parse_target;
use super::token::token_for;
use crate::config::KeySource;
use crate::context::Context;
use crate::error::{Error, ExecFailure};
use crate::redact;
use std::ffi::OsString;
use std::io;
use std::process::Command;

/// The variables COMMAND gets the token in, everywhere.
const TOKEN_VARS: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];

/// Runs `command` with the token for the target; returns only when it could
/// not hand over (the error says which exit status: 125, 126 or 127).
pub(super) fn exec(
    target: Option<&str>,
    host: Option<&str>,
    command: &[OsString],
    ctx: &Context<'_>,
) -> Error {
    match prepare(target, host, command, ctx) {
        Ok(mut child) => cannot_run(command, crate::os::exec_replace(&mut child)),
        Err(e) => e.in_exec(),
    }
}

/// COMMAND with the token in its environment.
fn prepare(
    target: Option<&str>,
    host: Option<&str>,
    command: &[OsString],
    ctx: &Context<'_>,
) -> Result<Command, Error> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Usage(
            "exec needs the command to run: exec [OWNER/REPO] -- COMMAND [ARGS...]".into(),
        ));
    };
    let target = parse_target(target, host, ctx.config)?;
    let (app, _, token) = token_for(&target, "exec", ctx)?;
    let mut child = Command::new(program);
    child.args(args);
    let value = token.token.expose();
    for name in TOKEN_VARS {
        child.env(name, value);
    }
    // The PEM the config reads from the environment (`private_key_env`) is the
    // helper's to sign with, not COMMAND's: COMMAND gets the token instead.
    for app in &ctx.config.apps {
        if let KeySource::Env(name) = &app.key {
            child.env_remove(name.to_string());
        }
    }
    // gh reads these for a host other than github.com.
    if &*app.host != "github.com" {
        child.env("GH_ENTERPRISE_TOKEN", value);
        child.env("GH_HOST", &*app.host);
    }
    ctx.diag.trace(|| format!("exec: {} with the token of {}", shown(program), app.label()));
    Ok(child)
}

/// Why COMMAND could not be started, as `env` tells it: 127 not found, 126 otherwise.
fn cannot_run(command: &[OsString], error: io::Error) -> Error {
    let program = command.first().map(shown).unwrap_or_default();
    Error::Exec(match error.kind() {
        io::ErrorKind::NotFound => ExecFailure::NotFound { program },
        _ => ExecFailure::CannotRun { program, error },
    })
}

fn shown(program: &OsString) -> String {
    redact::program(&program.to_string_lossy())
}
