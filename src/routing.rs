//! Which configured app serves a request: host and path normalisation,
//! `OWNER/REPO` patterns, and the "most specific pattern wins" rule.
//!
//! Pure: takes the validated [`Config`] and the request's fields.

use crate::config::{App, Config, TokenScope};
use std::fmt;

/// Lower-cases a host and drops the default https port, as git sends the
/// URL's host verbatim (`GitHub.COM`, `github.com:443`).
pub fn normalise_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    match host.strip_suffix(":443") {
        Some(bare) => bare.to_string(),
        None => host,
    }
}

/// An `OWNER/REPO` pair, lower-cased (GitHub names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoRef {
    pub owner: String,
    pub repo: String,
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

/// Reads `owner/repo` out of git's `path` (`acme/web.git`, `/Acme/Web.GIT/`,
/// and git-lfs's `acme/web.git/info/lfs`). Anything else is not a repository,
/// including names GitHub would not allow (they end up in API paths).
pub fn parse_repo_path(path: &str) -> Option<RepoRef> {
    let mut segments = path.trim_matches('/').split('/');
    let (owner, repo) = (segments.next()?, segments.next()?);
    let rest: Vec<&str> = segments.collect();
    if !(rest.is_empty() || rest.starts_with(&["info", "lfs"])) {
        return None;
    }
    let repo = match repo.len().checked_sub(4) {
        Some(cut) if repo.is_char_boundary(cut) && repo[cut..].eq_ignore_ascii_case(".git") => &repo[..cut],
        _ => repo,
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !valid(owner) || !valid(repo) {
        return None;
    }
    Some(RepoRef { owner: owner.to_ascii_lowercase(), repo: repo.to_ascii_lowercase() })
}

/// One `repos` entry: `OWNER/REPO` where `*` matches any run of characters
/// within its segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    owner: String,
    repo: String,
}

/// How specific a matching pattern is; higher wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    WildcardOwner = 0,
    WildcardRepo = 1,
    Exact = 2,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let (owner, repo) =
            text.split_once('/').ok_or_else(|| format!("repos pattern {text:?} is not OWNER/REPO"))?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*'))
        };
        if !valid(owner) || !valid(repo) {
            return Err(format!(
                "repos pattern {text:?} is not OWNER/REPO (letters, digits, '-', '_', '.', '*' in each part)"
            ));
        }
        Ok(Pattern {
            text: text.to_string(),
            owner: owner.to_ascii_lowercase(),
            repo: repo.to_ascii_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn specificity(&self) -> Specificity {
        if self.owner.contains('*') {
            Specificity::WildcardOwner
        } else if self.repo.contains('*') {
            Specificity::WildcardRepo
        } else {
            Specificity::Exact
        }
    }

    pub fn matches(&self, repo: &RepoRef) -> bool {
        glob_match(&self.owner, &repo.owner) && glob_match(&self.repo, &repo.repo)
    }
}

/// `*`-only glob over one segment (no `/` can occur on either side).
fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut text) = text.strip_prefix(head) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let tail = parts.pop().unwrap_or("");
    for part in parts {
        match text.find(part) {
            Some(i) => text = &text[i + part.len()..],
            None => return false,
        }
    }
    text.len() >= tail.len() && text.ends_with(tail)
}

/// Why a request is not ours; `explain` and tracing print these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotMine {
    Malformed,
    Protocol(Option<String>),
    NoHost,
    Username(String),
    NoAppForHost(String),
    NotARepository(String),
    NoPatternMatched { host: String, repo: RepoRef },
}

impl fmt::Display for NotMine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotMine::Malformed => f.write_str("the request is not valid UTF-8"),
            NotMine::Protocol(Some(p)) => write!(f, "protocol {p:?} is not https"),
            NotMine::Protocol(None) => f.write_str("the request names no protocol"),
            NotMine::NoHost => f.write_str("the request names no host"),
            NotMine::Username(u) => {
                write!(f, "username {u:?} is not x-access-token, so another helper answers")
            }
            NotMine::NoAppForHost(h) => write!(f, "no [[app]] is configured for host {h}"),
            NotMine::NotARepository(p) => write!(f, "path {p:?} is not OWNER/REPO"),
            NotMine::NoPatternMatched { host, repo } => {
                write!(f, "no repos pattern of the apps for {host} matches {repo}")
            }
        }
    }
}

/// The outcome of routing one request.
#[derive(Debug)]
pub enum Decision<'c> {
    /// `app` serves it; `repo` is known when git sent a path.
    Serve {
        app: &'c App,
        repo: Option<RepoRef>,
        pattern: Option<&'c Pattern>,
    },
    NotMine(NotMine),
    /// Several apps serve the host and git sent no path to choose by.
    NeedsPath {
        host: String,
    },
}

