//! `read_public_repos`: public repositories of other accounts under GitHub's anonymous limits.
//! git never asks a helper about a repository that answers without a challenge, so the tests
//! turn on `http.<url>.proactiveAuth` (git 2.46+) as `configure` does; the fallback answers with
//! a read-only token of one installation, and patterns keep their own tokens.

use crate::support::fake_github::ANONYMOUS_LIMIT_MESSAGE;
use crate::support::run;
use crate::support::world::{INSTALLATION_ID, OWNER, World};

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
