//! `token [URL | OWNER/REPO]`: the token `get` would answer with, on its own
//! line, for `GH_TOKEN`, curl and scripts.

use super::{TargetArg, parse_target};
use crate::config::App;
use crate::context::Context;
use crate::credential::{Served, not_installed, serve_or_fallback};
use crate::error::Error;
use crate::protocol::is_safe_value;
use crate::route::{Route, route};
use crate::time::format_utc;
use crate::token::InstallationToken;
use serde::Serialize;
use std::io::Write;

/// `token --json`; field names are documented in docs/commands.md.
#[derive(Serialize)]
struct TokenJson<'a> {
    token: &'a str,
    /// Unix seconds.
    expires_at: u64,
    expires_at_utc: String,
    installation_id: u64,
    app_id: String,
    app: String,
    api_url: String,
}

/// `token`: the token `get` would answer with, on its own line (or as JSON).
pub(crate) fn token(
    arg: Option<&str>,
    host: Option<&str>,
    json: bool,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let target = parse_target(arg, host, ctx.config)?;
    let (app, installation_id, token) = token_for(&target, "token", ctx)?;
    let value = token.token.expose();
    if !is_safe_value(value) {
        return Err(Error::NotServed("the token holds a line break".into()));
    }
    if json {
        let shown = TokenJson {
            token: value,
            expires_at: token.expires_at,
            expires_at_utc: format_utc(token.expires_at),
            installation_id,
            app_id: app.app_id.to_string(),
            app: app.label(),
            api_url: app.api_url.to_string(),
        };
        return super::print_json(out, &shown, false);
    }
    writeln!(out, "{value}").map_err(Error::Output)
}

/// The token `get` would answer with for `target` (same route, cache, locks
/// and key sources), with the app and installation that serve it; `command`
/// names the command in the hint for a host that needs a repository.
pub(super) fn token_for<'c>(
    target: &TargetArg,
    command: &str,
    ctx: &Context<'c>,
) -> Result<(&'c App, u64, InstallationToken), Error> {
    match route(ctx.config, target.as_target()) {
        Route::Serve(plan) => match serve_or_fallback(plan, ctx)? {
            (plan, Served::Token { installation_id, token }) => Ok((plan.app, installation_id, token)),
            (plan, Served::NotInstalled { until }) => {
                Err(Error::NotServed(format!("{}: {}", target.describe(), not_installed(&plan, until))))
            }
        },
        Route::NotMine(why) => Err(Error::NotServed(format!("{}: {why}", target.describe()))),
        Route::NeedsPath { host } => Err(Error::NotServed(format!(
            "{} without a repository: several apps serve {host}, or its app discovers installations or scopes tokens per repository; name one, e.g. {command} OWNER/REPO",
            target.describe()
        ))),
    }
}
