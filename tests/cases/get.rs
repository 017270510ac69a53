//! git's `get`: the credential the helper prints, the JWT it signs, the cache that spares the
//! key and the network, routing a request to the app that serves it (patterns, hosts, paths),
//! GitHub's refusals, and real git going through the helper.

use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use serde_json::json;

#[cfg(unix)]
use crate::support::world::mode_of;
use crate::support::world::{
    APP_ID, CLIENT_ID, INSTALLATION_ID, OTHER_APP_ID, OTHER_INSTALLATION_ID, OWNER, PREFIX, World, request,
};
use crate::support::{RunOutput, as_the_helper_shows, run, run_with_stdin};

#[test]
fn a_served_get_prints_exactly_the_token_the_fake_issued_and_signs_the_jwt_like_github_asks() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let before = crate::support::unix_now();
    let out = w.get(&cfg, "acme/web.git");
    let after = crate::support::unix_now();

    let issued = w.fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        out.stdout,
        format!(
            "username=x-access-token\npassword={}\npassword_expiry_utc={}\n",
            issued[0].token, issued[0].expires_at
        )
    );
    assert_eq!(out.stderr, "");
    out.assert_success();
    assert_eq!(issued[0].installation_id, INSTALLATION_ID);
    assert_eq!(issued[0].app_id, APP_ID);

    let claims = w.fake.jwt_claims();
    assert_eq!(claims.len(), 1);
    let iat = claims[0]["iat"].as_i64().expect("iat is an integer");
    let exp = claims[0]["exp"].as_i64().expect("exp is an integer");
    assert!((before - 65..=after - 55).contains(&iat), "iat {iat}, now {before}..{after}");
    assert!(exp <= after + 540 + 5 && exp > after, "exp {exp}, now {before}..{after}");
    assert!(claims[0]["iss"].is_u64(), "iss must be a JSON number: {}", claims[0]["iss"]);
    assert_eq!(claims[0]["iss"], json!(APP_ID));

    // No api_url in the config: the default for a non-github.com host is https://HOST/api/v3.
    let requests = w.fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, format!("/api/v3/app/installations/{INSTALLATION_ID}/access_tokens"));
    assert!(requests[0].body.is_empty(), "an installation-wide token needs no body");
}

#[test]
fn a_client_id_as_app_id_is_sent_verbatim_as_the_jwt_issuer() {
    let w = World::new();
    let cfg = w.config(w.test_app().client_id(CLIENT_ID).installation(INSTALLATION_ID));
    w.served(&w.get(&cfg, "acme/web"));
    let claims = w.fake.jwt_claims();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["iss"], json!(CLIENT_ID));
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn a_pkcs8_key_works_as_well_as_a_pkcs1_key() {
    let w = World::new();
    let pkcs8 = w.env.copy_key("app-key-pkcs8.pem");
    let cfg = w.config(w.test_app().key_file(&pkcs8).installation(INSTALLATION_ID));
    let token = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.issued(&token).installation_id, INSTALLATION_ID);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn a_second_get_is_served_from_the_cache_without_the_key_or_the_network() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let first = w.served(&w.get(&cfg, "acme/web.git"));
    // The cached get must not read the key: take it away.
    fs::remove_file(&w.key).unwrap();
    let second = w.get(&cfg, "acme/web.git");
    assert_eq!(w.served(&second), first);
    assert_eq!(second.stderr, "");
    // Another repository of the same installation shares the installation-wide token.
    assert_eq!(w.served(&w.get(&cfg, "acme/api")), first);
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.fake.requests().len(), 1, "the cached gets made no request");
}

/// Release builds of the same version share the cache format: an entry written by the binary
/// cargo built here is served by the binary under test (`GCGA_TEST_HELPER`, e.g. the aarch64
/// build under qemu; with it unset, the same binary), without the key or the network.
#[test]
fn a_cache_written_by_the_cargo_built_binary_is_served_by_the_binary_under_test() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let writer = PathBuf::from(env!("CARGO_BIN_EXE_git-credential-github-app"));
    let mut cmd = std::process::Command::new(&writer);
    w.env.apply(&mut cmd);
    cmd.arg("--config").arg(&cfg).arg("get");
    let first = w.served(&run_with_stdin(cmd, request(&w.fake.host(), Some("acme/web.git")).as_bytes()));
    let mut writer_version = std::process::Command::new(&writer);
    w.env.apply(&mut writer_version);
    writer_version.arg("--version");
    let under_test = run(w.env.helper(["--version"]));
    assert_eq!(under_test.assert_success().stdout, run(writer_version).assert_success().stdout);
    fs::remove_file(&w.key).unwrap();
    let second = w.get(&cfg, "acme/web.git");
    assert_eq!(w.served(&second), first);
    assert_eq!(second.stderr, "");
    assert_eq!(w.fake.requests().len(), 1, "the cached get made no request");
}

