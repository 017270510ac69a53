//! Network faults: retries, rate limits, deadlines, proxies, trust, clock skew.
//!
//! Each test starts its own world, injects faults with `push_fault` or a clock offset, runs the
//! helper's `get` as git would, and checks what the fake saw and what the helper said. The
//! contract: at most 3 attempts, `Retry-After` up to 10 s waited out, one deadline
//! (`timeout_secs`) for everything, clock skew corrected from GitHub's `Date` and remembered,
//! env proxies before git's `http.proxy`, and one actionable stderr line for every failure.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::fake_github::Options;
use crate::support::git_env::TestEnv;
use crate::support::git_env::run_with_timeout;
use crate::support::proxy::ConnectProxy;
use crate::support::selfsigned::{SelfSigned, SelfSignedKind};
use crate::support::socks::{Socks4, Socks5};
use crate::support::tls::TestTls;
use crate::support::world::{
    APP_ID, App, Config, INSTALLATION_ID, MINTS, OWNER, World, files_with_prefix, mint_path, request,
};
use crate::support::{Fault, RunOutput, fixture_string, iso8601, run, toml_string, unix_now};

const REPO: &str = "web";
/// A hung helper fails the test after this instead of blocking it.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The world of these tests: the env trusts nothing by itself, so only what the config (or the
/// test) names decides what the helper trusts.
fn world() -> World {
    World::builder().no_trust_in_env().start()
}

/// The test app with its installation on `acme`.
fn app(w: &World) -> App {
    w.test_app().installation(INSTALLATION_ID)
}

/// The `cache_dir` the configs here name.
fn cache_dir(w: &World) -> PathBuf {
    w.env.root().join("cache")
}

/// Writes a config with `cache_dir` and one app.
fn config(w: &World, app: App) -> PathBuf {
    w.config(Config::new().cache_dir(&cache_dir(w)).app(app))
}

/// `git-credential-github-app --config CFG get` with git's request for `owner/repo`, ended by
/// a blank line.
fn get_repo(w: &World, cfg: &Path, owner: &str, repo: &str) -> RunOutput {
    let input = format!("{}\n", request(&w.fake.host(), Some(&format!("{owner}/{repo}.git"))));
    run_with_timeout(w.cmd(cfg, &["get"]), Some(input.as_bytes()), HELPER_TIMEOUT)
}

fn get(w: &World, cfg: &Path) -> RunOutput {
    get_repo(w, cfg, OWNER, REPO)
}

/// Cached token entries (lock files do not count).
fn cached_tokens(w: &World) -> Vec<PathBuf> {
    files_with_prefix(&cache_dir(w), "token-")
}

/// Forget every cached token, so the next `get` mints (other cache files stay).
fn drop_cached_tokens(w: &World) {
    for path in cached_tokens(w) {
        fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
    }
}

/// Checks the failure contract for a failed mint and returns the one stderr line: exit 1, no
/// stdout, one line starting with the program name that names the app and the mint endpoint,
/// and no secret anywhere.
#[track_caller]
fn mint_error_of(w: &World, out: &RunOutput, app_id: u64, installation_id: u64) -> String {
    out.assert_failure();
    let line = w.failed(out);
    assert!(line.contains(&mint_path(installation_id)), "the endpoint path is named:\n{out}");
    assert!(line.contains(&format!("app {app_id}")), "the app is named:\n{out}");
    line
}

/// The same for the test app's installation on `acme`.
#[track_caller]
fn mint_error(w: &World, out: &RunOutput) -> String {
    mint_error_of(w, out, APP_ID, INSTALLATION_ID)
}

/// `2026-11-24 03:00:00 UTC`: how the helper shows a rate limit's reset time.
fn utc_text(unix: i64) -> String {
    iso8601(unix).replace('T', " ").replace('Z', " UTC")
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
}

// ---- transient failures ----

#[test]
fn a_502_then_success_is_retried_and_the_get_succeeds() {
    let w = world();
    w.fake.push_fault("POST", MINTS, Fault::json_error(502, "Server Error"));
    let cfg = config(&w, app(&w));
    let token = w.served(&get(&w, &cfg));
    assert_eq!(w.fake.count("POST", MINTS), 2);
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.fake.issued_tokens()[0].token, token);
}

#[test]
fn two_503s_then_success_take_three_attempts() {
    let w = world();
    for _ in 0..2 {
        w.fake.push_fault("POST", MINTS, Fault::json_error(503, "Service Unavailable"));
    }
    let cfg = config(&w, app(&w));
    w.served(&get(&w, &cfg));
    assert_eq!(w.fake.count("POST", MINTS), 3);
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.fake.pending_faults(), 0);
}

