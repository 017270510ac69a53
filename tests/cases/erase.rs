//! git's `erase`: only the token git names leaves the cache, and after git erases a revoked
//! token the next command mints afresh.

use crate::support::run;
use crate::support::world::{INSTALLATION_ID, OWNER, World, request};

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
    };

    erase("ghs_someOtherPasswordEntirely000000000");
    assert_eq!(w.served(&w.get(&cfg, "acme/web.git")), first);
    assert_eq!(w.fake.mint_count(), 1);

    erase(&first);
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
    // git sent `erase` with the rejected token: its cache entry is gone.
    assert!(w.cache_files("token-").is_empty(), "{:?}", w.cache_files("token-"));

    run(w.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    assert_eq!(w.fake.mint_count(), 2);
    let fresh = &w.fake.issued_tokens()[1];
    assert_ne!(fresh.token, revoked);
    assert_eq!(w.fake.git_auth_failures(), 1);
}
