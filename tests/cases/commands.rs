//! Operator commands: configure, token, explain, doctor, cache, revoke, tracing.
//!
//! Each test starts its own world (a fake GitHub with the app installed on `acme` and
//! `widgets`, a hermetic env with `GIT_CONFIG_GLOBAL` pointing at a temp file), runs the built
//! binary as a person or a script would, and checks stdout, stderr, the exit status, what the
//! fake saw and what git config holds afterwards. No output of any command but `token` may
//! carry a secret.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::git_env::helper_path;
use crate::support::world::{
    APP_ID, Config, INSTALLATION_ID, PREFIX, SLUG, WIDGETS_INSTALLATION_ID, World, code,
};
use crate::support::{RunOutput, TestEnv, iso8601, run, run_with_stdin, set_mode, unix_now};
use crate::support::{toml_path as qp, toml_string as q};

/// A generic helper that answers every `get` with a password the fake refuses.
const WRONG_HELPER: &str =
    "!f() { test \"$1\" = get || exit 0; echo username=someone; echo password=wrong-password; }; f";

/// The world of these tests: the app is installed on `widgets` too.
fn world() -> World {
    World::builder().widgets().start()
}

/// The checks `doctor` printed, as (passed, text): lines like `[ ok ] key: ...`.
fn checks(stdout: &str) -> Vec<(bool, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (mark, text) = line.trim_start().strip_prefix('[')?.split_once(']')?;
            let passed = match mark.trim() {
                "ok" => true,
                "FAIL" => false,
                _ => return None,
            };
            Some((passed, text.trim().to_string()))
        })
        .collect()
}

/// The one check whose text starts with `label`; panics unless there is exactly one.
#[track_caller]
fn check<'a>(all: &'a [(bool, String)], label: &str, out: &RunOutput) -> &'a (bool, String) {
    let found: Vec<&(bool, String)> = all.iter().filter(|(_, text)| text.starts_with(label)).collect();
    assert_eq!(found.len(), 1, "expected one {label:?} check:\n{out}");
    found[0]
}

/// `YYYY-MM-DD HH:MM:SS` of a unix time, as the commands print expiries (in UTC).
fn utc(unix: i64) -> String {
    iso8601(unix).trim_end_matches('Z').replace('T', " ")
}

impl World {
    fn host(&self) -> String {
        self.fake.host()
    }

    /// `https://HOST/REPO` on the fake.
    fn url(&self, repo: &str) -> String {
        format!("https://{}/{repo}", self.host())
    }

    /// The entry lines of `cache list` (every line naming an expiry).
    #[track_caller]
    fn cache_entries(&self, cfg: &Path) -> Vec<String> {
        let out = self.run(cfg, &["cache", "list"]);
        out.assert_success();
        self.assert_output_has_no_secrets(&out);
        out.stdout.lines().filter(|l| l.contains("expires")).map(str::to_string).collect()
    }

    /// The helper string `configure` should write: this binary (as the OS names it) and the
    /// config's absolute path.
    fn expected_helper(&self, cfg: &Path) -> String {
        let exe = fs::canonicalize(helper_path()).expect("canonical helper path");
        format!("{} --config {}", exe.display(), cfg.display())
    }

    /// `git config --file FILE --get-all KEY`: every value, in order (empty when unset).
    fn get_all(&self, file: &Path, key: &str) -> Vec<String> {
        let mut cmd = self.env.git(["config", "--file"]);
        cmd.arg(file).args(["--get-all", key]);
        let out = run(cmd);
        match code(&out) {
            Some(0) => out.stdout.split_terminator('\n').map(str::to_string).collect(),
            Some(1) => Vec::new(),
            _ => panic!("git config failed:\n{out}"),
        }
    }

    /// `git config --file FILE --list` as key -> values: the order of a key's values is kept,
    /// the order between keys is not (git may move a key within its section).
    fn config_map(&self, file: &Path) -> BTreeMap<String, Vec<String>> {
        let mut cmd = self.env.git(["config", "--file"]);
        cmd.arg(file).arg("--list");
        let out = run(cmd);
        out.assert_success();
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in out.stdout.lines() {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            map.entry(key.to_string()).or_default().push(value.to_string());
        }
        map
    }

    fn helper_key(&self) -> String {
        format!("credential.https://{}.helper", self.host())
    }

    fn use_http_path_key(&self) -> String {
        format!("credential.https://{}.useHttpPath", self.host())
    }

    /// `git clone` of the fake's `acme/web` into `work/DIR`.
    fn clone(&self, dir: &str) -> RunOutput {
        run(self.env.git(["clone", "--quiet", &self.fake.repo_url("acme", "web"), dir]))
    }
}

// ---- --help, --version, unknown commands ----

