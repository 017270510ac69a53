//! `explain URL`: one verdict for a URL (which app, pattern, installation,
//! scope and cache entry serve it, or why nothing does) and how git is wired
//! to ask this helper for it. No network: GitHub is not asked; git config is
//! read. `--json` gives the same as one JSON object.

use super::parse_target;
use super::public_read;
use super::wiring::{self, Facts, Finding, Wiring};
use crate::cache::{Cache, Remembered, is_fresh};
use crate::config::{App, Config, Identity, KeySource, PublicReads, VaultAuth};
use crate::context::Context;
use crate::credential::not_installed;
use crate::error::Error;
use crate::os;
use crate::redact::{looks_secret, shown};
use crate::repo::{Specificity, normalise_host};
use crate::route::{Plan, Route, Target, public_app, public_fallback, route};
use crate::time::format_utc;
use serde::Serialize;
use std::io::Write;

/// The JSON report; field names are documented in docs/commands.md.
#[derive(Debug, Default, Serialize)]
struct Explained {
    request: String,
    config: String,
    served: bool,
    /// One sentence: served by whom, or why not.
    verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_url: Option<String>,
    /// The key source that signs the app's JWTs (and, for a vault, how its token is had).
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    installation: Option<Installation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_scope: Option<String>,
    /// Served by the host's `read_public_repos` fallback: a read-only token.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    public_read: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<CacheState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    git: Option<GitSide>,
    /// The text lines, in order (not in the JSON).
    #[serde(skip)]
    lines: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Installation {
    /// `configured`, `remembered`, `to_discover`, `not_installed`.
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    /// Unix seconds until which "not installed" is remembered.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<u64>,
}

#[derive(Debug, Serialize)]
struct CacheState {
    /// `fresh`, `stale`, `none`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

#[derive(Debug, Serialize)]
struct GitSide {
    url: String,
    helpers: Vec<String>,
    use_http_path: bool,
    ok: bool,
    findings: Vec<Finding>,
}

/// `explain URL`: which app serves it and why, and git's wiring for it.
pub(crate) fn explain(
    url: &str,
    json: bool,
    configure: &str,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let config = ctx.config;
    let target = parse_target(Some(url), None, config)?;
    let mut e = Explained { request: target.describe(), config: config.describe(), ..Explained::default() };
    e.lines.push(format!("request:      {}", target.describe()));
    e.lines.push(format!("config:       {}", config.describe()));
    match route(config, target.as_target()) {
        Route::NotMine(why) => e.verdict = format!("no: {why}"),
        Route::NeedsPath { host } => {
            e.verdict = format!(
                "no: without the repository path no single app can be chosen for {host}; set credential.https://{host}.useHttpPath true"
            )
        }
        Route::Serve(plan) => match fallback_for(&plan, ctx) {
            Some((fallback, why)) => {
                e.lines.push(format!("route:        {why}: the read_public_repos fallback serves it"));
                explain_plan(&fallback, config, ctx, &mut e)
            }
            None => explain_plan(&plan, config, ctx, &mut e),
        },
    }
    e.lines.insert(2, format!("served:       {}", e.verdict));
    let host = normalise_host(&target.host);
    if target.protocol == "https" && config.apps.iter().any(|a| *a.host == host) {
        git_side(&host, target.path.as_deref(), configure, ctx, &mut e);
    }
    if json {
        return super::print_json(out, &e, true);
    }
    for line in &e.lines {
        super::print_line(out, line)?;
    }
    Ok(())
}

fn git_side(host: &str, path: Option<&str>, configure: &str, ctx: &Context<'_>, e: &mut Explained) {
    let entries = match wiring::read_git_config(ctx.deadline) {
        Ok(entries) => entries,
        Err(why) => {
            e.lines.push(format!("git:          {why}"));
            return;
        }
    };
    let wiring = Wiring::of(&entries, host, path);
    let needs_path = matches!(
        route(ctx.config, Target { protocol: Some("https"), host: Some(host), path: None, username: None }),
        Route::NeedsPath { .. }
    );
    let facts = Facts { configure, needs_path, deadline: ctx.deadline };
    let mut findings = wiring::check(&wiring, &facts);
    let public_read = public_app(ctx.config, host).is_some();
    findings.extend(public_read::checks(&wiring, public_read, &facts));
    for f in &findings {
        let mark = if f.ok { " ok " } else { "FAIL" };
        e.lines.push(format!("git:          [{mark}] {}", f.line().trim_start_matches("git: ")));
    }
    e.git = Some(GitSide {
        url: wiring.url.clone(),
        // A `!f() { echo password=...; }` helper would carry a secret: described instead.
        helpers: wiring
            .helpers
            .iter()
            .map(|h| if looks_secret(&h.value) { shown(&h.value) } else { h.value.clone() })
            .collect(),
        use_http_path: wiring.use_http_path,
        ok: findings.iter().all(|f| f.ok),
        findings,
    });
}

/// The fallback plan when `plan`'s app is remembered as not installed for
/// the repository's owner and the host has `read_public_repos`.
fn fallback_for<'c>(plan: &Plan<'c>, ctx: &Context<'c>) -> Option<(Plan<'c>, String)> {
    let repo =
        plan.repo.as_ref().filter(|_| plan.public_read.is_none() && plan.app.installation_id.is_none())?;
    let known = ctx.cache().installations(&plan.app.api_url, &plan.app.app_id.to_string());
    let Remembered::NotInstalled { until } = known.about(&repo.owner, &repo.repo, ctx.now) else {
        return None;
    };
    let fallback = public_fallback(ctx.config, &plan.app.host, repo)?;
    let why =
        format!("{} is not installed for {repo} (remembered until {})", plan.app.label(), format_utc(until));
    Some((fallback, why))
}

fn explain_plan(plan: &Plan<'_>, config: &Config, ctx: &Context<'_>, e: &mut Explained) {
    let app = plan.app;
    e.app = Some(app.label());
    if let (Some(repo), true) = (&plan.repo, plan.public_read.is_some()) {
        e.public_read = true;
        e.lines.push(format!(
            "pattern:      none of the host's patterns serves {repo}: read_public_repos of {} answers with a read-only token",
            app.label()
        ));
    }
    match (plan.pattern, &plan.repo) {
        _ if plan.public_read.is_some() => {}
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
            e.pattern = Some(pattern.as_str().to_string());
            e.lines.push(format!(
                "pattern:      {:?} ({kind}); {rivals} pattern(s) match {repo}: the most specific wins, ties go to the first in the file",
                pattern.as_str()
            ));
        }
        _ => e.lines.push(format!(
            "pattern:      none needed: the only app for {} serves requests without a path",
            app.host
        )),
    }
    e.api_url = Some(app.api_url.to_string());
    e.lines.push(format!("api:          {}", app.api_url));
    let key = key_source(app, config, ctx);
    e.lines.push(format!("key:          {key}"));
    e.key = Some(key);
    let cache = ctx.cache();
    let (installation, text) = installation_of(plan, &cache, ctx.now);
    e.lines.push(format!("installation: {text}"));
    // The verdict follows from the installation: a remembered "not installed"
    // means git gets nothing, whatever the pattern said.
    (e.served, e.verdict) = match (installation.source, &plan.repo, plan.public_read) {
        ("not_installed", Some(_), None) => {
            (false, format!("no: {}", not_installed(plan, installation.until)))
        }
        (_, _, Some(_)) => (
            true,
            format!(
                "yes, by {} through read_public_repos: a read-only token (contents: read) of installation {}, shared by every repository no pattern serves; a push gets 403 from GitHub (git sends no erase after a 403)",
                app.label(),
                installation.id.map_or_else(|| "still to be discovered".to_string(), |id| id.to_string())
            ),
        ),
        ("to_discover", Some(repo), None) if public_app(config, &app.host).is_some() => (
            true,
            format!(
                "yes, by {} if discovery finds an installation on {}; otherwise by the read_public_repos fallback (read-only)",
                app.label(),
                repo.owner
            ),
        ),
        _ => (true, format!("yes, by {}", app.label())),
    };
    e.installation = Some(installation);
    let scope = match (&plan.narrow.repositories, plan.narrow.permissions.is_empty()) {
        (None, true) => "installation (every repository the installation can reach)".to_string(),
        _ => plan.key.scope.clone(),
    };
    e.token_scope = Some(plan.key.scope.clone());
    e.lines.push(format!("token scope:  {scope}"));
    let (state, text) = cache_state(plan, &cache, ctx.now, config.min_token_lifetime_secs);
    e.cache = Some(state);
    e.lines.push(format!("cache:        {text}"));
}