#[test]
fn three_500s_fail_with_one_line_cache_nothing_and_the_next_run_mints() {
    let w = world();
    for _ in 0..3 {
        w.fake.push_fault("POST", MINTS, Fault::json_error(500, "Server Error"));
    }
    let cfg = config(&w, app(&w));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("500"), "{line}");
    assert_eq!(w.fake.count("POST", MINTS), 3, "three attempts in all");
    assert!(cached_tokens(&w).is_empty(), "nothing cached: {:?}", cached_tokens(&w));

    let token = w.served(&get(&w, &cfg));
    assert_eq!(w.fake.count("POST", MINTS), 4);
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.fake.issued_tokens()[0].token, token);
}

#[test]
fn a_mint_whose_connection_drops_after_sending_is_not_retried_as_it_may_have_minted() {
    let w = world();
    w.fake.push_fault("POST", MINTS, Fault::CloseConnection);
    let cfg = config(&w, app(&w));
    let line = mint_error(&w, &get(&w, &cfg));
    assert_eq!(w.fake.count("POST", MINTS), 1, "{line}");
    // The next run mints afresh.
    w.served(&get(&w, &cfg));
    assert_eq!(w.fake.count("POST", MINTS), 2);
}

// ---- rate limits ----

#[test]
fn a_429_with_retry_after_1_is_waited_out_and_then_succeeds() {
    let w = world();
    w.fake.push_fault(
        "POST",
        MINTS,
        Fault::json_error_with_headers(
            429,
            "You have exceeded a secondary rate limit.",
            &[("Retry-After", "1")],
        ),
    );
    let cfg = config(&w, app(&w));
    let started = Instant::now();
    w.served(&get(&w, &cfg));
    // A lower bound only: the helper must have waited the second GitHub asked for.
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!(w.fake.count("POST", MINTS), 2);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn a_primary_rate_limit_is_not_retried_and_the_message_says_when_it_resets() {
    let w = world();
    let reset = unix_now() + 1234;
    w.fake.push_fault(
        "POST",
        MINTS,
        Fault::json_error_with_headers(
            403,
            "API rate limit exceeded for installation ID 777.",
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset.to_string()),
            ],
        ),
    );
    let cfg = config(&w, app(&w));
    let line = mint_error(&w, &get(&w, &cfg));
    assert_eq!(w.fake.count("POST", MINTS), 1, "a primary limit is not retried");
    assert!(line.contains("403"), "{line}");
    assert!(contains_ci(&line, "rate limit"), "{line}");
    assert!(line.contains(&utc_text(reset)), "expected {:?} in {line}", utc_text(reset));
    assert!(line.contains("API rate limit exceeded"), "GitHub's message: {line}");
}

#[test]
fn a_429_asking_for_60_seconds_is_not_waited_out_and_the_message_says_so() {
    let w = world();
    w.fake.push_fault(
        "POST",
        MINTS,
        Fault::json_error_with_headers(
            429,
            "You have exceeded a secondary rate limit.",
            &[("Retry-After", "60")],
        ),
    );
    let cfg = config(&w, app(&w));
    let started = Instant::now();
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(started.elapsed() < Duration::from_secs(30), "did not wait the minute out");
    assert_eq!(w.fake.count("POST", MINTS), 1);
    assert!(line.contains("429"), "{line}");
    assert!(contains_ci(&line, "rate limit"), "{line}");
    assert!(line.contains("wait 60 s"), "{line}");
}

// ---- deadlines ----

#[test]
fn a_mint_that_never_answers_ends_at_timeout_secs_with_a_clear_message() {
    let w = world();
    w.fake.push_fault("POST", MINTS, Fault::Hang);
    let cfg = w.config(Config::new().cache_dir(&cache_dir(&w)).timeout_secs(2).app(app(&w)));
    let started = Instant::now();
    let out = get(&w, &cfg);
    let elapsed = started.elapsed();
    assert!(!out.timed_out, "the helper had to be killed:\n{out}");
    let line = mint_error(&w, &out);
    // A generous bound, not a timing claim: the point is "seconds, not forever".
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}:\n{out}");
    assert!(contains_ci(&line, "timeout_secs") || contains_ci(&line, "timed out"), "{line}");
    assert!(line.contains("2 s"), "names the budget: {line}");
    let attempts = w.fake.count("POST", MINTS);
    assert!((1..=3).contains(&attempts), "{attempts} attempts");
    assert!(cached_tokens(&w).is_empty());
}

#[test]
fn a_proxy_that_accepts_and_never_answers_is_named_when_timeout_secs_runs_out() {
    let mut w = world();
    // Accepts (the kernel's backlog) and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let cfg = w.config(Config::new().cache_dir(&cache_dir(&w)).timeout_secs(2).app(app(&w)));
    for proxy in [format!("socks5h://{addr}"), format!("http://{addr}")] {
        w.env.set_env("HTTPS_PROXY", &proxy);
        let started = Instant::now();
        let out = get(&w, &cfg);
        assert!(started.elapsed() < Duration::from_secs(8), "took {:?}:\n{out}", started.elapsed());
        let line = mint_error(&w, &out);
        assert!(line.contains("2 s") && line.contains("timeout_secs"), "{line}");
        assert!(line.contains(&format!("through proxy {proxy} (environment)")), "{line}");
    }
    assert_eq!(w.fake.mint_count(), 0);
}

