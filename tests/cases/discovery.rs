//! Installations found without an `installation_id`: looked up once per owner, remembered,
//! forgotten when GitHub says they are gone.

use std::fs;

use crate::support::run;
use crate::support::world::{APP_ID, INSTALLATION_ID, OWNER, PREFIX, World, mode_of, request};

#[test]
fn an_installation_is_discovered_once_and_remembered_for_the_owner() {
    let w = World::new();
    // Tokens shorter-lived than the minimum: every get mints, so only memory can spare a lookup.
    w.fake.set_token_lifetime(300);
    let cfg = w.config(format!("min_token_lifetime_secs = 600\n{}", w.app("repos = [\"acme/*\"]")));

    let web = w.served(&w.get(&cfg, "acme/web.git"));
    let lookups: Vec<String> =
        w.fake.requests().into_iter().filter(|r| r.method == "GET").map(|r| r.path).collect();
    assert_eq!(lookups, ["/api/v3/repos/acme/web/installation"]);
    assert_eq!(w.issued(&web).installation_id, INSTALLATION_ID);

    let other = w.served(&w.get(&cfg, "acme/other.git"));
    assert_eq!(w.fake.count("GET", "/repos/"), 1, "the owner's installation is remembered");
    assert_eq!(w.lookups(), 1);
    assert_eq!(w.issued(&other).installation_id, INSTALLATION_ID);
    assert_eq!(w.fake.mint_count(), 2);

    let memory = w.cache_files("installations-");
    assert_eq!(memory.len(), 1, "{:?}", fs::read_dir(w.cache_dir()).unwrap().collect::<Vec<_>>());
    assert_eq!(mode_of(&memory[0]), 0o600);
    assert!(!fs::read_to_string(&memory[0]).unwrap().contains("ghs_"), "memory holds no token");
}

#[test]
fn one_app_on_two_owners_gets_each_owners_installation_and_token() {
    let w = World::new();
    w.fake.add_installation(778, APP_ID, "acme-labs", None);
    let cfg = w.config(w.app("repos = [\"acme/*\", \"acme-labs/*\"]"));
    let acme = w.served(&w.get(&cfg, "acme/web"));
    let labs = w.served(&w.get(&cfg, "acme-labs/lib"));
    assert_ne!(acme, labs);
    assert_eq!(w.issued(&acme).installation_id, INSTALLATION_ID);
    assert_eq!(w.issued(&labs).installation_id, 778);
    assert_eq!(w.issued(&labs).owner, "acme-labs");
    // Each owner's token is cached on its own.
    assert_eq!(w.served(&w.get(&cfg, "acme/api")), acme);
    assert_eq!(w.served(&w.get(&cfg, "acme-labs/lib")), labs);
    assert_eq!(w.fake.mint_count(), 2);
    assert_eq!(w.lookups(), 2);
    assert_eq!(w.cache_files("token-").len(), 2);
}

#[test]
fn a_clone_with_a_submodule_under_another_owner_works_with_one_helper_entry() {
    let w = World::new();
    w.fake.add_installation(778, APP_ID, "acme-labs", None);
    w.fake.create_repo(OWNER, "super");
    w.fake.create_repo("acme-labs", "lib");
    let cfg = w.config(w.app("repos = [\"acme/*\", \"acme-labs/*\"]"));
    w.use_helper_in_git_for_host(&cfg);

    // Build the superproject: clone it, add the submodule by its https URL, push.
    let lib_url = w.fake.repo_url("acme-labs", "lib");
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "super"), "build"])).assert_success();
    run(w.env.git(["-C", "build", "submodule", "add", &lib_url, "lib"])).assert_success();
    run(w.env.git(["-C", "build", "commit", "-q", "-m", "add lib"])).assert_success();
    run(w.env.git(["-C", "build", "push", "origin", "main"])).assert_success();

    let out = run(w.env.git(["clone", "--recurse-submodules", &w.fake.repo_url(OWNER, "super"), "fresh"]));
    out.assert_success();
    assert!(w.env.work().join("fresh/lib/README.md").exists(), "{out}");
    let lib_head = run(w.env.git(["-C", "fresh/lib", "rev-parse", "HEAD"]));
    assert_eq!(lib_head.stdout.trim(), w.fake.repo_head("acme-labs", "lib"));

    let mut owners: Vec<String> = w.fake.issued_tokens().into_iter().map(|t| t.owner).collect();
    owners.sort();
    assert_eq!(owners, ["acme", "acme-labs"], "one token per owner, each minted once");
    assert_eq!(w.fake.git_auth_failures(), 0);
}