/// Where the plan's installation id comes from: configured, remembered
/// from discovery (or remembered as not installed), or still to discover.
fn installation_of(plan: &Plan<'_>, cache: &Cache, now: u64) -> (Installation, String) {
    let app = plan.app;
    match plan.public_read {
        Some(PublicReads::Installation(id)) => {
            let text = format!("{id} (installation_id; read_public_repos)");
            return (Installation { source: "configured", id: Some(*id), until: None }, text);
        }
        Some(PublicReads::Owner(owner)) => {
            let known = cache.installations(&app.api_url, &app.app_id.to_string());
            return match known.about(owner, "", now) {
                Remembered::Installed(id) => (
                    Installation { source: "remembered", id: Some(id), until: None },
                    format!(
                        "{id} (the installation on {owner}, the owner of the app's first fixed-owner pattern; remembered)"
                    ),
                ),
                _ => (
                    Installation { source: "to_discover", id: None, until: None },
                    format!(
                        "the installation on {owner} (the owner of the app's first fixed-owner pattern), to be discovered with GET /users/{owner}/installation"
                    ),
                ),
            };
        }
        None => {}
    }
    match (app.installation_id, &plan.repo) {
        (Some(id), _) => {
            (Installation { source: "configured", id: Some(id), until: None }, format!("{id} (configured)"))
        }
        (None, Some(repo)) => {
            let known = cache.installations(&app.api_url, &app.app_id.to_string());
            match known.about(&repo.owner, &repo.repo, now) {
                Remembered::NotInstalled { until } => (
                    Installation { source: "not_installed", id: None, until: Some(until) },
                    format!("none: not installed for {repo} (remembered until {})", format_utc(until)),
                ),
                Remembered::Installed(id) => (
                    Installation { source: "remembered", id: Some(id), until: None },
                    format!("{id} (remembered from discovery for {})", repo.owner),
                ),
                Remembered::Unknown => (
                    Installation { source: "to_discover", id: None, until: None },
                    format!("to be discovered with GET /repos/{}/{}/installation", repo.owner, repo.repo),
                ),
            }
        }
        (None, None) => {
            (Installation { source: "to_discover", id: None, until: None }, "to be discovered".to_string())
        }
    }
}

