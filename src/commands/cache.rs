//! `cache list` and `cache clear`: what the token cache holds (never the
//! tokens themselves), and emptying it.

use crate::cache::{Cache, Entry, is_fresh};
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::os;
use crate::time::format_utc;
use serde::Serialize;
use std::io::Write;

/// One entry of `cache list --json`; field names are documented in docs/commands.md.
#[derive(Serialize)]
struct EntryJson {
    file: String,
    app_id: String,
    app: String,
    installation_id: u64,
    scope: String,
    api_url: String,
    /// Unix seconds.
    expires_at: u64,
    expires_at_utc: String,
    /// `fresh`, `stale` or `expired`.
    state: &'static str,
}

#[derive(Serialize)]
struct ListJson {
    cache_dir: String,
    tokens: Vec<EntryJson>,
}

/// `cache list`: one line per cached token, never the token.
pub(crate) fn cache_list(json: bool, ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
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
    if json {
        let tokens = entries
            .iter()
            .map(|entry| EntryJson {
                file: Cache::entry_name(&entry.key),
                app_id: entry.key.app_id.clone(),
                app: app_label(entry, config),
                installation_id: entry.installation_id,
                scope: entry.key.scope.clone(),
                api_url: entry.key.api_url.clone(),
                expires_at: entry.expires_at,
                expires_at_utc: format_utc(entry.expires_at),
                state: state(entry, config, ctx.now),
            })
            .collect();
        let list = ListJson { cache_dir: os::shown(cache.dir()), tokens };
        return super::print_json(out, &list, true);
    }
    let count = match entries.len() {
        1 => "1 token".to_string(),
        n => format!("{n} tokens"),
    };
    super::print_line(out, &format!("cache: {} ({count})", os::shown(cache.dir())))?;
    for entry in entries {
        super::print_line(out, &describe_entry(&entry, config, ctx.now))?;
    }
    Ok(())
}

fn app_label(entry: &Entry, config: &Config) -> String {
    config
        .apps
        .iter()
        .find(|a| *a.api_url == entry.key.api_url && a.app_id.to_string() == entry.key.app_id)
        .map_or_else(|| format!("app {}", entry.key.app_id), |a| a.label())
}

fn state(entry: &Entry, config: &Config, now: u64) -> &'static str {
    if entry.expires_at <= now {
        "expired"
    } else if is_fresh(entry.expires_at, now, config.min_token_lifetime_secs) {
        "fresh"
    } else {
        "stale"
    }
}

fn describe_entry(entry: &Entry, config: &Config, now: u64) -> String {
    let app = app_label(entry, config);
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
    super::print_line(out, &format!("cache: deleted {removed} file(s) from {}", os::shown(cache.dir())))
}
