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
use crate::redact::escape;
use crate::repo::normalise_host;
use crate::route::{NotMine, Plan, Route, Target, public_fallback, route, use_http_path_hint};
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
        Route::Serve(plan) => match serve_or_fallback(plan, ctx)? {
            (_, Served::Token { token, .. }) => Ok(Some(token)),
            (plan, Served::NotInstalled { until }) => {
                ctx.diag.say(format_args!(
                    "not serving https://{}/{}: {}",
                    plan.app.host,
                    plan.repo.as_ref().map(ToString::to_string).unwrap_or_default(),
                    not_installed(&plan, until)
                ));
                Ok(None)
            }
        },
        // A host we are configured for: say why nothing is served, as git
        // will only say "could not read Username". Hosts not in the config
        // stay silent, so a helper chain falls through quietly.
        Route::NotMine(why @ (NotMine::NoPatternMatched { .. } | NotMine::NotARepository(_))) => {
            ctx.diag.say(format_args!("not serving {}: {why}", shown_url(request)));
            Ok(None)
        }
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

/// The URL of git's request for a message, with control characters escaped
/// (a submodule URL can carry ESC or BEL in its host or path).
fn shown_url(request: &Request) -> String {
    escape(&format!(
        "https://{}/{}",
        request.host.as_deref().map(normalise_host).unwrap_or_default(),
        request.path.as_deref().unwrap_or("")
    ))
}

/// What serving a routed request gives.
pub(crate) enum Served {
    Token {
        installation_id: u64,
        token: InstallationToken,
    },
    /// Discovery found no installation for the owner; `until` when that was
    /// remembered from an earlier answer.
    NotInstalled {
        until: Option<u64>,
    },
}

/// Why a plan's app gives no token: for `get`'s stderr line and `token`'s error.
pub(crate) fn not_installed(plan: &Plan<'_>, until: Option<u64>) -> String {
    let repo = plan.repo.as_ref().map(ToString::to_string).unwrap_or_default();
    let memory = match until {
        Some(until) => format!("remembered until {}", format_utc(until)),
        None => "GitHub said so; remembered for a while".to_string(),
    };
    format!(
        "{} is not installed for {repo} ({memory}; `git-credential-github-app cache clear` forgets it)",
        plan.app.label()
    )
}

/// Serves `plan`; when discovery finds its app not installed for the owner
/// and the host has a `read_public_repos` fallback, serves the fallback
/// instead. Returns the plan that served, for messages.
pub(crate) fn serve_or_fallback<'c>(plan: Plan<'c>, ctx: &Context<'c>) -> Result<(Plan<'c>, Served), Error> {
    let served = serve(&plan, ctx)?;
    if let Served::NotInstalled { .. } = served
        && plan.public_read.is_none()
        && let Some(repo) = &plan.repo
        && let Some(fallback) = public_fallback(ctx.config, &plan.app.host, repo)
    {
        ctx.diag.trace(|| {
            format!("route: {} is not installed for {repo}: the public-read fallback", plan.app.label())
        });
        let served = serve(&fallback, ctx)?;
        return Ok((fallback, served));
    }
    Ok((plan, served))
}