/// Whether the plan's token is cached and fresh enough to be reused.
fn cache_state(plan: &Plan<'_>, cache: &Cache, now: u64, min_lifetime: u64) -> (CacheState, String) {
    match cache.read(&plan.key) {
        Some(entry) if is_fresh(entry.expires_at, now, min_lifetime) => (
            CacheState { state: "fresh", expires_at: Some(entry.expires_at) },
            format!(
                "fresh until {} ({} min left; reused while more than {} s remain)",
                format_utc(entry.expires_at),
                (entry.expires_at - now) / 60,
                min_lifetime
            ),
        ),
        Some(entry) => (
            CacheState { state: "stale", expires_at: Some(entry.expires_at) },
            format!("stale (expires {}): the next get mints a new token", format_utc(entry.expires_at)),
        ),
        None => {
            (CacheState { state: "none", expires_at: None }, "no token cached: the next get mints one".into())
        }
    }
}

/// Which key source signs the app's JWTs, and for a vault, how the helper gets its token.
fn key_source(app: &App, config: &Config, ctx: &Context<'_>) -> String {
    let KeySource::Transit { .. } = &app.key else {
        return app.key.to_string();
    };
    let Some(vault) = &config.vault else {
        return app.key.to_string();
    };
    let namespace = vault.namespace.as_ref().map(|ns| format!(", namespace {ns:?}")).unwrap_or_default();
    let token = match &vault.auth {
        VaultAuth::Login(login) => {
            let identity = match &login.identity {
                Identity::JwtFile(path) => format!("the JWT in {}", os::shown(path)),
                Identity::GitHubActions { audience } => {
                    format!("a GitHub Actions OIDC token for audience {audience:?}")
                }
            };
            format!("login with role {:?} at auth/{} using {identity}", login.role, login.mount)
        }
        VaultAuth::TokenFile(path) => format!("token from token_path {}", os::shown(path)),
        VaultAuth::Ambient => match (&ctx.vault_env.token, &ctx.vault_env.token_file) {
            (Some((name, _)), _) => format!("token from {name}"),
            (None, Some(file)) if file.exists() => format!("token from {}", os::shown(file)),
            _ => "no vault token is set ($VAULT_TOKEN, $BAO_TOKEN, ~/.vault-token): minting will fail".into(),
        },
    };
    format!(
        "{} at vault {} (from {}){namespace}; {token}; the vault is asked only when a token is minted",
        app.key, vault.address, vault.address_origin
    )
}