// ---- malformed answers ----

/// A 2xx the helper cannot use: one clear line, nothing cached, and the next run works.
#[track_caller]
fn a_malformed_mint_answer_fails_cleanly(fault: Fault, expected: &[&str]) {
    let w = world();
    w.fake.push_fault("POST", MINTS, fault);
    let cfg = config(&w, app(&w));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("not GitHub's"), "{line}");
    for text in expected {
        assert!(line.contains(text), "expected {text:?} in {line}");
    }
    assert_eq!(w.fake.count("POST", MINTS), 1, "an unusable answer is not retried");
    assert!(cached_tokens(&w).is_empty(), "nothing cached");

    let token = w.served(&get(&w, &cfg));
    assert!(w.fake.issued_tokens().iter().any(|t| t.token == token));
    assert_eq!(w.fake.count("POST", MINTS), 2);
}

fn canned(status: u16, content_type: &str, body: String) -> Fault {
    Fault::Status { status, headers: vec![("Content-Type".into(), content_type.into())], body }
}

#[test]
fn a_201_with_an_html_page_is_refused_as_not_githubs() {
    let page = "<!DOCTYPE html>\n<html><body><h1>Sign in to the guest Wi-Fi</h1></body></html>\n";
    a_malformed_mint_answer_fails_cleanly(canned(201, "text/html", page.into()), &["HTML"]);
}

#[test]
fn a_201_without_a_token_is_refused() {
    let body = json!({"expires_at": iso8601(unix_now() + 3600), "permissions": {}}).to_string();
    a_malformed_mint_answer_fails_cleanly(canned(201, "application/json", body), &["no token"]);
}

#[test]
fn a_201_without_expires_at_is_refused_without_repeating_the_token() {
    let body = json!({"token": "ghs_0123456789abcdefghijABCDEFGHIJ012345"}).to_string();
    a_malformed_mint_answer_fails_cleanly(canned(201, "application/json", body), &["expires_at"]);
}

#[test]
fn a_200_that_is_not_json_is_refused() {
    a_malformed_mint_answer_fails_cleanly(canned(200, "text/plain", "not json".into()), &["not JSON"]);
}

// ---- clock skew ----

/// Server clock `offset` seconds off ours: the first JWT is refused, the second (signed on
/// GitHub's time from its `Date`) accepted, the offset remembered, and a later cold mint
/// signs right the first time. Returns the world, the config and the expiry printed by the first `get`.
fn skewed_server_is_corrected_and_remembered(offset: i64) -> (World, PathBuf, i64) {
    let w = world();
    w.fake.set_clock_offset(offset);
    let cfg = config(&w, app(&w));
    let out = get(&w, &cfg);
    let (token, expiry) = w.served_on_local_clock(&out);
    assert!(w.fake.issued_tokens().iter().any(|t| t.token == token));

    let claims = w.fake.jwt_claims();
    assert_eq!(claims.len(), 2, "one refused JWT, one re-signed: {claims:?}");
    let iat = |i: usize| claims[i]["iat"].as_i64().expect("iat");
    assert!((iat(0) - (unix_now() - 60)).abs() <= 5, "first JWT on the local clock: {claims:?}");
    assert!((iat(1) - (w.fake.now() - 60)).abs() <= 5, "second JWT on GitHub's clock: {claims:?}");
    assert_eq!(w.fake.count("POST", MINTS), 2);
    assert_eq!(w.fake.mint_count(), 1);
    let clock_files = files_with_prefix(&cache_dir(&w), "clock-");
    assert_eq!(clock_files.len(), 1, "offset remembered in {}", cache_dir(&w).display());

    // A cold mint later: the remembered offset makes the first JWT acceptable.
    drop_cached_tokens(&w);
    w.served_on_local_clock(&get(&w, &cfg));
    let claims = w.fake.jwt_claims();
    assert_eq!(claims.len(), 3, "one JWT for the later mint: {claims:?}");
    let later_iat = claims[2]["iat"].as_i64().expect("iat");
    assert!((later_iat - (w.fake.now() - 60)).abs() <= 5, "signed on GitHub's clock: {claims:?}");
    assert_eq!(w.fake.count("POST", MINTS), 3, "one request for the later mint");
    assert_eq!(w.fake.mint_count(), 2);
    (w, cfg, expiry)
}

#[test]
fn a_server_clock_5_minutes_behind_is_corrected_from_its_date_and_remembered() {
    skewed_server_is_corrected_and_remembered(-300);
}

#[test]
fn a_server_clock_15_minutes_ahead_is_corrected_from_its_date_and_remembered() {
    skewed_server_is_corrected_and_remembered(900);
}