/// The request fields routing looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    pub protocol: Option<&'a str>,
    pub host: Option<&'a str>,
    pub path: Option<&'a str>,
    pub username: Option<&'a str>,
}

/// Chooses the app that serves `target`.
pub fn route<'c>(config: &'c Config, target: Target<'_>) -> Decision<'c> {
    match target.protocol {
        Some("https") => {}
        other => return Decision::NotMine(NotMine::Protocol(other.map(str::to_string))),
    }
    let host = match target.host {
        Some(h) if !h.trim().is_empty() => normalise_host(h),
        _ => return Decision::NotMine(NotMine::NoHost),
    };
    if let Some(user) = target.username
        && user != "x-access-token"
    {
        return Decision::NotMine(NotMine::Username(user.to_string()));
    }
    let mut for_host = config.apps.iter().filter(|a| a.host == host).peekable();
    if for_host.peek().is_none() {
        return Decision::NotMine(NotMine::NoAppForHost(host));
    }
    let Some(path) = target.path else {
        // Without the path only an app that needs no repository can answer:
        // the only one for the host, with a configured installation_id and an
        // installation-wide token.
        let first = for_host.next();
        return match (first, for_host.next()) {
            (Some(app), None)
                if app.installation_id.is_some() && app.token_scope == TokenScope::Installation =>
            {
                Decision::Serve { app, repo: None, pattern: None }
            }
            _ => Decision::NeedsPath { host },
        };
    };
    let Some(repo) = parse_repo_path(path) else {
        return Decision::NotMine(NotMine::NotARepository(path.to_string()));
    };
    let mut best: Option<(&App, &Pattern)> = None;
    for app in for_host {
        for pattern in app.repos.iter().filter(|p| p.matches(&repo)) {
            if best.is_none_or(|(_, b)| pattern.specificity() > b.specificity()) {
                best = Some((app, pattern));
            }
        }
    }
    match best {
        Some((app, pattern)) => Decision::Serve { app, repo: Some(repo), pattern: Some(pattern) },
        None => Decision::NotMine(NotMine::NoPatternMatched { host, repo }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use std::path::Path;

    fn config(toml: &str) -> Config {
        parse_config(toml, Path::new("/cfg/config.toml"), &crate::config::Defaults::for_tests()).unwrap()
    }

    fn https<'a>(host: &'a str, path: Option<&'a str>) -> Target<'a> {
        Target { protocol: Some("https"), host: Some(host), path, username: None }
    }

    fn served_app_id(d: Decision<'_>) -> Option<u64> {
        match d {
            Decision::Serve { app, .. } => app.installation_id,
            _ => None,
        }
    }

    const TWO_APPS: &str = r#"
        [[app]]
        app_id = 1
        private_key_path = "/k1.pem"
        repos = ["acme/*"]
        installation_id = 11

        [[app]]
        app_id = 2
        private_key_path = "/k2.pem"
        repos = ["acme/deploy"]
        installation_id = 22

        [[app]]
        app_id = 3
        private_key_path = "/k3.pem"
        repos = ["*/*"]
        installation_id = 33
    "#;

    #[test]
    fn hosts_are_lower_cased_and_lose_the_default_port() {
        assert_eq!(normalise_host("GitHub.COM:443"), "github.com");
        assert_eq!(normalise_host("ghe.example:8443"), "ghe.example:8443");
    }

    #[test]
    fn paths_lose_slashes_and_the_git_suffix_and_are_lower_cased() {
        let want = Some(RepoRef { owner: "acme".into(), repo: "web".into() });
        assert_eq!(parse_repo_path("acme/web.git"), want);
        assert_eq!(parse_repo_path("/Acme/Web/"), want);
        assert_eq!(parse_repo_path("acme/web"), want);
        assert_eq!(parse_repo_path("acme"), None);
        assert_eq!(parse_repo_path("acme/web/extra"), None);
        assert_eq!(parse_repo_path("Acme/Web.GIT"), want);
        assert_eq!(parse_repo_path("acme/web.git/info/lfs"), want);
        assert_eq!(parse_repo_path("acme/web/info/lfs/objects/batch"), want);
        assert_eq!(parse_repo_path("acme/x?a=1"), None);
        assert_eq!(parse_repo_path("acme/.."), None);
        assert_eq!(parse_repo_path("acme/.git"), None);
        assert_eq!(parse_repo_path("ac me/web"), None);
        assert_eq!(parse_repo_path("/web.git"), None);
    }

    #[test]
    fn a_star_matches_within_one_segment() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("web-*", "web-frontend"));
        assert!(glob_match("*-svc", "billing-svc"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(!glob_match("web-*", "api"));
        assert!(glob_match("ab*ab", "abab"));
        assert!(!glob_match("ab*ab", "aba"));
    }

    #[test]
    fn patterns_must_be_owner_slash_repo() {
        assert!(Pattern::parse("acme/*").is_ok());
        assert!(Pattern::parse("acme").is_err());
        assert!(Pattern::parse("acme/web/x").is_err());
        assert!(Pattern::parse("/web").is_err());
        assert!(Pattern::parse("acme/we b").is_err());
    }

    #[test]
    fn the_most_specific_pattern_wins_whatever_the_order() {
        let c = config(TWO_APPS);
        assert_eq!(served_app_id(route(&c, https("github.com", Some("acme/deploy.git")))), Some(22));
        assert_eq!(served_app_id(route(&c, https("github.com", Some("acme/web")))), Some(11));
        assert_eq!(served_app_id(route(&c, https("github.com", Some("other/web")))), Some(33));
    }

    #[test]
    fn a_wildcard_repo_beats_a_wildcard_owner_and_ties_go_to_the_first_app() {
        let c = config(
            r#"
            [[app]]
            app_id = 1
            private_key_path = "/k"
            repos = ["*/web"]
            installation_id = 1
            [[app]]
            app_id = 2
            private_key_path = "/k"
            repos = ["acme/*"]
            installation_id = 2
            [[app]]
            app_id = 3
            private_key_path = "/k"
            repos = ["acme/*"]
            installation_id = 3
            "#,
        );
        assert_eq!(served_app_id(route(&c, https("github.com", Some("acme/web")))), Some(2));
    }

    #[test]
    fn matching_ignores_case_of_host_and_path() {
        let c = config(TWO_APPS);
        assert_eq!(served_app_id(route(&c, https("GITHUB.com:443", Some("ACME/Deploy.git")))), Some(22));
    }

    #[test]
    fn only_https_is_served() {
        let c = config(TWO_APPS);
        let t = Target { protocol: Some("http"), ..https("github.com", Some("acme/web")) };
        assert!(matches!(route(&c, t), Decision::NotMine(NotMine::Protocol(_))));
        let t = Target { protocol: Some("cert"), host: Some(""), ..Default::default() };
        assert!(matches!(route(&c, t), Decision::NotMine(NotMine::Protocol(_))));
    }

    #[test]
    fn another_username_is_not_mine_but_x_access_token_is() {
        let c = config(TWO_APPS);
        let t = Target { username: Some("alice"), ..https("github.com", Some("acme/web")) };
        assert!(matches!(route(&c, t), Decision::NotMine(NotMine::Username(_))));
        let t = Target { username: Some("x-access-token"), ..https("github.com", Some("acme/web")) };
        assert_eq!(served_app_id(route(&c, t)), Some(11));
    }

    #[test]
    fn an_unconfigured_host_is_not_mine() {
        let c = config(TWO_APPS);
        assert!(matches!(
            route(&c, https("gitlab.com", Some("acme/web"))),
            Decision::NotMine(NotMine::NoAppForHost(_))
        ));
    }

    #[test]
    fn without_a_path_one_app_for_the_host_serves_and_several_need_the_path() {
        let several = config(TWO_APPS);
        assert!(matches!(route(&several, https("github.com", None)), Decision::NeedsPath { .. }));
        let one = config(
            r#"
            [[app]]
            app_id = 1
            private_key_path = "/k"
            repos = ["acme/*"]
            installation_id = 7
            "#,
        );
        assert_eq!(served_app_id(route(&one, https("github.com", None))), Some(7));
    }

    #[test]
    fn without_a_path_an_app_that_must_discover_or_scope_needs_the_path() {
        let discover = config("[[app]]\napp_id = 1\nprivate_key_path = \"/k\"\n");
        assert!(matches!(route(&discover, https("github.com", None)), Decision::NeedsPath { .. }));
        let scoped = config(
            "[[app]]\napp_id = 1\nprivate_key_path = \"/k\"\ninstallation_id = 3\ntoken_scope = \"repository\"\n",
        );
        assert!(matches!(route(&scoped, https("github.com", None)), Decision::NeedsPath { .. }));
    }

    #[test]
    fn no_matching_pattern_is_not_mine() {
        let c = config(
            r#"
            [[app]]
            app_id = 1
            private_key_path = "/k"
            repos = ["acme/*"]
            installation_id = 7
            "#,
        );
        assert!(matches!(
            route(&c, https("github.com", Some("other/web"))),
            Decision::NotMine(NotMine::NoPatternMatched { .. })
        ));
    }
}
