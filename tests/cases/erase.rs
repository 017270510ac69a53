//! git's `erase`: only the token git names leaves the cache, and after git erases a revoked
//! token the next command mints afresh.

use crate::support::run;
use crate::support::world::{INSTALLATION_ID, OWNER, PREFIX, World, request};

#[test]
fn erase_with_the_cached_token_deletes_it_and_erase_with_another_password_deletes_nothing() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let first = w.served(&w.get(&cfg, "acme/web.git"));
    let erase = |password: &str| {
        let input = format!(
            "{}username=x-access-token\npassword={password}\n",
            request(&w.fake.host(), Some("acme/web.git"))
        );
        let out = w.helper(&cfg, "erase", input.as_bytes());
        out.assert_success();
        assert_eq!(out.stdout, "", "{out}");
        w.assert_no_secrets(&out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        out.stderr
    };

    let said = erase("ghs_someOtherPasswordEntirely000000000");
    assert!(said.contains("it was not in the cache"), "{said}");
    assert_eq!(w.served(&w.get(&cfg, "acme/web.git")), first);
    assert_eq!(w.fake.mint_count(), 1);

    let said = erase(&first);
    assert!(
        said.starts_with(&format!(
            "{PREFIX}GitHub rejected the token of app 4242 (#1 in the config) (installation {INSTALLATION_ID}) for https://{}/acme/web.git: it is dropped from the cache, and the next git command mints a fresh one (likely causes: it was revoked with `revoke`, the app was uninstalled, or the repository is not granted to the installation)",
            w.fake.host()
        )),
        "{said}"
    );
    assert!(w.cache_files("token-").is_empty());
    let second = w.served(&w.get(&cfg, "acme/web.git"));
    assert_ne!(second, first);
    assert_eq!(w.fake.mint_count(), 2);
}

#[test]
fn a_revoked_token_is_erased_by_git_and_the_next_command_recovers() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    w.use_helper_in_git_for_host(&cfg);
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    assert_eq!(w.fake.mint_count(), 1);
    let revoked = w.fake.issued_tokens()[0].token.clone();

    w.fake.revoke_token(&revoked);
    let failed = run(w.env.git(["-C", "web", "fetch", "origin"]));
    failed.assert_failure();
    assert_eq!(w.fake.git_auth_failures(), 1, "{failed}");
    w.assert_no_secrets(&failed.stderr);
    // git sent `erase` with the rejected token: its cache entry is gone, and the helper said so
    // next to git's own "Authentication failed".
    assert!(failed.stderr.contains("GitHub rejected the token of app 4242"), "{failed}");
    assert!(failed.stderr.contains("the next git command mints a fresh one"), "{failed}");
    assert!(w.cache_files("token-").is_empty(), "{:?}", w.cache_files("token-"));

    run(w.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    assert_eq!(w.fake.mint_count(), 2);
    let fresh = &w.fake.issued_tokens()[1];
    assert_ne!(fresh.token, revoked);
    assert_eq!(w.fake.git_auth_failures(), 1);
}