#[test]
fn the_expiry_of_a_token_from_a_server_15_minutes_ahead_is_given_on_the_local_clock() {
    let (w, cfg, expiry) = skewed_server_is_corrected_and_remembered(900);
    let local = unix_now();
    // The fake's tokens live 3600 s by its clock; git compares the expiry with ours.
    assert!((expiry - (local + 3600)).abs() <= 15, "expiry {expiry}, local now {local}");
    let server_expiry = w.fake.issued_tokens()[0].expires_at;
    assert!((server_expiry - expiry - 900).abs() <= 15, "server {server_expiry}, printed {expiry}");

    // Also for the mint signed with the remembered offset, and from the cache.
    let (_, cached_expiry) = w.served_on_local_clock(&get(&w, &cfg));
    assert!((cached_expiry - (unix_now() + 3600)).abs() <= 15, "cached expiry {cached_expiry}");
    assert_eq!(w.fake.mint_count(), 2, "the last get came from the cache");
}

// ---- proxies ----

#[test]
fn https_proxy_from_the_environment_carries_the_mint() {
    let mut w = world();
    let proxy = ConnectProxy::start();
    let cfg = config(&w, app(&w));
    w.env.set_env("HTTPS_PROXY", &proxy.url());
    w.served(&get(&w, &cfg));
    assert_eq!(proxy.targets(), vec![w.fake.host()]);
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn lower_case_https_proxy_is_honoured_too() {
    let mut w = world();
    let proxy = ConnectProxy::start();
    let cfg = config(&w, app(&w));
    w.env.set_env("https_proxy", &proxy.url());
    w.served(&get(&w, &cfg));
    assert_eq!(proxy.targets(), vec![w.fake.host()]);
}

#[test]
fn no_proxy_for_the_api_host_bypasses_the_proxy() {
    let mut w = world();
    let proxy = ConnectProxy::start();
    let cfg = config(&w, app(&w));
    w.env.set_env("HTTPS_PROXY", &proxy.url());
    w.env.set_env("NO_PROXY", "127.0.0.1");
    w.served(&get(&w, &cfg));
    assert_eq!(proxy.connections(), 0, "targets: {:?}", proxy.targets());
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn git_config_http_proxy_carries_the_mint_when_the_environment_sets_none() {
    let w = world();
    let proxy = ConnectProxy::start();
    let cfg = config(&w, app(&w));
    w.env.git_config_global("http.proxy", &proxy.url());
    w.served(&get(&w, &cfg));
    assert_eq!(proxy.targets(), vec![w.fake.host()]);
    assert_eq!(proxy.tunnels(), 1);
}

#[test]
fn the_environment_proxy_wins_over_git_config_http_proxy() {
    let mut w = world();
    let env_proxy = ConnectProxy::start();
    let git_proxy = ConnectProxy::start();
    let cfg = config(&w, app(&w));
    w.env.set_env("HTTPS_PROXY", &env_proxy.url());
    w.env.git_config_global("http.proxy", &git_proxy.url());
    w.served(&get(&w, &cfg));
    assert_eq!(env_proxy.targets(), vec![w.fake.host()]);
    assert_eq!(git_proxy.connections(), 0, "git's proxy unused: {:?}", git_proxy.targets());
}

#[test]
fn a_proxy_that_refuses_connections_is_named_in_the_error() {
    let mut w = world();
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let proxy = format!("127.0.0.1:{port}");
    let cfg = config(&w, app(&w));
    w.env.set_env("HTTPS_PROXY", &format!("http://{proxy}"));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains(&proxy) && contains_ci(&line, "proxy"), "names the proxy: {line}");
    assert!(w.fake.requests().is_empty(), "nothing reached GitHub");
}

// ---- trust ----

/// A PEM CA that did not sign the fake's certificate.
fn unrelated_ca(dir: &Path) -> PathBuf {
    let path = dir.join("unrelated-ca.pem");
    fs::write(&path, TestTls::generate().ca_pem).expect("writing unrelated CA");
    path
}

#[test]
fn the_system_store_is_used_without_ca_file_and_honours_ssl_cert_file() {
    let mut w = world();
    let cfg = config(&w, app(&w).no_ca_file());
    w.env.set_env("SSL_CERT_FILE", &w.fake.ca_pem_path().display().to_string());
    w.served(&get(&w, &cfg));
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn without_any_trust_source_for_the_test_ca_the_system_store_is_named_in_the_tls_error() {
    let w = world();
    let cfg = config(&w, app(&w).no_ca_file());
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("TLS"), "{line}");
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(line.contains("system trust store"), "{line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn a_ca_file_without_the_servers_ca_fails_naming_the_host_and_the_ca_file() {
    let mut w = world();
    let env_dir = crate::support::TempDir::new("unrelated-ca");
    let wrong = unrelated_ca(env_dir.path());
    let cfg = config(&w, app(&w).ca_file(&wrong));
    // ca_file comes first: a GIT_SSL_CAINFO that would work must not be used.
    w.env.set_ca(w.fake.ca_pem_path());
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("TLS"), "{line}");
    assert!(line.contains("127.0.0.1"), "names the host: {line}");
    assert!(line.contains(&format!("ca_file {}", wrong.display())), "names the trust source: {line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn git_ssl_cainfo_is_trusted_without_ca_file() {
    let mut w = world();
    let cfg = config(&w, app(&w).no_ca_file());
    w.env.set_ca(w.fake.ca_pem_path());
    w.served(&get(&w, &cfg));
}

/// `SSL_CERT_DIR` alone (no file): the system store reads every certificate in the directory.
/// Checked on glibc and on the static musl build alike (`.ci/run` runs the suite on both).
#[test]
fn the_system_store_honours_ssl_cert_dir() {
    let mut w = world();
    let cfg = config(&w, app(&w).no_ca_file());
    let dir = w.env.root().join("certs");
    fs::create_dir_all(&dir).expect("creating cert dir");
    fs::copy(w.fake.ca_pem_path(), dir.join("test-ca.pem")).expect("copying the CA");
    w.env.set_env("SSL_CERT_DIR", &dir.display().to_string());
    w.served(&get(&w, &cfg));
    assert_eq!(w.fake.mint_count(), 1);
}

/// The API host as a name the resolver finds in `/etc/hosts` (`localhost`, which the fake's
/// certificate names): name resolution works in the static musl build too.
#[test]
fn an_api_host_named_in_etc_hosts_is_resolved() {
    let w = world();
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    assert!(
        hosts.lines().any(|l| l.split_whitespace().next() == Some("127.0.0.1")
            && l.split_whitespace().any(|w| w == "localhost")),
        "/etc/hosts should map localhost to 127.0.0.1"
    );
    let cfg = config(&w, app_by_name(&w));
    w.served(&get(&w, &cfg));
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn git_config_http_sslcainfo_for_the_api_url_is_trusted_when_nothing_else_is_set() {
    let w = world();
    let cfg = config(&w, app(&w).no_ca_file());
    // URL-scoped, as `git config --get-urlmatch http <api_url>` must find it.
    let key = format!("http.{}/.sslCAInfo", w.fake.base_url());
    w.env.git_config_global(&key, &w.fake.ca_pem_path().display().to_string());
    w.served(&get(&w, &cfg));
    assert_eq!(w.fake.mint_count(), 1);
}

// ---- errors users can act on ----

#[test]
fn an_unknown_app_id_is_reported_as_a_wrong_app_id() {
    let w = world();
    let cfg = config(&w, app(&w).id(9999));
    let line = mint_error_of(&w, &get(&w, &cfg), 9999, INSTALLATION_ID);
    assert!(line.contains("401"), "{line}");
    assert!(line.contains("Integration not found"), "GitHub's message: {line}");
    assert!(line.contains("app_id"), "{line}");
    assert_eq!(w.fake.jwt_claims().len(), 1, "a clock problem is not assumed");
}

#[test]
fn another_apps_key_is_reported_as_not_belonging_to_the_app() {
    let w = world();
    let other_key = w.env.copy_key("other-key-pkcs1.pem");
    let cfg = config(&w, app(&w).key_file(&other_key));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("401"), "{line}");
    assert!(contains_ci(&line, "private key") && line.contains("belong"), "{line}");
    assert_eq!(w.fake.jwt_claims().len(), 1, "not retried as clock skew");
}

#[test]
fn a_wrong_installation_id_is_reported_with_its_404() {
    let w = world();
    let cfg = config(&w, w.test_app().installation(INSTALLATION_ID + 1));
    let line = mint_error_of(&w, &get(&w, &cfg), APP_ID, INSTALLATION_ID + 1);
    assert!(line.contains("404"), "{line}");
    assert!(line.contains("installation_id"), "{line}");
    assert!(line.contains("Not Found"), "GitHub's message: {line}");
}

#[test]
fn a_repository_scoped_mint_of_a_repository_not_granted_is_reported_with_its_422() {
    let w = world();
    w.fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, Some(vec!["web".into(), "docs".into()]));
    let cfg = config(&w, app(&w).line("token_scope = \"repository\""));
    let line = mint_error(&w, &get_repo(&w, &cfg, OWNER, "secret-plans"));
    assert!(line.contains("422"), "{line}");
    assert!(line.contains("granted"), "{line}");
    assert!(line.contains("not accessible to the parent installation"), "GitHub's message: {line}");
    let requests = w.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body_json()["repositories"], json!(["secret-plans"]));
    assert_eq!(w.fake.mint_count(), 0);
}

