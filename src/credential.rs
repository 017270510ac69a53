//! The credential operations git calls: `get` and `erase` (`store` has
//! nothing to do: tokens are cached when minted).
//!
//! `get` routes the request, answers from the cache when the entry is fresh
//! (one file read: no key, no lookup, no network), and otherwise mints under
//! the entry's lock, re-reading first in case another process just minted.

use crate::cache::{Cache, CacheError, Remembered, is_fresh};
use crate::context::Context;
use crate::error::Error;
use crate::mint::Minter;
use crate::protocol::Request;
use crate::route::{Plan, Route, Target, route, use_http_path_hint};
use crate::time::format_utc;
use crate::token::InstallationToken;
use std::time::Instant;

/// The token for `request`, or `None` when it is not ours to answer.
pub(crate) fn get(request: &Request, ctx: &Context<'_>) -> Result<Option<InstallationToken>, Error> {
    if request.malformed {
        ctx.diag.trace(|| "request is not UTF-8: not mine".into());
        return Ok(None);
    }
    match route(ctx.config, Target::of(request)) {
        Route::Serve(plan) => serve(&plan, ctx),
        Route::NotMine(why) => {
            ctx.diag.trace(|| format!("not mine: {why}"));
            Ok(None)
        }
        Route::NeedsPath { host } => {
            ctx.diag.say(use_http_path_hint(&host));
            Ok(None)
        }
    }
}

/// The token for a routed request: from the cache when fresh, else minted
/// under the entry's lock. `None` when discovery finds no installation.
pub(crate) fn serve(plan: &Plan<'_>, ctx: &Context<'_>) -> Result<Option<InstallationToken>, Error> {
    ctx.diag.trace(|| {
        let via = plan.pattern.map_or("the only app for the host (no path)".to_string(), |p| {
            format!("pattern {:?}", p.as_str())
        });
        format!("route: {} via {via}; scope {}", plan.app.label(), plan.key.scope)
    });
    let cache = ctx.cache();
    let min_lifetime = ctx.config.min_token_lifetime_secs;
    let fresh = |cache: &Cache| {
        let entry = cache.read(&plan.key)?;
        is_fresh(entry.expires_at, ctx.now, min_lifetime)
            .then_some(InstallationToken { token: entry.token, expires_at: entry.expires_at })
    };
    if let Some(token) = fresh(&cache) {
        ctx.diag.trace(|| format!("cache: hit, token expires {}", format_utc(token.expires_at)));
        return Ok(Some(token));
    }
    ctx.diag.trace(|| "cache: miss (no entry, or less than min_token_lifetime_secs left)".into());

    if let (None, Some(repo)) = (plan.app.installation_id, &plan.repo) {
        let known = cache.installations(&plan.app.api_url, &plan.app.app_id.to_string());
        if let Remembered::NotInstalled { .. } = known.about(&repo.owner, &repo.repo, ctx.now) {
            ctx.diag.trace(|| "discovery: remembered as not installed there: not mine".into());
            return Ok(None);
        }
    }

    let waiting = Instant::now();
    let wait = ctx.deadline.saturating_duration_since(waiting);
    let lock = match cache.ensure_dir().and_then(|()| cache.lock(&plan.key, wait)) {
        Ok(lock) => {
            ctx.diag.trace(|| format!("lock: held after {} ms", waiting.elapsed().as_millis()));
            Some(lock)
        }
        // The holder is still minting and our time is up: minting now could only fail.
        Err(e @ CacheError::LockTimeout { .. }) => return Err(Error::Cache(e)),
        Err(e) => {
            ctx.diag.say(format_args!("warning: {e}; minting without the cache"));
            None
        }
    };
    let cache = lock.as_ref().map(|_| &cache);
    if let Some(token) = cache.and_then(fresh) {
        ctx.diag.trace(|| "cache: another process minted while we waited".into());
        return Ok(Some(token));
    }
    let Some((installation_id, token)) = Minter::new(plan.app, cache, ctx)?.mint(plan)? else {
        return Ok(None);
    };
    ctx.diag.trace(|| {
        format!("minted for installation {installation_id}, expires {}", format_utc(token.expires_at))
    });
    if let Some(cache) = cache
        && let Err(e) = cache.write(&plan.key, installation_id, &token)
    {
        ctx.diag.say(format_args!("warning: {e}; the token is not cached"));
    }
    Ok(Some(token))
}

/// Drops the cached token git reports as rejected, so the next `get` mints afresh.
pub(crate) fn erase(request: &Request, ctx: &Context<'_>) -> Result<(), Error> {
    let Some(password) = &request.password else {
        return Ok(());
    };
    if request.malformed {
        return Ok(());
    }
    if let Route::NotMine(_) = route(ctx.config, Target::of(request)) {
        return Ok(());
    }
    let wait = ctx.deadline.saturating_duration_since(Instant::now());
    ctx.cache().remove_token(password, wait)?;
    Ok(())
}
