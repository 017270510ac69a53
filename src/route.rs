//! Routing: which configured app serves git's request, and everything else
//! decided before any I/O (the cache entry that holds the token and the body
//! that narrows the mint). Pure: takes the validated [`Config`] and the
//! request's fields; one [`Route`] comes out.

use crate::cache::EntryKey;
use crate::config::{App, Config, PublicReads, TokenScope};
use crate::github::MintRequest;
use crate::protocol::Request;
use crate::redact::{escape, shown};
use crate::repo::{Pattern, RepoRef, normalise_host, parse_repo_path};
use std::fmt;

/// Why a request is not ours; `explain` and tracing print these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotMine {
    Protocol(Option<String>),
    NoHost,
    Username(String),
    NoAppForHost(String),
    NotARepository(String),
    /// `fix`: how to serve it ([`how_to_serve`]).
    NoPatternMatched {
        host: String,
        repo: RepoRef,
        fix: String,
    },
}

impl fmt::Display for NotMine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotMine::Protocol(Some(p)) => write!(f, "protocol {p:?} is not https"),
            NotMine::Protocol(None) => f.write_str("the request names no protocol"),
            NotMine::NoHost => f.write_str("the request names no host"),
            NotMine::Username(u) => {
                // `https://TOKEN@host/...` URLs put a token in git's username.
                write!(f, "username {} is not x-access-token, so another helper answers", shown(u))
            }
            // Hosts come from git's request (a submodule URL can carry ESC or BEL).
            NotMine::NoAppForHost(h) => write!(f, "no [[app]] is configured for host {}", escape(h)),
            NotMine::NotARepository(p) => write!(f, "path {p:?} is not OWNER/REPO"),
            NotMine::NoPatternMatched { host, repo, fix } => {
                write!(
                    f,
                    "no repos pattern of the apps for {} matches {}: to serve it, {fix}",
                    escape(host),
                    escape(&repo.to_string())
                )
            }
        }
    }
}

/// The request fields routing looks at.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Target<'a> {
    pub(crate) protocol: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) path: Option<&'a str>,
    pub(crate) username: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// The routing fields of git's request.
    pub(crate) fn of(request: &'a Request) -> Target<'a> {
        Target {
            protocol: request.protocol.as_deref(),
            host: request.host.as_deref(),
            path: request.path.as_deref(),
            username: request.username.as_deref(),
        }
    }
}

/// Everything decided about a request that an app serves.
#[derive(Debug)]
pub(crate) struct Plan<'c> {
    pub(crate) app: &'c App,
    /// Known when git sent a path.
    pub(crate) repo: Option<RepoRef>,
    /// The pattern that chose the app; `None` for a path-less request.
    pub(crate) pattern: Option<&'c Pattern>,
    /// The cache entry that holds the token.
    pub(crate) key: EntryKey,
    /// The body of the mint.
    pub(crate) narrow: MintRequest,
    /// Served by the host's `read_public_repos` fallback: a read-only token
    /// of the app's one fallback installation, for any repository.
    pub(crate) public_read: Option<&'c PublicReads>,
}

/// The outcome of routing one request.
#[derive(Debug)]
pub(crate) enum Route<'c> {
    Serve(Plan<'c>),
    NotMine(NotMine),
    /// No single app can be chosen without the repository path: several
    /// serve the host, or its app discovers installations or scopes tokens
    /// per repository.
    NeedsPath {
        host: String,
    },
}

/// The one-line hint printed when git sent no path but one is needed.
pub(crate) fn use_http_path_hint(host: &str) -> String {
    let host = escape(host);
    format!(
        "cannot choose an app for {host} without the repository path: run `git config --global credential.https://{host}.useHttpPath true`"
    )
}