// ---- SOCKS proxies ----

/// The test app reached through `https://localhost:PORT`, so a SOCKS proxy sees a name to
/// resolve (the fake's certificate is for `localhost` too).
fn app_by_name(w: &World) -> App {
    app(w).api_url(&format!("https://localhost:{}/api/v3", w.fake.port()))
}

#[test]
fn socks5h_from_all_proxy_carries_the_mint_and_the_proxy_resolves_the_name() {
    let mut w = world();
    let socks = Socks5::start();
    let cfg = config(&w, app_by_name(&w));
    w.env.set_env("ALL_PROXY", &socks.url_h());
    w.served(&get(&w, &cfg));
    let reqs = socks.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].target, format!("localhost:{}", w.fake.port()));
    assert!(reqs[0].by_name, "socks5h sends the name: {reqs:?}");
}

#[test]
fn socks5_resolves_the_name_here_and_sends_the_proxy_an_address() {
    let mut w = world();
    let socks = Socks5::start();
    let cfg = config(&w, app_by_name(&w));
    w.env.set_env("ALL_PROXY", &socks.url());
    w.served(&get(&w, &cfg));
    let reqs = socks.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(!reqs[0].by_name, "socks5 sends an address: {reqs:?}");
    assert!(reqs[0].target.ends_with(&format!(":{}", w.fake.port())), "{reqs:?}");
}

