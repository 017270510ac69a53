//! The operator commands: `configure`, `unconfigure`, `token`, `explain`,
//! `doctor`, `cache list|clear` and `revoke`. Each writes its report to the
//! `out` it is given and never prints a secret, except `token`, whose whole
//! purpose is to print the token on stdout.

use crate::cache::{Cache, Entry, is_fresh};
use crate::cli::Scope;
use crate::config::{App, Config, KeySource};
use crate::configure::{self, HostState};
use crate::error::Error;
use crate::github::{Client, ClientOptions, format_utc};
use crate::helper::{self, Context, Minter, Plan, Planned};
use crate::network;
use crate::protocol::is_safe_value;
use crate::routing::{Specificity, Target, normalise_host, parse_repo_path};
use crate::{jwt, key};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn out_err(e: std::io::Error) -> Error {
    Error::Output(e)
}

// ---------------------------------------------------------------- targets

/// A URL or `OWNER/REPO` from the command line, as the request git would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetArg {
    pub protocol: String,
    pub host: String,
    pub path: Option<String>,
    pub username: Option<String>,
}

impl TargetArg {
    pub fn as_target(&self) -> Target<'_> {
        Target {
            protocol: Some(&self.protocol),
            host: Some(&self.host),
            path: self.path.as_deref(),
            username: self.username.as_deref(),
        }
    }

    pub fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("{}://{}/{path}", self.protocol, self.host),
            None => format!("{}://{}", self.protocol, self.host),
        }
    }
}

/// Reads `https://HOST/OWNER/REPO`, `OWNER/REPO` (on `--host`, else the
/// config's only host, else github.com) or nothing (the host alone).
pub fn parse_target(arg: Option<&str>, host: Option<&str>, config: &Config) -> Result<TargetArg, Error> {
    let default_host = || {
        host.map(normalise_host).unwrap_or_else(|| {
            let mut hosts = config.apps.iter().map(|a| a.host.as_str());
            match (hosts.next(), hosts.all(|h| Some(h) == config.apps.first().map(|a| a.host.as_str()))) {
                (Some(only), true) => only.to_string(),
                _ => "github.com".to_string(),
            }
        })
    };
    let Some(arg) = arg else {
        return Ok(TargetArg { protocol: "https".into(), host: default_host(), path: None, username: None });
    };
    let Some((protocol, rest)) = arg.split_once("://") else {
        if parse_repo_path(arg).is_none() {
            return Err(Error::Usage(format!("{arg:?} is neither a URL nor OWNER/REPO")));
        }
        return Ok(TargetArg {
            protocol: "https".into(),
            host: default_host(),
            path: Some(arg.trim_matches('/').to_string()),
            username: None,
        });
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (username, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user.split(':').next().unwrap_or(user).to_string()), host),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err(Error::Usage(format!("{arg:?} has no host")));
    }
    let path = path.trim_matches('/');
    Ok(TargetArg {
        protocol: protocol.to_ascii_lowercase(),
        host: host.to_string(),
        path: (!path.is_empty()).then(|| path.to_string()),
        username,
    })
}

fn require_config<'c>(config: Option<&'c Config>, location: &Path) -> Result<&'c Config, Error> {
    config.ok_or_else(|| Error::NoConfig(location.to_path_buf()))
}

// ---------------------------------------------------------------- token

