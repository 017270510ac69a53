//! git's side of a host: what git will actually do when it needs a
//! credential for `https://HOST/...`. Read from git itself (`git config
//! --show-origin --get-regexp`, so the user's real files and git's
//! environment, such as `GIT_CONFIG_GLOBAL`, count), then matched here the
//! way git matches `credential.<url>.*`, `http.<url>.*` and `url.*.insteadOf`.
//!
//! Each check yields a [`Finding`]: what was found, why it matters and the
//! exact command that fixes it. `doctor`, `explain` and `configure` print them.

use super::helper::{is_ours, program_of, shell_quote};
use crate::os;
use crate::process::{Failure, Running};
use crate::redact::looks_secret;
use std::path::Path;
use std::time::Instant;

/// One `git config` entry, in the order git reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitEntry {
    /// `global`, `local`, `command`, ...
    pub(crate) scope: String,
    /// `file:/home/me/.gitconfig`, `file:.git/config`, `command line:`, ...
    pub(crate) origin: String,
    /// Section and name lower-cased by git, subsection as written.
    pub(crate) key: String,
    pub(crate) value: String,
}

impl GitEntry {
    /// The `git config` option that selects the entry's file for a fix
    /// command: `--file PATH` when git named it absolutely, else the scope
    /// (`--local` for a repository's `.git/config`, which git names
    /// relatively); `None` for git's command line.
    fn file_args(&self) -> Option<String> {
        match self.origin.strip_prefix("file:") {
            Some(path) if Path::new(path).is_absolute() => Some(format!("--file {}", shell_quote(path))),
            _ => match self.scope.as_str() {
                "local" | "worktree" | "global" | "system" => Some(format!("--{}", self.scope)),
                _ => None,
            },
        }
    }

    /// Where it was set, for a message.
    pub(crate) fn place(&self) -> String {
        match self.origin.strip_prefix("file:") {
            Some(path) if Path::new(path).is_absolute() => os::shown(Path::new(path)),
            Some(path) => format!("{path} of this repository"),
            None => "git's command line or GIT_CONFIG_* variables".to_string(),
        }
    }

    /// `git config OPTION --unset-all KEY [PATTERN]`, or what to do without a file.
    pub(crate) fn unset_command(&self, pattern: Option<&str>) -> String {
        let Some(file) = self.file_args() else {
            return format!("remove {} from git's -c options or GIT_CONFIG_* variables", self.key);
        };
        let mut command = format!("git config {file} --unset-all {}", shell_quote(&self.key));
        if let Some(pattern) = pattern {
            command.push(' ');
            command.push_str(&shell_quote(pattern));
        }
        command
    }
}

/// Helpers git stores credentials with (`git-credential-NAME`).
const STORING: [&str; 8] =
    ["store", "cache", "osxkeychain", "manager", "manager-core", "libsecret", "wincred", "gnome-keyring"];

/// Every `credential.*`, `http.*` and `url.*` entry git sees from here.
pub(crate) fn read_git_config(deadline: Instant) -> Result<Vec<GitEntry>, String> {
    let args =
        ["config", "--null", "--show-scope", "--show-origin", "--get-regexp", r"^(credential|http|url)\."]
            .map(String::from);
    match Running::start("git", &args, None, 4 * 1024 * 1024).and_then(|r| r.finish(deadline)) {
        Ok(out) => Ok(parse_entries(&String::from_utf8_lossy(&out))),
        // git config exits 1 when nothing matches.
        Err(Failure::Status(status)) if status.code() == Some(1) => Ok(Vec::new()),
        Err(Failure::Start(e)) => Err(format!("cannot run git config: {e}")),
        Err(_) => Err("git config did not answer in time or failed".to_string()),
    }
}

