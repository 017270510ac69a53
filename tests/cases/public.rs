//! `read_public_repos`: public repositories of other accounts under GitHub's anonymous limits.
//! git never asks a helper about a repository that answers without a challenge, so the tests
//! turn on `http.<url>.proactiveAuth` (git 2.46+) as `configure` does; the fallback answers with
//! a read-only token of one installation, and patterns keep their own tokens.

use crate::support::fake_github::ANONYMOUS_LIMIT_MESSAGE;
use crate::support::run;
use crate::support::world::{APP_ID, INSTALLATION_ID, OWNER, World};

/// Another account's public repository on the fake.
const PUBLIC_OWNER: &str = "octo";
const PUBLIC_REPO: &str = "lib";

/// A world with `octo/lib` public, anonymous reads limited, and `acme/web` of our own.
fn world() -> World {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    w.fake.create_repo(PUBLIC_OWNER, PUBLIC_REPO);
    w.fake.set_public(PUBLIC_OWNER, PUBLIC_REPO);
    w.fake.set_limit_anonymous(true);
    w
}

/// The test app serving `acme/*`, with `extra` lines.
fn config(w: &World, extra: &str) -> std::path::PathBuf {
    w.config(w.app(&format!("repos = [\"acme/*\"]\n{extra}")))
}

/// Like [`config`], in a file of its own (`config` always writes the same file).
fn config_file(w: &World, name: &str, extra: &str) -> std::path::PathBuf {
    let path = w.env.root().join(name);
    crate::support::write_file(&path, w.app(&format!("repos = [\"acme/*\"]\n{extra}")), 0o600);
    path
}

fn proactive(w: &World) {
    w.env.git_config_global(&format!("http.{}/.proactiveAuth", w.fake.base_url()), "basic");
}

fn clone_public(w: &World, dir: &str) -> crate::support::RunOutput {
    run(w.env.git(["clone", &w.fake.repo_url(PUBLIC_OWNER, PUBLIC_REPO), dir]))
}

#[test]
fn a_public_repository_of_another_account_clones_only_through_the_fallback() {
    let w = world();
    let cfg = config(&w, "read_public_repos = true");
    w.use_helper_in_git_for_host(&cfg);

    // Without proactiveAuth git goes anonymous, and is never challenged: the limit bites.
    let out = clone_public(&w, "anonymous");
    out.assert_failure();
    assert!(out.stderr.contains(&format!("remote error: {ANONYMOUS_LIMIT_MESSAGE}")), "{out}");
    assert_eq!(w.fake.mint_count(), 0, "git never asked the helper");

    proactive(&w);
    let out = clone_public(&w, "lib");
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    assert_eq!(w.fake.git_limited(), 1, "only the anonymous attempt was limited");
    let head = run(w.env.git(["-C", "lib", "rev-parse", "HEAD"]));
    assert_eq!(head.assert_success().stdout.trim(), w.fake.repo_head(PUBLIC_OWNER, PUBLIC_REPO));
    // A read-only token of acme's installation (the owner of the first pattern), no repository list.
    assert_eq!(w.mint_bodies(), [serde_json::json!({"permissions": {"contents": "read"}})]);
    let token = &w.fake.issued_tokens()[0];
    assert_eq!(token.installation_id, INSTALLATION_ID);
    assert_eq!(token.repositories, None);
    assert_eq!(w.fake.count("GET", "/users/acme/installation"), 1);

    // One cache entry serves every public repository: a second one mints nothing.
    w.fake.create_repo("other", "tool");
    w.fake.set_public("other", "tool");
    run(w.env.git(["clone", &w.fake.repo_url("other", "tool"), "tool"])).assert_success();
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.cache_files("token-").len(), 1);
}

#[test]
fn without_the_fallback_nothing_changes_and_proactive_auth_alone_fails() {
    let w = world();
    let cfg = config(&w, "");
    w.use_helper_in_git_for_host(&cfg);
    let out = clone_public(&w, "lib");
    out.assert_failure();
    assert!(out.stderr.contains(ANONYMOUS_LIMIT_MESSAGE), "{out}");

    // proactiveAuth without a fallback: git asks first, nobody answers, git cannot prompt.
    proactive(&w);
    let out = clone_public(&w, "lib2");
    out.assert_failure();
    assert!(out.stderr.contains("no repos pattern of the apps"), "{out}");
    assert!(out.stderr.contains("could not read Username"), "{out}");
    assert_eq!(w.fake.mint_count(), 0);

    // Without the limit an anonymous clone works as it always did.
    w.fake.set_limit_anonymous(false);
    let key = format!("http.{}/.proactiveAuth", w.fake.base_url());
    run(w.env.git(["config", "--file"]).arg(w.env.global_config()).args(["--unset", &key])).assert_success();
    clone_public(&w, "lib3").assert_success();
    assert!(w.fake.git_anonymous() >= 2, "{:?}", w.fake.requests());
    assert_eq!(w.fake.mint_count(), 0);
}