#[test]
fn help_lists_every_command_on_a_line_of_its_own() {
    let env = TestEnv::new();
    for flag in ["--help", "-h"] {
        let out = run(env.helper([flag]));
        out.assert_success();
        assert_eq!(out.stderr, "", "{out}");
        for command in [
            "configure",
            "unconfigure",
            "token",
            "exec",
            "explain",
            "doctor",
            "cache list",
            "cache clear",
            "revoke",
            "get",
            "store",
            "erase",
        ] {
            let lines: Vec<&str> = out
                .stdout
                .lines()
                .filter(|l| {
                    let l = l.trim_start();
                    l == command || l.starts_with(&format!("{command} "))
                })
                .collect();
            assert_eq!(lines.len(), 1, "expected one line for {command:?}:\n{out}");
            assert!(lines[0].starts_with("  "), "{command:?} is not listed as a command:\n{out}");
        }
        assert!(out.stdout.contains("--config"), "{out}");
        assert!(out.stdout.contains("GIT_CREDENTIAL_GITHUB_APP_TRACE"), "{out}");
    }
}

#[test]
fn version_prints_the_program_name_and_the_package_version() {
    let env = TestEnv::new();
    for flag in ["--version", "-V"] {
        let out = run(env.helper([flag]));
        out.assert_success();
        assert_eq!(out.stdout, format!("git-credential-github-app {}\n", env!("CARGO_PKG_VERSION")));
        assert_eq!(out.stderr, "", "{out}");
    }
}

#[test]
fn an_unknown_command_with_arguments_is_a_usage_error_but_an_unknown_single_word_is_ignored() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));

    let out = w.run(&cfg, &["tokne", "acme/web"]);
    assert_eq!(code(&out), Some(2), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert!(out.stderr.starts_with(PREFIX) && out.stderr.contains("tokne"), "{out}");

    // A future git operation: silent, whatever git writes on stdin.
    let request = format!("protocol=https\nhost={}\npath=acme/web\n", w.host());
    for word in ["frobnicate", "capabilities"] {
        let out = run_with_stdin(w.cmd(&cfg, &[word]), request.as_bytes());
        assert_eq!(code(&out), Some(0), "{out}");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""), "{out}");
        let out = run(w.env.helper([word]));
        assert_eq!(code(&out), Some(0), "{out}");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""), "{out}");
    }
    assert!(w.fake.requests().is_empty());
}

#[test]
fn an_unknown_operation_is_ignored_even_when_the_config_cannot_be_read() {
    let env = TestEnv::new();
    let missing = env.root().join("no-such-config.toml");
    let broken = env.write_config("no_such_key = 1\n");
    for cfg in [&missing, &broken] {
        let mut cmd = env.helper(["--config"]);
        cmd.arg(cfg).arg("frobnicate");
        let out = run_with_stdin(cmd, b"protocol=https\nhost=github.com\n");
        assert_eq!(code(&out), Some(0), "{out}");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""), "{out}");
    }
}

// ---- configure / unconfigure ----

#[test]
fn configure_writes_an_empty_entry_then_this_binary_and_use_http_path_to_the_global_config() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let global = w.env.global_config();

    // A relative --config becomes absolute in the helper string.
    let relative = cfg.file_name().unwrap().to_str().unwrap();
    let mut cmd = w.env.helper(["--config", relative, "configure"]);
    cmd.current_dir(cfg.parent().unwrap());
    let out = run(cmd);
    out.assert_success();
    assert!(out.stdout.contains(&w.helper_key()), "{out}");

    let helper = w.expected_helper(&cfg);
    assert_eq!(w.get_all(&global, &w.helper_key()), ["".to_string(), helper.clone()]);
    assert_eq!(w.get_all(&global, &w.use_http_path_key()), ["true"]);
    // Nothing else but the marker that remembers there was no useHttpPath before.
    let map = w.config_map(&global);
    let keys: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
    let host = w.host();
    let mut expected = vec![
        format!("credential.https://{host}.helper"),
        format!("credential.https://{host}.usehttppath"),
        format!("git-credential-github-app.https://{host}.replacedusehttppath"),
    ];
    expected.sort();
    assert_eq!(keys, expected, "{map:?}");

    // A second run changes nothing, not even the bytes of the file.
    let before = fs::read(&global).unwrap();
    let out = run(w.cmd(&cfg, &["configure"]));
    out.assert_success();
    assert!(out.stdout.contains("already configured"), "{out}");
    assert!(!out.stdout.contains("ran:"), "{out}");
    assert_eq!(fs::read(&global).unwrap(), before, "the second configure changed the file");
    assert!(w.fake.requests().is_empty(), "configure needs no network");
}