/// `--null --show-scope --show-origin` output: `scope\0origin\0key\nvalue\0` records.
fn parse_entries(output: &str) -> Vec<GitEntry> {
    let mut fields = output.split('\0');
    let mut entries = Vec::new();
    while let (Some(scope), Some(origin), Some(record)) = (fields.next(), fields.next(), fields.next()) {
        let (key, value) = record.split_once('\n').unwrap_or((record, ""));
        entries.push(GitEntry {
            scope: scope.to_string(),
            origin: origin.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    entries
}

/// `section`, subsection, `name` of a key (the subsection may hold dots).
fn split_key(key: &str) -> Option<(&str, Option<&str>, &str)> {
    let (section, rest) = key.split_once('.')?;
    match rest.rsplit_once('.') {
        Some((sub, name)) => Some((section, Some(sub), name)),
        None => Some((section, None, rest)),
    }
}

/// Whether the URL pattern `pattern` (a config subsection) applies to
/// `https://host/path`: scheme, host (with `*.` label wildcards), port, and
/// path prefix by whole segments, as git's urlmatch does.
fn url_matches(pattern: &str, host: &str, path: Option<&str>) -> bool {
    let Some(rest) = pattern
        .strip_prefix("https://")
        .or_else(|| pattern.get(..8).filter(|s| s.eq_ignore_ascii_case("https://")).map(|_| &pattern[8..]))
    else {
        return false;
    };
    let (authority, pattern_path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (pattern_host, pattern_port) = split_port(&authority.to_ascii_lowercase());
    let (host, port) = split_port(&host.to_ascii_lowercase());
    if pattern_port != port {
        return false;
    }
    let labels: Vec<&str> = pattern_host.split('.').collect();
    let ours: Vec<&str> = host.split('.').collect();
    if labels.len() != ours.len() || !labels.iter().zip(&ours).all(|(p, h)| *p == "*" || p == h) {
        return false;
    }
    let pattern_path = pattern_path.trim_matches('/');
    if pattern_path.is_empty() {
        return true;
    }
    let path = path.unwrap_or("").trim_matches('/');
    path == pattern_path || path.starts_with(&format!("{pattern_path}/"))
}

fn split_port(host: &str) -> (String, String) {
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => {
            (h.to_string(), port.to_string())
        }
        _ => (host.to_string(), "443".to_string()),
    }
}

/// The entries of `section.*.name` (and `section.name`) that apply to the URL.
fn applying<'e>(
    entries: &'e [GitEntry],
    section: &str,
    name: &str,
    host: &str,
    path: Option<&str>,
) -> impl Iterator<Item = &'e GitEntry> {
    entries.iter().filter(move |e| match split_key(&e.key) {
        Some((s, sub, n)) if s.eq_ignore_ascii_case(section) && n.eq_ignore_ascii_case(name) => {
            sub.is_none_or(|sub| url_matches(sub, host, path))
        }
        _ => false,
    })
}

/// A multi-valued key's list for the URL, as git builds it: entries in the
/// order read, an empty value clearing the ones before it.
fn list(entries: &[GitEntry], section: &str, name: &str, host: &str, path: Option<&str>) -> Vec<GitEntry> {
    let mut list = Vec::new();
    for entry in applying(entries, section, name, host, path) {
        if entry.value.is_empty() {
            list.clear();
        } else {
            list.push(entry.clone());
        }
    }
    list
}

/// What git will do for `https://host/path`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wiring {
    pub(crate) url: String,
    /// The helpers git runs, in order, after empty entries cleared earlier ones.
    pub(crate) helpers: Vec<GitEntry>,
    pub(crate) use_http_path: bool,
    pub(crate) extra_headers: Vec<GitEntry>,
    /// `url.BASE.insteadOf` entries that send this URL elsewhere (BASE, entry).
    pub(crate) rewrites: Vec<(String, GitEntry)>,
    /// The `http.<url>.proactiveAuth` entry git uses for the URL.
    pub(crate) proactive_auth: Option<GitEntry>,
    /// `url.https://HOST/.insteadOf` entries: what other URLs git sends to
    /// this host (`configure --rewrite-ssh` adds its SSH URLs).
    pub(crate) to_here: Vec<GitEntry>,
}