#[test]
fn own_repositories_still_push_and_a_push_outside_the_patterns_gets_403() {
    let w = world();
    let cfg = config(&w, "read_public_repos = true");
    w.use_helper_in_git_for_host(&cfg);
    proactive(&w);

    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    std::fs::write(w.env.work().join("web/x.txt"), "x\n").unwrap();
    run(w.env.git(["-C", "web", "add", "x.txt"])).assert_success();
    run(w.env.git(["-C", "web", "commit", "-q", "-m", "x"])).assert_success();
    run(w.env.git(["-C", "web", "push", "origin", "main"])).assert_success();
    assert_eq!(
        w.fake.repo_head(OWNER, "web"),
        run(w.env.git(["-C", "web", "rev-parse", "HEAD"])).stdout.trim()
    );
    assert_eq!(w.mint_bodies(), [serde_json::Value::Null], "acme/web got the app's own token");

    clone_public(&w, "lib").assert_success();
    std::fs::write(w.env.work().join("lib/y.txt"), "y\n").unwrap();
    run(w.env.git(["-C", "lib", "add", "y.txt"])).assert_success();
    run(w.env.git(["-C", "lib", "commit", "-q", "-m", "y"])).assert_success();
    let out = run(w.env.git(["-C", "lib", "push", "origin", "main"]));
    out.assert_failure();
    w.assert_output_has_no_secrets(&out);
    // What the docs show: GitHub's 403 and git's line; no `erase`, so the entry stays.
    assert!(out.stderr.contains("remote: Permission to octo/lib.git denied to test-app[bot]."), "{out}");
    assert!(out.stderr.contains("The requested URL returned error: 403"), "{out}");
    assert_eq!(w.fake.git_forbidden(), 1);
    assert_eq!(w.fake.git_auth_failures(), 0);
    assert_eq!(w.cache_files("token-").len(), 2);
}

#[test]
fn an_owner_without_an_installation_is_served_by_the_fallback_after_discovery() {
    let w = world();
    // `*/*` first routes octo/lib to discovery, which finds no installation on octo.
    let cfg = w.config(w.app("repos = [\"*/*\", \"acme/*\"]\nread_public_repos = true"));
    w.use_helper_in_git_for_host(&cfg);
    proactive(&w);
    let out = clone_public(&w, "lib");
    out.assert_success();
    assert_eq!(out.stderr.lines().filter(|l| l.contains("not installed")).count(), 0, "{out}");
    assert_eq!(w.fake.count("GET", "/repos/octo/lib/installation"), 1);
    assert_eq!(w.mint_bodies(), [serde_json::json!({"permissions": {"contents": "read"}})]);
    // The second time "not installed" is remembered and the fallback's entry answers.
    run(w.env.git(["clone", &w.fake.repo_url(PUBLIC_OWNER, PUBLIC_REPO), "again"])).assert_success();
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.fake.count("GET", "/repos/"), 1);
}

/// What git config holds, as `git config --list` prints it (sections left empty by `--unset`
/// print nothing, as git reads them).
fn git_config_list(w: &World) -> String {
    run(w.env.git(["config", "--file"]).arg(w.env.global_config()).arg("--list")).stdout
}

fn proactive_value(w: &World) -> Option<String> {
    let key = format!("http.{}/.proactiveAuth", w.fake.base_url());
    let out = run(w.env.git(["config", "--file"]).arg(w.env.global_config()).args(["--get", &key]));
    out.success().then(|| out.stdout.trim().to_string())
}

#[test]
fn configure_sets_proactive_auth_only_with_the_fallback_and_unconfigure_leaves_git_config_as_it_was() {
    let w = world();
    w.env.git_config_global("user.name", "Someone");
    let before = git_config_list(&w);

    // Without the fallback configure never sets proactiveAuth.
    let plain = config_file(&w, "plain.toml", "");
    w.run(&plain, &["configure"]).assert_success();
    assert_eq!(proactive_value(&w), None);
    w.run(&plain, &["unconfigure"]).assert_success();
    assert_eq!(git_config_list(&w), before);

    let cfg = config(&w, "read_public_repos = true");
    let out = w.run(&cfg, &["configure"]);
    out.assert_success();
    assert!(out.stdout.contains("proactiveAuth basic"), "{out}");
    assert_eq!(proactive_value(&w).as_deref(), Some("basic"));
    clone_public(&w, "lib").assert_success();
    assert_eq!(w.fake.mint_count(), 1);

    // The fallback removed from the config: configure takes its proactiveAuth back.
    w.run(&plain, &["configure"]).assert_success();
    assert_eq!(proactive_value(&w), None);
    w.run(&cfg, &["configure"]).assert_success();
    w.run(&cfg, &["unconfigure"]).assert_success();
    assert_eq!(git_config_list(&w), before);

    // unconfigure --all needs no config: the marker tells it what configure added.
    w.run(&cfg, &["configure"]).assert_success();
    let out = run(w.env.helper(["unconfigure", "--all"]));
    out.assert_success();
    assert_eq!(git_config_list(&w), before, "{out}");
}

