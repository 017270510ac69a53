//! Planning `configure` / `unconfigure`: point git at this helper for every configured
//! host, through `git config` only (never by editing files).
//!
//! For each host, `credential.https://HOST.helper` ends with an empty value
//! (which clears helpers collected so far, such as a generic `store` or `gh`
//! helper, for that host) followed by this binary; `useHttpPath` is set so git
//! sends the repository path. Planning is pure: it takes what git config holds
//! now and returns the `git config` commands that bring it to the goal, so a
//! second run plans nothing. `unconfigure` removes exactly what was added and
//! restores a `useHttpPath` it overwrote (remembered in a marker variable).

use crate::cli::Scope;
use crate::commands::helper::{BINARY, is_ours, shell_quote};
use crate::commands::public_read::ssh_prefixes;
use crate::error::Error;

/// What git config holds now for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostState {
    pub(crate) helpers: Vec<String>,
    pub(crate) use_http_path: Option<String>,
    /// The `useHttpPath` value `configure` replaced (`""` if there was none).
    pub(crate) replaced_use_http_path: Option<String>,
    pub(crate) proactive_auth: Option<String>,
    /// The `proactiveAuth` value `configure` replaced (`""` if there was none).
    pub(crate) replaced_proactive_auth: Option<String>,
    /// The `url.https://HOST/.insteadOf` values.
    pub(crate) instead_of: Vec<String>,
    /// The `insteadOf` values `configure --rewrite-ssh` added.
    pub(crate) added_instead_of: Vec<String>,
}

/// What `configure` sets for a host besides the helper and `useHttpPath`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Extras {
    /// `http.https://HOST/.proactiveAuth = basic`: the host has a
    /// `read_public_repos` app and git is 2.46 or newer.
    pub(crate) proactive_auth: bool,
    /// `--rewrite-ssh`: SSH URLs of the host go through HTTPS.
    pub(crate) rewrite_ssh: bool,
}

pub(crate) fn helper_key(host: &str) -> String {
    format!("credential.https://{host}.helper")
}

pub(crate) fn use_http_path_key(host: &str) -> String {
    format!("credential.https://{host}.useHttpPath")
}

pub(crate) fn marker_key(host: &str) -> String {
    format!("{BINARY}.https://{host}.replacedUseHttpPath")
}

pub(crate) fn proactive_auth_key(host: &str) -> String {
    format!("http.https://{host}/.proactiveAuth")
}

pub(crate) fn proactive_marker_key(host: &str) -> String {
    format!("{BINARY}.https://{host}.replacedProactiveAuth")
}

pub(crate) fn instead_of_key(host: &str) -> String {
    format!("url.https://{host}/.insteadOf")
}

pub(crate) fn instead_of_marker_key(host: &str) -> String {
    format!("{BINARY}.https://{host}.addedInsteadOf")
}

/// `helpers` without our entries and the empty entry placed right before each.
fn without_ours(helpers: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::with_capacity(helpers.len());
    for value in helpers {
        if is_ours(value) {
            if kept.last().is_some_and(|v| v.is_empty()) {
                kept.pop();
            }
        } else {
            kept.push(value.clone());
        }
    }
    kept
}

/// The `git config` option that selects the scope's file. A `--file` path
/// that is not UTF-8 is refused rather than passed on changed: git would
/// write a look-alike file (git commands are run with text arguments).
pub(crate) fn scope_args(scope: &Scope) -> Result<Vec<String>, Error> {
    Ok(match scope {
        Scope::Global => vec!["--global".into()],
        Scope::System => vec!["--system".into()],
        Scope::File(path) => {
            let Some(path) = path.to_str() else {
                return Err(Error::Usage(format!(
                    "--file {}: the path is not UTF-8; give a path that is",
                    crate::redact::escape(&crate::os::shown(path))
                )));
            };
            vec!["--file".into(), path.to_string()]
        }
    })
}