#[test]
fn configure_dry_run_prints_the_exact_git_config_commands_and_changes_nothing() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let global = w.env.global_config();
    let target = w.env.root().join("dry-run.gitconfig");
    fs::write(&target, "").unwrap();

    for (args, scope) in [
        (vec!["configure", "--dry-run"], "--global".to_string()),
        (
            vec!["configure", "--file", target.to_str().unwrap(), "--dry-run"],
            format!("--file {}", target.display()),
        ),
    ] {
        let out = w.run(&cfg, &args);
        out.assert_success();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(!lines.is_empty(), "{out}");
        for line in &lines {
            assert!(line.starts_with(&format!("git config {scope} ")), "{line:?} in:\n{out}");
        }
        assert!(lines.iter().any(|l| l.ends_with(&format!("--add {} ''", w.helper_key()))), "{out}");
        assert!(lines.iter().any(|l| l.contains(&w.expected_helper(&cfg))), "{out}");
        assert!(lines.iter().any(|l| l.ends_with(&format!("{} true", w.use_http_path_key()))), "{out}");
    }
    assert_eq!(fs::read(&global).unwrap(), b"", "--dry-run changed the global config");
    assert_eq!(fs::read(&target).unwrap(), b"", "--dry-run changed the file");

    // The printed commands are exact: run by a shell they configure the file completely.
    let out = w.run(&cfg, &["configure", "--file", target.to_str().unwrap(), "--dry-run"]);
    for line in out.stdout.lines() {
        let mut sh = Command::new("sh");
        w.env.apply(&mut sh);
        sh.args(["-c", line]);
        run(sh).assert_success();
    }
    assert_eq!(w.get_all(&target, &w.helper_key()), ["".to_string(), w.expected_helper(&cfg)]);
    let out = w.run(&cfg, &["configure", "--file", target.to_str().unwrap()]);
    out.assert_success();
    assert!(out.stdout.contains("already configured"), "{out}");
}

#[test]
fn configure_file_writes_to_that_file_and_leaves_the_global_config_alone() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let target = w.env.root().join("other.gitconfig");

    let out = w.run(&cfg, &["configure", "--file", target.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(w.get_all(&target, &w.helper_key()), ["".to_string(), w.expected_helper(&cfg)]);
    assert_eq!(w.get_all(&target, &w.use_http_path_key()), ["true"]);
    assert_eq!(fs::read(w.env.global_config()).unwrap(), b"", "the global config was touched");

    let out = w.run(&cfg, &["unconfigure", "--file", target.to_str().unwrap()]);
    out.assert_success();
    assert!(w.config_map(&target).is_empty(), "{:?}", w.config_map(&target));
}

#[test]
fn configure_system_sets_up_every_host_of_the_config_in_the_system_file() {
    let mut w = world();
    let system = w.env.root().join("system.gitconfig");
    w.env.set_env("GIT_CONFIG_SYSTEM", system.to_str().unwrap());
    let other = "ghe.example.com";
    let toml = format!(
        "{}[[app]]\napp_id = 1\nprivate_key_path = {}\nhost = {}\nrepos = [\"acme/*\"]\n",
        w.app(&format!("installation_id = {INSTALLATION_ID}")),
        qp(&w.key),
        q(other)
    );
    let cfg = w.config(&toml);

    let out = w.run(&cfg, &["configure", "--system"]);
    out.assert_success();
    let helper = w.expected_helper(&cfg);
    for host in [w.host(), other.to_string()] {
        let key = format!("credential.https://{host}.helper");
        assert_eq!(w.get_all(&system, &key), ["".to_string(), helper.clone()], "{out}");
        assert_eq!(w.get_all(&system, &format!("credential.https://{host}.useHttpPath")), ["true"]);
    }
    assert_eq!(fs::read(w.env.global_config()).unwrap(), b"", "the global config was touched");

    let out = w.run(&cfg, &["configure", "--system"]);
    assert_eq!(out.stdout.matches("already configured").count(), 2, "{out}");
    w.run(&cfg, &["unconfigure", "--system"]).assert_success();
    assert!(w.config_map(&system).is_empty(), "{:?}", w.config_map(&system));
}

#[test]
fn unconfigure_removes_exactly_what_configure_added_and_restores_use_http_path() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let global = w.env.global_config();
    w.env.git_config_global_add("credential.helper", "store");
    w.env.git_config_global_add(&w.helper_key(), "cache --timeout 60");
    w.env.git_config_global(&w.use_http_path_key(), "false");
    w.env.git_config_global("user.name", "Someone");
    w.env.git_config_global("credential.https://elsewhere.example.helper", "manager");
    let before = w.config_map(&global);

    w.run(&cfg, &["configure"]).assert_success();
    assert_eq!(
        w.get_all(&global, &w.helper_key()),
        ["cache --timeout 60".to_string(), String::new(), w.expected_helper(&cfg)]
    );
    assert_eq!(w.get_all(&global, &w.use_http_path_key()), ["true"]);
    assert_eq!(w.get_all(&global, "credential.helper"), ["store"]);
    assert_ne!(w.config_map(&global), before);

    let out = w.run(&cfg, &["unconfigure"]);
    out.assert_success();
    assert_eq!(w.config_map(&global), before, "unconfigure did not restore the config:\n{out}");
    assert_eq!(w.get_all(&global, &w.use_http_path_key()), ["false"]);

    // Nothing left to remove.
    let text = fs::read(&global).unwrap();
    let out = w.run(&cfg, &["unconfigure"]);
    out.assert_success();
    assert!(out.stdout.contains("not configured"), "{out}");
    assert_eq!(fs::read(&global).unwrap(), text);
}

