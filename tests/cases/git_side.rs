//! git's side of a host: `doctor`, `explain` and `configure` read git's real config files (the
//! hermetic `GIT_CONFIG_GLOBAL`, and a repository's own config) and say what git will run, and
//! what breaks it, each with the command that fixes it. `unconfigure --all` removes every entry
//! the helper ever added, without a config.

use std::fs;
use std::process::Command;

use crate::support::git_env::helper_path;
use crate::support::world::{INSTALLATION_ID, OWNER, SLUG, WIDGETS_INSTALLATION_ID, World, code};
use crate::support::{RunOutput, run};

/// The `[FAIL]` lines of a doctor or explain run.
fn failures(out: &RunOutput) -> Vec<String> {
    out.stdout.lines().filter(|l| l.contains("[FAIL]")).map(str::to_string).collect()
}

/// The one failure line containing `needle`.
#[track_caller]
fn failure(out: &RunOutput, needle: &str) -> String {
    let found: Vec<String> = failures(out).into_iter().filter(|l| l.contains(needle)).collect();
    assert_eq!(found.len(), 1, "expected one [FAIL] line with {needle:?}:\n{out}");
    found[0].clone()
}

/// The command after `fix: ` in a failure line.
fn fix_of(line: &str) -> String {
    line.split_once("; fix: ").map(|(_, fix)| fix.to_string()).unwrap_or_else(|| panic!("no fix in {line}"))
}

/// Runs a printed fix command through the shell, in the test's environment.
fn run_fix(w: &World, fix: &str) {
    let mut cmd = Command::new("sh");
    w.env.apply(&mut cmd);
    cmd.args(["-c", fix]);
    run(cmd).assert_success();
}

fn global_config(w: &World) -> String {
    fs::read_to_string(w.env.global_config()).unwrap_or_default()
}

/// A config whose app has an installation id (no path needed) for the fake's host.
fn configured(w: &World) -> std::path::PathBuf {
    w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")))
}

#[test]
fn doctor_fails_when_git_does_not_run_the_helper_and_its_fix_is_configure() {
    let w = World::new();
    let cfg = configured(&w);
    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    w.assert_output_has_no_secrets(&out);
    assert!(out.stdout.contains(&format!("git for https://{}/", w.fake.host())), "{out}");
    let line = failure(&out, "git runs no credential helper");
    assert!(line.contains("this helper is not among them, so git never asks it"), "{line}");
    let fix = fix_of(&line);
    assert_eq!(fix, format!("{} --config {} configure", helper_path().display(), cfg.display()));

    run_fix(&w, &fix);
    let out = w.run(&cfg, &["doctor"]);
    out.assert_success();
    assert!(out.stdout.contains("this helper is #1"), "{out}");
    assert!(out.stdout.contains(&format!("the helper entry runs {}", helper_path().display())), "{out}");
}

#[test]
fn a_storing_helper_after_ours_keeps_tokens_and_doctor_fails_with_the_fix_that_removes_it() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let cfg = configured(&w);
    w.run(&cfg, &["configure"]).assert_success();
    // A plain `credential.helper = store` added later lands after our URL-scoped entries.
    w.env.git_config_global_add("credential.helper", "store");
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    let stored = fs::read_to_string(w.env.home().join(".git-credentials")).unwrap_or_default();
    assert!(stored.contains("x-access-token"), "git handed the token to store: {stored:?}");

    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    let line = failure(&out, "helper \"store\"");
    assert!(line.contains("runs after this one and stores credentials"), "{line}");
    assert!(line.contains(&w.env.global_config().display().to_string()), "{line}");
    run_fix(&w, &fix_of(&line));
    fs::remove_file(w.env.home().join(".git-credentials")).unwrap();
    w.run(&cfg, &["doctor"]).assert_success();
    run(w.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    assert!(!w.env.home().join(".git-credentials").exists(), "no helper stored the token");
}

#[test]
fn configure_warns_about_a_storing_helper_in_a_repository_that_runs_after_ours() {
    let w = World::new();
    let cfg = configured(&w);
    run(w.env.git(["init", "-q", "repo"])).assert_success();
    let repo = w.env.work().join("repo");
    run(w.env.git(["-C", "repo", "config", "credential.helper", "cache --timeout=3600"])).assert_success();
    let mut cmd = w.cmd(&cfg, &["configure"]);
    cmd.current_dir(&repo);
    let out = run(cmd);
    out.assert_success();
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(warnings[0].starts_with("git-credential-github-app: warning: git: helper \"cache\""), "{out}");
    assert!(warnings[0].contains("runs after this one and stores credentials"), "{out}");
    assert!(warnings[0].contains("(set in .git/config of this repository)"), "{out}");
    let fix = fix_of(warnings[0]);
    assert_eq!(fix, "git config --local --unset-all credential.helper '^cache --timeout=3600$'");
    run_fix(&w, &format!("cd repo && {fix}"));
    let repo_config = repo.join(".git/config");
    assert!(!fs::read_to_string(&repo_config).unwrap().contains("cache --timeout"));
    let mut again = w.cmd(&cfg, &["configure"]);
    again.current_dir(&repo);
    let out = run(again);
    out.assert_success();
    assert_eq!(out.stderr, "", "{out}");
}