#[test]
fn a_token_with_less_than_the_minimum_lifetime_left_is_never_reused() {
    let w = World::new();
    w.fake.set_token_lifetime(300);
    let cfg = w.config(format!(
        "min_token_lifetime_secs = 600\n{}",
        w.app(&format!("installation_id = {INSTALLATION_ID}"))
    ));
    let first = w.served(&w.get(&cfg, "acme/web"));
    let second = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.fake.mint_count(), 2);
    assert_ne!(first, second, "each get returns the freshly minted token");
    assert_eq!(w.fake.issued_tokens()[1].token, second);
}

#[cfg(unix)]
#[test]
fn cache_files_are_private_and_a_corrupt_entry_is_a_miss_that_gets_replaced() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let first = w.served(&w.get(&cfg, "acme/web"));

    assert_eq!(mode_of(&w.cache_dir()), 0o700);
    let all: Vec<PathBuf> = fs::read_dir(w.cache_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!all.is_empty());
    for file in &all {
        assert_eq!(mode_of(file), 0o600, "{}", file.display());
    }
    let entries = w.cache_files("token-");
    assert_eq!(entries.len(), 1, "{all:?}");

    fs::write(&entries[0], b"\x00garbage{\"token\":").unwrap();
    let second = w.served(&w.get(&cfg, "acme/web"));
    assert_ne!(second, first);
    assert_eq!(w.fake.mint_count(), 2);
    assert_eq!(w.cache_files("token-"), entries, "the entry is replaced in place");
    let stored = fs::read_to_string(&entries[0]).unwrap();
    assert!(stored.contains(&second), "the new token is cached");
    assert_eq!(mode_of(&entries[0]), 0o600);
    // The replacement is a good entry: served without minting.
    assert_eq!(w.served(&w.get(&cfg, "acme/web")), second);
    assert_eq!(w.fake.mint_count(), 2);
}

#[test]
fn requests_that_are_not_mine_get_no_answer_and_no_api_call_and_a_reason_only_for_a_configured_host() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let host = w.fake.host();
    let cases: Vec<(&str, String)> = vec![
        ("get", format!("protocol=http\nhost={host}\npath=acme/web.git\n")),
        ("get", format!("protocol=cert\nhost=\npath={}\n", w.key.display())),
        ("get", "protocol=https\nhost=github.com\npath=acme/web.git\n".to_string()),
        ("get", "protocol=https\nhost=127.0.0.1:1\npath=acme/web.git\n".to_string()),
        ("get", "protocol=https\npath=acme/web.git\n".to_string()),
        ("get", format!("protocol=https\nhost={host}\npath=acme/web.git\nusername=alice\n")),
        ("capabilities", format!("protocol=https\nhost={host}\npath=acme/web.git\n")),
        (
            "store",
            format!(
                "protocol=https\nhost={host}\npath=acme/web.git\nusername=x-access-token\npassword=ghs_x\n"
            ),
        ),
    ];
    for (op, input) in &cases {
        let out = w.helper(&cfg, op, input.as_bytes());
        w.not_served(&out);
    }
    // The configured host, but no pattern, or no repository: git will only say "could not
    // read Username", so the helper says why.
    let said = |path: &str| w.declined(&w.helper(&cfg, "get", request(&host, Some(path)).as_bytes()));
    let fix = format!(
        "matches other/web: to serve it, add \"other/web\" (or \"other/*\") to `repos` of app {APP_ID} (#1 in the config) in config file {}",
        as_the_helper_shows(&cfg)
    );
    assert!(said("other/web.git").ends_with(&fix), "no repos pattern line");
    assert!(said("acme").contains("path \"acme\" is not OWNER/REPO"));
    assert_eq!(w.fake.requests().len(), 0, "{:?}", w.fake.requests());
    assert!(w.cache_files("token-").is_empty());
    // The same config does serve the repository it is for.
    w.served(&w.get(&cfg, "acme/web.git"));
}