#[test]
fn after_configure_a_generic_helper_before_ours_no_longer_answers_for_the_host() {
    let w = world();
    w.fake.create_repo("acme", "web");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    w.env.git_config_global_add("credential.helper", WRONG_HELPER);

    // The generic helper alone: git uses its password and the fake refuses it.
    let out = w.clone("before");
    out.assert_failure();
    let refused = w.fake.git_auth_failures();
    assert!(refused >= 1, "the generic helper's password was never tried:\n{out}");

    w.run(&cfg, &["configure"]).assert_success();
    let out = w.clone("after");
    out.assert_success();
    assert_eq!(w.fake.git_auth_failures(), refused, "a wrong password was tried after configure:\n{out}");
    assert_eq!(w.fake.mint_count(), 1, "{out}");
    assert!(w.fake.git_authorized() >= 1);
    let head = run(w.env.git(["-C", "after", "rev-parse", "HEAD"]));
    assert_eq!(head.assert_success().stdout.trim(), w.fake.repo_head("acme", "web"));
    w.assert_output_has_no_secrets(&out);
}

// ---- token ----

#[test]
fn token_prints_only_the_token_and_reuses_the_cache() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));

    let out = w.run(&cfg, &["token", "acme/web"]);
    out.assert_success();
    let issued = w.fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(out.stdout, format!("{}\n", issued[0].token));
    assert_eq!(out.stderr, "", "{out}");

    for args in
        [vec!["token", "acme/web"], vec!["token", &w.url("acme/web")], vec!["token", &w.url("acme/web.git")]]
    {
        let out = w.run(&cfg, &args);
        out.assert_success();
        assert_eq!(out.stdout, format!("{}\n", issued[0].token), "{out}");
        assert_eq!(out.stderr, "", "{out}");
    }
    assert_eq!(w.fake.mint_count(), 1, "token did not reuse the cache");

    // The same cache as git's get.
    assert_eq!(w.served(&w.get(&cfg, "acme/web.git")), issued[0].token);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn token_reads_the_config_named_by_the_environment_and_takes_the_host_option() {
    let mut w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_CONFIG", cfg.to_str().unwrap());
    let out = run(w.env.helper(["token", "acme/web", "--host", &w.host()]));
    out.assert_success();
    assert_eq!(out.stdout, format!("{}\n", w.fake.issued_tokens()[0].token));
}

#[test]
fn token_for_a_repository_no_pattern_matches_fails_and_says_why() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let line = w.failed(&w.run(&cfg, &["token", "other/repo"]));
    assert!(line.contains("other/repo") && line.contains("pattern"), "{line}");

    let line = w.failed(&w.run(&cfg, &["token", "https://unknown.example/acme/web"]));
    assert!(line.contains("unknown.example"), "{line}");
    assert!(w.fake.requests().is_empty(), "nothing is asked of GitHub for a repository not served");
}

#[test]
fn token_for_an_owner_the_app_is_not_installed_for_fails_and_names_the_owner() {
    let w = world();
    let cfg = w.config(w.app(""));
    let line = w.failed(&w.run(&cfg, &["token", "nobody/repo"]));
    assert!(line.contains("nobody"), "{line}");
    assert!(line.contains("not installed"), "{line}");
    assert_eq!(w.fake.mint_count(), 0);
}

#[test]
fn token_without_a_target_fails_when_several_apps_serve_the_host() {
    let w = world();
    let toml = format!(
        "{}{}",
        w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
        w.app(&format!("installation_id = {WIDGETS_INSTALLATION_ID}\nrepos = [\"widgets/*\"]"))
    );
    let cfg = w.config(&toml);
    let line = w.failed(&w.run(&cfg, &["token"]));
    assert!(line.contains(&w.host()) && line.contains("OWNER/REPO"), "{line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn token_without_a_target_is_served_by_the_only_app_with_an_installation_for_the_host() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let out = w.run(&cfg, &["token"]);
    out.assert_success();
    let issued = w.fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].installation_id, INSTALLATION_ID);
    assert_eq!(out.stdout, format!("{}\n", issued[0].token));
}

// ---- explain ----