#[test]
fn doctor_flags_an_extraheader_and_an_ssh_rewrite_without_showing_the_header() {
    let w = World::new();
    let cfg = configured(&w);
    w.run(&cfg, &["configure"]).assert_success();
    let base = format!("https://{}/", w.fake.host());
    w.env.git_config_global(&format!("http.{base}.extraheader"), "AUTHORIZATION: basic eC1hY2Nlc3M6c2VjcmV0");
    w.env.git_config_global(&format!("url.git@{}:.insteadOf", w.fake.host()), &base);
    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    assert!(
        !out.stdout.contains("eC1hY2Nlc3M6c2VjcmV0") && !out.stderr.contains("eC1hY2Nlc3M6c2VjcmV0"),
        "{out}"
    );
    let header = failure(&out, "extraheader");
    assert!(
        header.contains("value not shown") && header.contains("instead of asking any helper"),
        "{header}"
    );
    let rewrite = failure(&out, "insteadof");
    assert!(rewrite.contains(&format!("rewrites {base} to git@")) && rewrite.contains("SSH"), "{rewrite}");
    run_fix(&w, &fix_of(&header));
    run_fix(&w, &fix_of(&rewrite));
    w.run(&cfg, &["doctor"]).assert_success();
}

#[test]
fn doctor_fails_when_use_http_path_is_off_for_a_config_that_needs_the_path() {
    let w = World::new();
    // Discovery needs the repository's owner, so the path.
    let cfg = w.config(w.app(""));
    w.run(&cfg, &["configure"]).assert_success();
    run(w.env.git([
        "config",
        "--global",
        "--unset",
        &format!("credential.https://{}.useHttpPath", w.fake.host()),
    ]))
    .assert_success();
    let out = w.run(&cfg, &["doctor"]);
    let line = failure(&out, "useHttpPath");
    assert!(line.contains("git sends no repository path"), "{line}");
    assert_eq!(
        fix_of(&line),
        format!("git config --global credential.https://{}.useHttpPath true", w.fake.host())
    );
    run_fix(&w, &fix_of(&line));
    w.run(&cfg, &["doctor"]).assert_success();

    // An app with an installation id serves path-less requests: no such check.
    let cfg = configured(&w);
    run(w.env.git([
        "config",
        "--global",
        "--unset",
        &format!("credential.https://{}.useHttpPath", w.fake.host()),
    ]))
    .assert_success();
    let out = w.run(&cfg, &["doctor"]);
    assert!(!out.stdout.contains("useHttpPath"), "{out}");
}

#[test]
fn doctor_fails_for_a_helper_entry_whose_binary_is_gone() {
    let w = World::new();
    let cfg = configured(&w);
    let scope = format!("credential.https://{}", w.fake.host());
    w.env.git_config_global_add(&format!("{scope}.helper"), "");
    w.env.git_config_global_add(
        &format!("{scope}.helper"),
        &format!("/nonexistent/bin/git-credential-github-app --config {}", cfg.display()),
    );
    let out = w.run(&cfg, &["doctor"]);
    let line = failure(&out, "does not exist");
    assert!(line.contains("/nonexistent/bin/git-credential-github-app"), "{line}");
    assert!(fix_of(&line).ends_with(" configure"), "{line}");
}

