//! `token [URL | OWNER/REPO]`: the token `get` would answer with, on its own
//! line, for `GH_TOKEN`, curl and scripts.

use super::{out_err, parse_target};
use crate::context::Context;
use crate::credential::serve;
use crate::error::Error;
use crate::protocol::is_safe_value;
use crate::route::{Route, route};
use std::io::Write;

/// `token`: the token `get` would answer with, on its own line.
pub(crate) fn token(
    arg: Option<&str>,
    host: Option<&str>,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let target = parse_target(arg, host, ctx.config)?;
    let token = match route(ctx.config, target.as_target()) {
        Route::Serve(plan) => serve(&plan, ctx)?.ok_or_else(|| {
            Error::NotServed(format!(
                "{}: {} is not installed for {}",
                target.describe(),
                plan.app.label(),
                plan.repo.as_ref().map_or_else(String::new, |r| r.owner.clone())
            ))
        })?,
        Route::NotMine(why) => return Err(Error::NotServed(format!("{}: {why}", target.describe()))),
        Route::NeedsPath { host } => {
            return Err(Error::NotServed(format!(
                "{} without a repository: several apps serve {host}, or its app discovers installations or scopes tokens per repository; name one, e.g. token OWNER/REPO",
                target.describe()
            )));
        }
    };
    let value = token.token.expose();
    if !is_safe_value(value) {
        return Err(Error::NotServed("the token holds a line break".into()));
    }
    writeln!(out, "{value}").map_err(out_err)
}