#[test]
fn explain_shows_app_pattern_installation_scope_and_cache_state_without_the_network() {
    let w = world();
    let cfg = w.config(
        w.app(&format!("name = \"ci-bot\"\ninstallation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
    );
    let url = w.url("acme/web");

    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert!(w.fake.requests().is_empty(), "explain used the network:\n{out}");
    assert!(out.stdout.contains("ci-bot"), "{out}");
    assert!(out.stdout.contains("\"acme/*\""), "{out}");
    assert!(out.stdout.contains(&format!("{INSTALLATION_ID} (configured)")), "{out}");
    assert!(out.stdout.lines().any(|l| l.contains("scope") && l.contains("installation")), "{out}");
    assert!(out.stdout.contains("no token cached"), "{out}");

    let token = w.served(&w.get(&cfg, "acme/web"));
    let seen = w.fake.requests().len();
    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert_eq!(w.fake.requests().len(), seen, "explain used the network:\n{out}");
    let expires = w.fake.issued_tokens()[0].expires_at;
    assert!(out.stdout.contains("fresh until"), "{out}");
    assert!(out.stdout.contains(&utc(expires)), "{out}");
    assert!(
        !out.stdout.contains(&token) && !out.stderr.contains(&token),
        "explain printed the token:\n{out}"
    );
    w.assert_output_has_no_secrets(&out);
}

#[test]
fn explain_tells_a_discovered_installation_before_and_after_it_is_remembered() {
    let w = world();
    let cfg = w.config(w.app("name = \"discoverer\"\ntoken_scope = \"repository\""));
    let url = w.url("acme/web");

    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert!(out.stdout.contains("discoverer"), "{out}");
    assert!(out.stdout.contains("to be discovered"), "{out}");
    assert!(out.stdout.contains("repository:acme/web"), "{out}");
    assert!(out.stdout.contains("no token cached"), "{out}");
    assert!(w.fake.requests().is_empty(), "explain used the network:\n{out}");

    w.served(&w.get(&cfg, "acme/web"));
    let seen = w.fake.requests().len();
    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert_eq!(w.fake.requests().len(), seen, "explain used the network:\n{out}");
    assert!(out.stdout.contains("remembered"), "{out}");
    assert!(out.stdout.contains(&INSTALLATION_ID.to_string()), "{out}");
    assert!(out.stdout.contains("fresh until"), "{out}");
    w.assert_output_has_no_secrets(&out);
}

#[test]
fn explain_reports_a_token_with_too_little_life_left_as_stale() {
    let w = world();
    w.fake.set_token_lifetime(900);
    let cfg = w.config(
        Config::new().top("min_token_lifetime_secs = 1200").app(w.test_app().installation(INSTALLATION_ID)),
    );
    w.served(&w.get(&cfg, "acme/web"));
    let out = w.run(&cfg, &["explain", &w.url("acme/web")]);
    out.assert_success();
    assert!(out.stdout.contains("stale"), "{out}");
    assert!(!out.stdout.contains("fresh until"), "{out}");
    w.assert_output_has_no_secrets(&out);
}

#[test]
fn explain_says_why_a_url_is_not_served() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let host = w.host();
    // Each reason names what it is about, on the line that gives it.
    for (url, subject, why) in [
        (format!("http://{host}/acme/web"), "http", "protocol"),
        ("https://unknown.example/acme/web".to_string(), "unknown.example", "host"),
        (format!("https://{host}/other/repo"), "other/repo", "pattern"),
        (format!("https://someone@{host}/acme/web"), "someone", "username"),
    ] {
        let out = w.run(&cfg, &["explain", &url]);
        assert!(!out.timed_out && out.status.is_some(), "{out}");
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.lines().any(|l| l.contains(subject) && l.contains(why)),
            "explain {url} does not say why ({subject:?}, {why:?}):\n{out}"
        );
        assert!(!text.lines().any(|l| l.starts_with("served:") && l.contains("yes")), "{out}");
        w.assert_output_has_no_secrets(&out);
    }
    assert!(w.fake.requests().is_empty());
}

// ---- doctor ----

#[test]
fn doctor_passes_every_check_for_a_good_config_and_prints_no_secret() {
    let w = world();
    let cfg = w.config(w.app(&format!("name = \"ci-bot\"\ninstallation_id = {INSTALLATION_ID}")));
    w.use_helper_in_git_for_host(&cfg);
    let out = w.run(&cfg, &["doctor"]);
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    let all = checks(&out.stdout);
    assert!(all.iter().all(|(ok, _)| *ok), "a check failed:\n{out}");
    check(&all, "key", &out);
    let jwt = check(&all, "JWT", &out);
    assert!(jwt.1.contains(SLUG), "{out}");
    check(&all, "clock", &out);
    let installations = check(&all, "installations", &out);
    assert!(installations.1.contains("777") && installations.1.contains("778"), "{out}");
    assert!(out.stdout.contains("ci-bot"), "{out}");
    assert_eq!(w.fake.count("GET", "/app/installations"), 1, "{out}");
    assert_eq!(w.fake.mint_count(), 0, "doctor minted a token");
}

#[test]
fn doctor_runs_a_private_key_command_once_per_app() {
    let w = world();
    let runs = w.env.root().join("key-command-runs");
    let script = format!("echo run >> {}; cat {}", runs.display(), w.key.display());
    let key = format!("private_key_command = [\"sh\", \"-c\", {script:?}]");
    let cfg = w.config(w.test_app().key_lines(&key).installation(INSTALLATION_ID));
    w.use_helper_in_git_for_host(&cfg);
    let out = w.run(&cfg, &["doctor"]);
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    let count = std::fs::read_to_string(&runs).unwrap_or_default().lines().count();
    assert_eq!(count, 1, "the key command ran {count} times:\n{out}");
}