/// Routes `target` against `config`. A repository that no pattern matches
/// goes to the host's `read_public_repos` fallback when there is one.
pub(crate) fn route<'c>(config: &'c Config, target: Target<'_>) -> Route<'c> {
    let (app, repo, pattern) = match choose(config, target) {
        Ok(chosen) => chosen,
        Err(Unserved::NotMine(NotMine::NoPatternMatched { host, repo, fix })) => {
            return match public_fallback(config, &host, &repo) {
                Some(plan) => Route::Serve(plan),
                None => Route::NotMine(NotMine::NoPatternMatched { host, repo, fix }),
            };
        }
        Err(Unserved::NotMine(why)) => return Route::NotMine(why),
        Err(Unserved::NeedsPath(host)) => return Route::NeedsPath { host },
    };
    // A path-less request reaches here only for an app with an installation_id
    // and an installation-wide token, so `repo` is known wherever it is used.
    let installation = match (app.installation_id, &repo) {
        (Some(id), _) => id.to_string(),
        (None, Some(repo)) => format!("owner:{}", repo.owner),
        (None, None) => return Route::NeedsPath { host: app.host.to_string() },
    };
    let mut scope = String::from("installation");
    let permissions = app.permissions.iter().map(|(name, access)| (name.clone(), access.as_str())).collect();
    let mut narrow = MintRequest { repositories: None, permissions };
    if app.token_scope == TokenScope::Repository {
        let Some(repo) = &repo else {
            return Route::NeedsPath { host: app.host.to_string() };
        };
        scope = format!("repository:{repo}");
        narrow.repositories = Some(vec![repo.repo.clone()]);
    }
    if !app.permissions.is_empty() {
        let perms: Vec<String> =
            app.permissions.iter().map(|(name, access)| format!("{name}={}", access.as_str())).collect();
        scope = format!("{scope};permissions:{}", perms.join(","));
    }
    let key =
        EntryKey { api_url: app.api_url.to_string(), app_id: app.app_id.to_string(), installation, scope };
    Route::Serve(Plan { app, repo, pattern, key, narrow, public_read: None })
}

/// The app on `host` that serves public repositories (at most one sets
/// `read_public_repos`).
pub(crate) fn public_app<'c>(config: &'c Config, host: &str) -> Option<&'c App> {
    config.apps.iter().find(|a| *a.host == *host && a.read_public_repos.is_some())
}

/// The fallback plan for `repo` on `host`: a token narrowed to
/// `contents: read`, no repository list, from the fallback installation. One
/// cache entry serves every such repository, so its key names no repository.
/// `None` when no app on the host sets `read_public_repos`.
pub(crate) fn public_fallback<'c>(config: &'c Config, host: &str, repo: &RepoRef) -> Option<Plan<'c>> {
    let app = public_app(config, &normalise_host(host))?;
    let reads = app.read_public_repos.as_ref()?;
    let installation = match reads {
        PublicReads::Installation(id) => id.to_string(),
        PublicReads::Owner(owner) => format!("owner:{owner}"),
    };
    let permissions = [("contents".to_string(), "read")].into_iter().collect();
    let key = EntryKey {
        api_url: app.api_url.to_string(),
        app_id: app.app_id.to_string(),
        installation,
        scope: PUBLIC_READ_SCOPE.to_string(),
    };
    let narrow = MintRequest { repositories: None, permissions };
    Some(Plan { app, repo: Some(repo.clone()), pattern: None, key, narrow, public_read: Some(reads) })
}

/// The scope of the fallback's entry: what an installation-wide token
/// narrowed to `contents: read` is cached under.
pub(crate) const PUBLIC_READ_SCOPE: &str = "installation;permissions:contents=read";

type Chosen<'c> = (&'c App, Option<RepoRef>, Option<&'c Pattern>);

/// Why no app was chosen.
enum Unserved {
    NotMine(NotMine),
    NeedsPath(String),
}