impl Wiring {
    pub(crate) fn of(entries: &[GitEntry], host: &str, path: Option<&str>) -> Wiring {
        let url = match path {
            Some(path) => format!("https://{host}/{path}"),
            None => format!("https://{host}/"),
        };
        let helpers = list(entries, "credential", "helper", host, path);
        // The most specific match wins, then the last one read.
        let use_http_path = applying(entries, "credential", "usehttppath", host, path)
            .enumerate()
            .max_by_key(|(i, e)| (split_key(&e.key).and_then(|(_, sub, _)| sub).map_or(0, str::len), *i))
            .is_some_and(|(_, e)| {
                matches!(e.value.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1" | "")
            });
        let extra_headers = list(entries, "http", "extraheader", host, path);
        let proactive_auth = applying(entries, "http", "proactiveauth", host, path)
            .enumerate()
            .max_by_key(|(i, e)| (split_key(&e.key).and_then(|(_, sub, _)| sub).map_or(0, str::len), *i))
            .map(|(_, e)| e.clone());
        let here = format!("https://{host}/");
        let to_here = entries
            .iter()
            .filter(|e| {
                split_key(&e.key).is_some_and(|(section, base, name)| {
                    section.eq_ignore_ascii_case("url")
                        && name.eq_ignore_ascii_case("insteadof")
                        && base == Some(here.as_str())
                })
            })
            .cloned()
            .collect();
        let rewrites = entries
            .iter()
            .filter_map(|e| {
                let (section, base, name) = split_key(&e.key)?;
                let rewrites_here = section.eq_ignore_ascii_case("url")
                    && (name.eq_ignore_ascii_case("insteadof") || name.eq_ignore_ascii_case("pushinsteadof"))
                    && !e.value.is_empty()
                    && (url.starts_with(&e.value)
                        || e.value.starts_with(&url.trim_end_matches('/').to_string()));
                Some((base?.to_string(), e.clone())).filter(|_| rewrites_here)
            })
            .collect();
        Wiring { url, helpers, use_http_path, extra_headers, rewrites, proactive_auth, to_here }
    }

    /// Our entry among the helpers, if any.
    pub(crate) fn ours(&self) -> Option<(usize, &GitEntry)> {
        self.helpers.iter().enumerate().find(|(_, e)| is_ours(&e.value))
    }
}

/// One check of git's side; `explain --json` prints it as is (fields in docs/commands.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Finding {
    pub(crate) ok: bool,
    /// What was found.
    #[serde(rename = "message")]
    pub(crate) what: String,
    /// Why it matters (failures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) why: Option<String>,
    /// The command that fixes it (failures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

impl Finding {
    pub(crate) fn ok(what: String) -> Finding {
        Finding { ok: true, what, why: None, fix: None }
    }

    pub(crate) fn fail(what: String, why: &str, fix: String) -> Finding {
        Finding { ok: false, what, why: Some(why.to_string()), fix: Some(fix) }
    }

    /// One line: `what`, or `what: why; fix: COMMAND`.
    pub(crate) fn line(&self) -> String {
        match (&self.why, &self.fix) {
            (Some(why), Some(fix)) => format!("{}: {why}; fix: {fix}", self.what),
            _ => self.what.clone(),
        }
    }
}

/// The name git-credential-NAME of a helper value (`store`, `cache`, ...),
/// or the program's file name.
fn helper_name(value: &str) -> String {
    let program = program_of(value.trim_start_matches('!'));
    program.rsplit('/').next().unwrap_or(&program).to_string()
}

fn stores(value: &str) -> bool {
    let name = helper_name(value);
    let name = name.strip_prefix("git-credential-").unwrap_or(&name);
    STORING.contains(&name)
        || (value.starts_with('!') && STORING.iter().any(|s| value.contains(&format!("git-credential-{s}"))))
}

/// `git config FILE --unset-all KEY '^VALUE$'` for one entry.
fn unset(entry: &GitEntry) -> String {
    if looks_secret(&entry.value) {
        return format!(
            "edit {} and remove that credential.helper entry (its value is not shown)",
            entry.place()
        );
    }
    entry.unset_command(Some(&format!("^{}$", regex_escape(&entry.value))))
}

fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Facts about this binary for the checks.
pub(crate) struct Facts<'a> {
    /// The command that configures git for the config in use.
    pub(crate) configure: &'a str,
    /// The app(s) for the host need the repository path.
    pub(crate) needs_path: bool,
    pub(crate) deadline: Instant,
}