#[test]
fn doctor_fails_when_github_refuses_the_jwt_of_a_wrong_key() {
    let w = world();
    let wrong = w.env.copy_key("other-key-pkcs1.pem");
    let toml = w.app(&format!("installation_id = {INSTALLATION_ID}")).replace(&qp(&w.key), &qp(&wrong));
    let cfg = w.config(&toml);
    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    w.assert_output_has_no_secrets(&out);
    let all = checks(&out.stdout);
    assert!(check(&all, "key", &out).0, "the key itself is a usable RSA key:\n{out}");
    let jwt = check(&all, "JWT", &out);
    assert!(!jwt.0 && jwt.1.contains("401"), "{out}");
}

#[test]
fn doctor_fails_for_an_installation_id_the_app_does_not_have() {
    let w = world();
    let cfg = w.config(w.app("installation_id = 999"));
    w.use_helper_in_git_for_host(&cfg);
    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    w.assert_output_has_no_secrets(&out);
    let all = checks(&out.stdout);
    let failed: Vec<&(bool, String)> = all.iter().filter(|(ok, _)| !ok).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].1.contains("999"), "{out}");
    assert!(check(&all, "JWT", &out).0, "{out}");
}

#[test]
fn doctor_fails_for_a_key_file_readable_by_others_with_a_chmod_hint() {
    let w = world();
    set_mode(&w.key, 0o644);
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    w.assert_output_has_no_secrets(&out);
    let all = checks(&out.stdout);
    let key = check(&all, "key", &out);
    assert!(!key.0 && key.1.contains("chmod"), "{out}");
    assert!(w.fake.requests().is_empty(), "nothing is sent without a usable key:\n{out}");
}

#[test]
fn doctor_follows_every_page_of_installations() {
    let w = world();
    for n in 0..105 {
        w.fake.add_installation(10_000 + n, APP_ID, &format!("org{n}"), None);
    }
    let cfg = w.config(w.app(&format!("installation_id = {}", 10_104)));
    w.use_helper_in_git_for_host(&cfg);
    let out = w.run(&cfg, &["doctor"]);
    out.assert_success();
    let all = checks(&out.stdout);
    assert!(check(&all, "installations", &out).1.contains("107"), "{out}");
    assert!(all.iter().any(|(ok, text)| *ok && text.contains("10104")), "{out}");
    assert_eq!(w.fake.count("GET", "/app/installations"), 2, "{out}");
}

#[test]
fn doctor_reports_a_clock_that_is_off_from_githubs() {
    let w = world();
    w.fake.set_clock_offset(-300);
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let before = unix_now();
    w.use_helper_in_git_for_host(&cfg);
    let out = w.run(&cfg, &["doctor"]);
    let after = unix_now();
    assert_eq!(code(&out), Some(1), "{out}");
    w.assert_output_has_no_secrets(&out);
    let all = checks(&out.stdout);
    assert!(check(&all, "JWT", &out).0, "the JWT is signed again on GitHub's time:\n{out}");
    let clock = check(&all, "clock", &out);
    assert!(!clock.0, "{out}");
    // `clock: -300 s off GitHub's ...`. The helper reads its clock when it starts and GitHub's
    // `Date` (whole seconds) when the answer comes: each second that ticks in between takes one
    // off the offset it prints.
    let offset: i64 = clock.1["clock:".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in the clock check:\n{out}"));
    assert!((-300..=-300 + (after - before)).contains(&offset), "{out}");
}

#[test]
fn doctor_with_an_invalid_config_fails_naming_the_key_and_the_file() {
    let w = world();
    let cfg = w.config(w.app("installation = 5"));
    let line = w.failed(&w.run(&cfg, &["doctor"]));
    assert!(line.contains("installation") && line.contains(cfg.to_str().unwrap()), "{line}");
    assert!(w.fake.requests().is_empty());
}

// ---- cache list / clear ----

#[test]
fn cache_list_shows_each_token_without_the_token_and_cache_clear_deletes_them() {
    let w = world();
    let cfg = w.config(w.app("name = \"ci-bot\""));
    let acme = w.served(&w.get(&cfg, "acme/web"));
    let widgets = w.served(&w.get(&cfg, "widgets/gizmo"));
    assert_eq!(w.fake.mint_count(), 2);

    let entries = w.cache_entries(&cfg);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for (id, token) in [(INSTALLATION_ID, &acme), (WIDGETS_INSTALLATION_ID, &widgets)] {
        let issued = w.fake.issued_tokens().into_iter().find(|t| &t.token == token).unwrap();
        let line = entries
            .iter()
            .find(|l| l.contains(&format!("installation {id}")))
            .unwrap_or_else(|| panic!("no entry for installation {id}: {entries:#?}"));
        assert!(line.contains("ci-bot"), "{line}");
        assert!(line.contains("scope installation"), "{line}");
        assert!(line.contains(&utc(issued.expires_at)), "{line}");
    }

    let out = w.run(&cfg, &["cache", "clear"]);
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    assert!(w.cache_entries(&cfg).is_empty());
    let lookups = w.fake.count("GET", "/repos/");
    let again = w.served(&w.get(&cfg, "acme/web"));
    assert_ne!(again, acme);
    assert_eq!(w.fake.mint_count(), 3, "the get after cache clear did not mint");
    assert_eq!(w.fake.count("GET", "/repos/"), lookups + 1, "the remembered installation was kept");
}

// ---- revoke ----

#[test]
fn revoke_deletes_the_token_at_github_and_from_the_cache() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let token = w.served(&w.get(&cfg, "acme/web"));

    let out = w.run(&cfg, &["revoke"]);
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    assert_eq!(w.fake.count("DELETE", "/installation/token"), 1, "{out}");
    assert_eq!(w.fake.count("DELETE", "/api/v3/installation/token"), 1, "{out}");
    let issued = w.fake.issued_tokens();
    assert!(issued.iter().find(|t| t.token == token).unwrap().revoked, "{out}");
    let delete = w.fake.requests().into_iter().find(|r| r.method == "DELETE").unwrap();
    let auth = delete.header("authorization").unwrap_or("");
    assert!(auth.ends_with(&format!(" {token}")), "DELETE is not authenticated with the token");
    assert!(w.cache_entries(&cfg).is_empty());

    // Nothing cached: nothing to do, no request.
    let out = w.run(&cfg, &["revoke"]);
    out.assert_success();
    assert_eq!(w.fake.count("DELETE", "/installation/token"), 1, "{out}");

    // The next get mints afresh.
    let fresh = w.served(&w.get(&cfg, "acme/web"));
    assert_ne!(fresh, token);
}

