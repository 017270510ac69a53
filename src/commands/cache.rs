//! `cache list` and `cache clear`: what the token cache holds (never the
//! tokens themselves), and emptying it.

use super::out_err;
use crate::cache::{Cache, Entry, is_fresh};
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::time::format_utc;
use std::io::Write;

/// `cache list`: one line per cached token, never the token.
pub(crate) fn cache_list(ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
    let config = ctx.config;
    let cache = ctx.cache();
    let mut entries = cache.entries();
    entries.sort_by(|a, b| {
        (&a.key.api_url, &a.key.app_id, &a.key.installation).cmp(&(
            &b.key.api_url,
            &b.key.app_id,
            &b.key.installation,
        ))
    });
    let count = match entries.len() {
        1 => "1 token".to_string(),
        n => format!("{n} tokens"),
    };
    writeln!(out, "cache: {} ({count})", cache.dir().display()).map_err(out_err)?;
    for entry in entries {
        writeln!(out, "{}", describe_entry(&entry, config, ctx.now)).map_err(out_err)?;
    }
    Ok(())
}

fn describe_entry(entry: &Entry, config: &Config, now: u64) -> String {
    let app = config
        .apps
        .iter()
        .find(|a| *a.api_url == entry.key.api_url && a.app_id.to_string() == entry.key.app_id)
        .map_or_else(|| format!("app {}", entry.key.app_id), |a| a.label());
    let state = if entry.expires_at <= now {
        "expired".to_string()
    } else if is_fresh(entry.expires_at, now, config.min_token_lifetime_secs) {
        format!("fresh, {} min left", (entry.expires_at - now) / 60)
    } else {
        format!("stale, {} min left", (entry.expires_at - now) / 60)
    };
    format!(
        "{}  {app}  installation {}  scope {}  {}  expires {} ({state})",
        Cache::entry_name(&entry.key),
        entry.installation_id,
        entry.key.scope,
        entry.key.api_url,
        format_utc(entry.expires_at)
    )
}

/// `cache clear`: deletes every token and remembered fact.
pub(crate) fn cache_clear(ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
    let cache = ctx.cache();
    let removed = cache.clear().map_err(Error::Cache)?;
    writeln!(out, "cache: deleted {removed} file(s) from {}", cache.dir().display()).map_err(out_err)
}