/// The app that serves `target`, with the repository and the winning pattern.
fn choose<'c>(config: &'c Config, target: Target<'_>) -> Result<Chosen<'c>, Unserved> {
    let not_mine = |why| Err(Unserved::NotMine(why));
    match target.protocol {
        Some("https") => {}
        other => return not_mine(NotMine::Protocol(other.map(str::to_string))),
    }
    let host = match target.host {
        Some(h) if !h.trim().is_empty() => normalise_host(h),
        _ => return not_mine(NotMine::NoHost),
    };
    if let Some(user) = target.username
        && user != "x-access-token"
    {
        return not_mine(NotMine::Username(user.to_string()));
    }
    let mut for_host = config.apps.iter().filter(|a| *a.host == host).peekable();
    if for_host.peek().is_none() {
        return not_mine(NotMine::NoAppForHost(host));
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
                Ok((app, None, None))
            }
            _ => Err(Unserved::NeedsPath(host)),
        };
    };
    let Some(repo) = parse_repo_path(path) else {
        return not_mine(NotMine::NotARepository(path.to_string()));
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
        Some((app, pattern)) => Ok((app, Some(repo), Some(pattern))),
        None => {
            let fix = how_to_serve(config, &host, &repo);
            not_mine(NotMine::NoPatternMatched { host, repo, fix })
        }
    }
}