#[test]
fn a_path_less_request_with_two_apps_for_the_host_asks_for_use_http_path() {
    let w = World::new();
    let cfg = w.config(format!(
        "{}{}",
        w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
        w.other_app(&format!("installation_id = {OTHER_INSTALLATION_ID}\nrepos = [\"acme/deploy\"]"))
    ));
    let out = w.helper(&cfg, "get", request(&w.fake.host(), None).as_bytes());
    out.assert_success();
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with(PREFIX) && lines[0].contains("useHttpPath"), "{out}");
    assert_eq!(lines[0].matches(PREFIX).count(), 1, "{out}");
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_path_less_request_is_served_when_one_app_with_an_installation_id_serves_the_host() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let token = w.served(&w.helper(&cfg, "get", request(&w.fake.host(), None).as_bytes()));
    assert_eq!(w.issued(&token).installation_id, INSTALLATION_ID);
}

#[test]
fn the_most_specific_pattern_wins_across_apps() {
    let w = World::new();
    // The wildcard app comes first in the file; the exact pattern still wins for acme/deploy.
    let cfg = w.config(format!(
        "{}{}",
        w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
        w.other_app(&format!("installation_id = {OTHER_INSTALLATION_ID}\nrepos = [\"acme/deploy\"]"))
    ));
    let deploy = w.served(&w.get(&cfg, "acme/deploy.git"));
    let web = w.served(&w.get(&cfg, "acme/web.git"));
    assert_eq!(w.issued(&deploy).installation_id, OTHER_INSTALLATION_ID);
    assert_eq!(w.issued(&deploy).app_id, OTHER_APP_ID);
    assert_eq!(w.issued(&web).installation_id, INSTALLATION_ID);
    assert_eq!(w.issued(&web).app_id, APP_ID);
    assert_eq!(w.fake.mint_count(), 2);
}

#[test]
fn hosts_and_paths_are_normalised_before_matching() {
    let w = World::new();
    // A host name (the fake's is an IP address, which has no case) routed to the fake's API.
    let app = w.test_app().host("git.example.test").api_url(&w.fake.api_url());
    let cfg = w.config(app.installation(INSTALLATION_ID).line("repos = [\"acme/web\"]"));
    let get = |host: &str, path: &str| w.helper(&cfg, "get", request(host, Some(path)).as_bytes());

    let token = w.served(&get("GIT.Example.TEST:443", "ACME/Web.git"));
    assert_eq!(w.served(&get("git.example.test", "/acme/WEB/")), token);
    // Another port is another host, not in the config: silent. A repository no pattern
    // matches on the configured host: said why.
    w.not_served(&get("git.example.test:8443", "acme/web"));
    let line = w.declined(&get("git.example.test", "acme/web-other"));
    assert!(
        line.contains("no repos pattern of the apps for git.example.test matches acme/web-other"),
        "{line}"
    );
    assert_eq!(w.fake.mint_count(), 1);

    // The fake's own host with a mixed-case repository path.
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/web\"]")));
    assert_eq!(w.served(&w.get(&cfg, "Acme/Web.git")), token, "same api_url, app and installation");
}

#[test]
fn an_unknown_installation_is_an_error_naming_the_endpoint_and_githubs_message() {
    let w = World::new();
    let cfg = w.config(w.app("installation_id = 999"));
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("/app/installations/999/access_tokens"), "{line}");
    assert!(line.contains("404") && line.contains("Not Found"), "{line}");
    assert_eq!(w.fake.mint_count(), 0);
    assert!(w.cache_files("token-").is_empty());
}

#[test]
fn a_jwt_signed_with_the_wrong_key_is_reported_with_githubs_401_message() {
    let w = World::new();
    let wrong = w.env.copy_key("other-key-pkcs1.pem");
    let cfg = w.config(w.test_app().key_file(&wrong).installation(INSTALLATION_ID));
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("401") && line.contains("A JSON web token could not be decoded"), "{line}");
    assert!(line.contains(&format!("/app/installations/{INSTALLATION_ID}/access_tokens")), "{line}");
    assert_eq!(w.fake.count("POST", "/app/installations/"), 1);
    assert_eq!(w.fake.mint_count(), 0);
}