#[test]
fn a_socks5_proxy_with_a_password_carries_the_mint_and_the_password_is_never_printed() {
    let mut w = world();
    let socks = Socks5::start_with_auth("proxyuser", "Pr0xyPassw0rd");
    let cfg = config(&w, app_by_name(&w));
    w.env.set_env("HTTPS_PROXY", &socks.url_h());
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let out = get(&w, &cfg);
    w.served(&out);
    assert!(socks.requests().iter().all(|r| r.authenticated), "{:?}", socks.requests());
    assert!(!out.stderr.contains("Pr0xyPassw0rd"), "{out}");

    // A wrong password: one line naming the proxy as scheme://host:port, never the password.
    drop_cached_tokens(&w);
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "0");
    w.env.set_env("HTTPS_PROXY", &format!("socks5h://proxyuser:WrongPassw0rd@{}", socks.addr()));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains(&format!("socks5h://{}", socks.addr())), "{line}");
    assert!(!line.contains("WrongPassw0rd") && !line.contains("proxyuser"), "{line}");
}

#[test]
fn git_config_http_proxy_socks4_and_socks4a_carry_the_mint() {
    let w = world();
    let socks = Socks4::start();
    let cfg = config(&w, app_by_name(&w));
    w.env.git_config_global("http.proxy", &socks.url());
    w.served(&get(&w, &cfg));
    drop_cached_tokens(&w);
    w.env.git_config_global("http.proxy", &socks.url_a());
    w.served(&get(&w, &cfg));
    let reqs = socks.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(!reqs[0].by_name, "socks4 sends an address: {reqs:?}");
    assert!(reqs[1].by_name, "socks4a sends the name: {reqs:?}");
}

