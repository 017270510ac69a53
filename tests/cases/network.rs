//! Network faults: retries, rate limits, deadlines, proxies, trust, clock skew.
//!
//! Each test starts its own fake GitHub, injects faults with `push_fault` or a clock offset,
//! runs the helper's `get` as git would, and checks what the fake saw and what the helper said.
//! The contract is issue 4: at most 3 attempts, `Retry-After` up to 10 s waited out, one deadline
//! (`timeout_secs`) for everything, clock skew corrected from GitHub's `Date` and remembered,
//! env proxies before git's `http.proxy`, and one actionable stderr line for every failure.

use std::ffi::OsStr;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::git_env::run_with_timeout;
use crate::support::proxy::ConnectProxy;
use crate::support::tls::TestTls;
use crate::support::{
    FakeGitHub, Fault, Options, RunOutput, TestEnv, assert_no_secret_markers, fixture_string, iso8601,
    unix_now,
};

const APP_ID: u64 = 4242;
const CLIENT_ID: &str = "Iv23liNetworkTests";
const INSTALLATION_ID: u64 = 777;
const OWNER: &str = "acme";
const REPO: &str = "web";
const PREFIX: &str = "git-credential-github-app: ";
/// Every mint path starts with this (what `push_fault` and `count` match on).
const MINTS: &str = "/app/installations/";
/// A hung helper fails the test after this instead of blocking it.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// A fake with the fixture app installed on all of `acme`'s repositories.
fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, CLIENT_ID, "network-tests", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, None);
    fake
}

fn mint_path(installation_id: u64) -> String {
    format!("/app/installations/{installation_id}/access_tokens")
}

/// What goes into the helper's config (one `[[app]]` for the fake's host).
struct Cfg {
    timeout_secs: Option<u64>,
    app_id: u64,
    /// Fixture name of the private key.
    key: &'static str,
    installation_id: u64,
    /// `None`: no `ca_file` key, so the helper falls back to the env, git, the system store.
    ca_file: Option<PathBuf>,
    /// More lines for the `[[app]]` table.
    extra: String,
}

impl Cfg {
    fn new(fake: &FakeGitHub) -> Cfg {
        Cfg {
            timeout_secs: None,
            app_id: APP_ID,
            key: "app-key-pkcs1.pem",
            installation_id: INSTALLATION_ID,
            ca_file: Some(fake.ca_pem_path().to_path_buf()),
            extra: String::new(),
        }
    }
}

/// A hermetic environment with a helper config pointing at one fake.
struct Helper {
    env: TestEnv,
    config: PathBuf,
    host: String,
    app_id: u64,
    installation_id: u64,
}

impl Helper {
    fn new(fake: &FakeGitHub) -> Helper {
        Helper::with(fake, Cfg::new(fake))
    }

    fn with(fake: &FakeGitHub, cfg: Cfg) -> Helper {
        let env = TestEnv::new();
        let key = env.copy_key(cfg.key);
        let mut toml = format!("cache_dir = {:?}\n", env.root().join("cache"));
        if let Some(secs) = cfg.timeout_secs {
            toml.push_str(&format!("timeout_secs = {secs}\n"));
        }
        toml.push_str(&format!(
            "\n[[app]]\napp_id = {}\nprivate_key_path = {key:?}\nhost = {:?}\ninstallation_id = {}\n",
            cfg.app_id,
            fake.host(),
            cfg.installation_id
        ));
        if let Some(ca) = &cfg.ca_file {
            toml.push_str(&format!("ca_file = {ca:?}\n"));
        }
        toml.push_str(&cfg.extra);
        let config = env.write_config(&toml);
        Helper { env, config, host: fake.host(), app_id: cfg.app_id, installation_id: cfg.installation_id }
    }

    fn get(&self) -> RunOutput {
        self.get_repo(OWNER, REPO)
    }

    /// `git-credential-github-app --config CONFIG get` with git's request for `owner/repo`.
    fn get_repo(&self, owner: &str, repo: &str) -> RunOutput {
        let input = format!("protocol=https\nhost={}\npath={owner}/{repo}.git\n\n", self.host);
        let cmd = self.env.helper([OsStr::new("--config"), self.config.as_os_str(), OsStr::new("get")]);
        run_with_timeout(cmd, Some(input.as_bytes()), HELPER_TIMEOUT)
    }

    fn cache_dir(&self) -> PathBuf {
        self.env.root().join("cache")
    }