/// How a newcomer makes `host`'s apps serve `repo`: a pattern in the `repos` of the host's only
/// app in the config file (or a `--repos` flag), else of one of its apps. Escaped for printing.
fn how_to_serve(config: &Config, host: &str, repo: &RepoRef) -> String {
    let (name, owner) = (escape(&repo.to_string()), escape(&repo.owner));
    let mut for_host = config.apps.iter().filter(|a| *a.host == *host);
    match (for_host.next(), for_host.next()) {
        _ if config.from_flags => {
            format!(
                "add --repos {name} (or --repos '{owner}/*') to the app's options, here and in git's helper command"
            )
        }
        (Some(app), None) => {
            format!(
                "add \"{name}\" (or \"{owner}/*\") to `repos` of {} in {}",
                app.label(),
                config.describe()
            )
        }
        _ => format!(
            "add \"{name}\" (or \"{owner}/*\") to `repos` of one of the apps for {} in {}",
            escape(host),
            config.describe()
        ),
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

    fn served_app_id(d: Route<'_>) -> Option<u64> {
        match d {
            Route::Serve(plan) => plan.app.installation_id,
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
        assert!(matches!(route(&c, t), Route::NotMine(NotMine::Protocol(_))));
        let t = Target { protocol: Some("cert"), host: Some(""), ..Default::default() };
        assert!(matches!(route(&c, t), Route::NotMine(NotMine::Protocol(_))));
    }

    #[test]
    fn another_username_is_not_mine_but_x_access_token_is() {
        let c = config(TWO_APPS);
        let t = Target { username: Some("alice"), ..https("github.com", Some("acme/web")) };
        assert!(matches!(route(&c, t), Route::NotMine(NotMine::Username(_))));
        let t = Target { username: Some("x-access-token"), ..https("github.com", Some("acme/web")) };
        assert_eq!(served_app_id(route(&c, t)), Some(11));
    }

    #[test]
    fn a_token_given_as_the_username_is_never_quoted() {
        let pat = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
        let message = NotMine::Username(pat.into()).to_string();
        assert!(!message.contains("16C7e42F"), "{message}");
        assert!(message.contains("not x-access-token"), "{message}");
        assert!(NotMine::Username("alice".into()).to_string().contains("\"alice\""));
    }

    #[test]
    fn an_unconfigured_host_is_not_mine() {
        let c = config(TWO_APPS);
        assert!(matches!(
            route(&c, https("gitlab.com", Some("acme/web"))),
            Route::NotMine(NotMine::NoAppForHost(_))
        ));
    }

    #[test]
    fn without_a_path_one_app_for_the_host_serves_and_several_need_the_path() {
        let several = config(TWO_APPS);
        assert!(matches!(route(&several, https("github.com", None)), Route::NeedsPath { .. }));
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
        assert!(matches!(route(&discover, https("github.com", None)), Route::NeedsPath { .. }));
        let scoped = config(
            "[[app]]\napp_id = 1\nprivate_key_path = \"/k\"\ninstallation_id = 3\ntoken_scope = \"repository\"\n",
        );
        assert!(matches!(route(&scoped, https("github.com", None)), Route::NeedsPath { .. }));
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
            Route::NotMine(NotMine::NoPatternMatched { .. })
        ));
    }

    const FALLBACK: &str = r#"
        [[app]]
        app_id = 1
        private_key_path = "/k"
        repos = ["acme/*"]
        read_public_repos = true

        [[app]]
        app_id = 2
        private_key_path = "/k"
        repos = ["beta/deploy"]
        installation_id = 22
    "#;

    #[test]
    fn an_unmatched_repository_gets_one_read_only_fallback_entry_and_patterns_still_win() {
        let c = config(FALLBACK);
        let fallback = |path| match route(&c, https("github.com", Some(path))) {
            Route::Serve(plan) => {
                (plan.public_read.cloned(), plan.key, plan.narrow, plan.app.app_id.to_string())
            }
            other => panic!("{other:?}"),
        };
        let (reads, key, narrow, app) = fallback("torvalds/linux.git");
        assert_eq!(reads, Some(PublicReads::Owner("acme".into())));
        assert_eq!(app, "1");
        assert_eq!(key.installation, "owner:acme");
        assert_eq!(key.scope, PUBLIC_READ_SCOPE);
        assert_eq!(narrow.repositories, None);
        assert_eq!(narrow.permissions.into_iter().collect::<Vec<_>>(), [("contents".to_string(), "read")]);
        // Every such repository shares the entry.
        assert_eq!(fallback("rust-lang/cargo").1, key);
        // Patterns win: acme/* and beta/deploy are served as before, with write access.
        for (path, id) in [("acme/web", "1"), ("beta/deploy", "2")] {
            match route(&c, https("github.com", Some(path))) {
                Route::Serve(plan) => {
                    assert!(plan.public_read.is_none(), "{path}");
                    assert_eq!(plan.app.app_id.to_string(), id);
                    assert!(plan.narrow.permissions.is_empty());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn without_the_fallback_or_on_another_host_nothing_changes() {
        let c = config(TWO_APPS.replace("repos = [\"*/*\"]", "repos = [\"zeta/*\"]").as_str());
        assert!(matches!(
            route(&c, https("github.com", Some("other/web"))),
            Route::NotMine(NotMine::NoPatternMatched { .. })
        ));
        let c = config(FALLBACK);
        assert!(matches!(
            route(&c, https("gitlab.com", Some("other/web"))),
            Route::NotMine(NotMine::NoAppForHost(_))
        ));
        assert!(matches!(
            route(&c, https("github.com", Some("a/b/c"))),
            Route::NotMine(NotMine::NotARepository(_))
        ));
    }

    #[test]
    fn the_fallback_uses_installation_id_when_set() {
        let c = config(
            "[[app]]\napp_id = 1\nprivate_key_path = \"/k\"\ninstallation_id = 9\nrepos = [\"acme/*\"]\nread_public_repos = true\n",
        );
        match route(&c, https("github.com", Some("other/x"))) {
            Route::Serve(plan) => {
                assert_eq!(plan.public_read, Some(&PublicReads::Installation(9)));
                assert_eq!(plan.key.installation, "9");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn control_characters_from_git_never_reach_a_message_raw() {
        let host = "evil\u{1b}]0;pwned\u{7}.example";
        for message in [
            NotMine::NoAppForHost(host.into()).to_string(),
            NotMine::Protocol(Some(host.into())).to_string(),
            NotMine::Username(host.into()).to_string(),
            NotMine::NotARepository(host.into()).to_string(),
            use_http_path_hint(host),
        ] {
            assert!(!message.contains(['\u{1b}', '\u{7}']), "{message:?}");
        }
    }
}