/// `token`: the token `get` would answer with, on its own line.
pub fn token(
    arg: Option<&str>,
    host: Option<&str>,
    ctx: &Context<'_>,
    location: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let config = require_config(ctx.config, location)?;
    let target = parse_target(arg, host, config)?;
    let token = match helper::plan(config, target.as_target()) {
        Planned::Serve(plan) => helper::serve(&plan, config, ctx)?.ok_or_else(|| {
            Error::NotServed(format!(
                "{}: {} is not installed for {}",
                target.describe(),
                plan.app.label(),
                plan.repo.as_ref().map_or_else(String::new, |r| r.owner.clone())
            ))
        })?,
        Planned::NotMine(why) => return Err(Error::NotServed(format!("{}: {why}", target.describe()))),
        Planned::NeedsPath { host } => {
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

// ---------------------------------------------------------------- explain

/// `explain URL`: which app serves it and why, without the network.
pub fn explain(url: &str, ctx: &Context<'_>, location: &Path, out: &mut dyn Write) -> Result<(), Error> {
    let config = require_config(ctx.config, location)?;
    let target = parse_target(Some(url), None, config)?;
    let mut lines = vec![
        format!("request:      {}", target.describe()),
        format!("config:       {}", config.path.display()),
    ];
    match helper::plan(config, target.as_target()) {
        Planned::NotMine(why) => lines.push(format!("served:       no: {why}")),
        Planned::NeedsPath { host } => lines.push(format!(
            "served:       no: without the repository path no single app can be chosen for {host}; set credential.https://{host}.useHttpPath true"
        )),
        Planned::Serve(plan) => explain_plan(&plan, config, ctx, &mut lines),
    }
    for line in lines {
        writeln!(out, "{line}").map_err(out_err)?;
    }
    Ok(())
}

fn explain_plan(plan: &Plan<'_>, config: &Config, ctx: &Context<'_>, lines: &mut Vec<String>) {
    let app = plan.app;
    lines.push(format!("served:       yes, by {}", app_name(app)));
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
    let cache = ctx.cache(config);
    let installation = match (app.installation_id, &plan.repo) {
        (Some(id), _) => format!("{id} (configured)"),
        (None, Some(repo)) => {
            let known = cache.installations(&app.api_url, &app.app_id.to_string());
            if let Some(until) = known.missing.get(&repo.to_string()).filter(|&&u| u > ctx.now) {
                format!("none: not installed for {repo} (remembered until {})", format_utc(*until))
            } else if let Some(id) = known.found.get(&repo.owner) {
                format!("{id} (remembered from discovery for {})", repo.owner)
            } else {
                format!("to be discovered with GET /repos/{}/{}/installation", repo.owner, repo.repo)
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

fn app_name(app: &App) -> String {
    app.label()
}

// ---------------------------------------------------------------- cache

/// `cache list`: one line per cached token, never the token.
pub fn cache_list(ctx: &Context<'_>, location: &Path, out: &mut dyn Write) -> Result<(), Error> {
    let config = require_config(ctx.config, location)?;
    let cache = ctx.cache(config);
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
        .find(|a| a.api_url == entry.key.api_url && a.app_id.to_string() == entry.key.app_id)
        .map_or_else(|| format!("app {}", entry.key.app_id), app_name);
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
pub fn cache_clear(ctx: &Context<'_>, location: &Path, out: &mut dyn Write) -> Result<(), Error> {
    let config = require_config(ctx.config, location)?;
    let cache = ctx.cache(config);
    let removed = cache.clear().map_err(Error::Cache)?;
    writeln!(out, "cache: deleted {removed} file(s) from {}", cache.dir().display()).map_err(out_err)
}

// ---------------------------------------------------------------- revoke

/// `revoke [URL]`: revokes cached tokens at GitHub, then deletes them.
pub fn revoke(
    arg: Option<&str>,
    ctx: &Context<'_>,
    location: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let config = require_config(ctx.config, location)?;
    let cache = ctx.cache(config);
    let entries = match arg {
        None => cache.entries(),
        Some(arg) => {
            let target = parse_target(Some(arg), None, config)?;
            match helper::plan(config, target.as_target()) {
                Planned::Serve(plan) => cache.read(&plan.key).into_iter().collect(),
                Planned::NotMine(why) => {
                    return Err(Error::NotServed(format!("{}: {why}", target.describe())));
                }
                Planned::NeedsPath { host } => {
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
            .find(|a| a.api_url == entry.key.api_url && a.app_id.to_string() == entry.key.app_id);
        let route = network::resolve(app.and_then(|a| a.ca_file.as_deref()), ctx.network, || {
            network::GitHttpQuery::start(&entry.key.api_url).finish(ctx.deadline)
        });
        let options = ClientOptions {
            api_url: entry.key.api_url.clone(),
            route,
            deadline: ctx.deadline,
            timeout: ctx.timeout,
            now: ctx.now,
        };
        let label =
            format!("app {} installation {} ({})", entry.key.app_id, entry.installation_id, entry.key.scope);
        let outcome = Client::new(options, ctx.diag).and_then(|client| client.revoke(&entry.token));
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
        writeln!(out, "{line}").map_err(out_err)?;
    }
    if entries.is_empty() {
        writeln!(out, "no cached token to revoke").map_err(out_err)?;
    }
    match failed {
        0 => Ok(()),
        n => Err(Error::Failed(format!("{n} token(s) could not be revoked"))),
    }
}

// ---------------------------------------------------------------- doctor

/// `doctor`: checks every app end to end; fails if any check fails.
pub fn doctor(ctx: &Context<'_>, location: &Path, out: &mut dyn Write) -> Result<(), Error> {
    let config = require_config(ctx.config, location)?;
    let mut failures = 0;
    let mut check = |out: &mut dyn Write, ok: bool, text: String| {
        failures += usize::from(!ok);
        writeln!(out, "  [{}] {text}", if ok { " ok " } else { "FAIL" }).map_err(out_err)
    };
    writeln!(out, "config {}: valid, {} app(s)", config.path.display(), config.apps.len())
        .map_err(out_err)?;
    if config.apps.is_empty() {
        check(out, false, "no [[app]] is configured: nothing will be served".into())?;
    }
    for app in &config.apps {
        writeln!(out, "{} for {} ({})", app_name(app), app.host, app.api_url).map_err(out_err)?;
        let timeout = ctx.deadline.saturating_duration_since(Instant::now());
        let signed = key::load(&app.key, ctx.var, timeout).map_err(|e| e.to_string()).and_then(|pem| {
            jwt::sign(&pem, &jwt::claims(&app.app_id, 0)).map(|_| ()).map_err(|e| format!("{} {e}", app.key))
        });
        match signed {
            Ok(()) => {
                check(out, true, format!("key: {} is a usable RSA key{}", app.key, key_note(&app.key)))?
            }
            Err(e) => {
                check(out, false, format!("key: {e}"))?;
                continue;
            }
        }
        let mut minter = match Minter::new(app, None, ctx) {
            Ok(m) => m,
            Err(e) => {
                check(out, false, format!("network: {e}"))?;
                continue;
            }
        };
        match minter.with_jwt(|client, jwt| client.app(jwt)) {
            Ok((info, date)) => {
                check(out, true, format!("JWT: accepted by GitHub as app {:?} (GET /app)", info.slug))?;
                match date {
                    Some(date) => {
                        let offset = i128::from(date) - i128::from(ctx.now);
                        let ok = offset.abs() <= 30;
                        let text = if ok {
                            format!("clock: within {} s of GitHub's", offset.abs())
                        } else {
                            format!(
                                "clock: {offset} s off GitHub's (JWTs are corrected automatically; fix the clock with NTP)"
                            )
                        };
                        check(out, ok, text)?;
                    }
                    None => check(out, false, "clock: GitHub's answer had no Date header".into())?,
                }
            }
            Err(e) => {
                check(out, false, format!("JWT: {e}"))?;
                continue;
            }
        }
        match minter.with_jwt(|client, jwt| client.installations(jwt)) {
            Ok(list) => {
                let shown: Vec<String> = list
                    .iter()
                    .take(10)
                    .map(|i| format!("{} ({})", i.account.as_ref().map_or("?", |a| a.login.as_str()), i.id))
                    .collect();
                let more =
                    if list.len() > 10 { format!(", and {} more", list.len() - 10) } else { String::new() };
                check(
                    out,
                    !list.is_empty(),
                    format!("installations: {} visible: {}{more}", list.len(), shown.join(", ")),
                )?;
                if let Some(id) = app.installation_id {
                    let visible = list.iter().any(|i| i.id == id);
                    let text = if visible {
                        format!("installation_id {id}: installed")
                    } else {
                        format!(
                            "installation_id {id}: not among the app's installations (check installation_id)"
                        )
                    };
                    check(out, visible, text)?;
                }
            }
            Err(e) => check(out, false, format!("installations: {e}"))?,
        }
    }
    match failures {
        0 => Ok(()),
        n => Err(Error::Failed(format!("doctor: {n} check(s) failed"))),
    }
}

fn key_note(source: &KeySource) -> String {
    match source {
        KeySource::Path(path) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path)
                .map(|m| format!(" (mode {:03o})", m.permissions().mode() & 0o777))
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

// ---------------------------------------------------------------- configure

/// `configure` / `unconfigure` for every host in the config.
pub fn configure(
    config: &Config,
    scope: &Scope,
    dry_run: bool,
    remove: bool,
    helper: &str,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut hosts: Vec<&str> = config.apps.iter().map(|a| a.host.as_str()).collect();
    hosts.dedup();
    let mut seen = std::collections::BTreeSet::new();
    hosts.retain(|h| seen.insert(*h));
    if hosts.is_empty() {
        return Err(Error::Failed(format!(
            "config file {} has no [[app]]: no host to configure",
            config.path.display()
        )));
    }
    let scope_args = configure::scope_args(scope);
    for host in hosts {
        let state = HostState {
            helpers: git_get_all(&scope_args, &configure::helper_key(host))?,
            use_http_path: git_get_all(&scope_args, &configure::use_http_path_key(host))?.pop(),
            replaced_use_http_path: git_get_all(&scope_args, &configure::marker_key(host))?.pop(),
        };
        let commands = if remove {
            configure::plan_unconfigure(scope, host, &state)
        } else {
            configure::plan_configure(scope, host, helper, &state)
        };
        if commands.is_empty() {
            let done = if remove { "not configured" } else { "already configured" };
            writeln!(out, "{host}: {done}, nothing to change").map_err(out_err)?;
        }
        for command in commands {
            if dry_run {
                writeln!(out, "{}", configure::display(&command)).map_err(out_err)?;
            } else {
                run_git(&command)?;
                writeln!(out, "ran: {}", configure::display(&command)).map_err(out_err)?;
            }
        }
    }
    Ok(())
}

/// Every value of `key` in the scope's file (none when unset).
fn git_get_all(scope: &[String], key: &str) -> Result<Vec<String>, Error> {
    let mut command = vec!["config".to_string()];
    command.extend(scope.iter().cloned());
    command.extend(["--null".into(), "--get-all".into(), key.to_string()]);
    let output = Command::new("git")
        .args(&command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Git { command: configure::display(&command), detail: e.to_string() })?;
    match output.status.code() {
        Some(0) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let mut values: Vec<String> = text.split('\0').map(str::to_string).collect();
            values.pop();
            Ok(values)
        }
        Some(1) => Ok(Vec::new()),
        _ => Err(Error::Git {
            command: configure::display(&command),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }),
    }
}

fn run_git(command: &[String]) -> Result<(), Error> {
    let output = Command::new("git")
        .args(command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Git { command: configure::display(command), detail: e.to_string() })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Git {
            command: configure::display(command),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Defaults, parse_config};

    fn config() -> Config {
        parse_config(
            "[[app]]\napp_id = 1\nprivate_key_path = \"/k\"\nhost = \"ghe.example\"\ninstallation_id = 2\n",
            Path::new("/c.toml"),
            &Defaults::for_tests(),
        )
        .unwrap()
    }

    #[test]
    fn urls_and_owner_repo_become_requests() {
        let c = config();
        let t = parse_target(Some("https://x-access-token@GitHub.com/acme/web.git?x=1"), None, &c).unwrap();
        assert_eq!(t.protocol, "https");
        assert_eq!(t.host, "GitHub.com");
        assert_eq!(t.path.as_deref(), Some("acme/web.git"));
        assert_eq!(t.username.as_deref(), Some("x-access-token"));
        let t = parse_target(Some("acme/web"), None, &c).unwrap();
        assert_eq!((t.host.as_str(), t.path.as_deref()), ("ghe.example", Some("acme/web")));
        let t = parse_target(Some("acme/web"), Some("GitHub.com:443"), &c).unwrap();
        assert_eq!(t.host, "github.com");
        let t = parse_target(None, None, &c).unwrap();
        assert_eq!((t.host.as_str(), t.path.as_deref()), ("ghe.example", None));
        assert!(parse_target(Some("just-a-word"), None, &c).is_err());
        assert!(parse_target(Some("https:///acme/web"), None, &c).is_err());
    }
}