    fn cache_files(&self, prefix: &str) -> Vec<PathBuf> {
        let Ok(dir) = fs::read_dir(self.cache_dir()) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with(prefix) && name.ends_with(".json")
            })
            .collect()
    }

    /// Cached token entries (lock files do not count).
    fn cached_tokens(&self) -> Vec<PathBuf> {
        self.cache_files("token-")
    }

    /// Forget every cached token, so the next `get` mints (other cache files stay).
    fn drop_cached_tokens(&self) {
        for path in self.cached_tokens() {
            fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
        }
    }

    /// Checks the failure contract for a failed mint and returns the one stderr line: exit 1,
    /// no stdout, one line starting with the program name that names the app and the mint
    /// endpoint, and no JWT, token or PEM anywhere.
    #[track_caller]
    fn mint_error(&self, out: &RunOutput) -> String {
        out.assert_failure();
        assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
        assert_eq!(out.stdout, "", "nothing on stdout after a failure:\n{out}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one stderr line:\n{out}");
        let line = lines[0];
        assert!(line.starts_with(PREFIX), "{out}");
        assert!(line.contains(&mint_path(self.installation_id)), "the endpoint path is named:\n{out}");
        assert!(line.contains(&format!("app {}", self.app_id)), "the app is named:\n{out}");
        assert_no_secret_markers(&out.stderr);
        line.to_string()
    }
}

/// The served token and its `password_expiry_utc`, checking the output's shape.
#[track_caller]
fn served(out: &RunOutput) -> (String, i64) {
    crate::support::parse_credential(out)
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
    let fake = fake();
    fake.push_fault("POST", MINTS, Fault::json_error(502, "Server Error"));
    let helper = Helper::new(&fake);
    let (token, _) = served(&helper.get());
    assert_eq!(fake.count("POST", MINTS), 2);
    assert_eq!(fake.mint_count(), 1);
    assert_eq!(fake.issued_tokens()[0].token, token);
}

#[test]
fn two_503s_then_success_take_three_attempts() {
    let fake = fake();
    for _ in 0..2 {
        fake.push_fault("POST", MINTS, Fault::json_error(503, "Service Unavailable"));
    }
    let helper = Helper::new(&fake);
    served(&helper.get());
    assert_eq!(fake.count("POST", MINTS), 3);
    assert_eq!(fake.mint_count(), 1);
    assert_eq!(fake.pending_faults(), 0);
}

#[test]
fn three_500s_fail_with_one_line_cache_nothing_and_the_next_run_mints() {
    let fake = fake();
    for _ in 0..3 {
        fake.push_fault("POST", MINTS, Fault::json_error(500, "Server Error"));
    }
    let helper = Helper::new(&fake);
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("500"), "{line}");
    assert_eq!(fake.count("POST", MINTS), 3, "three attempts in all");
    assert!(helper.cached_tokens().is_empty(), "nothing cached: {:?}", helper.cached_tokens());

    let (token, _) = served(&helper.get());
    assert_eq!(fake.count("POST", MINTS), 4);
    assert_eq!(fake.mint_count(), 1);
    assert_eq!(fake.issued_tokens()[0].token, token);
}

#[test]
fn a_connection_dropped_without_an_answer_is_retried() {
    let fake = fake();
    fake.push_fault("POST", MINTS, Fault::CloseConnection);
    let helper = Helper::new(&fake);
    served(&helper.get());
    assert_eq!(fake.count("POST", MINTS), 2);
    assert_eq!(fake.mint_count(), 1);
}

// ---- rate limits ----