/// `cmd` run in a mount namespace of its own whose /etc/hosts is `hosts` (`unshare --mount`,
/// then a bind mount; root only): the rest of the machine keeps its own file.
fn with_hosts_file(cmd: &std::process::Command, hosts: &Path) -> std::process::Command {
    let mut wrapped = std::process::Command::new("unshare");
    wrapped.args(["--mount", "--", "sh", "-c", r#"mount --bind "$0" /etc/hosts && exec "$@""#]);
    wrapped.arg(hosts).arg(cmd.get_program()).args(cmd.get_args());
    wrapped.env_clear();
    for (name, value) in cmd.get_envs() {
        if let Some(value) = value {
            wrapped.env(name, value);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

#[test]
#[ignore = "needs root"] // with CAP_SYS_ADMIN, for `unshare --mount`
fn a_socks4_proxy_is_sent_the_ipv4_address_of_a_host_whose_ipv6_address_resolves_first() {
    let w = world();
    // Debian's stock /etc/hosts: `localhost` is ::1 first, which SOCKS4 cannot carry.
    let hosts = w.env.root().join("hosts");
    let listed = "::1 localhost\n127.0.0.1 localhost\n";
    fs::write(&hosts, listed).unwrap();
    let mut cat = std::process::Command::new("cat");
    cat.arg("/etc/hosts");
    let seen = run(with_hosts_file(&cat, &hosts));
    assert_eq!(
        seen.stdout, listed,
        "the helper would not see this /etc/hosts: `unshare --mount` needs root with CAP_SYS_ADMIN \
         (not an unprivileged container): {seen}"
    );

    let socks = Socks4::start();
    let cfg = config(&w, app_by_name(&w));
    w.env.git_config_global("http.proxy", &socks.url());
    let input = format!("{}\n", request(&w.fake.host(), Some(&format!("{OWNER}/{REPO}.git"))));
    let get = with_hosts_file(&w.cmd(&cfg, &["get"]), &hosts);
    w.served(&run_with_timeout(get, Some(input.as_bytes()), HELPER_TIMEOUT));
    let reqs = socks.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].target, format!("127.0.0.1:{}", w.fake.port()), "{reqs:?}");
}

#[test]
fn no_proxy_covering_the_api_host_bypasses_a_socks_proxy() {
    let mut w = world();
    let socks = Socks5::start();
    let cfg = config(&w, app(&w));
    w.env.set_env("ALL_PROXY", &socks.url());
    w.env.set_env("NO_PROXY", "127.0.0.1");
    w.served(&get(&w, &cfg));
    assert_eq!(socks.connections(), 0, "{:?}", socks.requests());
}

#[test]
fn no_proxy_is_read_as_curl_reads_it_a_cidr_network_bypasses_the_proxy_and_another_does_not() {
    let mut w = world();
    let socks = Socks5::start();
    let cfg = config(&w, app(&w));
    w.env.set_env("ALL_PROXY", &socks.url());
    // git (through curl) reaches 127.0.0.1 directly with this list; so does the helper.
    w.env.set_env("NO_PROXY", "ghe.corp.example, 127.0.0.0/8");
    w.served(&get(&w, &cfg));
    assert_eq!(socks.connections(), 0, "{:?}", socks.requests());
    drop_cached_tokens(&w);
    w.env.set_env("NO_PROXY", "10.0.0.0/8, 127.0.0.1/32x");
    w.served(&get(&w, &cfg));
    assert_eq!(socks.connections(), 1, "{:?}", socks.requests());
}

#[test]
fn an_unsupported_proxy_scheme_is_one_line_naming_the_scheme() {
    let mut w = world();
    let cfg = config(&w, app(&w));
    w.env.set_env("HTTPS_PROXY", "quic://alice:Sekr1tPass@relay.example:443");
    let out = get(&w, &cfg);
    let line = w.failed(&out);
    assert!(line.contains("\"quic\"") && line.contains("socks5h://"), "{line}");
    assert!(line.contains("quic://relay.example"), "{line}");
    assert!(!line.contains("alice") && !line.contains("Sekr1tPass"), "{line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn a_proxy_url_is_shown_as_scheme_host_and_port_only() {
    let mut w = world();
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let cfg = config(&w, app(&w));
    w.env.set_env("HTTPS_PROXY", &format!("alice:Sekr1tPass@127.0.0.1:{port}/?token=QueryS3cret"));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains(&format!("http://127.0.0.1:{port}")), "{line}");
    for secret in ["alice", "Sekr1tPass", "QueryS3cret"] {
        assert!(!line.contains(secret), "{secret} shown: {line}");
    }
}

// ---- internal errors ----

#[test]
fn a_forced_internal_error_is_one_line_and_exit_1_without_its_payload() {
    let mut w = world();
    let cfg = config(&w, app(&w));
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_DEBUG_FORCE_PANIC", "1");
    let out = get(&w, &cfg);
    let line = w.failed(&out);
    assert!(line.starts_with("git-credential-github-app: internal error"), "{line}");
    assert!(!out.stderr.contains("ghs_ThisPayloadMustNeverBePrinted"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}

#[test]
fn the_helper_runs_without_core_dumps_and_its_key_command_inherits_that() {
    let w = world();
    let limits = w.env.root().join("limits");
    let script = format!(
        "grep 'Max core file size' /proc/self/limits > {}; cat {}",
        limits.display(),
        w.key.display()
    );
    let key = format!("private_key_command = [\"sh\", \"-c\", {}]", toml_string(&script));
    let cfg = config(&w, app(&w).key_lines(&key));
    // Started with core dumps allowed (this machine's default may already be 0).
    let mut cmd = std::process::Command::new("sh");
    w.env.apply(&mut cmd);
    cmd.args(["-c", "ulimit -S -c 1024 && exec \"$0\" \"$@\""])
        .arg(crate::support::git_env::helper_path())
        .args([Path::new("--config"), &cfg, Path::new("get")]);
    let input = format!("{}\n", request(&w.fake.host(), Some(&format!("{OWNER}/{REPO}.git"))));
    w.served(&run_with_timeout(cmd, Some(input.as_bytes()), HELPER_TIMEOUT));
    let line = fs::read_to_string(&limits).expect("the key command wrote its limits");
    let soft = line.split_whitespace().nth(4).expect("the soft limit");
    assert_eq!(soft, "0", "{line}");
}

// ---- self-signed Enterprise Server certificates ----

/// A world whose fake GitHub serves `cert` (self-signed, CA:TRUE), trusting nothing by itself.
fn self_signed_world(cert: &SelfSigned) -> World {
    let fake = cert.start_fake(Options::default());
    fake.add_app(APP_ID, "Iv23liTestClient", "test-app", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, None);
    fake.create_repo(OWNER, "widgets");
    let env = TestEnv::new();
    let key = env.copy_key("app-key-pkcs1.pem");
    World { fake, env, key }
}

#[test]
fn a_self_signed_ca_true_certificate_named_by_ca_file_is_trusted_by_the_helper_and_by_git() {
    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let mut w = self_signed_world(&cert);
    let cfg = config(&w, app(&w).ca_file(&cert.cert_path()));
    w.served(&get(&w, &cfg));
    // git trusts the same file; the helper answers git, and git fetches.
    w.env.set_ca(&cert.cert_path());
    w.use_helper_in_git(&cfg);
    let out =
        run_with_timeout(w.env.git(["ls-remote", &w.fake.repo_url(OWNER, "widgets")]), None, HELPER_TIMEOUT);
    assert!(out.stdout.contains("refs/heads/main"), "{out}");
}

#[test]
fn a_self_signed_certificate_named_by_git_ssl_cainfo_or_http_sslcainfo_is_trusted() {
    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let mut w = self_signed_world(&cert);
    let cfg = config(&w, app(&w).no_ca_file());
    w.env.set_ca(&cert.cert_path());
    w.served(&get(&w, &cfg));

    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let w = self_signed_world(&cert);
    let cfg = config(&w, app(&w).no_ca_file());
    let key = format!("http.{}/.sslCAInfo", w.fake.base_url());
    w.env.git_config_global(&key, &cert.cert_path().display().to_string());
    w.served(&get(&w, &cfg));
}

#[test]
fn a_self_signed_certificate_is_never_trusted_through_the_system_store() {
    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let mut w = self_signed_world(&cert);
    let cfg = config(&w, app(&w).no_ca_file());
    w.env.set_env("SSL_CERT_FILE", &cert.cert_path().display().to_string());
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("system trust store"), "{line}");
    assert!(line.contains("CA:TRUE"), "{line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn a_self_signed_certificate_that_expired_or_names_another_host_is_refused_in_words() {
    for (kind, words) in
        [(SelfSignedKind::Expired, "expired"), (SelfSignedKind::WrongHost, "wrong host name")]
    {
        let cert = SelfSigned::generate(kind);
        let w = self_signed_world(&cert);
        let cfg = config(&w, app(&w).ca_file(&cert.cert_path()));
        let line = mint_error(&w, &get(&w, &cfg));
        assert!(line.contains(words), "{kind:?}: {line}");
        assert!(!line.contains("Other(") && !line.contains("InvalidCertificate"), "{line}");
        assert!(w.fake.requests().is_empty());
    }
}

#[test]
fn a_self_signed_certificate_not_in_ca_file_is_refused_in_words() {
    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let w = self_signed_world(&cert);
    let dir = crate::support::TempDir::new("unrelated-ca");
    let cfg = config(&w, app(&w).ca_file(&unrelated_ca(dir.path())));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("self-signed certificate not in ca_file"), "{line}");
    assert!(!line.contains("CaUsedAsEndEntity"), "{line}");
}

#[test]
fn a_server_certificate_from_an_unknown_issuer_is_named_so() {
    let w = world();
    let dir = crate::support::TempDir::new("other-ca");
    // A CA with another name: no issuer of the fake's certificate is in the file.
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "some other CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = params.self_signed(&rcgen::KeyPair::generate().expect("key")).expect("CA");
    let path = dir.path().join("other-ca.pem");
    fs::write(&path, other.pem()).expect("writing the CA");
    let cfg = config(&w, app(&w).ca_file(&path));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("unknown issuer"), "{line}");
}

// ---- never mint twice; share failures ----

#[test]
fn a_mint_answered_201_with_a_body_cut_short_is_not_retried() {
    let w = world();
    let head = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n";
    w.fake.push_fault("POST", MINTS, Fault::Raw(format!("{head}{{\"token\":\"ghs_cut").into_bytes()));
    let cfg = config(&w, app(&w));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("201") && line.contains("not retried"), "{line}");
    assert_eq!(w.fake.count("POST", MINTS), 1);
}

#[test]
fn a_mint_answered_201_with_a_body_that_is_not_utf8_is_not_retried() {
    let w = world();
    let mut raw =
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n".to_vec();
    raw.extend_from_slice(b"{\"\xff\xfe\"}");
    w.fake.push_fault("POST", MINTS, Fault::Raw(raw));
    let cfg = config(&w, app(&w));
    let line = mint_error(&w, &get(&w, &cfg));
    assert!(line.contains("201") && line.contains("not UTF-8"), "{line}");
    assert_eq!(w.fake.count("POST", MINTS), 1);
}

#[test]
fn thirty_two_parallel_cold_gets_against_a_failing_api_make_at_most_three_mint_attempts() {
    let w = world();
    for _ in 0..200 {
        w.fake.push_fault("POST", MINTS, Fault::json_error(500, "Server Error"));
    }
    let timeout_secs = 20;
    let cfg = w.config(Config::new().cache_dir(&cache_dir(&w)).timeout_secs(timeout_secs).app(app(&w)));
    let input = format!("{}\n", request(&w.fake.host(), Some(&format!("{OWNER}/{REPO}.git"))));
    let started = Instant::now();
    let children: Vec<_> = (0..32)
        .map(|_| {
            let mut cmd = w.cmd(&cfg, &["get"]);
            cmd.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("spawning the helper");
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("writing the request");
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("waiting for the helper");
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("500"), "every process gives the holder's reason: {stderr}");
    }
    let elapsed = started.elapsed();
    assert!(w.fake.count("POST", MINTS) <= 3, "{} mint attempts", w.fake.count("POST", MINTS));
    assert!(elapsed < Duration::from_secs(timeout_secs / 2), "took {elapsed:?}");
}
