//! `doctor`: checks every app end to end (config, key, JWT accepted by
//! GitHub, clock, installations, `repos` patterns against the installations'
//! accounts) and git's side of every configured host (see [`wiring`]); fails
//! if any check fails. `--json` gives the same checks as one JSON object.

use super::public_read;
use super::wiring::{self, Facts, Finding, Wiring};
use crate::config::{App, KeySource, PublicReads};
use crate::context::Context;
use crate::error::Error;
use crate::github::{ApiError, InstallationInfo, MintRequest};
use crate::mint::Minter;
use crate::repo::Pattern;
use crate::route::{Route, Target, route};
use crate::signer::Signer;
use serde::Serialize;
use std::io::Write;

/// One check's outcome; the JSON field names are documented in docs/commands.md.
#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    ok: bool,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Debug, Serialize)]
struct AppReport {
    app: String,
    app_id: String,
    host: String,
    api_url: String,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
struct HostReport {
    host: String,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
struct Report {
    config: String,
    ok: bool,
    failed: usize,
    apps: Vec<AppReport>,
    hosts: Vec<HostReport>,
}

/// Writes checks as they come (text), or keeps them for the JSON report.
struct Printer<'o> {
    out: &'o mut dyn Write,
    json: bool,
    failed: usize,
}

impl Printer<'_> {
    fn heading(&mut self, text: String) -> Result<(), Error> {
        if self.json { Ok(()) } else { super::print_line(self.out, &text) }
    }

    fn check(&mut self, into: &mut Vec<Check>, check: Check) -> Result<(), Error> {
        self.failed += usize::from(!check.ok);
        if !self.json {
            let line = match (&check.why, &check.fix) {
                (Some(why), Some(fix)) => format!("{}: {why}; fix: {fix}", check.message),
                (Some(why), None) => format!("{}: {why}", check.message),
                _ => check.message.clone(),
            };
            super::print_line(self.out, &format!("  [{}] {line}", if check.ok { " ok " } else { "FAIL" }))?;
        }
        into.push(check);
        Ok(())
    }
}

fn check(name: &'static str, ok: bool, message: String) -> Check {
    Check { check: name, ok, message, why: None, fix: None }
}

/// `doctor`: checks every app and every host's git side; fails if any check fails.
/// `configure` is the command that configures git for this config (the fix
/// when this helper is not wired in).
pub(crate) fn doctor(
    json: bool,
    configure: &str,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let config = ctx.config;
    let mut p = Printer { out, json, failed: 0 };
    let mut report =
        Report { config: config.describe(), ok: true, failed: 0, apps: Vec::new(), hosts: Vec::new() };
    p.heading(format!("{}: valid, {} app(s)", config.describe(), config.apps.len()))?;
    if config.apps.is_empty() {
        let mut checks = Vec::new();
        p.check(
            &mut checks,
            check("config", false, "no [[app]] is configured: nothing will be served".into()),
        )?;
        report.hosts.push(HostReport { host: String::new(), checks });
    }
    for app in &config.apps {
        p.heading(format!("{} for {} ({})", app.label(), app.host, app.api_url))?;
        let mut checks = Vec::new();
        check_app(app, ctx, &mut p, &mut checks)?;
        report.apps.push(AppReport {
            app: app.label(),
            app_id: app.app_id.to_string(),
            host: app.host.to_string(),
            api_url: app.api_url.to_string(),
            checks,
        });
    }
    let mut hosts: Vec<&str> = config.apps.iter().map(|a| &*a.host).collect();
    let mut seen = std::collections::BTreeSet::new();
    hosts.retain(|h| seen.insert(*h));
    let entries = wiring::read_git_config(ctx.deadline);
    for host in hosts {
        p.heading(format!("git for https://{host}/"))?;
        let mut checks = Vec::new();
        match &entries {
            Ok(entries) => {
                let needs_path = matches!(
                    route(
                        config,
                        Target { protocol: Some("https"), host: Some(host), path: None, username: None }
                    ),
                    Route::NeedsPath { .. }
                );
                let facts = Facts { configure, needs_path, deadline: ctx.deadline };
                let wiring = Wiring::of(entries, host, None);
                let public_read = crate::route::public_app(config, host).is_some();
                let findings = wiring::check(&wiring, &facts);
                for finding in findings.into_iter().chain(public_read::checks(&wiring, public_read, &facts)) {
                    p.check(&mut checks, from_finding(finding))?;
                }
            }
            Err(e) => p.check(&mut checks, check("git", false, format!("git: {e}")))?,
        }
        report.hosts.push(HostReport { host: host.to_string(), checks });
    }
    report.failed = p.failed;
    report.ok = p.failed == 0;
    if json {
        super::print_json(p.out, &report, true)?;
    }
    match p.failed {
        0 => Ok(()),
        count => Err(Error::ChecksFailed { count }),
    }
}