#[test]
fn a_429_with_retry_after_1_is_waited_out_and_then_succeeds() {
    let fake = fake();
    fake.push_fault(
        "POST",
        MINTS,
        Fault::json_error_with_headers(
            429,
            "You have exceeded a secondary rate limit.",
            &[("Retry-After", "1")],
        ),
    );
    let helper = Helper::new(&fake);
    let started = Instant::now();
    served(&helper.get());
    // A lower bound only: the helper must have waited the second GitHub asked for.
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!(fake.count("POST", MINTS), 2);
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn a_primary_rate_limit_is_not_retried_and_the_message_says_when_it_resets() {
    let fake = fake();
    let reset = unix_now() + 1234;
    fake.push_fault(
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
    let helper = Helper::new(&fake);
    let line = helper.mint_error(&helper.get());
    assert_eq!(fake.count("POST", MINTS), 1, "a primary limit is not retried");
    assert!(line.contains("403"), "{line}");
    assert!(contains_ci(&line, "rate limit"), "{line}");
    assert!(line.contains(&utc_text(reset)), "expected {:?} in {line}", utc_text(reset));
    assert!(line.contains("API rate limit exceeded"), "GitHub's message: {line}");
}

#[test]
fn a_429_asking_for_60_seconds_is_not_waited_out_and_the_message_says_so() {
    let fake = fake();
    fake.push_fault(
        "POST",
        MINTS,
        Fault::json_error_with_headers(
            429,
            "You have exceeded a secondary rate limit.",
            &[("Retry-After", "60")],
        ),
    );
    let helper = Helper::new(&fake);
    let started = Instant::now();
    let line = helper.mint_error(&helper.get());
    assert!(started.elapsed() < Duration::from_secs(30), "did not wait the minute out");
    assert_eq!(fake.count("POST", MINTS), 1);
    assert!(line.contains("429"), "{line}");
    assert!(contains_ci(&line, "rate limit"), "{line}");
    assert!(line.contains("wait 60 s"), "{line}");
}

// ---- deadlines ----

#[test]
fn a_mint_that_never_answers_ends_at_timeout_secs_with_a_clear_message() {
    let fake = fake();
    fake.push_fault("POST", MINTS, Fault::Hang);
    let helper = Helper::with(&fake, Cfg { timeout_secs: Some(2), ..Cfg::new(&fake) });
    let started = Instant::now();
    let out = helper.get();
    let elapsed = started.elapsed();
    assert!(!out.timed_out, "the helper had to be killed:\n{out}");
    let line = helper.mint_error(&out);
    // A generous bound, not a timing claim: the point is "seconds, not forever".
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}:\n{out}");
    assert!(contains_ci(&line, "timeout_secs") || contains_ci(&line, "timed out"), "{line}");
    assert!(line.contains("2 s"), "names the budget: {line}");
    let attempts = fake.count("POST", MINTS);
    assert!((1..=3).contains(&attempts), "{attempts} attempts");
    assert!(helper.cached_tokens().is_empty());
}

// ---- malformed answers ----

/// A 2xx the helper cannot use: one clear line, nothing cached, and the next run works.
#[track_caller]
fn a_malformed_mint_answer_fails_cleanly(fault: Fault, expected: &[&str]) {
    let fake = fake();
    fake.push_fault("POST", MINTS, fault);
    let helper = Helper::new(&fake);
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("not GitHub's"), "{line}");
    for text in expected {
        assert!(line.contains(text), "expected {text:?} in {line}");
    }
    assert_eq!(fake.count("POST", MINTS), 1, "an unusable answer is not retried");
    assert!(helper.cached_tokens().is_empty(), "nothing cached");

    let (token, _) = served(&helper.get());
    assert!(fake.issued_tokens().iter().any(|t| t.token == token));
    assert_eq!(fake.count("POST", MINTS), 2);
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
/// signs right the first time. Returns the helper and the expiry printed by the first `get`.
fn skewed_server_is_corrected_and_remembered(offset: i64) -> (FakeGitHub, Helper, i64) {
    let fake = fake();
    fake.set_clock_offset(offset);
    let helper = Helper::new(&fake);
    let out = helper.get();
    let (token, expiry) = served(&out);
    assert!(fake.issued_tokens().iter().any(|t| t.token == token));

    let claims = fake.jwt_claims();
    assert_eq!(claims.len(), 2, "one refused JWT, one re-signed: {claims:?}");
    let iat = |i: usize| claims[i]["iat"].as_i64().expect("iat");
    assert!((iat(0) - (unix_now() - 60)).abs() <= 5, "first JWT on the local clock: {claims:?}");
    assert!((iat(1) - (fake.now() - 60)).abs() <= 5, "second JWT on GitHub's clock: {claims:?}");
    assert_eq!(fake.count("POST", MINTS), 2);
    assert_eq!(fake.mint_count(), 1);
    let clock_files = helper.cache_files("clock-");
    assert_eq!(clock_files.len(), 1, "offset remembered in {}", helper.cache_dir().display());

    // A cold mint later: the remembered offset makes the first JWT acceptable.
    helper.drop_cached_tokens();
    served(&helper.get());
    let claims = fake.jwt_claims();
    assert_eq!(claims.len(), 3, "one JWT for the later mint: {claims:?}");
    let later_iat = claims[2]["iat"].as_i64().expect("iat");
    assert!((later_iat - (fake.now() - 60)).abs() <= 5, "signed on GitHub's clock: {claims:?}");
    assert_eq!(fake.count("POST", MINTS), 3, "one request for the later mint");
    assert_eq!(fake.mint_count(), 2);
    (fake, helper, expiry)
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
    let (fake, helper, expiry) = skewed_server_is_corrected_and_remembered(900);
    let local = unix_now();
    // The fake's tokens live 3600 s by its clock; git compares the expiry with ours.
    assert!((expiry - (local + 3600)).abs() <= 15, "expiry {expiry}, local now {local}");
    let server_expiry = fake.issued_tokens()[0].expires_at;
    assert!((server_expiry - expiry - 900).abs() <= 15, "server {server_expiry}, printed {expiry}");

    // Also for the mint signed with the remembered offset, and from the cache.
    let (_, cached_expiry) = served(&helper.get());
    assert!((cached_expiry - (unix_now() + 3600)).abs() <= 15, "cached expiry {cached_expiry}");
    assert_eq!(fake.mint_count(), 2, "the last get came from the cache");
}

// ---- proxies ----

#[test]
fn https_proxy_from_the_environment_carries_the_mint() {
    let fake = fake();
    let proxy = ConnectProxy::start();
    let mut helper = Helper::new(&fake);
    helper.env.set_env("HTTPS_PROXY", &proxy.url());
    served(&helper.get());
    assert_eq!(proxy.targets(), vec![fake.host()]);
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn lower_case_https_proxy_is_honoured_too() {
    let fake = fake();
    let proxy = ConnectProxy::start();
    let mut helper = Helper::new(&fake);
    helper.env.set_env("https_proxy", &proxy.url());
    served(&helper.get());
    assert_eq!(proxy.targets(), vec![fake.host()]);
}

#[test]
fn no_proxy_for_the_api_host_bypasses_the_proxy() {
    let fake = fake();
    let proxy = ConnectProxy::start();
    let mut helper = Helper::new(&fake);
    helper.env.set_env("HTTPS_PROXY", &proxy.url());
    helper.env.set_env("NO_PROXY", "127.0.0.1");
    served(&helper.get());
    assert_eq!(proxy.connections(), 0, "targets: {:?}", proxy.targets());
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn git_config_http_proxy_carries_the_mint_when_the_environment_sets_none() {
    let fake = fake();
    let proxy = ConnectProxy::start();
    let helper = Helper::new(&fake);
    helper.env.git_config_global("http.proxy", &proxy.url());
    served(&helper.get());
    assert_eq!(proxy.targets(), vec![fake.host()]);
    assert_eq!(proxy.tunnels(), 1);
}

#[test]
fn the_environment_proxy_wins_over_git_config_http_proxy() {
    let fake = fake();
    let env_proxy = ConnectProxy::start();
    let git_proxy = ConnectProxy::start();
    let mut helper = Helper::new(&fake);
    helper.env.set_env("HTTPS_PROXY", &env_proxy.url());
    helper.env.git_config_global("http.proxy", &git_proxy.url());
    served(&helper.get());
    assert_eq!(env_proxy.targets(), vec![fake.host()]);
    assert_eq!(git_proxy.connections(), 0, "git's proxy unused: {:?}", git_proxy.targets());
}

#[test]
fn a_proxy_that_refuses_connections_is_named_in_the_error() {
    let fake = fake();
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let proxy = format!("127.0.0.1:{port}");
    let mut helper = Helper::new(&fake);
    helper.env.set_env("HTTPS_PROXY", &format!("http://{proxy}"));
    let line = helper.mint_error(&helper.get());
    assert!(line.contains(&proxy) && contains_ci(&line, "proxy"), "names the proxy: {line}");
    assert!(fake.requests().is_empty(), "nothing reached GitHub");
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
    let fake = fake();
    let mut helper = Helper::with(&fake, Cfg { ca_file: None, ..Cfg::new(&fake) });
    helper.env.set_env("SSL_CERT_FILE", &fake.ca_pem_path().display().to_string());
    served(&helper.get());
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn without_any_trust_source_for_the_test_ca_the_system_store_is_named_in_the_tls_error() {
    let fake = fake();
    let helper = Helper::with(&fake, Cfg { ca_file: None, ..Cfg::new(&fake) });
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("TLS"), "{line}");
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(line.contains("system trust store"), "{line}");
    assert!(fake.requests().is_empty());
}

#[test]
fn a_ca_file_without_the_servers_ca_fails_naming_the_host_and_the_ca_file() {
    let fake = fake();
    let env_dir = crate::support::TempDir::new("unrelated-ca");
    let wrong = unrelated_ca(env_dir.path());
    let mut helper = Helper::with(&fake, Cfg { ca_file: Some(wrong.clone()), ..Cfg::new(&fake) });
    // ca_file comes first: a GIT_SSL_CAINFO that would work must not be used.
    helper.env.set_ca(fake.ca_pem_path());
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("TLS"), "{line}");
    assert!(line.contains("127.0.0.1"), "names the host: {line}");
    assert!(line.contains(&format!("ca_file {}", wrong.display())), "names the trust source: {line}");
    assert!(fake.requests().is_empty());
}

#[test]
fn git_ssl_cainfo_is_trusted_without_ca_file() {
    let fake = fake();
    let mut helper = Helper::with(&fake, Cfg { ca_file: None, ..Cfg::new(&fake) });
    helper.env.set_ca(fake.ca_pem_path());
    served(&helper.get());
}

/// `SSL_CERT_DIR` alone (no file): the system store reads every certificate in the directory.
/// Checked on glibc and on the static musl build alike (`.ci/run` runs the suite on both).
#[test]
fn the_system_store_honours_ssl_cert_dir() {
    let fake = fake();
    let mut helper = Helper::with(&fake, Cfg { ca_file: None, ..Cfg::new(&fake) });
    let dir = helper.env.root().join("certs");
    fs::create_dir_all(&dir).expect("creating cert dir");
    fs::copy(fake.ca_pem_path(), dir.join("test-ca.pem")).expect("copying the CA");
    helper.env.set_env("SSL_CERT_DIR", &dir.display().to_string());
    served(&helper.get());
    assert_eq!(fake.mint_count(), 1);
}

/// The API host as a name the resolver finds in `/etc/hosts` (`localhost`, which the fake's
/// certificate names): name resolution works in the static musl build too.
#[test]
fn an_api_host_named_in_etc_hosts_is_resolved() {
    let fake = fake();
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    assert!(
        hosts.lines().any(|l| l.split_whitespace().next() == Some("127.0.0.1")
            && l.split_whitespace().any(|w| w == "localhost")),
        "/etc/hosts should map localhost to 127.0.0.1"
    );
    let api_url = format!("api_url = \"https://localhost:{}/api/v3\"\n", fake.port());
    let helper = Helper::with(&fake, Cfg { extra: api_url, ..Cfg::new(&fake) });
    served(&helper.get());
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn git_config_http_sslcainfo_for_the_api_url_is_trusted_when_nothing_else_is_set() {
    let fake = fake();
    let helper = Helper::with(&fake, Cfg { ca_file: None, ..Cfg::new(&fake) });
    // URL-scoped, as `git config --get-urlmatch http <api_url>` must find it.
    let key = format!("http.{}/.sslCAInfo", fake.base_url());
    helper.env.git_config_global(&key, &fake.ca_pem_path().display().to_string());
    served(&helper.get());
    assert_eq!(fake.mint_count(), 1);
}

// ---- errors users can act on ----

#[test]
fn an_unknown_app_id_is_reported_as_a_wrong_app_id() {
    let fake = fake();
    let helper = Helper::with(&fake, Cfg { app_id: 9999, ..Cfg::new(&fake) });
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("401"), "{line}");
    assert!(line.contains("Integration not found"), "GitHub's message: {line}");
    assert!(line.contains("app_id"), "{line}");
    assert_eq!(fake.jwt_claims().len(), 1, "a clock problem is not assumed");
}

#[test]
fn another_apps_key_is_reported_as_not_belonging_to_the_app() {
    let fake = fake();
    let helper = Helper::with(&fake, Cfg { key: "other-key-pkcs1.pem", ..Cfg::new(&fake) });
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("401"), "{line}");
    assert!(contains_ci(&line, "private key") && line.contains("belong"), "{line}");
    assert_eq!(fake.jwt_claims().len(), 1, "not retried as clock skew");
}

#[test]
fn a_wrong_installation_id_is_reported_with_its_404() {
    let fake = fake();
    let helper = Helper::with(&fake, Cfg { installation_id: INSTALLATION_ID + 1, ..Cfg::new(&fake) });
    let line = helper.mint_error(&helper.get());
    assert!(line.contains("404"), "{line}");
    assert!(line.contains("installation_id"), "{line}");
    assert!(line.contains("Not Found"), "GitHub's message: {line}");
}

#[test]
fn a_repository_scoped_mint_of_a_repository_not_granted_is_reported_with_its_422() {
    let fake = fake();
    fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, Some(vec!["web".into(), "docs".into()]));
    let helper =
        Helper::with(&fake, Cfg { extra: "token_scope = \"repository\"\n".into(), ..Cfg::new(&fake) });
    let line = helper.mint_error(&helper.get_repo(OWNER, "secret-plans"));
    assert!(line.contains("422"), "{line}");
    assert!(line.contains("granted"), "{line}");
    assert!(line.contains("not accessible to the parent installation"), "GitHub's message: {line}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body_json()["repositories"], json!(["secret-plans"]));
    assert_eq!(fake.mint_count(), 0);
}