#[test]
fn a_proactive_auth_the_user_set_is_restored_by_unconfigure() {
    let w = world();
    let key = format!("http.{}/.proactiveAuth", w.fake.base_url());
    w.env.git_config_global(&key, "auto");
    let before = git_config_list(&w);
    let cfg = config(&w, "read_public_repos = true");
    w.run(&cfg, &["configure"]).assert_success();
    assert_eq!(proactive_value(&w).as_deref(), Some("basic"));
    w.run(&cfg, &["unconfigure"]).assert_success();
    assert_eq!(git_config_list(&w), before);
}

#[test]
fn configure_with_git_older_than_2_46_says_why_it_sets_no_proactive_auth() {
    let mut w = world();
    // A git that reports 2.39 and otherwise is the real one.
    let bin = w.env.root().join("old-git");
    std::fs::create_dir_all(&bin).unwrap();
    let real = String::from_utf8(
        std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout,
    )
    .unwrap();
    crate::support::write_file(
        &bin.join("git"),
        format!(
            "#!/bin/sh\n[ \"$1\" = version ] && {{ echo 'git version 2.39.5'; exit 0; }}\nexec {} \"$@\"\n",
            real.trim()
        ),
        0o755,
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    w.env.set_env("PATH", &path);
    let cfg = config(&w, "read_public_repos = true");
    let out = w.run(&cfg, &["configure"]);
    out.assert_success();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains(&format!(
            "not setting http.https://HOST/.proactiveAuth for {}: git 2.39 is older than 2.46",
            w.fake.host()
        )),
        "{out}"
    );
    assert_eq!(proactive_value(&w), None);
    let out = w.run(&cfg, &["doctor"]);
    assert!(
        out.stdout.contains("git 2.39 is older than 2.46")
            || out.stdout.contains("proactiveAuth is not basic"),
        "{out}"
    );
}

#[test]
fn doctor_and_explain_say_what_the_fallback_serves_and_what_git_lacks() {
    let w = world();
    let cfg = config(&w, "read_public_repos = true");
    w.use_helper_in_git_for_host(&cfg);
    let out = w.run(&cfg, &["doctor"]);
    w.assert_output_has_no_secrets(&out);
    let missing: Vec<&str> = out.stdout.lines().filter(|l| l.contains("[FAIL]")).collect();
    assert_eq!(missing.len(), 1, "{out}");
    assert!(
        missing[0].contains("proactiveAuth is not basic, and an app for the host sets read_public_repos"),
        "{out}"
    );
    assert!(missing[0].contains("configure"), "{out}");
    assert!(
        out.stdout
            .contains(&format!("read_public_repos: installation {INSTALLATION_ID} mints read-only tokens")),
        "{out}"
    );
    // The doctor's test token was revoked at once.
    assert!(w.fake.issued_tokens().iter().all(|t| t.revoked));

    proactive(&w);
    w.run(&cfg, &["doctor"]).assert_success();
    let url = w.fake.repo_url(PUBLIC_OWNER, PUBLIC_REPO);
    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    assert!(
        out.stdout
            .contains("read_public_repos of app 4242 (#1 in the config) answers with a read-only token"),
        "{out}"
    );
    assert!(out.stdout.contains("a push gets 403"), "{out}");
    let out = w.run(&cfg, &["explain", "--json", &url]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["public_read"], true, "{out}");
    assert_eq!(json["served"], true);
    assert_eq!(json["token_scope"], "installation;permissions:contents=read");

    // Without Contents on the installation GitHub refuses the narrowed mint: doctor says so.
    w.fake.set_installation_permissions(INSTALLATION_ID, &[("metadata", "read")]);
    let out = w.run(&cfg, &["doctor"]);
    out.assert_failure();
    assert!(out.stdout.contains("GitHub refused a token narrowed to contents: read"), "{out}");
    assert!(out.stdout.contains("lacks the Contents permission"), "{out}");

    // proactiveAuth without a fallback: every repository no pattern matches would fail.
    let plain = config(&w, "");
    let out = w.run(&plain, &["doctor"]);
    assert!(out.stdout.contains("but no app for the host sets read_public_repos"), "{out}");
    assert!(out.stdout.contains("--unset-all"), "{out}");
}

