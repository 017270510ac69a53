//! `explain URL`: which app, pattern, installation, scope and cache entry
//! serve a URL, and why, without the network.

use super::{out_err, parse_target};
use crate::cache::{Remembered, is_fresh};
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::repo::Specificity;
use crate::route::{Plan, Route, route};
use crate::time::format_utc;
use std::io::Write;

/// `explain URL`: which app serves it and why, without the network.
pub(crate) fn explain(url: &str, ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
    let config = ctx.config;
    let target = parse_target(Some(url), None, config)?;
    let mut lines = vec![
        format!("request:      {}", target.describe()),
        format!("config:       {}", config.path.display()),
    ];
    match route(config, target.as_target()) {
        Route::NotMine(why) => lines.push(format!("served:       no: {why}")),
        Route::NeedsPath { host } => lines.push(format!(
            "served:       no: without the repository path no single app can be chosen for {host}; set credential.https://{host}.useHttpPath true"
        )),
        Route::Serve(plan) => explain_plan(&plan, config, ctx, &mut lines),
    }
    for line in lines {
        writeln!(out, "{line}").map_err(out_err)?;
    }
    Ok(())
}

fn explain_plan(plan: &Plan<'_>, config: &Config, ctx: &Context<'_>, lines: &mut Vec<String>) {
    let app = plan.app;
    lines.push(format!("served:       yes, by {}", app.label()));
    match (plan.pattern, &plan.repo) {
        (Some(pattern), Some(repo)) => {
            let rivals = config
                .apps
                .iter()
                .filter(|a| a.host == app.host)
                .flat_map(|a| a.repos.iter().filter(|p| p.matches(repo)))
                .count();
            let kind = match pattern.specificity() {
                Specificity::Exact => "no wildcard",
                Specificity::WildcardRepo => "wildcard in the repository",
                Specificity::WildcardOwner => "wildcard in the owner",
            };
            lines.push(format!(
                "pattern:      {:?} ({kind}); {rivals} pattern(s) match {repo}: the most specific wins, ties go to the first in the file",
                pattern.as_str()
            ));
        }
        _ => lines.push(format!(
            "pattern:      none needed: the only app for {} serves requests without a path",
            app.host
        )),
    }
    lines.push(format!("api:          {}", app.api_url));
    let cache = ctx.cache();
    let installation = match (app.installation_id, &plan.repo) {
        (Some(id), _) => format!("{id} (configured)"),
        (None, Some(repo)) => {
            let known = cache.installations(&app.api_url, &app.app_id.to_string());
            match known.about(&repo.owner, &repo.repo, ctx.now) {
                Remembered::NotInstalled { until } => {
                    format!("none: not installed for {repo} (remembered until {})", format_utc(until))
                }
                Remembered::Installed(id) => format!("{id} (remembered from discovery for {})", repo.owner),
                Remembered::Unknown => {
                    format!("to be discovered with GET /repos/{}/{}/installation", repo.owner, repo.repo)
                }
            }
        }
        (None, None) => "to be discovered".to_string(),
    };
    lines.push(format!("installation: {installation}"));
    let scope = match (&plan.narrow.repositories, plan.narrow.permissions.is_empty()) {
        (None, true) => "installation (every repository the installation can reach)".to_string(),
        _ => plan.key.scope.clone(),
    };
    lines.push(format!("token scope:  {scope}"));
    let state = match cache.read(&plan.key) {
        Some(entry) if is_fresh(entry.expires_at, ctx.now, config.min_token_lifetime_secs) => format!(
            "fresh until {} ({} min left; reused while more than {} s remain)",
            format_utc(entry.expires_at),
            (entry.expires_at - ctx.now) / 60,
            config.min_token_lifetime_secs
        ),
        Some(entry) => {
            format!("stale (expires {}): the next get mints a new token", format_utc(entry.expires_at))
        }
        None => "no token cached: the next get mints one".to_string(),
    };
    lines.push(format!("cache:        {state}"));
}