fn from_finding(finding: Finding) -> Check {
    let Finding { ok, what, why, fix } = finding;
    Check { check: "git", ok, message: what, why, fix }
}

fn check_app(
    app: &App,
    ctx: &Context<'_>,
    p: &mut Printer<'_>,
    checks: &mut Vec<Check>,
) -> Result<(), Error> {
    // Read once: a private_key_command runs a single time per app, a vault logs in once.
    let mut signer = match Signer::for_app(app, ctx, None) {
        Ok(signer) => signer,
        Err(e) => return p.check(checks, check("key", false, format!("key: {e}"))),
    };
    let text = match (signer.jwt(&app.app_id, 0), &app.key) {
        (Ok(_), KeySource::Transit { .. }) => {
            format!("key: {}: logged in and signed a test JWT (RS256)", signer.describe())
        }
        (Ok(_), KeySource::SignCommand(_)) => format!("key: {} signed a test JWT (RS256)", signer.describe()),
        (Ok(_), source) => format!("key: {} is a usable RSA key{}", signer.describe(), key_note(source)),
        (Err(e), _) => return p.check(checks, check("key", false, format!("key: {e}"))),
    };
    p.check(checks, check("key", true, text))?;
    let mut minter = match Minter::with_signer(app, signer, ctx) {
        Ok(m) => m,
        Err(e) => return p.check(checks, check("network", false, format!("network: {e}"))),
    };
    let slug = match minter.with_jwt(|client, jwt| client.app(jwt)) {
        Ok((info, date)) => {
            p.check(
                checks,
                check("jwt", true, format!("JWT: accepted by GitHub as app {:?} (GET /app)", info.slug)),
            )?;
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
                    p.check(checks, check("clock", ok, text))?;
                }
                None => p.check(
                    checks,
                    check("clock", false, "clock: GitHub's answer had no Date header".into()),
                )?,
            }
            Some(info.slug)
        }
        Err(e) => return p.check(checks, check("jwt", false, format!("JWT: {e}"))),
    };
    let list = match minter.with_jwt(|client, jwt| client.installations(jwt)) {
        Ok(list) => list,
        Err(e) => return p.check(checks, check("installations", false, format!("installations: {e}"))),
    };
    let shown: Vec<String> = list
        .iter()
        .take(10)
        .map(|i| format!("{} ({})", i.account.as_ref().map_or("?", |a| a.login.as_str()), i.id))
        .collect();
    let more = if list.len() > 10 { format!(", and {} more", list.len() - 10) } else { String::new() };
    let text = format!("installations: {} visible: {}{more}", list.len(), shown.join(", "));
    p.check(checks, check("installations", !list.is_empty(), text))?;
    if let Some(id) = app.installation_id {
        let visible = list.iter().any(|i| i.id == id);
        let text = if visible {
            format!("installation_id {id}: installed")
        } else {
            format!("installation_id {id}: not among the app's installations (check installation_id)")
        };
        p.check(checks, check("installation_id", visible, text))?;
    }
    for c in repos_checks(app, &list, slug.as_deref()) {
        p.check(checks, c)?;
    }
    if let Some(reads) = &app.read_public_repos {
        p.check(checks, public_check(reads, &list, &mut minter))?;
    }
    Ok(())
}

/// `read_public_repos`: mints (and revokes at once) the read-only token the
/// fallback would answer with; GitHub refuses it with 422 when the
/// installation lacks the Contents permission.
fn public_check(reads: &PublicReads, list: &[InstallationInfo], minter: &mut Minter<'_>) -> Check {
    let fail = |message: String, why: &str, fix: String| Check {
        check: "read_public_repos",
        ok: false,
        message,
        why: Some(why.to_string()),
        fix: Some(fix),
    };
    let id = match reads {
        PublicReads::Installation(id) => *id,
        PublicReads::Owner(owner) => {
            let login = |i: &&InstallationInfo| {
                i.account.as_ref().is_some_and(|a| a.login.eq_ignore_ascii_case(owner))
            };
            match list.iter().find(login) {
                Some(i) => i.id,
                None => {
                    return fail(
                        format!(
                            "read_public_repos: the app is not installed on {owner}, the owner of its first fixed-owner pattern"
                        ),
                        "repositories no pattern serves get no token",
                        "install the app there, or set installation_id".to_string(),
                    );
                }
            }
        }
    };
    let narrow = MintRequest {
        repositories: None,
        permissions: [("contents".to_string(), "read")].into_iter().collect(),
    };
    match minter.with_jwt(|client, jwt| client.mint(id, jwt, &narrow)) {
        Ok(token) => {
            // Only a check: the token is not kept.
            let _ = minter.with_jwt(|client, _| client.revoke(&token.token));
            check(
                "read_public_repos",
                true,
                format!(
                    "read_public_repos: installation {id} mints read-only tokens (contents: read) for repositories no pattern serves; a push to them gets 403"
                ),
            )
        }
        Err(Error::Api { error: e @ ApiError::Status { status: 422, .. }, .. }) => fail(
            format!("read_public_repos: GitHub refused a token narrowed to contents: read for installation {id}: {e}"),
            "the installation lacks the Contents permission, so repositories no pattern serves get no token",
            "grant the app Repository permissions > Contents (read) and accept the new permissions on the installation".to_string(),
        ),
        Err(e) => check("read_public_repos", false, format!("read_public_repos: {e}")),
    }
}