/// The checks of git's side for `wiring`.
pub(crate) fn check(wiring: &Wiring, facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let url = &wiring.url;
    let chain: Vec<String> = wiring.helpers.iter().map(|e| helper_name(&e.value)).collect();
    let Some((position, ours)) = wiring.ours() else {
        findings.push(Finding::fail(
            format!(
                "git: for {url} git runs {}",
                if chain.is_empty() {
                    "no credential helper".to_string()
                } else {
                    format!("[{}]", chain.join(", "))
                }
            ),
            "this helper is not among them, so git never asks it",
            facts.configure.to_string(),
        ));
        return findings;
    };
    findings.push(Finding::ok(format!(
        "git: for {url} git runs [{}]; this helper is #{} (set in {})",
        chain.join(", "),
        position + 1,
        ours.place()
    )));
    for before in wiring.helpers[..position].iter() {
        let what = format!(
            "git: helper {:?} (set in {}) runs before this one",
            helper_name(&before.value),
            before.place()
        );
        findings.push(Finding::fail(
            what,
            "git asks it first and uses whatever it answers (a storing helper answers with an old, expired token), so this helper may never be asked",
            unset(before),
        ));
    }
    findings.push(binary_check(&ours.value, facts));
    if facts.needs_path && !wiring.use_http_path {
        let host_url = url.trim_end_matches('/').split('/').take(3).collect::<Vec<_>>().join("/");
        findings.push(Finding::fail(
            format!("git: credential.useHttpPath is off for {host_url}"),
            "git sends no repository path, and this config needs one to choose the app or installation",
            format!("git config --global credential.{host_url}.useHttpPath true"),
        ));
    }
    findings.extend(storing_after(wiring, position));
    for header in &wiring.extra_headers {
        findings.push(Finding::fail(
            format!("git: {} is set (in {}; value not shown)", header.key, header.place()),
            "git sends that header (left behind by actions/checkout) instead of asking any helper",
            header.unset_command(None),
        ));
    }
    for (base, entry) in &wiring.rewrites {
        let ssh = !base.starts_with("https://");
        if looks_secret(&entry.key) || has_password(base) {
            findings.push(Finding::fail(
                format!(
                    "git: a url.*.insteadOf entry rewrites {} (in {}; it holds a token, not shown)",
                    entry.value,
                    entry.place()
                ),
                "git sends the token written in it instead of asking any helper",
                format!("edit {} and remove that [url] section", entry.place()),
            ));
            continue;
        }
        let why = if ssh {
            "git fetches over SSH (or another protocol) instead, and never asks a credential helper"
        } else {
            "git fetches from another URL, which this helper may not serve"
        };
        findings.push(Finding::fail(
            format!("git: {} rewrites {} to {base} (in {})", entry.key, entry.value, entry.place()),
            why,
            entry.unset_command(None),
        ));
    }
    if findings.iter().all(|f| f.ok) {
        findings
            .push(Finding::ok("git: no helper stores tokens, no extraheader, no insteadOf rewrite".into()));
    }
    findings
}

/// Whether a URL carries `user:password@` (a password, or a token after
/// `x-access-token:` or `oauth2:`); a bare user such as `git@` is no secret.
fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// A failure for each helper after ours (at `position`) that stores credentials.
pub(crate) fn storing_after(wiring: &Wiring, position: usize) -> Vec<Finding> {
    wiring.helpers[position + 1..]
        .iter()
        .filter(|e| stores(&e.value))
        .map(|after| {
            Finding::fail(
                format!(
                    "git: helper {:?} (set in {}) runs after this one and stores credentials",
                    helper_name(&after.value),
                    after.place()
                ),
                "git hands it every installation token this helper answers with, and it keeps them (store writes ~/.git-credentials in plain text)",
                unset(after),
            )
        })
        .collect()
}