#[test]
fn revoke_deletes_a_token_github_no_longer_knows_and_succeeds() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let token = w.served(&w.get(&cfg, "acme/web"));
    w.fake.revoke_token(&token);

    let out = w.run(&cfg, &["revoke"]);
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    assert_eq!(w.fake.count("DELETE", "/installation/token"), 1, "{out}");
    assert!(w.cache_entries(&cfg).is_empty(), "{out}");
}

#[test]
fn revoke_with_a_url_revokes_only_the_token_serving_it() {
    let w = world();
    let cfg = w.config(w.app(""));
    let acme = w.served(&w.get(&cfg, "acme/web"));
    let widgets = w.served(&w.get(&cfg, "widgets/gizmo"));
    assert_eq!(w.cache_entries(&cfg).len(), 2);

    let out = w.run(&cfg, &["revoke", &w.url("acme/web")]);
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    assert_eq!(w.fake.count("DELETE", "/installation/token"), 1, "{out}");
    let issued = w.fake.issued_tokens();
    let revoked = |token: &str| issued.iter().find(|t| t.token == token).unwrap().revoked;
    assert!(revoked(&acme) && !revoked(&widgets), "{out}");
    let left = w.cache_entries(&cfg);
    assert_eq!(left.len(), 1, "{left:#?}");
    assert!(left[0].contains(&format!("installation {WIDGETS_INSTALLATION_ID}")), "{left:#?}");
    assert_eq!(w.served(&w.get(&cfg, "widgets/gizmo")), widgets);
}

// ---- tracing ----

#[test]
fn tracing_shows_each_step_of_a_get_and_never_a_secret() {
    let mut w = world();
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));

    let cold = w.get(&cfg, "acme/web");
    let token = w.served(&cold);
    for line in cold.stderr.lines() {
        assert!(line.starts_with(PREFIX), "{cold}");
    }
    let trace = cold.stderr.as_str();
    assert!(trace.contains("route:"), "{cold}");
    assert!(trace.contains("cache: miss"), "{cold}");
    assert!(trace.contains("lock:"), "{cold}");
    let mint = format!("POST /app/installations/{INSTALLATION_ID}/access_tokens");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("http:") && l.contains(&mint) && l.contains("201") && l.contains(" ms")),
        "{cold}"
    );

    let warm = w.get(&cfg, "acme/web");
    assert_eq!(w.served(&warm), token);
    assert!(warm.stderr.contains("cache: hit"), "{warm}");
    assert!(!warm.stderr.contains("http:"), "{warm}");

    // Every trace, including a failing and a discovering get, is free of secrets.
    let out = w.run(&cfg, &["token", "acme/web"]);
    assert_eq!(out.stdout, format!("{token}\n"));
    w.assert_no_secrets(&out.stderr);
    let discover = w.config(w.app(""));
    w.served(&w.get(&discover, "widgets/gizmo"));
    let wrong = w.env.copy_key("other-key-pkcs1.pem");
    let toml =
        w.app(&format!("installation_id = {WIDGETS_INSTALLATION_ID}")).replace(&qp(&w.key), &qp(&wrong));
    let bad = w.config(&toml);
    let failing = w.get(&bad, "widgets/gizmo");
    assert_eq!(code(&failing), Some(1), "{failing}");
    assert!(failing.stderr.contains("401"), "{failing}");
    for out in [&cold, &warm, &failing] {
        w.assert_no_secrets(&out.stderr);
    }
}