/// Whether each `repos` pattern has an installation that can serve it: the
/// pattern's owner must be the account of `installation_id`, or of one of
/// the app's installations when they are discovered.
fn repos_checks(app: &App, list: &[InstallationInfo], slug: Option<&str>) -> Vec<Check> {
    let login = |i: &InstallationInfo| i.account.as_ref().map(|a| a.login.to_ascii_lowercase());
    let accounts: Vec<String> = match app.installation_id {
        Some(id) => list.iter().filter(|i| i.id == id).filter_map(login).collect(),
        None => list.iter().filter_map(login).collect(),
    };
    if accounts.is_empty() {
        return Vec::new();
    }
    let install = slug.map_or_else(
        || "install the app on that account in GitHub's app settings".to_string(),
        |slug| format!("install the app there: {}/apps/{slug}/installations/new", web_url(app)),
    );
    let unserved: Vec<&Pattern> = app.repos.iter().filter(|p| !served_by(p, &accounts)).collect();
    if unserved.is_empty() {
        return vec![check(
            "repos",
            true,
            format!("repos: every pattern is on an installed account ({})", accounts.join(", ")),
        )];
    }
    unserved
        .into_iter()
        .map(|pattern| {
            let owner = pattern.as_str().split('/').next().unwrap_or("");
            let (message, fix) = match app.installation_id {
                Some(id) => (
                    format!(
                        "repos: pattern {:?} cannot be served: installation_id {id} is the installation of account {}",
                        pattern.as_str(),
                        accounts.join(", ")
                    ),
                    format!("set installation_id to the installation of {owner}, or leave it out to discover it"),
                ),
                None => (
                    format!(
                        "repos: pattern {:?} cannot be served: the app is not installed on account {owner} (installed on: {})",
                        pattern.as_str(),
                        accounts.join(", ")
                    ),
                    install.clone(),
                ),
            };
            Check {
                check: "repos",
                ok: false,
                message,
                why: Some("every git command for those repositories gets no token".into()),
                fix: Some(fix),
            }
        })
        .collect()
}

/// Whether `pattern`'s owner part matches one of `accounts` (lower-case logins).
fn served_by(pattern: &Pattern, accounts: &[String]) -> bool {
    accounts.iter().any(|account| pattern.owner_matches(account))
}

/// The web address of the app's GitHub (for the install link).
fn web_url(app: &App) -> String {
    format!("https://{}", app.host)
}

fn key_note(source: &KeySource) -> String {
    match source {
        KeySource::Path(path) => std::fs::metadata(path)
            .ok()
            .and_then(|m| crate::os::mode_of(&m))
            .map(|mode| format!(" (mode {:03o})", mode & 0o777))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Defaults, parse_config};
    use crate::github::Account;
    use std::path::Path;

    fn app(extra: &str) -> App {
        let text = format!("[[app]]\napp_id = 1\nprivate_key_path = \"/k\"\n{extra}");
        parse_config(&text, Path::new("/c.toml"), &Defaults::for_tests()).unwrap().apps.remove(0)
    }

    fn installation(id: u64, login: &str) -> InstallationInfo {
        InstallationInfo { id, account: Some(Account { login: login.into() }) }
    }

    #[test]
    fn a_pattern_for_an_account_no_installation_has_fails() {
        let list = [installation(5, "Beta")];
        let checks = repos_checks(
            &app("installation_id = 5\nrepos = [\"acme/*\", \"beta/web\"]\n"),
            &list,
            Some("ci"),
        );
        assert_eq!(checks.len(), 1);
        assert!(
            !checks[0].ok && checks[0].message.contains("\"acme/*\"") && checks[0].message.contains("beta")
        );
        let checks = repos_checks(&app("repos = [\"acme/*\", \"*/web\"]\n"), &list, Some("ci"));
        assert_eq!(checks.len(), 1);
        assert!(checks[0].fix.as_deref().unwrap().contains("https://github.com/apps/ci/installations/new"));
        let checks = repos_checks(&app("repos = [\"b*/*\"]\n"), &list, None);
        assert!(checks[0].ok, "{:?}", checks[0]);
    }

    #[test]
    fn a_pattern_with_many_stars_is_matched_at_once() {
        let pattern = Pattern::parse(&format!("{}b/web", "*a".repeat(14))).unwrap();
        let started = std::time::Instant::now();
        assert!(!served_by(&pattern, &["a".repeat(39)]));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }
}
