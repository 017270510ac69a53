//! The operator commands people and scripts run: `configure`/`unconfigure`,
//! `token`, `exec`, `explain`, `doctor`, `cache list|clear` and `revoke`, one
//! file each. Each writes its report to the `out` it is given and never
//! prints a secret, except `token`, whose whole purpose is to print the token
//! (`exec` hands it to a program instead).
//!
//! This file dispatches an [`Operator`] to its command and holds what several
//! commands share: reading a URL or `OWNER/REPO` from the command line as the
//! request git would send, and the helper value for the config in use.

mod cache;
mod configure;
mod doctor;
mod exec;
mod explain;
mod helper;
mod public_read;
mod revoke;
mod token;
mod wiring;

pub(crate) use configure::unconfigure_all;

use crate::cli::Operator;
use crate::config::ConfigFrom;
use crate::context::Context;
use std::io::Write;
use std::path::Path;

/// Runs an operator command for the loaded config (`from` says where it came from).
pub(crate) fn run(
    operator: Operator,
    from: &ConfigFrom,
    exe: Option<&Path>,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    // What fixes print: the command that configures git for this config.
    let helper = |exe: &Path| configure::helper_for(exe, from, ctx.config);
    let configure = match exe.map(helper) {
        Some(Ok(value)) => format!("{value} configure"),
        _ => "git-credential-github-app configure".to_string(),
    };
    match operator {
        Operator::Configure { change, scope, dry_run, rewrite_ssh } => {
            let helper = helper(exe.ok_or(Error::NoExecutable)?)?;
            configure::configure(ctx.config, &scope, dry_run, change, rewrite_ssh, &helper, ctx, out)
        }
        Operator::Token { target, host, json } => {
            token::token(target.as_deref(), host.as_deref(), json, ctx, out)
        }
        Operator::Exec { target, host, command } => {
            Err(exec::exec(target.as_deref(), host.as_deref(), &command, ctx))
        }
        Operator::Explain { url, json } => explain::explain(&url, json, &configure, ctx, out),
        Operator::Doctor { json } => doctor::doctor(json, &configure, ctx, out),
        Operator::CacheList { json } => cache::cache_list(json, ctx, out),
        Operator::CacheClear => cache::cache_clear(ctx, out),
        Operator::Revoke { target } => revoke::revoke(target.as_deref(), ctx, out),
    }
}

use crate::config::Config;
use crate::error::Error;
use crate::redact::{escape, json_escape, shown};
use crate::repo::{normalise_host, parse_repo_path};
use crate::route::Target;

/// Writes one line of a command's text report. Every line passes through
/// [`escape`]: it may quote git config, a file name, a server's message or the
/// environment, and none of them may drive the terminal. (`--json` output is
/// goes through [`print_json`] instead.)
pub(crate) fn print_line(out: &mut dyn Write, line: &str) -> Result<(), Error> {
    writeln!(out, "{}", escape(line)).map_err(Error::Output)
}

/// Writes a `--json` report: serde_json escapes C0 controls itself, and
/// [`json_escape`] the DEL and C1 characters it leaves raw.
pub(crate) fn print_json(
    out: &mut dyn Write,
    value: &impl serde::Serialize,
    pretty: bool,
) -> Result<(), Error> {
    let text = match pretty {
        true => serde_json::to_string_pretty(value),
        false => serde_json::to_string(value),
    };
    let text = text.map_err(|e| Error::Output(e.into()))?;
    writeln!(out, "{}", json_escape(&text)).map_err(Error::Output)
}

/// A URL or `OWNER/REPO` from the command line, as the request git would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetArg {
    pub(crate) protocol: String,
    pub(crate) host: String,
    pub(crate) path: Option<String>,
    pub(crate) username: Option<String>,
}

impl TargetArg {
    pub(crate) fn as_target(&self) -> Target<'_> {
        Target {
            protocol: Some(&self.protocol),
            host: Some(&self.host),
            path: self.path.as_deref(),
            username: self.username.as_deref(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("{}://{}/{path}", self.protocol, self.host),
            None => format!("{}://{}", self.protocol, self.host),
        }
    }
}

/// Reads `https://HOST/OWNER/REPO`, `OWNER/REPO` (on `--host`, else the
/// config's only host, else github.com) or nothing (the host alone).
pub(crate) fn parse_target(
    arg: Option<&str>,
    host: Option<&str>,
    config: &Config,
) -> Result<TargetArg, Error> {
    let default_host = || {
        host.map(normalise_host).unwrap_or_else(|| {
            let mut hosts = config.apps.iter().map(|a| &*a.host);
            match (hosts.next(), hosts.all(|h| Some(h) == config.apps.first().map(|a| &*a.host))) {
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
            return Err(Error::Usage(format!("{} is neither a URL nor OWNER/REPO", shown(arg))));
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
        return Err(Error::Usage(format!("{} has no host", shown(arg))));
    }
    let path = path.trim_matches('/');
    Ok(TargetArg {
        protocol: protocol.to_ascii_lowercase(),
        host: host.to_string(),
        path: (!path.is_empty()).then(|| path.to_string()),
        username,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Defaults, parse_config};
    use std::path::Path;

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
        // `revoke TOKEN` is a natural mistake: the token is not echoed.
        let token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
        let err = parse_target(Some(token), None, &c).unwrap_err().to_string();
        assert!(!err.contains("16C7e42F") && err.contains("neither a URL nor OWNER/REPO"), "{err}");
    }
}