/// The `git config` argument lists that replace the values of a multi-valued key.
fn rewrite(scope: &[String], key: &str, from: &[String], to: &[String]) -> Vec<Vec<String>> {
    if from == to {
        return Vec::new();
    }
    let mut commands = Vec::new();
    if !from.is_empty() {
        commands.push(args(scope, &["--unset-all", key]));
    }
    for value in to {
        commands.push(args(scope, &["--add", key, value]));
    }
    commands
}

fn args(scope: &[String], rest: &[&str]) -> Vec<String> {
    let mut all = vec!["config".to_string()];
    all.extend(scope.iter().cloned());
    all.extend(rest.iter().map(|s| s.to_string()));
    all
}

/// The commands that configure `host`; empty when it already is.
pub(crate) fn plan_configure(
    scope: &[String],
    host: &str,
    value: &str,
    state: &HostState,
    extras: Extras,
) -> Vec<Vec<String>> {
    let mut goal = without_ours(&state.helpers);
    goal.push(String::new());
    goal.push(value.to_string());
    let mut commands = rewrite(scope, &helper_key(host), &state.helpers, &goal);
    if state.use_http_path.as_deref() != Some("true") {
        let previous = state.use_http_path.clone().unwrap_or_default();
        commands.push(args(scope, &[&marker_key(host), &previous]));
        commands.push(args(scope, &[&use_http_path_key(host), "true"]));
    }
    if extras.proactive_auth {
        if state.proactive_auth.as_deref() != Some("basic") {
            if state.replaced_proactive_auth.is_none() {
                let previous = state.proactive_auth.clone().unwrap_or_default();
                commands.push(args(scope, &[&proactive_marker_key(host), &previous]));
            }
            commands.push(args(scope, &[&proactive_auth_key(host), "basic"]));
        }
    } else {
        // The host lost its fallback (or git is too old): a proactiveAuth we
        // set would now make every unmatched repository fail.
        commands.extend(restore_proactive_auth(scope, host, state));
    }
    if extras.rewrite_ssh {
        for prefix in ssh_prefixes(host) {
            if !state.instead_of.contains(&prefix) {
                commands.push(args(scope, &["--add", &instead_of_marker_key(host), &prefix]));
                commands.push(args(scope, &["--add", &instead_of_key(host), &prefix]));
            }
        }
    }
    commands
}

/// Puts back the `proactiveAuth` that `configure` replaced, if it did.
fn restore_proactive_auth(scope: &[String], host: &str, state: &HostState) -> Vec<Vec<String>> {
    let Some(previous) = &state.replaced_proactive_auth else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    if previous.is_empty() {
        if state.proactive_auth.is_some() {
            commands.push(args(scope, &["--unset-all", &proactive_auth_key(host)]));
        }
    } else {
        commands.push(args(scope, &[&proactive_auth_key(host), previous]));
    }
    commands.push(args(scope, &["--unset-all", &proactive_marker_key(host)]));
    commands
}

/// The commands that undo [`plan_configure`] for `host`.
pub(crate) fn plan_unconfigure(scope: &[String], host: &str, state: &HostState) -> Vec<Vec<String>> {
    let goal = without_ours(&state.helpers);
    let mut commands = rewrite(scope, &helper_key(host), &state.helpers, &goal);
    if let Some(previous) = &state.replaced_use_http_path {
        if previous.is_empty() {
            commands.push(args(scope, &["--unset-all", &use_http_path_key(host)]));
        } else {
            commands.push(args(scope, &[&use_http_path_key(host), previous]));
        }
        commands.push(args(scope, &["--unset-all", &marker_key(host)]));
    }
    commands.extend(restore_proactive_auth(scope, host, state));
    for added in &state.added_instead_of {
        if state.instead_of.contains(added) {
            commands.push(args(scope, &["--fixed-value", "--unset", &instead_of_key(host), added]));
        }
    }
    if !state.added_instead_of.is_empty() {
        commands.push(args(scope, &["--unset-all", &instead_of_marker_key(host)]));
    }
    commands
}