/// The token for a routed request and its installation: from the cache when
/// fresh, else minted under the entry's lock.
pub(crate) fn serve(plan: &Plan<'_>, ctx: &Context<'_>) -> Result<Served, Error> {
    ctx.diag.trace(|| {
        let via = match (plan.pattern, plan.public_read) {
            (Some(p), _) => format!("pattern {:?}", p.as_str()),
            (None, Some(_)) => "read_public_repos (read-only)".to_string(),
            (None, None) => "the only app for the host (no path)".to_string(),
        };
        format!("route: {} via {via}; scope {}", plan.app.label(), plan.key.scope)
    });
    let cache = ctx.cache();
    let min_lifetime = ctx.config.min_token_lifetime_secs;
    let fresh = |cache: &Cache| {
        let entry = cache.read(&plan.key)?;
        is_fresh(entry.expires_at, ctx.now, min_lifetime).then_some((
            entry.installation_id,
            InstallationToken { token: entry.token, expires_at: entry.expires_at },
        ))
    };
    if let Some((installation_id, token)) = fresh(&cache) {
        ctx.diag.trace(|| format!("cache: hit, token expires {}", format_utc(token.expires_at)));
        return Ok(Served::Token { installation_id, token });
    }
    ctx.diag.trace(|| "cache: miss (no entry, or less than min_token_lifetime_secs left)".into());

    if let (None, Some(repo), None) = (plan.app.installation_id, &plan.repo, plan.public_read) {
        let known = cache.installations(&plan.app.api_url, &plan.app.app_id.to_string());
        if let Remembered::NotInstalled { until } = known.about(&repo.owner, &repo.repo, ctx.now) {
            ctx.diag.trace(|| "discovery: remembered as not installed there".into());
            return Ok(Served::NotInstalled { until: Some(until) });
        }
    }

    let waiting = Instant::now();
    let wait = ctx.deadline.saturating_duration_since(waiting);
    let lock = match cache.ensure_dir().and_then(|()| cache.lock(&plan.key, wait)) {
        Ok(lock) => {
            let queued = if lock.waited { " (queued behind another process)" } else { "" };
            ctx.diag.trace(|| format!("lock: held after {} ms{queued}", waiting.elapsed().as_millis()));
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
    if let Some((installation_id, token)) = cache.and_then(fresh) {
        ctx.diag.trace(|| "cache: another process minted while we waited".into());
        return Ok(Served::Token { installation_id, token });
    }
    // We queued behind a process that failed moments ago: share its failure
    // rather than send GitHub the same doomed request again. A process that
    // did not have to wait tries afresh (the user may have fixed the cause).
    let queued = lock.as_ref().is_some_and(|l| l.waited);
    if let Some(note) = cache.filter(|_| queued).and_then(|c| c.recent_failure(&plan.key)) {
        return Err(Error::Shared { message: note.message, age_secs: note.age_secs });
    }
    let minted = Minter::new(plan.app, cache, ctx).and_then(|mut minter| minter.mint(plan));
    if let Some(cache) = cache {
        match &minted {
            Err(e) => {
                if let Err(note) = cache.record_failure(&plan.key, &e.to_string()) {
                    ctx.diag.trace(|| format!("cache: failure not shared: {note}"));
                }
            }
            Ok(_) => cache.forget_failure(&plan.key),
        }
    }
    let Some((installation_id, token)) = minted? else {
        return Ok(Served::NotInstalled { until: None });
    };
    ctx.diag.trace(|| {
        format!("minted for installation {installation_id}, expires {}", format_utc(token.expires_at))
    });
    if let Some(cache) = cache
        && let Err(e) = cache.write(&plan.key, installation_id, &token)
    {
        ctx.diag.say(format_args!("warning: {e}; the token is not cached"));
    }
    Ok(Served::Token { installation_id, token })
}

/// Drops the cached token git reports as rejected, so the next `get` mints afresh.
pub(crate) fn erase(request: &Request, ctx: &Context<'_>) -> Result<(), Error> {
    let Some(password) = &request.password else {
        return Ok(());
    };
    if request.malformed {
        return Ok(());
    }
    let plan = match route(ctx.config, Target::of(request)) {
        Route::NotMine(_) => return Ok(()),
        Route::Serve(plan) => Some(plan),
        Route::NeedsPath { .. } => None,
    };
    let cache = ctx.cache();
    // Which installation the rejected token was for, when we cached it.
    let cached = plan.as_ref().and_then(|p| cache.read(&p.key)).filter(|e| e.token.ct_eq(password.expose()));
    let wait = ctx.deadline.saturating_duration_since(Instant::now());
    let removed = cache.remove_token(password, wait)?;
    ctx.diag.trace(|| format!("erase: removed {removed} cached token(s)"));
    let url = shown_url(request);
    let whose = match (&plan, cached) {
        (Some(plan), Some(entry)) => format!("{} (installation {})", plan.app.label(), entry.installation_id),
        (Some(plan), None) => plan.app.label(),
        (None, _) => "this helper".to_string(),
    };
    let dropped = if removed > 0 { "it is dropped from the cache" } else { "it was not in the cache" };
    ctx.diag.say(format_args!(
        "GitHub rejected the token of {whose} for {url}: {dropped}, and the next git command mints a fresh one (likely causes: it was revoked with `revoke`, the app was uninstalled, or the repository is not granted to the installation)"
    ));
    Ok(())
}