#[test]
fn doctor_names_the_repos_patterns_no_installation_can_serve() {
    let w = World::builder().widgets().start();
    w.fake.create_repo(OWNER, "web");
    // The installation on widgets, with patterns for acme: git gets nothing for acme.
    let cfg = w.config(w.app(&format!("installation_id = {WIDGETS_INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    w.run(&cfg, &["configure"]).assert_success();
    let clone = run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"]));
    clone.assert_failure();
    let out = w.run(&cfg, &["doctor"]);
    assert_eq!(code(&out), Some(1), "{out}");
    let line = failure(&out, "repos:");
    assert!(
        line.contains(&format!(
            "pattern \"acme/*\" cannot be served: installation_id {WIDGETS_INSTALLATION_ID} is the installation of account widgets"
        )),
        "{line}"
    );
    assert!(line.contains("leave it out to discover it"), "{line}");

    // Discovery: a pattern for an account without the app.
    let cfg = w.config(w.app("repos = [\"acme/*\", \"beta/*\"]"));
    let out = w.run(&cfg, &["doctor"]);
    let line = failure(&out, "repos:");
    assert!(
        line.contains("pattern \"beta/*\" cannot be served: the app is not installed on account beta"),
        "{line}"
    );
    assert!(line.contains(&format!("/apps/{SLUG}/installations/new")), "{line}");
}

#[test]
fn doctor_json_gives_every_check_with_the_documented_fields() {
    let w = World::new();
    let cfg = configured(&w);
    w.run(&cfg, &["configure"]).assert_success();
    w.env.git_config_global_add("credential.helper", "store");
    let out = w.run(&cfg, &["doctor", "--json"]);
    assert_eq!(code(&out), Some(1), "{out}");
    w.assert_output_has_no_secrets(&out);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor --json is JSON");
    assert_eq!(report["ok"], false);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["config"], format!("config file {}", cfg.display()));
    let app = &report["apps"][0];
    assert_eq!(app["app_id"], "4242");
    assert_eq!(app["host"], w.fake.host());
    let names: Vec<&str> =
        app["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(names, ["key", "jwt", "clock", "installations", "installation_id", "repos"]);
    assert!(app["checks"].as_array().unwrap().iter().all(|c| c["ok"] == true && c["message"].is_string()));
    let git = &report["hosts"][0];
    assert_eq!(git["host"], w.fake.host());
    let failed: Vec<&serde_json::Value> =
        git["checks"].as_array().unwrap().iter().filter(|c| c["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0]["check"], "git");
    assert!(
        failed[0]["why"].is_string()
            && failed[0]["fix"].as_str().unwrap().contains("--unset-all credential.helper")
    );
}

#[test]
fn explain_gives_one_verdict_for_a_repository_remembered_as_not_installed() {
    let w = World::new();
    let cfg = w.config(w.app(""));
    w.declined(&w.get(&cfg, "nobody/web"));
    let url = format!("https://{}/nobody/web", w.fake.host());
    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert!(!out.stdout.contains("served:       yes"), "{out}");
    assert!(
        out.stdout.contains(
            "served:       no: app 4242 (#1 in the config) is not installed for nobody/web (remembered until"
        ),
        "{out}"
    );
    assert!(out.stdout.contains("cache clear"), "{out}");

    let out = w.run(&cfg, &["explain", &url, "--json"]);
    out.assert_success();
    let e: serde_json::Value = serde_json::from_str(&out.stdout).expect("explain --json is JSON");
    assert_eq!(e["served"], false);
    assert_eq!(e["request"], url);
    assert_eq!(e["installation"]["source"], "not_installed");
    assert!(e["installation"]["until"].as_u64().is_some(), "{out}");
    assert_eq!(e["pattern"], "*/*");
    assert_eq!(e["cache"]["state"], "none");
    assert_eq!(e["git"]["ok"], false, "git is not wired yet: {out}");
}

#[test]
fn explain_shows_how_git_is_wired_for_the_url() {
    let w = World::new();
    let cfg = configured(&w);
    w.run(&cfg, &["configure"]).assert_success();
    let url = format!("https://{}/acme/web.git", w.fake.host());
    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert!(out.stdout.contains("served:       yes, by app 4242"), "{out}");
    assert!(
        out.stdout.contains(&format!(
            "git:          [ ok ] for {url} git runs [git-credential-github-app]; this helper is #1 (set in {})",
            w.env.global_config().display()
        )),
        "{out}"
    );
    assert!(!out.stdout.contains("[FAIL]"), "{out}");
    let out = w.run(&cfg, &["explain", &url, "--json"]);
    let e: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(e["git"]["ok"], true);
    assert_eq!(e["git"]["use_http_path"], true);
    assert_eq!(e["git"]["helpers"].as_array().unwrap().len(), 1);
    assert_eq!(e["installation"]["source"], "configured");
    assert_eq!(e["installation"]["id"], INSTALLATION_ID);
    // A host not in the config: no git lines.
    let out = w.run(&cfg, &["explain", "https://gitlab.example/acme/web"]);
    assert!(!out.stdout.contains("git:"), "{out}");
}

#[test]
fn unconfigure_all_removes_every_entry_the_helper_added_even_without_a_config() {
    let w = World::new();
    w.env.git_config_global_add("credential.helper", "store");
    w.env.git_config_global(&format!("credential.https://{}.useHttpPath", w.fake.host()), "false");
    let before = global_config(&w);
    let cfg = configured(&w);
    w.run(&cfg, &["configure"]).assert_success();
    // A second host, configured with app flags (no file).
    let mut flags = w.env.helper([
        "--app-id",
        "4242",
        "--private-key-path",
        w.key.to_str().unwrap(),
        "--host",
        "git.example.test",
        "configure",
    ]);
    flags.current_dir(w.env.work());
    run(flags).assert_success();
    let configured = global_config(&w);
    assert!(configured.contains("git.example.test") && configured.contains(&w.fake.host()), "{configured}");
    fs::remove_file(&cfg).unwrap();

    let out = run(w.env.helper(["unconfigure", "--all"]));
    out.assert_success();
    assert!(
        out.stdout
            .contains("ran: git config --global --unset-all credential.https://git.example.test.helper"),
        "{out}"
    );
    let after = global_config(&w);
    assert!(!after.contains("git-credential-github-app"), "{after}");
    assert!(!after.contains("git.example.test"), "{after}");
    assert_eq!(git_values(&w, "credential.helper"), ["store"]);
    assert_eq!(git_values(&w, &format!("credential.https://{}.useHttpPath", w.fake.host())), ["false"]);
    assert!(before.contains("store"));

    let out = run(w.env.helper(["unconfigure", "--all"]));
    out.assert_success();
    assert_eq!(out.stdout, "no entry of this helper in that git config file, nothing to change\n", "{out}");
}

fn git_values(w: &World, key: &str) -> Vec<String> {
    let out = run(w.env.git(["config", "--global", "--get-all", key]));
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn a_helper_value_holding_a_token_is_never_quoted_by_doctor_or_explain() {
    let w = World::new();
    let cfg = configured(&w);
    w.run(&cfg, &["configure"]).assert_success();
    let inline = "!f() { echo username=x; echo password=ghp_16C7e42F292c6912E7710c838347Ae178B4a; }; f";
    w.env.git_config_global_add(&format!("credential.https://{}.helper", w.fake.host()), inline);
    w.env.git_config_global_add(&format!("credential.https://{}.helper", w.fake.host()), "store");
    let url = format!("https://{}/acme/web", w.fake.host());
    for args in
        [vec!["doctor"], vec!["doctor", "--json"], vec!["explain", &url], vec!["explain", &url, "--json"]]
    {
        let out = w.run(&cfg, &args);
        assert!(!out.stdout.contains("ghp_") && !out.stderr.contains("ghp_"), "{args:?}:\n{out}");
    }
    let out = w.run(&cfg, &["doctor"]);
    assert!(failure(&out, "helper \"store\"").contains("runs after this one"), "{out}");
}

#[test]
fn with_git_configured_as_xcode_ships_it_the_reset_keeps_osxkeychain_from_answering_first() {
    let mut w = World::new();
    w.fake.create_repo(OWNER, "web");
    // Apple's git (Xcode Command Line Tools) reads a system config with
    // `credential.helper = osxkeychain`. The keychain here is a stand-in on PATH that logs each
    // call and answers `get` with an old token, as a keychain holding last hour's token would.
    let bin = w.env.root().join("xcode-bin");
    fs::create_dir_all(&bin).unwrap();
    let log = w.env.root().join("osxkeychain.log");
    let keychain = bin.join("git-credential-osxkeychain");
    let script = format!(
        "#!/bin/sh\necho \"$1\" >> '{}'\n[ \"$1\" = get ] && printf 'username=x-access-token\\npassword=ghs_StaleFromTheKeychain\\n'\nexit 0\n",
        log.display()
    );
    fs::write(&keychain, script).unwrap();
    crate::support::set_mode(&keychain, 0o755);
    let system = w.env.root().join("xcode-gitconfig");
    fs::write(&system, "[credential]\n\thelper = osxkeychain\n").unwrap();
    w.env.set_env("GIT_CONFIG_NOSYSTEM", "0");
    w.env.set_env("GIT_CONFIG_SYSTEM", system.to_str().unwrap());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    w.env.set_env("PATH", &path);
    let cfg = configured(&w);
    let asked = || fs::read_to_string(&log).unwrap_or_default();

    w.run(&cfg, &["configure"]).assert_success();
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    assert_eq!(asked(), "", "git asked the keychain although configure reset the list");
    assert_eq!(w.fake.mint_count(), 1);

    // The same git without configure's empty entry: the keychain is asked first.
    let key = format!("credential.https://{}.helper", w.fake.host());
    run(w.env.git(["config", "--global", "--unset", &key, "^$"])).assert_success();
    let _ = run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web-again"]));
    assert!(asked().starts_with("get\n"), "without the reset the keychain answers first: {:?}", asked());
}