// ---- JSON, help, typos ----

#[test]
fn cache_list_json_gives_each_entry_with_the_documented_fields_and_never_the_token() {
    let w = world();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let token = w.served(&w.get(&cfg, "acme/web"));
    let out = w.run(&cfg, &["cache", "list", "--json"]);
    out.assert_success();
    assert!(!out.stdout.contains(&token), "{out}");
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("cache list --json is JSON");
    assert_eq!(list["cache_dir"], w.cache_dir().display().to_string());
    let entries = list["tokens"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{out}");
    let e = &entries[0];
    assert_eq!(e["installation_id"], INSTALLATION_ID);
    assert_eq!(e["app_id"], APP_ID.to_string());
    assert_eq!(e["scope"], "installation");
    assert_eq!(e["state"], "fresh");
    assert_eq!(e["expires_at"], w.issued(&token).expires_at);
    assert!(e["file"].as_str().unwrap().starts_with("token-") && e["api_url"].is_string());
    assert!(e["app"].as_str().unwrap().contains("4242") && e["expires_at_utc"].is_string());
}

#[test]
fn every_command_takes_help_and_prints_its_usage() {
    let w = world();
    for command in [
        "get",
        "store",
        "erase",
        "configure",
        "unconfigure",
        "token",
        "exec",
        "explain",
        "doctor",
        "cache",
        "revoke",
    ] {
        let out = run(w.env.helper([command, "--help"]));
        out.assert_success();
        assert!(out.stdout.starts_with("Usage: git-credential-github-app"), "{out}");
        assert!(out.stdout.contains(&format!("] {command}")), "{command}: {out}");
        assert_eq!(out.stderr, "", "{out}");
    }
    let out = run(w.env.helper(["help", "unconfigure"]));
    assert!(out.stdout.contains("--all"), "{out}");
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_misspelt_command_is_an_error_at_a_terminal_and_in_a_script_but_git_gets_silence() {
    let w = world();
    // `script` gives the helper a terminal on stdin, as a person's shell would.
    let at_terminal = |word: &str| {
        let line = format!("{} {word}", helper_path().display());
        let mut cmd = Command::new("script");
        w.env.apply(&mut cmd);
        cmd.args(["-qec", &line, "/dev/null"]);
        run(cmd)
    };
    let out = at_terminal("doctr");
    assert_eq!(code(&out), Some(2), "{out}");
    assert!(out.stdout.contains("unknown command \"doctr\": did you mean `doctor`? (see --help)"), "{out}");
    // A word people try that is no typo of a command: a hint at a terminal only.
    let out = at_terminal("status");
    assert_eq!(code(&out), Some(2), "{out}");
    assert!(out.stdout.contains("did you mean `doctor`?"), "{out}");
    // In a script (a pipe on stdin, as git gives helpers) a typo of an operator command
    // fails too: git never sends one, and a script's `confgure` must not "succeed".
    // This changed on purpose: a non-terminal `doctr` used to exit 0 in silence.
    for (words, typo, meant) in [
        (&["doctr"][..], "doctr", "doctor"),
        (&["confgure"], "confgure", "configure"),
        (&["--app-id", "1", "docter"], "docter", "doctor"),
        (&["tokne", "acme/web"], "tokne", "token"),
    ] {
        let out = run_with_stdin(w.env.helper(words), b"protocol=https\nhost=x\n");
        assert_eq!(code(&out), Some(2), "{out}");
        assert_eq!(out.stdout, "", "{out}");
        assert_eq!(
            out.stderr.lines().collect::<Vec<_>>(),
            [format!("{PREFIX}unknown command {typo:?}: did you mean `{meant}`? (see --help)")],
            "{out}"
        );
    }
    // git's operations, and words a typo away from them, stay silent.
    for word in ["status", "capabilities", "set", "put", "frobnicate"] {
        let out = run_with_stdin(w.env.helper([word]), b"protocol=https\nhost=x\n");
        out.assert_success();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""), "{word}: {out}");
    }
}

#[test]
fn the_help_shown_in_docs_commands_md_is_the_help_the_binary_prints() {
    let env = TestEnv::new();
    let out = run(env.helper(["--help"]));
    out.assert_success();
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md")).unwrap();
    let section = &docs[docs.find("## --help, --version").expect("the --help section")..];
    let start = section.find("```\ngit-credential-github-app: authenticate").expect("the help block") + 4;
    let block = &section[start..start + section[start..].find("```\n").expect("its end")];
    assert_eq!(block, out.stdout, "docs/commands.md shows another --help than the binary prints");
}