/// Our helper entry runs an existing program of the same version as this one.
fn binary_check(value: &str, facts: &Facts<'_>) -> Finding {
    // git runs a short name NAME as `git credential-NAME`, found on PATH.
    let program = match program_of(value) {
        p if p.contains('/') || p.starts_with("git-credential-") => p,
        short => format!("git-credential-{short}"),
    };
    if Path::new(&program).is_absolute() && !Path::new(&program).exists() {
        return Finding::fail(
            format!("git: the helper entry runs {}, which does not exist", os::shown(Path::new(&program))),
            "git cannot start the helper and falls through to a password prompt",
            facts.configure.to_string(),
        );
    }
    let version = Running::start(&program, &["--version".to_string()], None, 4096)
        .and_then(|r| r.finish(facts.deadline));
    let ours = concat!("git-credential-github-app ", env!("CARGO_PKG_VERSION"));
    match version {
        Ok(out) if String::from_utf8_lossy(&out).trim() == ours => {
            Finding::ok(format!("git: the helper entry runs {program} ({})", env!("CARGO_PKG_VERSION")))
        }
        Ok(out) => Finding::fail(
            format!(
                "git: the helper entry runs {program}, which is {:?}, not {ours}",
                crate::redact::escape(String::from_utf8_lossy(&out).trim())
            ),
            "git runs another version than the one checked here",
            facts.configure.to_string(),
        ),
        Err(_) => Finding::fail(
            format!("git: the helper entry runs {program}, which does not answer --version"),
            "git may not be able to run it",
            facts.configure.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(origin: &str, key: &str, value: &str) -> GitEntry {
        GitEntry { scope: "global".into(), origin: origin.into(), key: key.into(), value: value.into() }
    }

    #[test]
    fn git_config_output_is_read_in_order() {
        let out = "global\0file:/h/.gitconfig\0credential.helper\nstore\0local\0file:.git/config\0credential.https://github.com.usehttppath\ntrue\0command\0command line:\0http.extraheader\nAUTHORIZATION: basic x\0";
        let entries = parse_entries(out);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], entry("file:/h/.gitconfig", "credential.helper", "store"));
        assert_eq!(
            entries[1].unset_command(None),
            "git config --local --unset-all credential.https://github.com.usehttppath"
        );
        assert_eq!(entries[1].place(), ".git/config of this repository");
        assert!(entries[2].unset_command(None).starts_with("remove http.extraheader from git's -c options"));
    }

    #[test]
    fn urls_match_as_git_matches_them() {
        assert!(url_matches("https://github.com", "github.com", None));
        assert!(url_matches("https://GitHub.com/", "github.com", Some("acme/web")));
        assert!(url_matches("https://*.example.com", "ghe.example.com", None));
        assert!(!url_matches("https://*.example.com", "example.com", None));
        assert!(!url_matches("http://github.com", "github.com", None));
        assert!(!url_matches("https://github.com:8443", "github.com", None));
        assert!(url_matches("https://127.0.0.1:8443", "127.0.0.1:8443", None));
        assert!(url_matches("https://github.com/acme", "github.com", Some("acme/web.git")));
        assert!(!url_matches("https://github.com/acme", "github.com", Some("acmex/web")));
        assert!(!url_matches("https://github.com/acme", "github.com", None));
    }

    const OURS: &str = "/usr/bin/git-credential-github-app --config /c.toml";

    #[test]
    fn the_chain_is_what_git_runs_after_empty_entries_reset_it() {
        let entries = [
            entry("file:/g", "credential.helper", "osxkeychain"),
            entry("file:/g", "credential.https://github.com.helper", ""),
            entry("file:/g", "credential.https://github.com.helper", OURS),
            entry("file:/g", "credential.https://gitlab.com.helper", "store"),
            entry("file:/r", "credential.helper", "store"),
        ];
        let w = Wiring::of(&entries, "github.com", None);
        let names: Vec<String> = w.helpers.iter().map(|e| helper_name(&e.value)).collect();
        assert_eq!(names, ["git-credential-github-app", "store"]);
        assert_eq!(w.ours().map(|(i, _)| i), Some(0));
        assert!(!w.use_http_path);
    }

    fn facts(needs_path: bool) -> Facts<'static> {
        Facts { configure: "git-credential-github-app configure", needs_path, deadline: Instant::now() }
    }

    #[test]
    fn a_storing_helper_after_ours_fails_with_the_command_that_removes_it() {
        // Absolute as git names files on this OS (Git for Windows: `C:/Users/me/.gitconfig`).
        let (home, missing) = if cfg!(windows) {
            ("C:/Users/me/.gitconfig", "C:/nonexistent/git-credential-github-app.exe")
        } else {
            ("/home/me/.gitconfig", "/nonexistent/git-credential-github-app")
        };
        let entries = [
            entry("file:/g", "credential.https://github.com.helper", ""),
            entry("file:/g", "credential.https://github.com.helper", missing),
            entry(&format!("file:{home}"), "credential.helper", "cache --timeout=3600"),
        ];
        let findings = check(&Wiring::of(&entries, "github.com", None), &facts(false));
        let storing = findings.iter().find(|f| f.what.contains("\"cache\"")).unwrap();
        assert!(!storing.ok);
        assert_eq!(
            storing.fix.as_deref(),
            Some(
                format!("git config --file {home} --unset-all credential.helper '^cache --timeout=3600$'")
                    .as_str()
            )
        );
        assert!(findings.iter().any(|f| !f.ok && f.what.contains("does not exist")));
    }

    #[test]
    fn missing_helper_extraheader_use_http_path_and_ssh_rewrites_are_failures() {
        let entries = [
            entry("file:/g", "http.https://github.com/.extraheader", "AUTHORIZATION: basic x"),
            entry("file:/g", "url.git@github.com:.insteadof", "https://github.com/"),
        ];
        let w = Wiring::of(&entries, "github.com", None);
        assert_eq!(w.extra_headers.len(), 1);
        assert_eq!(w.rewrites.len(), 1);
        let findings = check(&w, &facts(true));
        assert!(findings[0].what.contains("no credential helper") && !findings[0].ok);
        assert_eq!(findings[0].fix.as_deref(), Some("git-credential-github-app configure"));
        let entries = [
            entry("file:/g", "credential.https://github.com.helper", OURS),
            entry("file:/g", "http.https://github.com/.extraheader", "AUTHORIZATION: basic x"),
            entry("file:/g", "url.git@github.com:.insteadof", "https://github.com/"),
        ];
        let findings = check(&Wiring::of(&entries, "github.com", None), &facts(true));
        let failed: Vec<String> = findings.iter().filter(|f| !f.ok).map(Finding::line).collect();
        assert!(
            failed
                .iter()
                .any(|l| l.contains("useHttpPath")
                    && l.contains("credential.https://github.com.useHttpPath true")),
            "{failed:?}"
        );
        assert!(
            failed.iter().any(|l| l.contains("extraheader")
                && l.contains("--unset-all http.https://github.com/.extraheader")),
            "{failed:?}"
        );
        assert!(
            failed
                .iter()
                .any(|l| l.contains("SSH") && l.contains("--unset-all url.git@github.com:.insteadof")),
            "{failed:?}"
        );
        assert!(failed.iter().all(|l| !l.contains("basic x")), "{failed:?}");
    }

    #[test]
    fn a_rewrite_to_a_url_with_a_password_is_reported_without_it() {
        for base in ["https://alice:hunter2pw@github.com/", "https://oauth2:glpat-AbCdEf12345@github.com/"] {
            let entries = [
                entry("file:/g", "credential.https://github.com.helper", OURS),
                entry("file:/g", &format!("url.{base}.insteadof"), "https://github.com/"),
            ];
            let findings = check(&Wiring::of(&entries, "github.com", None), &facts(false));
            let lines: Vec<String> = findings.iter().map(Finding::line).collect();
            assert!(lines.iter().any(|l| l.contains("not shown")), "{lines:?}");
            assert!(lines.iter().all(|l| !l.contains("hunter2pw") && !l.contains("glpat")), "{lines:?}");
        }
        assert!(!has_password("https://github.com/a@b:c"));
        assert!(!has_password("git@github.com:"));
        assert!(!has_password("ssh://git@github.com:22/"));
    }
}