/// The hosts this helper configured, from `git config --null --get-regexp`
/// output (`key\nvalue\0` records) over helper and marker keys: a host with
/// our helper entry or our marker, whatever the config now says.
pub(crate) fn hosts_we_configured(listing: &str) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for record in listing.split('\0') {
        let (key, value) = record.split_once('\n').unwrap_or((record, ""));
        let host = if let Some(rest) = key.strip_prefix(&format!("{BINARY}.https://")) {
            rest.rsplit_once('.').map(|(host, _)| host)
        } else if let Some(rest) = key.strip_prefix("credential.https://") {
            rest.rsplit_once('.').map(|(host, _)| host).filter(|_| is_ours(value))
        } else {
            None
        };
        if let Some(host) = host.filter(|h| !h.is_empty() && !h.contains('/'))
            && !hosts.iter().any(|h| h == host)
        {
            hosts.push(host.to_string());
        }
    }
    hosts
}

/// A command as a person would type it.
pub(crate) fn display(command: &[String]) -> String {
    let mut line = String::from("git");
    for word in command {
        line.push(' ');
        line.push_str(&shell_quote(word));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "/usr/local/bin/git-credential-github-app --config /etc/gh.toml";

    fn global() -> Vec<String> {
        scope_args(&Scope::Global).unwrap()
    }

    fn file() -> Vec<String> {
        scope_args(&Scope::File("/g".into())).unwrap()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Applies planned commands to a state, as git would.
    fn apply(host: &str, state: &mut HostState, commands: &[Vec<String>]) {
        for c in commands {
            let skip = if c[1] == "--file" { 3 } else { 2 };
            let rest = &c[skip..];
            match rest.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                ["--unset-all", key] if *key == helper_key(host) => state.helpers.clear(),
                ["--unset-all", key] if *key == use_http_path_key(host) => state.use_http_path = None,
                ["--unset-all", key] if *key == marker_key(host) => state.replaced_use_http_path = None,
                ["--add", key, value] if *key == helper_key(host) => state.helpers.push(value.to_string()),
                [key, value] if *key == use_http_path_key(host) => {
                    state.use_http_path = Some(value.to_string())
                }
                [key, value] if *key == marker_key(host) => {
                    state.replaced_use_http_path = Some(value.to_string())
                }
                ["--unset-all", key] if *key == proactive_auth_key(host) => state.proactive_auth = None,
                ["--unset-all", key] if *key == proactive_marker_key(host) => {
                    state.replaced_proactive_auth = None
                }
                [key, value] if *key == proactive_auth_key(host) => {
                    state.proactive_auth = Some(value.to_string())
                }
                [key, value] if *key == proactive_marker_key(host) => {
                    state.replaced_proactive_auth = Some(value.to_string())
                }
                ["--add", key, value] if *key == instead_of_key(host) => {
                    state.instead_of.push(value.to_string())
                }
                ["--add", key, value] if *key == instead_of_marker_key(host) => {
                    state.added_instead_of.push(value.to_string())
                }
                ["--fixed-value", "--unset", key, value] if *key == instead_of_key(host) => {
                    let at = state.instead_of.iter().position(|v| v == value).expect("value present");
                    state.instead_of.remove(at);
                }
                ["--unset-all", key] if *key == instead_of_marker_key(host) => state.added_instead_of.clear(),
                other => panic!("unexpected command {other:?}"),
            }
        }
    }

    #[test]
    fn configure_appends_an_empty_entry_and_ours_and_sets_use_http_path() {
        let state = HostState::default();
        let commands = plan_configure(&global(), "github.com", OURS, &state, Extras::default());
        let lines: Vec<String> = commands.iter().map(|c| display(c)).collect();
        assert_eq!(
            lines,
            [
                "git config --global --add credential.https://github.com.helper ''",
                "git config --global --add credential.https://github.com.helper '/usr/local/bin/git-credential-github-app --config /etc/gh.toml'",
                "git config --global git-credential-github-app.https://github.com.replacedUseHttpPath ''",
                "git config --global credential.https://github.com.useHttpPath true",
            ]
        );
    }

    #[test]
    fn configuring_twice_changes_nothing_the_second_time() {
        let mut state = HostState { helpers: strings(&["store"]), ..Default::default() };
        let first = plan_configure(&global(), "h", OURS, &state, Extras::default());
        apply("h", &mut state, &first);
        assert_eq!(state.helpers, strings(&["store", "", OURS]));
        assert!(plan_configure(&global(), "h", OURS, &state, Extras::default()).is_empty());
    }

    #[test]
    fn reconfiguring_with_another_path_replaces_our_entry() {
        let mut state = HostState {
            helpers: strings(&["", "/old/git-credential-github-app"]),
            use_http_path: Some("true".into()),
            ..Default::default()
        };
        let commands = plan_configure(&global(), "h", OURS, &state, Extras::default());
        apply("h", &mut state, &commands);
        assert_eq!(state.helpers, strings(&["", OURS]));
    }

    #[test]
    fn unconfigure_restores_exactly_what_was_there() {
        let all = Extras { proactive_auth: true, rewrite_ssh: true };
        for (before, extras) in [
            (HostState::default(), all),
            (HostState { proactive_auth: Some("none".into()), ..Default::default() }, all),
            (HostState { instead_of: strings(&["git@h:", "other:"]), ..Default::default() }, all),
        ] {
            let mut state = before.clone();
            let commands = plan_configure(&file(), "h", OURS, &state, extras);
            apply("h", &mut state, &commands);
            assert_eq!(state.proactive_auth.as_deref(), Some("basic"));
            assert!(state.instead_of.contains(&"ssh://git@h/".to_string()));
            assert!(plan_configure(&file(), "h", OURS, &state, extras).is_empty());
            let commands = plan_unconfigure(&file(), "h", &state);
            apply("h", &mut state, &commands);
            assert_eq!(state, before);
        }
        let extras = Extras::default();
        for before in [
            HostState::default(),
            HostState { helpers: strings(&["store", "cache --timeout 60"]), ..Default::default() },
            HostState {
                helpers: strings(&["", "manager"]),
                use_http_path: Some("false".into()),
                ..Default::default()
            },
            HostState { helpers: strings(&[]), use_http_path: Some("true".into()), ..Default::default() },
        ] {
            let mut state = before.clone();
            let commands = plan_configure(&file(), "h", OURS, &state, extras);
            apply("h", &mut state, &commands);
            assert_ne!(state, before);
            let commands = plan_unconfigure(&file(), "h", &state);
            apply("h", &mut state, &commands);
            assert_eq!(state, before);
            assert!(plan_unconfigure(&file(), "h", &state).is_empty());
        }
    }

    #[test]
    fn proactive_auth_is_taken_back_when_the_host_loses_its_fallback() {
        let mut state = HostState::default();
        let on = Extras { proactive_auth: true, rewrite_ssh: false };
        let commands = plan_configure(&global(), "h", OURS, &state, on);
        apply("h", &mut state, &commands);
        assert_eq!(state.proactive_auth.as_deref(), Some("basic"));
        let commands = plan_configure(&global(), "h", OURS, &state, Extras::default());
        apply("h", &mut state, &commands);
        assert_eq!(state.proactive_auth, None);
        assert_eq!(state.replaced_proactive_auth, None);
        // A proactiveAuth the user set is never touched by a configure without the fallback.
        let mut theirs = HostState { proactive_auth: Some("basic".into()), ..Default::default() };
        let commands = plan_configure(&global(), "h", OURS, &theirs, Extras::default());
        apply("h", &mut theirs, &commands);
        assert_eq!(theirs.proactive_auth.as_deref(), Some("basic"));
    }

    #[test]
    fn every_host_with_our_entry_or_marker_is_found_whatever_the_config_says() {
        let listing = format!(
            "credential.helper\nstore\0credential.https://github.com.helper\n\0credential.https://github.com.helper\n{OURS}\0\
             credential.https://gitlab.com.helper\nstore\0{BINARY}.https://ghe.example:8443.replacedusehttppath\nfalse\0"
        );
        assert_eq!(hosts_we_configured(&listing), ["github.com", "ghe.example:8443"]);
        assert!(hosts_we_configured("").is_empty());
    }
}