#[test]
fn git_clone_fetch_push_and_ls_remote_through_the_helper_mint_once() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let before = w.fake.repo_head(OWNER, "web");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    w.use_helper_in_git(&cfg);

    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    run(w.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    fs::write(w.env.work().join("web/CHANGE.md"), "changed through the helper\n").unwrap();
    run(w.env.git(["-C", "web", "add", "CHANGE.md"])).assert_success();
    run(w.env.git(["-C", "web", "commit", "-q", "-m", "change"])).assert_success();
    run(w.env.git(["-C", "web", "push", "origin", "main"])).assert_success();
    let local = run(w.env.git(["-C", "web", "rev-parse", "HEAD"]));
    let after = w.fake.repo_head(OWNER, "web");
    assert_ne!(after, before);
    assert_eq!(after, local.stdout.trim());
    let remote = run(w.env.git(["-C", "web", "ls-remote", "origin", "refs/heads/main"]));
    assert!(remote.assert_success().stdout.starts_with(&after), "{remote}");

    assert_eq!(w.fake.mint_count(), 1, "one mint for clone, fetch, push and ls-remote");
    assert_eq!(w.fake.git_auth_failures(), 0);
    assert!(w.fake.git_authorized() >= 4);
}

/// `n` helpers started at once with `get` for `acme/web.git`, their outputs in start order.
fn parallel_gets(w: &World, cfg: &std::path::Path, n: usize) -> Vec<RunOutput> {
    let input = request(&w.fake.host(), Some("acme/web.git"));
    let barrier = Arc::new(Barrier::new(n));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let barrier = barrier.clone();
                let mut cmd = w.env.helper(["--config"]);
                cmd.arg(cfg).arg("get");
                let input = input.as_bytes();
                scope.spawn(move || {
                    barrier.wait();
                    run_with_stdin(cmd, input)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("helper thread")).collect()
    })
}

#[test]
fn thirty_two_parallel_cold_gets_mint_exactly_once() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let outputs = parallel_gets(&w, &cfg, 32);
    assert_eq!(w.fake.mint_count(), 1);
    let token = w.served(&outputs[0]);
    for out in &outputs {
        assert_eq!(w.served(out), token);
    }
    assert_eq!(w.fake.count("POST", "/app/installations/"), 1);
}

/// Every get here mints (the fake's tokens live less than `min_token_lifetime_secs`) and
/// replaces the one cache entry while the other helpers open and read it. Replacing a file
/// another process has open is where Windows differs (a plain rename over it is refused): no
/// get may fail or warn because of it.
#[test]
fn a_cache_entry_replaced_while_other_helpers_read_it_never_fails_a_get() {
    let w = World::new();
    w.fake.set_token_lifetime(300);
    let cfg = w.config(format!(
        "min_token_lifetime_secs = 600\n{}",
        w.app(&format!("installation_id = {INSTALLATION_ID}"))
    ));
    w.served(&w.get(&cfg, "acme/web.git"));
    let outputs = parallel_gets(&w, &cfg, 32);
    for out in &outputs {
        w.served(out);
        assert_eq!(out.stderr, "", "{out}");
    }
    assert_eq!(w.fake.mint_count(), 33, "each get minted its own token");
    let entries = w.cache_files("token-");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let stored = fs::read_to_string(&entries[0]).unwrap();
    assert!(
        w.fake.issued_tokens().iter().any(|t| stored.contains(&t.token)),
        "the entry holds a minted token"
    );
}

/// A git that cannot be run (none on `PATH` here; Linux git for the Windows build under Wine)
/// means "no git http.* settings": the helper still serves, and says so in one trace line.
#[test]
fn a_helper_that_cannot_run_git_still_serves_and_traces_it_once() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let no_git = w.env.root().join("empty-path");
    fs::create_dir_all(&no_git).unwrap();
    let mut cmd = w.cmd(&cfg, &["get"]);
    cmd.env("PATH", &no_git).env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let out = run_with_stdin(cmd, request(&w.fake.host(), Some("acme/web.git")).as_bytes());
    w.served(&out);
    let said: Vec<&str> = out.stderr.lines().filter(|l| l.contains("git cannot be run")).collect();
    assert_eq!(said.len(), 1, "{out}");
    assert!(said[0].starts_with(&format!("{PREFIX}trace: git cannot be run (")), "{out}");
    assert_eq!(w.fake.mint_count(), 1);
}