#[test]
fn configure_rewrite_ssh_sends_a_submodule_named_by_an_ssh_url_through_the_helper() {
    let w = world();
    w.fake.create_repo(OWNER, "app");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let before = git_config_list(&w);
    let out = w.run(&cfg, &["configure", "--rewrite-ssh"]);
    out.assert_success();
    let host = w.fake.host();
    let bare = host.split(':').next().unwrap();
    // The superproject names its submodule by SSH, as many do.
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "app"), "app"])).assert_success();
    run(w.env.git([
        "-C",
        "app",
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &format!("git@{bare}:{OWNER}/web.git"),
        "web",
    ]))
    .assert_success();
    run(w.env.git(["-C", "app", "commit", "-q", "-m", "submodule"])).assert_success();
    run(w.env.git(["-C", "app", "push", "-q", "origin", "main"])).assert_success();
    let out = run(w.env.git(["clone", "--recurse-submodules", &w.fake.repo_url(OWNER, "app"), "again"]));
    out.assert_success();
    assert_eq!(
        run(w.env.git(["-C", "again/web", "rev-parse", "HEAD"])).stdout.trim(),
        w.fake.repo_head(OWNER, "web"),
        "{out}"
    );
    let out = w.run(&cfg, &["doctor"]);
    assert!(out.stdout.contains(&format!("= git@{bare}: (set in")), "{out}");
    assert!(out.stdout.contains(&format!("= ssh://git@{bare}/ (set in")), "{out}");
    w.run(&cfg, &["unconfigure"]).assert_success();
    assert_eq!(git_config_list(&w), before);
}

#[test]
fn the_read_public_repos_flag_serves_public_repositories_with_no_config_file() {
    let mut w = world();
    w.env.set_env("GH_APP_PEM", &crate::support::fixture_string("app-key-pkcs1.pem"));
    let host = w.fake.host();
    let ca = w.fake.ca_pem_path().to_str().unwrap().to_string();
    let flags = [
        "--app-id",
        "4242",
        "--private-key-env",
        "GH_APP_PEM",
        "--host",
        &host,
        "--ca-file",
        &ca,
        "--repos",
        "acme/*",
        "--read-public-repos",
    ];
    let out = run(w.env.helper(flags.iter().chain(&["configure"])));
    out.assert_success();
    let gitconfig = std::fs::read_to_string(w.env.global_config()).unwrap();
    assert!(gitconfig.contains("--repos 'acme/*' --host"), "{gitconfig}");
    assert!(gitconfig.contains(" --read-public-repos\n"), "{gitconfig}");
    assert_eq!(proactive_value(&w).as_deref(), Some("basic"));
    clone_public(&w, "lib").assert_success();
    assert_eq!(w.mint_bodies(), [serde_json::json!({"permissions": {"contents": "read"}})]);

    // Without an installation to mint from, the flag is refused and says what to add.
    let out = run(w.env.helper([
        "--app-id",
        "4242",
        "--private-key-env",
        "GH_APP_PEM",
        "--read-public-repos",
        "doctor",
    ]));
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(
        out.stderr.contains("--read-public-repos needs an installation to mint read-only tokens from: set --installation-id, or give --repos a pattern with a fixed owner"),
        "{out}"
    );
}

#[test]
fn the_fallback_finds_its_installation_again_when_the_app_was_reinstalled_on_its_owner() {
    let w = world();
    w.fake.set_token_lifetime(300);
    let app = w.app("repos = [\"acme/*\"]\nread_public_repos = true");
    let cfg = w.config(format!("min_token_lifetime_secs = 600\n{app}"));
    let first = w.served(&w.get(&cfg, "octo/lib"));
    assert_eq!(w.issued(&first).installation_id, INSTALLATION_ID);

    // The app is reinstalled on acme under a new id: the remembered one answers 404.
    w.fake.remove_installation(INSTALLATION_ID);
    w.fake.add_installation(779, APP_ID, OWNER, None);
    let second = w.served(&w.get(&cfg, "octo/lib"));
    assert_eq!(w.issued(&second).installation_id, 779);
    assert_eq!(w.fake.count("GET", "/users/acme/installation"), 2, "one new lookup");

    // The new installation is remembered in turn.
    let third = w.served(&w.get(&cfg, "octo/lib"));
    assert_eq!(w.issued(&third).installation_id, 779);
    assert_eq!(w.fake.count("GET", "/users/acme/installation"), 2);
}