#[test]
fn an_owner_without_the_app_is_declined_with_the_reason_and_not_asked_about_again() {
    let w = World::new();
    let cfg = w.config(w.app(""));
    let first = w.declined(&w.get(&cfg, "nobody/web.git"));
    assert!(
        first.contains("/nobody/web: app 4242 (#1 in the config) is not installed for nobody/web"),
        "{first}"
    );
    assert!(first.contains("GitHub said so") && first.contains("cache clear"), "{first}");
    assert_eq!(w.fake.count("GET", "/repos/nobody/web/installation"), 1);
    assert_eq!(w.fake.requests().len(), 1);

    let second = w.declined(&w.get(&cfg, "nobody/web.git"));
    assert!(second.contains("is not installed for nobody/web (remembered until 20"), "{second}");
    assert!(second.contains("`git-credential-github-app cache clear` forgets it"), "{second}");
    assert_eq!(w.fake.requests().len(), 1, "remembered as not installed: no API call");
    assert_eq!(w.fake.mint_count(), 0);
    let memory = w.cache_files("installations-");
    assert_eq!(memory.len(), 1);
    assert_eq!(mode_of(&memory[0]), 0o600);
}

#[test]
fn a_remembered_installation_that_is_gone_is_forgotten_and_discovered_again() {
    let w = World::new();
    w.fake.set_token_lifetime(300);
    let cfg = w.config(format!("min_token_lifetime_secs = 600\n{}", w.app("repos = [\"acme/*\"]")));
    let first = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.issued(&first).installation_id, INSTALLATION_ID);
    assert_eq!(w.lookups(), 1);

    // The app is reinstalled on acme under a new id.
    w.fake.remove_installation(INSTALLATION_ID);
    w.fake.add_installation(779, APP_ID, OWNER, None);
    let second = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.issued(&second).installation_id, 779);
    assert_eq!(w.lookups(), 2, "one new lookup");
    assert_eq!(w.fake.count("POST", &format!("/app/installations/{INSTALLATION_ID}/")), 2);
    assert_eq!(w.fake.count("POST", "/app/installations/779/"), 1);

    // The new installation is remembered in turn.
    let third = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.issued(&third).installation_id, 779);
    assert_eq!(w.lookups(), 2);
    assert_eq!(w.fake.mint_count(), 3);
}

#[test]
fn an_installation_that_is_gone_for_good_is_forgotten_for_the_whole_owner() {
    let w = World::new();
    w.fake.set_token_lifetime(300);
    let cfg = w.config(format!("min_token_lifetime_secs = 600\n{}", w.app("repos = [\"acme/*\"]")));
    w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.lookups(), 1);

    // The app is uninstalled from acme: the remembered id answers 404, and so does the lookup.
    w.fake.remove_installation(INSTALLATION_ID);
    assert!(w.declined(&w.get(&cfg, "acme/web")).contains("is not installed for acme/web"));
    assert_eq!(w.lookups(), 2);
    let dead_mints = w.fake.count("POST", &format!("/app/installations/{INSTALLATION_ID}/"));

    // Another repository of acme does not mint with the dead id again: it looks up instead.
    assert!(w.declined(&w.get(&cfg, "acme/other")).contains("is not installed for acme/other"));
    assert_eq!(w.lookups(), 3);
    assert_eq!(w.fake.count("POST", &format!("/app/installations/{INSTALLATION_ID}/")), dead_mints);
}

#[test]
fn a_path_less_request_for_an_app_that_discovers_its_installation_asks_for_use_http_path() {
    let w = World::new();
    let cfg = w.config(w.app("repos = [\"acme/*\"]"));
    let out = w.helper(&cfg, "get", request(&w.fake.host(), None).as_bytes());
    out.assert_success();
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with(PREFIX) && lines[0].contains("useHttpPath"), "{out}");
    assert_eq!(lines[0].matches(PREFIX).count(), 1, "{out}");
    assert_eq!(w.fake.requests().len(), 0);
}
