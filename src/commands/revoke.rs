//! `revoke [URL]`: revokes cached tokens at GitHub (`DELETE
//! /installation/token`), then deletes them: the end of a CI job.

use super::parse_target;
use crate::context::Context;
use crate::error::Error;
use crate::route::{Route, route};
use std::io::Write;
use std::time::Instant;

/// `revoke [URL]`: revokes cached tokens at GitHub, then deletes them.
pub(crate) fn revoke(arg: Option<&str>, ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
    let config = ctx.config;
    let cache = ctx.cache();
    let entries = match arg {
        None => cache.entries(),
        Some(arg) => {
            let target = parse_target(Some(arg), None, config)?;
            match route(config, target.as_target()) {
                Route::Serve(plan) => cache.read(&plan.key).into_iter().collect(),
                Route::NotMine(why) => {
                    return Err(Error::NotServed(format!("{}: {why}", target.describe())));
                }
                Route::NeedsPath { host } => {
                    return Err(Error::NotServed(format!("{host}: name the repository in the URL")));
                }
            }
        }
    };
    let mut failed = 0;
    for entry in &entries {
        let app = config
            .apps
            .iter()
            .find(|a| *a.api_url == entry.key.api_url && a.app_id.to_string() == entry.key.app_id);
        let setup = ctx.client_at(&entry.key.api_url, app.and_then(|a| a.ca_file.as_deref()));
        let label =
            format!("app {} installation {} ({})", entry.key.app_id, entry.installation_id, entry.key.scope);
        let outcome = ctx.finish(setup).and_then(|client| client.revoke(&entry.token));
        let line = match outcome {
            Ok(revoked) => {
                let wait = ctx.deadline.saturating_duration_since(Instant::now());
                cache.remove_token(&entry.token, wait).map_err(Error::Cache)?;
                if revoked {
                    format!("revoked: {label}")
                } else {
                    format!("already invalid, deleted: {label}")
                }
            }
            Err(e) => {
                failed += 1;
                format!("failed: {label}: {e}")
            }
        };
        super::print_line(out, &line)?;
    }
    if entries.is_empty() {
        super::print_line(out, "no cached token to revoke")?;
    }
    match failed {
        0 => Ok(()),
        count => Err(Error::RevokeFailed { count }),
    }
}
