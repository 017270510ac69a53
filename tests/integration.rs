//! Integration tests: the helper against a fake GitHub over TLS, driven by real git.
//!
//! The first tests check the test support itself (the fake server and the git environment).

mod cases;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;
use support::client::{self, ApiResponse};
use support::{
    FakeGitHub, Fault, GitAuth, IssuedToken, Options, RunOutput, TestEnv, fixture_string, run,
    run_with_stdin, set_mode,
};
use support::{toml_path as qp, toml_string as q};

const APP_ID: u64 = 4242;
const CLIENT_ID: &str = "Iv23liTestClient";
const INSTALLATION_ID: u64 = 777;
const OWNER: &str = "acme";

/// A fake with one app (the fixture key) installed on all of `acme`'s repositories.
fn fake_with_app() -> FakeGitHub {
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, CLIENT_ID, "test-app", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, None);
    fake
}

fn app_key() -> String {
    fixture_string("app-key-pkcs1.pem")
}

fn mint(fake: &FakeGitHub, body: Option<&serde_json::Value>) -> ApiResponse {
    let jwt = client::app_jwt(&app_key(), APP_ID, support::unix_now());
    client::call_with_jwt(
        &client::agent(fake),
        fake,
        "POST",
        &format!("/app/installations/{INSTALLATION_ID}/access_tokens"),
        &jwt,
        body,
    )
}

fn minted_token(fake: &FakeGitHub) -> String {
    let resp = mint(fake, None);
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.json()["token"].as_str().expect("token").to_string()
}

/// A TestEnv trusting the fake, with a credential helper that answers `$TOKEN` (passed
/// through the environment, never argv).
fn env_with_token(fake: &FakeGitHub, token: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_ca(fake.ca_pem_path());
    env.set_env("TOKEN", token);
    env.git_config_global(
        "credential.helper",
        "!f() { test \"$1\" = get || exit 0; echo username=x-access-token; echo password=$TOKEN; }; f",
    );
    env
}

#[test]
fn fake_github_mints_a_token_for_a_correctly_signed_jwt() {
    let fake = fake_with_app();
    let resp = mint(&fake, None);
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.header("content-type"), Some("application/json; charset=utf-8"));
    assert!(resp.header("date").is_some_and(|d| d.ends_with(" GMT")));
    let body = resp.json();
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("ghs_") && token.len() == 40, "{token}");
    let expires_at = body["expires_at"].as_str().unwrap();
    assert_eq!(expires_at.len(), 20, "{expires_at}");
    assert!(expires_at.ends_with('Z'));
    assert_eq!(body["permissions"], json!({"contents": "write", "metadata": "read"}));
    assert_eq!(body["repository_selection"], "all");
    assert!(body.get("repositories").is_none());
    assert_eq!(fake.mint_count(), 1);
    let issued = fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].token, token);
    assert_eq!(issued[0].installation_id, INSTALLATION_ID);
    assert_eq!(support::iso8601(issued[0].expires_at), expires_at);
    let claims = fake.jwt_claims();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["iss"], APP_ID);
    assert_eq!(fake.count("POST", "/app/installations/"), 1);
}

#[test]
fn fake_github_accepts_the_client_id_and_a_pkcs8_key() {
    let fake = fake_with_app();
    let key = fixture_string("app-key-pkcs8.pem");
    let agent = client::agent(&fake);
    for iss in [json!(CLIENT_ID), json!(APP_ID.to_string())] {
        let jwt = client::app_jwt(&key, iss.clone(), support::unix_now());
        let resp = client::call_with_jwt(&agent, &fake, "GET", "/app", &jwt, None);
        assert_eq!(resp.status, 200, "iss {iss}: {}", resp.body);
        assert_eq!(resp.json()["slug"], "test-app");
        assert_eq!(resp.json()["client_id"], CLIENT_ID);
    }
}

#[test]
fn fake_github_rejects_a_jwt_signed_by_another_key() {
    let fake = fake_with_app();
    let jwt = client::app_jwt(&fixture_string("other-key-pkcs1.pem"), APP_ID, support::unix_now());
    let path = format!("/app/installations/{INSTALLATION_ID}/access_tokens");
    let resp = client::call_with_jwt(&client::agent(&fake), &fake, "POST", &path, &jwt, None);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.message(), "A JSON web token could not be decoded");
    assert_eq!(resp.json()["documentation_url"], "https://docs.github.com/rest");
    assert_eq!(fake.mint_count(), 0);
}

#[test]
fn fake_github_rejects_an_unknown_issuer() {
    let fake = fake_with_app();
    let jwt = client::app_jwt(&app_key(), "Iv23liSomebodyElse", support::unix_now());
    let resp = client::call_with_jwt(&client::agent(&fake), &fake, "GET", "/app", &jwt, None);
    assert_eq!((resp.status, resp.message().as_str()), (401, "Integration not found"));
}

#[test]
fn fake_github_rejects_a_jwt_issued_in_the_future() {
    let fake = fake_with_app();
    // Server clock five minutes behind: our iat (real now - 60) is in its future.
    fake.set_clock_offset(-300);
    let real_now = support::unix_now();
    let jwt = client::app_jwt(&app_key(), APP_ID, real_now);
    let resp = client::call_with_jwt(&client::agent(&fake), &fake, "GET", "/app", &jwt, None);
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.message(),
        "'Issued at' claim ('iat') must be an Integer representing a time in the past"
    );
    // The Date header follows the server clock, so a client can measure the skew.
    let date = resp.header("date").unwrap();
    let after = support::unix_now();
    let expected: Vec<String> = (real_now..=after).map(|t| support::http_date(t - 300)).collect();
    assert!(expected.iter().any(|e| e == date), "{date} vs {expected:?}");
    assert_eq!(fake.jwt_claims().len(), 1, "rejected JWTs are recorded too");
}

#[test]
fn fake_github_rejects_expired_and_too_long_jwts() {
    let fake = fake_with_app();
    let agent = client::agent(&fake);
    let now = support::unix_now();
    let cases = [
        (
            json!({"iat": now - 700, "exp": now - 10, "iss": APP_ID}),
            "'Expiration time' claim ('exp') must be a numeric value representing the future time",
        ),
        (
            json!({"iat": now - 60, "exp": now + 900, "iss": APP_ID}),
            "'Expiration time' claim ('exp') is too far in the future",
        ),
    ];
    for (claims, message) in cases {
        let jwt = client::sign_jwt(&app_key(), &claims);
        let resp = client::call_with_jwt(&agent, &fake, "GET", "/app", &jwt, None);
        assert_eq!((resp.status, resp.message().as_str()), (401, message));
    }
}

#[test]
fn fake_github_narrows_tokens_and_refuses_what_was_not_granted() {
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, CLIENT_ID, "test-app", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, Some(vec!["web".into(), "api".into()]));
    let resp = mint(&fake, Some(&json!({"repositories": ["web"], "permissions": {"contents": "read"}})));
    assert_eq!(resp.status, 201, "{}", resp.body);
    let body = resp.json();
    assert_eq!(body["repository_selection"], "selected");
    assert_eq!(body["repositories"][0]["full_name"], "acme/web");
    assert_eq!(body["permissions"], json!({"contents": "read"}));
    assert_eq!(fake.issued_tokens()[0].repositories, Some(vec!["web".to_string()]));

    let resp = mint(&fake, Some(&json!({"repositories": ["secret"]})));
    assert_eq!(resp.status, 422);
    let resp = mint(&fake, Some(&json!({"permissions": {"administration": "write"}})));
    assert_eq!(
        (resp.status, resp.message().as_str()),
        (422, "The permissions requested are not granted to this installation.")
    );
    let resp = mint(&fake, Some(&json!({"permissions": {"contents": "owner"}})));
    assert_eq!(resp.status, 422);
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn fake_github_answers_404_for_another_apps_installation() {
    let fake = fake_with_app();
    fake.add_app(1, "Iv23liOther", "other-app", &fixture_string("other-key.pub.pem"));
    fake.add_installation(555, 1, "other-org", None);
    let jwt = client::app_jwt(&app_key(), APP_ID, support::unix_now());
    let resp = client::call_with_jwt(
        &client::agent(&fake),
        &fake,
        "POST",
        "/app/installations/555/access_tokens",
        &jwt,
        None,
    );
    assert_eq!((resp.status, resp.message().as_str()), (404, "Not Found"));
}

#[test]
fn fake_github_finds_installations_and_paginates_them() {
    let fake = fake_with_app();
    fake.add_installation(778, APP_ID, "Widgets", Some(vec!["gizmo".into()]));
    fake.add_installation(779, APP_ID, "third", None);
    let agent = client::agent(&fake);
    let jwt = client::app_jwt(&app_key(), APP_ID, support::unix_now());
    let get = |path: &str| client::call_with_jwt(&agent, &fake, "GET", path, &jwt, None);

    let resp = get("/repos/ACME/anything/installation");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["id"], INSTALLATION_ID);
    assert_eq!(resp.json()["account"]["login"], OWNER);
    assert_eq!(get("/repos/widgets/gizmo/installation").json()["id"], 778);
    assert_eq!(get("/repos/widgets/other/installation").status, 404);
    assert_eq!(get("/orgs/widgets/installation").json()["id"], 778);
    assert_eq!(get("/users/third/installation").json()["id"], 779);
    assert_eq!(get("/users/nobody/installation").status, 404);

    let page1 = get("/app/installations?per_page=2");
    assert_eq!(page1.json().as_array().unwrap().len(), 2);
    let link = page1.header("link").unwrap();
    let next = format!("{}/app/installations?per_page=2&page=2>; rel=\"next\"", fake.api_url());
    assert!(link.contains(&next), "{link}");
    let page2 = get("/app/installations?per_page=2&page=2");
    assert_eq!(page2.json()[0]["id"], 779);
    assert!(!page2.header("link").unwrap_or("").contains("rel=\"next\""));
}

#[test]
fn fake_github_revokes_a_token_on_delete() {
    let fake = fake_with_app();
    let token = minted_token(&fake);
    let agent = client::agent(&fake);
    let auth = format!("token {token}");
    let resp = client::call(&agent, &fake, "DELETE", "/installation/token", Some(&auth), None).unwrap();
    assert_eq!(resp.status, 204);
    assert!(fake.issued_tokens()[0].revoked);
    let again = client::call(&agent, &fake, "DELETE", "/installation/token", Some(&auth), None).unwrap();
    assert_eq!(again.status, 401);
}

#[test]
fn fake_github_mints_long_tokens_and_short_lifetimes_on_request() {
    let fake = fake_with_app();
    fake.set_long_tokens(true);
    fake.set_token_lifetime(90);
    let resp = mint(&fake, None);
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 520);
    assert!(token.starts_with(&format!("ghs_{APP_ID}_")));
    let issued = &fake.issued_tokens()[0];
    let lifetime = issued.expires_at - fake.now();
    assert!((85..=90).contains(&lifetime), "{lifetime}");
}

#[test]
fn fake_github_applies_queued_faults_once_in_order() {
    let fake = fake_with_app();
    fake.push_fault(
        "POST",
        "/app/installations/",
        Fault::json_error_with_headers(429, "slow down", &[("retry-after", "7")]),
    );
    fake.push_fault("POST", "/app/installations/", Fault::CloseConnection);
    fake.push_fault("*", "/app/installations/", Fault::Delay(Duration::from_millis(10)));

    let resp = mint(&fake, None);
    assert_eq!((resp.status, resp.message().as_str()), (429, "slow down"));
    assert_eq!(resp.header("retry-after"), Some("7"));

    let jwt = client::app_jwt(&app_key(), APP_ID, support::unix_now());
    let path = format!("/app/installations/{INSTALLATION_ID}/access_tokens");
    let auth = format!("Bearer {jwt}");
    let closed = client::call(&client::agent(&fake), &fake, "POST", &path, Some(&auth), None);
    assert!(closed.is_err(), "{closed:?}");

    assert_eq!(mint(&fake, None).status, 201);
    assert_eq!(mint(&fake, None).status, 201);
    assert_eq!(fake.pending_faults(), 0);
    let faults: Vec<_> = fake.requests().iter().map(|r| r.fault).collect();
    assert_eq!(faults, [Some("status"), Some("close"), Some("delay"), None]);
    assert_eq!(fake.mint_count(), 2);
}

#[test]
fn fake_github_hang_fault_holds_the_request_until_the_server_is_dropped() {
    let fake = fake_with_app();
    fake.push_fault("GET", "/app", Fault::Hang);
    let agent = client::agent(&fake);
    let jwt = client::app_jwt(&app_key(), APP_ID, support::unix_now());
    let auth = format!("Bearer {jwt}");
    let url = format!("{}/app", fake.api_url());
    let caller = std::thread::spawn(move || agent.get(&url).header("Authorization", &auth).call());
    assert!(fake.wait_for_count("GET", "/app", 1, Duration::from_secs(30)));
    assert_eq!(fake.requests()[0].status, None, "a hung request gets no answer");
    // Dropping the server must release the hung connection, failing the call.
    drop(fake);
    let result = caller.join().unwrap();
    assert!(result.is_err(), "{result:?}");
}

#[test]
fn git_clone_through_the_fake_succeeds_with_an_issued_token() {
    let fake = fake_with_app();
    fake.create_repo(OWNER, "web");
    let token = minted_token(&fake);
    let env = env_with_token(&fake, &token);

    let out = run(env.git(["clone", &fake.repo_url(OWNER, "web"), "web"]));
    out.assert_success();
    let head = run(env.git(["-C", "web", "rev-parse", "HEAD"]));
    assert_eq!(head.assert_success().stdout.trim(), fake.repo_head(OWNER, "web"));
    assert!(env.work().join("web/README.md").exists());
    assert_eq!(fake.git_auth_failures(), 0);
    assert!(fake.git_authorized() >= 2, "{:?}", fake.requests());
    // git asks anonymously first and is challenged.
    assert_eq!(fake.git_auth_challenges(), 1);
    let git = fake.requests().into_iter().find(|r| r.git_auth.is_some()).unwrap();
    assert_eq!(git.status, Some(401));
}

#[test]
fn git_push_through_the_fake_updates_the_bare_repository() {
    let fake = fake_with_app();
    fake.create_repo(OWNER, "web");
    let before = fake.repo_head(OWNER, "web");
    let token = minted_token(&fake);
    let env = env_with_token(&fake, &token);
    run(env.git(["clone", &fake.repo_url(OWNER, "web"), "web"])).assert_success();

    // 3 MB of incompressible bytes: larger than http.postBuffer, so git sends the pack chunked.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<u8> = (0..3 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(env.work().join("web/blob.bin"), data).unwrap();
    run(env.git(["-C", "web", "add", "blob.bin"])).assert_success();
    run(env.git(["-C", "web", "commit", "-q", "-m", "add blob"])).assert_success();
    run(env.git(["-C", "web", "push", "origin", "main"])).assert_success();

    let local = run(env.git(["-C", "web", "rev-parse", "HEAD"]));
    let after = fake.repo_head(OWNER, "web");
    assert_ne!(after, before);
    assert_eq!(after, local.stdout.trim());
    assert!(
        fake.requests().iter().any(|r| r.header("transfer-encoding") == Some("chunked")),
        "expected a chunked upload"
    );
}

#[test]
fn git_clone_without_credentials_fails_with_401() {
    let fake = fake_with_app();
    fake.create_repo(OWNER, "web");
    let mut env = TestEnv::new();
    env.set_ca(fake.ca_pem_path());
    let out = run(env.git(["clone", &fake.repo_url(OWNER, "web"), "web"]));
    out.assert_failure();
    assert!(out.stderr.contains("could not read Username") || out.stderr.contains("401"), "{out}");
    assert_eq!(fake.git_auth_challenges(), 1);
    assert_eq!(fake.git_authorized(), 0);
}

#[test]
fn git_is_refused_a_revoked_token_or_another_owners_repository() {
    let fake = fake_with_app();
    fake.create_repo(OWNER, "web");
    fake.create_repo("elsewhere", "web");
    let token = minted_token(&fake);
    let env = env_with_token(&fake, &token);

    let out = run(env.git(["ls-remote", &fake.repo_url("elsewhere", "web")]));
    out.assert_failure();
    assert_eq!(fake.git_auth_failures(), 1, "{out}");

    fake.revoke_token(&token);
    run(env.git(["ls-remote", &fake.repo_url(OWNER, "web")])).assert_failure();
    let reasons: Vec<GitAuth> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.git_auth)
        .filter(|a| matches!(a, GitAuth::Rejected(_)))
        .collect();
    assert_eq!(
        reasons,
        [GitAuth::Rejected("token is for another owner".into()), GitAuth::Rejected("revoked token".into())]
    );
}

#[test]
fn git_env_is_hermetic() {
    let env = TestEnv::new();
    let out = run(&mut env.git(["config", "--list", "--show-origin"]));
    assert_eq!(out.assert_success().stdout, "");
    let mut env_cmd = std::process::Command::new("env");
    env.apply(&mut env_cmd);
    let vars = run(&mut env_cmd).stdout;
    for unwanted in ["SSL_CERT_FILE=", "SSL_CERT_DIR=", "CURL_CA_BUNDLE=", "GIT_SSL_CAINFO="] {
        assert!(!vars.lines().any(|l| l.starts_with(unwanted)), "{unwanted} leaked");
    }
    assert!(support::git_env::helper_path().exists());
}

#[test]
fn run_kills_a_command_that_outlives_its_timeout() {
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    let out = support::git_env::run_with_timeout(&mut cmd, None, Duration::from_millis(200));
    assert!(out.timed_out);
    assert!(!out.success());
}

#[test]
fn git_fetch_with_a_gzipped_request_body_works() {
    let fake = fake_with_app();
    fake.create_repo(OWNER, "web");
    let token = minted_token(&fake);
    let env = env_with_token(&fake, &token);
    let url = fake.repo_url(OWNER, "web");
    run(env.git(["clone", &url, "a"])).assert_success();
    run(env.git(["clone", &url, "b"])).assert_success();

    // 100 local commits in `a` make git list many `have`s, so it gzips the negotiation request.
    let mut stream = String::from("reset refs/heads/local\nfrom refs/heads/main\n");
    for i in 0..100 {
        let msg = format!("local {i}");
        stream.push_str(&format!(
            "commit refs/heads/local\ncommitter T <t@example.invalid> {} +0000\ndata {}\n{msg}\n",
            1_700_000_000 + i,
            msg.len()
        ));
    }
    support::run_with_stdin(env.git(["-C", "a", "fast-import", "--quiet"]), stream.as_bytes())
        .assert_success();
    run(env.git(["-C", "b", "commit", "-q", "--allow-empty", "-m", "remote"])).assert_success();
    run(env.git(["-C", "b", "push", "-q", "origin", "main"])).assert_success();

    run(env.git(["-C", "a", "fetch", "-q", "origin"])).assert_success();
    let fetched = run(env.git(["-C", "a", "rev-parse", "origin/main"]));
    assert_eq!(fetched.stdout.trim(), fake.repo_head(OWNER, "web"));
    assert!(
        fake.requests().iter().any(|r| r.header("content-encoding") == Some("gzip")),
        "expected a gzipped request"
    );
}

#[test]
fn support_formats_dates_and_base64_like_http_and_github() {
    assert_eq!(support::http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(support::http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(support::iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(support::iso8601(0), "1970-01-01T00:00:00Z");
    for input in ["", "a", "ab", "abc", "x-access-token:ghs_abc"] {
        let encoded = support::base64_encode(input.as_bytes());
        assert_eq!(support::base64_decode(&encoded).unwrap(), input.as_bytes());
    }
    assert_eq!(support::base64_encode(b"ab"), "YWI=");
}

// ---------------------------------------------------------------------------------------------
// The helper, driven directly (as git runs it) and through real git, against the fake GitHub.
// ---------------------------------------------------------------------------------------------

/// A second app, used where two apps serve the same host.
const OTHER_APP_ID: u64 = 5151;
const OTHER_CLIENT_ID: &str = "Iv23liOtherClient";
const OTHER_INSTALLATION_ID: u64 = 888;
/// Every error line starts with this.
const PREFIX: &str = "git-credential-github-app: ";

/// One test's world: a fake GitHub with the test app installed on `acme`, a hermetic env that
/// trusts the fake, and the app's PKCS#1 key copied into the env with mode 0600.
struct Setup {
    fake: FakeGitHub,
    env: TestEnv,
    key: PathBuf,
}

fn setup() -> Setup {
    let fake = fake_with_app();
    let mut env = TestEnv::new();
    env.set_ca(fake.ca_pem_path());
    let key = env.copy_key("app-key-pkcs1.pem");
    Setup { fake, env, key }
}

/// git's `get` request for an https URL on `host`; `path` only as with `useHttpPath`.
fn request(host: &str, path: Option<&str>) -> String {
    let mut r = format!("protocol=https\nhost={host}\n");
    if let Some(path) = path {
        r.push_str(&format!("path={path}\n"));
    }
    r
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

impl Setup {
    /// An `[[app]]` table for the fake's host (no `api_url`: the default must find the fake's
    /// `/api/v3`), trusting the fake's CA. `id_and_key` gives `app_id` and the key source.
    fn app_table(&self, id_and_key: &str, extra: &str) -> String {
        format!("[[app]]\n{id_and_key}\nhost = {}\n{}", q(&self.fake.host()), self.app_rest(extra))
    }

    /// The lines after `host`: the fake's CA, then `extra`.
    fn app_rest(&self, extra: &str) -> String {
        format!("ca_file = {}\n{extra}\n", qp(self.fake.ca_pem_path()))
    }

    /// `app_id` and `private_key_path` of the test app.
    fn id_and_key(&self) -> String {
        format!("app_id = {APP_ID}\nprivate_key_path = {}", qp(&self.key))
    }

    /// The test app with its PKCS#1 key file, plus `extra` lines.
    fn app(&self, extra: &str) -> String {
        self.app_table(&self.id_and_key(), extra)
    }

    /// Registers a second app (another key) on the fake, installed on `acme` as
    /// `OTHER_INSTALLATION_ID`, and returns an `[[app]]` table for it plus `extra` lines.
    fn other_app(&self, extra: &str) -> String {
        self.fake.add_app(OTHER_APP_ID, OTHER_CLIENT_ID, "other-app", &fixture_string("other-key.pub.pem"));
        self.fake.add_installation(OTHER_INSTALLATION_ID, OTHER_APP_ID, OWNER, None);
        let key = self.env.copy_key("other-key-pkcs1.pem");
        self.app_table(&format!("app_id = {OTHER_APP_ID}\nprivate_key_path = {}", qp(&key)), extra)
    }

    fn config(&self, toml: &str) -> PathBuf {
        self.env.write_config(toml)
    }

    /// Runs the helper with `--config cfg OP`, feeding `input`.
    fn helper(&self, cfg: &Path, op: &str, input: &[u8]) -> RunOutput {
        let mut cmd = self.env.helper(["--config"]);
        cmd.arg(cfg).arg(op);
        run_with_stdin(cmd, input)
    }

    /// `get` for `https://HOST/PATH` with `useHttpPath`.
    fn get(&self, cfg: &Path, path: &str) -> RunOutput {
        self.helper(cfg, "get", request(&self.fake.host(), Some(path)).as_bytes())
    }

    /// The default cache dir (`$XDG_CACHE_HOME/git-credential-github-app`).
    fn cache_dir(&self) -> PathBuf {
        self.env.xdg_cache().join("git-credential-github-app")
    }

    /// Files in the cache dir whose names start with `prefix` and end with `.json`.
    fn cache_files(&self, prefix: &str) -> Vec<PathBuf> {
        let Ok(dir) = fs::read_dir(self.cache_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir
            .map(|e| e.expect("reading cache dir").path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with(prefix) && name.ends_with(".json")
            })
            .collect();
        files.sort();
        files
    }

    /// Makes real git use the helper with this config, for every https URL.
    fn use_helper_in_git(&self, cfg: &Path) {
        let helper = support::git_env::helper_path();
        let value = format!("{} --config {}", helper.display(), cfg.display());
        self.env.git_config_global("credential.helper", &value);
        self.env.git_config_global("credential.useHttpPath", "true");
    }

    /// Same, scoped to the fake's URL (`credential.https://HOST.*`).
    fn use_helper_in_git_for_host(&self, cfg: &Path) {
        let helper = support::git_env::helper_path();
        let value = format!("{} --config {}", helper.display(), cfg.display());
        let scope = format!("credential.{}", self.fake.base_url());
        self.env.git_config_global(&format!("{scope}.helper"), &value);
        self.env.git_config_global(&format!("{scope}.useHttpPath"), "true");
    }

    /// `GET .../installation` lookups the fake saw.
    fn lookups(&self) -> usize {
        self.fake.count("GET", "/repos/") + self.fake.count("GET", "/users/")
    }

    /// Bodies of the mint requests, in order, as JSON (`null` for an empty body).
    fn mint_bodies(&self) -> Vec<serde_json::Value> {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("/access_tokens"))
            .map(|r| r.body_json())
            .collect()
    }

    /// Panics if `text` holds a PEM, a JWT, a token the fake issued, or panic text.
    #[track_caller]
    fn assert_no_secrets(&self, text: &str) {
        self.fake.assert_no_secrets(text);
    }

    /// The helper answered with a credential: checks the exact three lines and that the token
    /// is one the fake issued with that expiry. Returns the token.
    #[track_caller]
    fn served(&self, out: &RunOutput) -> String {
        let (token, expiry) = support::parse_credential(out);
        self.assert_no_secrets(&out.stderr);
        let issued = self.issued(&token);
        assert_eq!(expiry, issued.expires_at, "{out}");
        token
    }

    /// The token the fake issued with this value.
    #[track_caller]
    fn issued(&self, token: &str) -> IssuedToken {
        self.fake
            .issued_tokens()
            .into_iter()
            .find(|t| t.token == token)
            .unwrap_or_else(|| panic!("the fake never issued the token the helper printed"))
    }

    /// The helper answered "not mine": exit 0, nothing on stdout or stderr.
    #[track_caller]
    fn not_served(&self, out: &RunOutput) {
        out.assert_success();
        assert_eq!(out.stdout, "", "{out}");
        assert_eq!(out.stderr, "", "{out}");
    }

    /// The helper failed as specified: exit 1, no stdout, exactly one stderr line starting
    /// with the program name, no secret. Returns the line.
    #[track_caller]
    fn failed(&self, out: &RunOutput) -> String {
        assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
        assert_eq!(out.stdout, "", "{out}");
        self.assert_no_secrets(&out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line:\n{out}");
        assert!(lines[0].starts_with(PREFIX), "{out}");
        assert!(out.stderr.ends_with('\n'), "{out}");
        lines[0].to_string()
    }
}

// ---- issue 2: the core helper ----

#[test]
fn a_served_get_prints_exactly_the_token_the_fake_issued_and_signs_the_jwt_like_github_asks() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let before = support::unix_now();
    let out = s.get(&cfg, "acme/web.git");
    let after = support::unix_now();

    let issued = s.fake.issued_tokens();
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

    let claims = s.fake.jwt_claims();
    assert_eq!(claims.len(), 1);
    let iat = claims[0]["iat"].as_i64().expect("iat is an integer");
    let exp = claims[0]["exp"].as_i64().expect("exp is an integer");
    assert!((before - 65..=after - 55).contains(&iat), "iat {iat}, now {before}..{after}");
    assert!(exp <= after + 540 + 5 && exp > after, "exp {exp}, now {before}..{after}");
    assert!(claims[0]["iss"].is_u64(), "iss must be a JSON number: {}", claims[0]["iss"]);
    assert_eq!(claims[0]["iss"], json!(APP_ID));

    // No api_url in the config: the default for a non-github.com host is https://HOST/api/v3.
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, format!("/api/v3/app/installations/{INSTALLATION_ID}/access_tokens"));
    assert!(requests[0].body.is_empty(), "an installation-wide token needs no body");
}

#[test]
fn a_client_id_as_app_id_is_sent_verbatim_as_the_jwt_issuer() {
    let s = setup();
    let id_and_key = format!("app_id = {}\nprivate_key_path = {}", q(CLIENT_ID), qp(&s.key));
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    s.served(&s.get(&cfg, "acme/web"));
    let claims = s.fake.jwt_claims();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["iss"], json!(CLIENT_ID));
    assert_eq!(s.fake.mint_count(), 1);
}

#[test]
fn a_pkcs8_key_works_as_well_as_a_pkcs1_key() {
    let s = setup();
    let pkcs8 = s.env.copy_key("app-key-pkcs8.pem");
    let id_and_key = format!("app_id = {APP_ID}\nprivate_key_path = {}", qp(&pkcs8));
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    let token = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.issued(&token).installation_id, INSTALLATION_ID);
    assert_eq!(s.fake.mint_count(), 1);
}

#[test]
fn a_second_get_is_served_from_the_cache_without_the_key_or_the_network() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let first = s.served(&s.get(&cfg, "acme/web.git"));
    // The cached get must not read the key: take it away.
    fs::remove_file(&s.key).unwrap();
    let second = s.get(&cfg, "acme/web.git");
    assert_eq!(s.served(&second), first);
    assert_eq!(second.stderr, "");
    // Another repository of the same installation shares the installation-wide token.
    assert_eq!(s.served(&s.get(&cfg, "acme/api")), first);
    assert_eq!(s.fake.mint_count(), 1);
    assert_eq!(s.fake.requests().len(), 1, "the cached gets made no request");
}

/// The cache format is the same across builds: an entry written by the binary cargo built
/// here is served by the binary under test (`GCGA_TEST_HELPER`, e.g. the aarch64 build under
/// qemu; with it unset, the same binary), without the key or the network.
#[test]
fn a_cache_written_by_the_cargo_built_binary_is_served_by_the_binary_under_test() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let writer = PathBuf::from(env!("CARGO_BIN_EXE_git-credential-github-app"));
    let mut cmd = std::process::Command::new(&writer);
    s.env.apply(&mut cmd);
    cmd.arg("--config").arg(&cfg).arg("get");
    let first = s.served(&run_with_stdin(cmd, request(&s.fake.host(), Some("acme/web.git")).as_bytes()));
    let mut writer_version = std::process::Command::new(&writer);
    s.env.apply(&mut writer_version);
    writer_version.arg("--version");
    let under_test = run(s.env.helper(["--version"]));
    assert_eq!(under_test.assert_success().stdout, run(writer_version).assert_success().stdout);
    fs::remove_file(&s.key).unwrap();
    let second = s.get(&cfg, "acme/web.git");
    assert_eq!(s.served(&second), first);
    assert_eq!(second.stderr, "");
    assert_eq!(s.fake.requests().len(), 1, "the cached get made no request");
}

#[test]
fn a_token_with_less_than_the_minimum_lifetime_left_is_never_reused() {
    let s = setup();
    s.fake.set_token_lifetime(300);
    let cfg = s.config(&format!(
        "min_token_lifetime_secs = 600\n{}",
        s.app(&format!("installation_id = {INSTALLATION_ID}"))
    ));
    let first = s.served(&s.get(&cfg, "acme/web"));
    let second = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.fake.mint_count(), 2);
    assert_ne!(first, second, "each get returns the freshly minted token");
    assert_eq!(s.fake.issued_tokens()[1].token, second);
}

#[test]
fn cache_files_are_private_and_a_corrupt_entry_is_a_miss_that_gets_replaced() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let first = s.served(&s.get(&cfg, "acme/web"));

    assert_eq!(mode_of(&s.cache_dir()), 0o700);
    let all: Vec<PathBuf> = fs::read_dir(s.cache_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!all.is_empty());
    for file in &all {
        assert_eq!(mode_of(file), 0o600, "{}", file.display());
    }
    let entries = s.cache_files("token-");
    assert_eq!(entries.len(), 1, "{all:?}");

    fs::write(&entries[0], b"\x00garbage{\"token\":").unwrap();
    let second = s.served(&s.get(&cfg, "acme/web"));
    assert_ne!(second, first);
    assert_eq!(s.fake.mint_count(), 2);
    assert_eq!(s.cache_files("token-"), entries, "the entry is replaced in place");
    let stored = fs::read_to_string(&entries[0]).unwrap();
    assert!(stored.contains(&second), "the new token is cached");
    assert_eq!(mode_of(&entries[0]), 0o600);
    // The replacement is a good entry: served without minting.
    assert_eq!(s.served(&s.get(&cfg, "acme/web")), second);
    assert_eq!(s.fake.mint_count(), 2);
}

#[test]
fn requests_that_are_not_mine_get_no_answer_and_no_api_call() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let host = s.fake.host();
    let cases: Vec<(&str, String)> = vec![
        ("get", format!("protocol=http\nhost={host}\npath=acme/web.git\n")),
        ("get", format!("protocol=cert\nhost=\npath={}\n", s.key.display())),
        ("get", "protocol=https\nhost=github.com\npath=acme/web.git\n".to_string()),
        ("get", "protocol=https\nhost=127.0.0.1:1\npath=acme/web.git\n".to_string()),
        ("get", "protocol=https\npath=acme/web.git\n".to_string()),
        ("get", format!("protocol=https\nhost={host}\npath=acme/web.git\nusername=alice\n")),
        ("get", format!("protocol=https\nhost={host}\npath=other/web.git\n")),
        ("get", format!("protocol=https\nhost={host}\npath=acme\n")),
        ("capabilities", format!("protocol=https\nhost={host}\npath=acme/web.git\n")),
        (
            "store",
            format!(
                "protocol=https\nhost={host}\npath=acme/web.git\nusername=x-access-token\npassword=ghs_x\n"
            ),
        ),
    ];
    for (op, input) in &cases {
        let out = s.helper(&cfg, op, input.as_bytes());
        s.not_served(&out);
    }
    assert_eq!(s.fake.requests().len(), 0, "{:?}", s.fake.requests());
    assert!(s.cache_files("token-").is_empty());
    // The same config does serve the repository it is for.
    s.served(&s.get(&cfg, "acme/web.git"));
}

#[test]
fn garbage_on_stdin_never_crashes_the_helper() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let host = s.fake.host();

    for input in [
        Vec::new(),
        b"\xff\xfe\x00\x80garbage without a newline".to_vec(),
        [format!("protocol=https\nhost={host}").as_bytes(), b"\xff\npath=acme/web\n"].concat(),
        b"=\n==\n\n\n".to_vec(),
    ] {
        let out = s.helper(&cfg, "get", &input);
        s.not_served(&out);
    }

    // A 2 MB wwwauth[] line and non-UTF-8 in a key the helper does not use: still served.
    let mut huge =
        format!("capability[]=authtype\ncapability[]=state\nprotocol=https\nhost={host}\n").into_bytes();
    huge.extend_from_slice(b"wwwauth[]=Basic realm=\"");
    huge.extend(std::iter::repeat_n(b'w', 2 << 20));
    huge.extend_from_slice(b"\"\nwwwauth[]=\xff\xfe\npath=acme/web.git\n");
    let token = s.served(&s.helper(&cfg, "get", &huge));

    // CRLF line ends, as some tools write them.
    let crlf = request(&host, Some("acme/web.git")).replace('\n', "\r\n");
    assert_eq!(s.served(&s.helper(&cfg, "get", crlf.as_bytes())), token);
    // Erase with the same garbage must not crash either.
    let out = s.helper(&cfg, "erase", &huge);
    out.assert_success();
    assert_eq!(out.stdout, "");
    s.assert_no_secrets(&out.stderr);
}

#[test]
fn a_path_less_request_with_two_apps_for_the_host_asks_for_use_http_path() {
    let s = setup();
    let cfg = s.config(&format!(
        "{}{}",
        s.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
        s.other_app(&format!("installation_id = {OTHER_INSTALLATION_ID}\nrepos = [\"acme/deploy\"]"))
    ));
    let out = s.helper(&cfg, "get", request(&s.fake.host(), None).as_bytes());
    out.assert_success();
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with(PREFIX) && lines[0].contains("useHttpPath"), "{out}");
    assert_eq!(lines[0].matches(PREFIX).count(), 1, "{out}");
    assert_eq!(s.fake.requests().len(), 0);
}

#[test]
fn a_path_less_request_is_served_when_one_app_with_an_installation_id_serves_the_host() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let token = s.served(&s.helper(&cfg, "get", request(&s.fake.host(), None).as_bytes()));
    assert_eq!(s.issued(&token).installation_id, INSTALLATION_ID);
}

#[test]
fn the_most_specific_pattern_wins_across_apps() {
    let s = setup();
    // The wildcard app comes first in the file; the exact pattern still wins for acme/deploy.
    let cfg = s.config(&format!(
        "{}{}",
        s.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
        s.other_app(&format!("installation_id = {OTHER_INSTALLATION_ID}\nrepos = [\"acme/deploy\"]"))
    ));
    let deploy = s.served(&s.get(&cfg, "acme/deploy.git"));
    let web = s.served(&s.get(&cfg, "acme/web.git"));
    assert_eq!(s.issued(&deploy).installation_id, OTHER_INSTALLATION_ID);
    assert_eq!(s.issued(&deploy).app_id, OTHER_APP_ID);
    assert_eq!(s.issued(&web).installation_id, INSTALLATION_ID);
    assert_eq!(s.issued(&web).app_id, APP_ID);
    assert_eq!(s.fake.mint_count(), 2);
}

#[test]
fn hosts_and_paths_are_normalised_before_matching() {
    let s = setup();
    // A host name (the fake's is an IP address, which has no case) routed to the fake's API.
    let cfg = s.config(&format!(
        "[[app]]\n{}\nhost = \"git.example.test\"\napi_url = {}\n{}",
        s.id_and_key(),
        q(&s.fake.api_url()),
        s.app_rest(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/web\"]"))
    ));
    let get = |host: &str, path: &str| s.helper(&cfg, "get", request(host, Some(path)).as_bytes());

    let token = s.served(&get("GIT.Example.TEST:443", "ACME/Web.git"));
    assert_eq!(s.served(&get("git.example.test", "/acme/WEB/")), token);
    s.not_served(&get("git.example.test:8443", "acme/web"));
    s.not_served(&get("git.example.test", "acme/web-other"));
    assert_eq!(s.fake.mint_count(), 1);

    // The fake's own host with a mixed-case repository path.
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/web\"]")));
    assert_eq!(s.served(&s.get(&cfg, "Acme/Web.git")), token, "same api_url, app and installation");
}

#[test]
fn a_config_with_an_unknown_key_is_an_error_naming_the_key_and_the_file() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}\ncolour = \"blue\"")));
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("colour"), "{line}");
    assert!(line.contains(cfg.to_str().unwrap()), "{line}");

    let cfg = s.config(&format!("cache_directory = \"/tmp\"\n{}", s.app("installation_id = 1")));
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("cache_directory") && line.contains(cfg.to_str().unwrap()), "{line}");
    assert_eq!(s.fake.requests().len(), 0);
}

#[test]
fn a_key_file_readable_by_others_is_refused_with_a_chmod_hint() {
    let s = setup();
    set_mode(&s.key, 0o644);
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("chmod"), "{line}");
    assert!(line.contains(s.key.to_str().unwrap()), "{line}");
    assert_eq!(s.fake.requests().len(), 0, "nothing is sent without a usable key");
}

#[test]
fn an_unknown_installation_is_an_error_naming_the_endpoint_and_githubs_message() {
    let s = setup();
    let cfg = s.config(&s.app("installation_id = 999"));
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("/app/installations/999/access_tokens"), "{line}");
    assert!(line.contains("404") && line.contains("Not Found"), "{line}");
    assert_eq!(s.fake.mint_count(), 0);
    assert!(s.cache_files("token-").is_empty());
}

#[test]
fn a_jwt_signed_with_the_wrong_key_is_reported_with_githubs_401_message() {
    let s = setup();
    let wrong = s.env.copy_key("other-key-pkcs1.pem");
    let id_and_key = format!("app_id = {APP_ID}\nprivate_key_path = {}", qp(&wrong));
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("401") && line.contains("A JSON web token could not be decoded"), "{line}");
    assert!(line.contains(&format!("/app/installations/{INSTALLATION_ID}/access_tokens")), "{line}");
    assert_eq!(s.fake.count("POST", "/app/installations/"), 1);
    assert_eq!(s.fake.mint_count(), 0);
}

#[test]
fn a_missing_default_config_file_serves_nothing_silently() {
    let s = setup();
    let out = run_with_stdin(s.env.helper(["get"]), request(&s.fake.host(), Some("acme/web")).as_bytes());
    s.not_served(&out);
    assert_eq!(s.fake.requests().len(), 0);
}

#[test]
fn a_missing_config_file_named_with_the_flag_is_an_error() {
    let s = setup();
    let missing = s.env.root().join("no-such-config.toml");
    let line = s.failed(&s.get(&missing, "acme/web"));
    assert!(line.contains(missing.to_str().unwrap()), "{line}");
}

#[test]
fn the_config_is_found_through_the_environment_variable_or_at_the_xdg_default() {
    let mut s = setup();
    let toml = s.app(&format!("installation_id = {INSTALLATION_ID}"));
    let input = request(&s.fake.host(), Some("acme/web"));

    let default = s.env.xdg_config().join("git-credential-github-app").join("config.toml");
    support::write_file(&default, &toml, 0o600);
    let token = s.served(&run_with_stdin(s.env.helper(["get"]), input.as_bytes()));

    // The variable wins over the default file; a missing named file is an error.
    let named = s.env.root().join("named.toml");
    s.env.set_env("GIT_CREDENTIAL_GITHUB_APP_CONFIG", named.to_str().unwrap());
    let line = s.failed(&run_with_stdin(s.env.helper(["get"]), input.as_bytes()));
    assert!(line.contains(named.to_str().unwrap()), "{line}");
    support::write_file(&named, &toml, 0o600);
    assert_eq!(s.served(&run_with_stdin(s.env.helper(["get"]), input.as_bytes())), token);
    assert_eq!(s.fake.mint_count(), 1);
}

#[test]
fn erase_with_the_cached_token_deletes_it_and_erase_with_another_password_deletes_nothing() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let first = s.served(&s.get(&cfg, "acme/web.git"));
    let erase = |password: &str| {
        let input = format!(
            "{}username=x-access-token\npassword={password}\n",
            request(&s.fake.host(), Some("acme/web.git"))
        );
        let out = s.helper(&cfg, "erase", input.as_bytes());
        out.assert_success();
        assert_eq!(out.stdout, "", "{out}");
        s.assert_no_secrets(&out.stderr);
    };

    erase("ghs_someOtherPasswordEntirely000000000");
    assert_eq!(s.served(&s.get(&cfg, "acme/web.git")), first);
    assert_eq!(s.fake.mint_count(), 1);

    erase(&first);
    assert!(s.cache_files("token-").is_empty());
    let second = s.served(&s.get(&cfg, "acme/web.git"));
    assert_ne!(second, first);
    assert_eq!(s.fake.mint_count(), 2);
}

#[test]
fn git_clone_fetch_push_and_ls_remote_through_the_helper_mint_once() {
    let s = setup();
    s.fake.create_repo(OWNER, "web");
    let before = s.fake.repo_head(OWNER, "web");
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    s.use_helper_in_git(&cfg);

    run(s.env.git(["clone", &s.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    run(s.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    fs::write(s.env.work().join("web/CHANGE.md"), "changed through the helper\n").unwrap();
    run(s.env.git(["-C", "web", "add", "CHANGE.md"])).assert_success();
    run(s.env.git(["-C", "web", "commit", "-q", "-m", "change"])).assert_success();
    run(s.env.git(["-C", "web", "push", "origin", "main"])).assert_success();
    let local = run(s.env.git(["-C", "web", "rev-parse", "HEAD"]));
    let after = s.fake.repo_head(OWNER, "web");
    assert_ne!(after, before);
    assert_eq!(after, local.stdout.trim());
    let remote = run(s.env.git(["-C", "web", "ls-remote", "origin", "refs/heads/main"]));
    assert!(remote.assert_success().stdout.starts_with(&after), "{remote}");

    assert_eq!(s.fake.mint_count(), 1, "one mint for clone, fetch, push and ls-remote");
    assert_eq!(s.fake.git_auth_failures(), 0);
    assert!(s.fake.git_authorized() >= 4);
}

#[test]
fn thirty_two_parallel_cold_gets_mint_exactly_once() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    let input = request(&s.fake.host(), Some("acme/web.git"));
    let barrier = Arc::new(Barrier::new(32));
    let outputs: Vec<RunOutput> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let barrier = barrier.clone();
                let mut cmd = s.env.helper(["--config"]);
                cmd.arg(&cfg).arg("get");
                let input = input.as_bytes();
                scope.spawn(move || {
                    barrier.wait();
                    run_with_stdin(cmd, input)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("helper thread")).collect()
    });
    assert_eq!(s.fake.mint_count(), 1);
    let token = s.served(&outputs[0]);
    for out in &outputs {
        assert_eq!(s.served(out), token);
    }
    assert_eq!(s.fake.count("POST", "/app/installations/"), 1);
}

#[test]
fn a_revoked_token_is_erased_by_git_and_the_next_command_recovers() {
    let s = setup();
    s.fake.create_repo(OWNER, "web");
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}")));
    s.use_helper_in_git_for_host(&cfg);
    run(s.env.git(["clone", &s.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    assert_eq!(s.fake.mint_count(), 1);
    let revoked = s.fake.issued_tokens()[0].token.clone();

    s.fake.revoke_token(&revoked);
    let failed = run(s.env.git(["-C", "web", "fetch", "origin"]));
    failed.assert_failure();
    assert_eq!(s.fake.git_auth_failures(), 1, "{failed}");
    s.assert_no_secrets(&failed.stderr);
    // git sent `erase` with the rejected token: its cache entry is gone.
    assert!(s.cache_files("token-").is_empty(), "{:?}", s.cache_files("token-"));

    run(s.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    assert_eq!(s.fake.mint_count(), 2);
    let fresh = &s.fake.issued_tokens()[1];
    assert_ne!(fresh.token, revoked);
    assert_eq!(s.fake.git_auth_failures(), 1);
}

// ---- issue 3: discovery, key sources, scopes, hosts ----

#[test]
fn an_installation_is_discovered_once_and_remembered_for_the_owner() {
    let s = setup();
    // Tokens shorter-lived than the minimum: every get mints, so only memory can spare a lookup.
    s.fake.set_token_lifetime(300);
    let cfg = s.config(&format!("min_token_lifetime_secs = 600\n{}", s.app("repos = [\"acme/*\"]")));

    let web = s.served(&s.get(&cfg, "acme/web.git"));
    let lookups: Vec<String> =
        s.fake.requests().into_iter().filter(|r| r.method == "GET").map(|r| r.path).collect();
    assert_eq!(lookups, ["/api/v3/repos/acme/web/installation"]);
    assert_eq!(s.issued(&web).installation_id, INSTALLATION_ID);

    let other = s.served(&s.get(&cfg, "acme/other.git"));
    assert_eq!(s.fake.count("GET", "/repos/"), 1, "the owner's installation is remembered");
    assert_eq!(s.lookups(), 1);
    assert_eq!(s.issued(&other).installation_id, INSTALLATION_ID);
    assert_eq!(s.fake.mint_count(), 2);

    let memory = s.cache_files("installations-");
    assert_eq!(memory.len(), 1, "{:?}", fs::read_dir(s.cache_dir()).unwrap().collect::<Vec<_>>());
    assert_eq!(mode_of(&memory[0]), 0o600);
    assert!(!fs::read_to_string(&memory[0]).unwrap().contains("ghs_"), "memory holds no token");
}

#[test]
fn one_app_on_two_owners_gets_each_owners_installation_and_token() {
    let s = setup();
    s.fake.add_installation(778, APP_ID, "acme-labs", None);
    let cfg = s.config(&s.app("repos = [\"acme/*\", \"acme-labs/*\"]"));
    let acme = s.served(&s.get(&cfg, "acme/web"));
    let labs = s.served(&s.get(&cfg, "acme-labs/lib"));
    assert_ne!(acme, labs);
    assert_eq!(s.issued(&acme).installation_id, INSTALLATION_ID);
    assert_eq!(s.issued(&labs).installation_id, 778);
    assert_eq!(s.issued(&labs).owner, "acme-labs");
    // Each owner's token is cached on its own.
    assert_eq!(s.served(&s.get(&cfg, "acme/api")), acme);
    assert_eq!(s.served(&s.get(&cfg, "acme-labs/lib")), labs);
    assert_eq!(s.fake.mint_count(), 2);
    assert_eq!(s.lookups(), 2);
    assert_eq!(s.cache_files("token-").len(), 2);
}

#[test]
fn a_clone_with_a_submodule_under_another_owner_works_with_one_helper_entry() {
    let s = setup();
    s.fake.add_installation(778, APP_ID, "acme-labs", None);
    s.fake.create_repo(OWNER, "super");
    s.fake.create_repo("acme-labs", "lib");
    let cfg = s.config(&s.app("repos = [\"acme/*\", \"acme-labs/*\"]"));
    s.use_helper_in_git_for_host(&cfg);

    // Build the superproject: clone it, add the submodule by its https URL, push.
    let lib_url = s.fake.repo_url("acme-labs", "lib");
    run(s.env.git(["clone", &s.fake.repo_url(OWNER, "super"), "build"])).assert_success();
    run(s.env.git(["-C", "build", "submodule", "add", &lib_url, "lib"])).assert_success();
    run(s.env.git(["-C", "build", "commit", "-q", "-m", "add lib"])).assert_success();
    run(s.env.git(["-C", "build", "push", "origin", "main"])).assert_success();

    let out = run(s.env.git(["clone", "--recurse-submodules", &s.fake.repo_url(OWNER, "super"), "fresh"]));
    out.assert_success();
    assert!(s.env.work().join("fresh/lib/README.md").exists(), "{out}");
    let lib_head = run(s.env.git(["-C", "fresh/lib", "rev-parse", "HEAD"]));
    assert_eq!(lib_head.stdout.trim(), s.fake.repo_head("acme-labs", "lib"));

    let mut owners: Vec<String> = s.fake.issued_tokens().into_iter().map(|t| t.owner).collect();
    owners.sort();
    assert_eq!(owners, ["acme", "acme-labs"], "one token per owner, each minted once");
    assert_eq!(s.fake.git_auth_failures(), 0);
}

#[test]
fn an_owner_without_the_app_is_not_mine_and_is_not_asked_about_again() {
    let s = setup();
    let cfg = s.config(&s.app(""));
    let first = s.get(&cfg, "nobody/web.git");
    s.not_served(&first);
    assert_eq!(s.fake.count("GET", "/repos/nobody/web/installation"), 1);
    assert_eq!(s.fake.requests().len(), 1);

    let second = s.get(&cfg, "nobody/web.git");
    s.not_served(&second);
    assert_eq!(s.fake.requests().len(), 1, "remembered as not installed: no API call");
    assert_eq!(s.fake.mint_count(), 0);
    let memory = s.cache_files("installations-");
    assert_eq!(memory.len(), 1);
    assert_eq!(mode_of(&memory[0]), 0o600);
}

#[test]
fn a_remembered_installation_that_is_gone_is_forgotten_and_discovered_again() {
    let s = setup();
    s.fake.set_token_lifetime(300);
    let cfg = s.config(&format!("min_token_lifetime_secs = 600\n{}", s.app("repos = [\"acme/*\"]")));
    let first = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.issued(&first).installation_id, INSTALLATION_ID);
    assert_eq!(s.lookups(), 1);

    // The app is reinstalled on acme under a new id.
    s.fake.remove_installation(INSTALLATION_ID);
    s.fake.add_installation(779, APP_ID, OWNER, None);
    let second = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.issued(&second).installation_id, 779);
    assert_eq!(s.lookups(), 2, "one new lookup");
    assert_eq!(s.fake.count("POST", &format!("/app/installations/{INSTALLATION_ID}/")), 2);
    assert_eq!(s.fake.count("POST", "/app/installations/779/"), 1);

    // The new installation is remembered in turn.
    let third = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.issued(&third).installation_id, 779);
    assert_eq!(s.lookups(), 2);
    assert_eq!(s.fake.mint_count(), 3);
}

#[test]
fn an_installation_that_is_gone_for_good_is_forgotten_for_the_whole_owner() {
    let s = setup();
    s.fake.set_token_lifetime(300);
    let cfg = s.config(&format!("min_token_lifetime_secs = 600\n{}", s.app("repos = [\"acme/*\"]")));
    s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.lookups(), 1);

    // The app is uninstalled from acme: the remembered id answers 404, and so does the lookup.
    s.fake.remove_installation(INSTALLATION_ID);
    s.not_served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.lookups(), 2);
    let dead_mints = s.fake.count("POST", &format!("/app/installations/{INSTALLATION_ID}/"));

    // Another repository of acme does not mint with the dead id again: it looks up instead.
    s.not_served(&s.get(&cfg, "acme/other"));
    assert_eq!(s.lookups(), 3);
    assert_eq!(s.fake.count("POST", &format!("/app/installations/{INSTALLATION_ID}/")), dead_mints);
}

#[test]
fn a_key_from_an_environment_variable_signs_the_jwt() {
    let mut s = setup();
    s.env.set_env("ACME_CI_PEM", &fixture_string("app-key-pkcs1.pem"));
    let id_and_key = format!("app_id = {APP_ID}\nprivate_key_env = \"ACME_CI_PEM\"");
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    let token = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.issued(&token).app_id, APP_ID);
}

#[test]
fn a_key_from_a_command_signs_the_jwt() {
    let s = setup();
    let id_and_key = format!("app_id = {APP_ID}\nprivate_key_command = [\"cat\", {}]", qp(&s.key));
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    let token = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.issued(&token).app_id, APP_ID);
}

#[test]
fn zero_or_two_key_sources_are_a_config_error_naming_the_app() {
    let s = setup();
    let two = format!("app_id = {APP_ID}\nprivate_key_path = {}\nprivate_key_env = \"PEM\"", qp(&s.key));
    let zero = format!("app_id = {APP_ID}");
    for id_and_key in [two, zero] {
        let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
        let line = s.failed(&s.get(&cfg, "acme/web"));
        assert!(line.contains(&APP_ID.to_string()) && line.contains("#1"), "{line}");
        assert!(line.contains(cfg.to_str().unwrap()), "{line}");
        assert!(line.contains("private_key_command"), "the line lists the sources: {line}");
    }
    assert_eq!(s.fake.requests().len(), 0);
}

#[test]
fn a_failing_key_command_is_named_without_its_output() {
    let s = setup();
    let id_and_key = format!(
        "app_id = {APP_ID}\nprivate_key_command = [\"sh\", \"-c\", \"echo LEAK; echo LEAK >&2; exit 3\"]"
    );
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    let out = s.get(&cfg, "acme/web");
    let line = s.failed(&out);
    assert!(line.contains("\"sh\""), "{line}");
    assert!(!out.stderr.contains("LEAK"), "{out}");
    assert_eq!(s.fake.requests().len(), 0);
}

#[test]
fn a_cached_get_does_not_run_the_key_command() {
    let s = setup();
    let counter = s.env.root().join("key-command-runs");
    let script = format!("echo run >> {}; cat {}", counter.display(), s.key.display());
    let id_and_key = format!("app_id = {APP_ID}\nprivate_key_command = [\"sh\", \"-c\", {}]", q(&script));
    let cfg = s.config(&s.app_table(&id_and_key, &format!("installation_id = {INSTALLATION_ID}")));
    let token = s.served(&s.get(&cfg, "acme/web"));
    for _ in 0..3 {
        assert_eq!(s.served(&s.get(&cfg, "acme/web")), token);
    }
    assert_eq!(fs::read_to_string(&counter).unwrap(), "run\n", "the command ran once, to mint");
    assert_eq!(s.fake.mint_count(), 1);
}

#[test]
fn a_repository_scoped_token_is_asked_for_one_repository_and_never_served_for_another() {
    let s = setup();
    let cfg = s.config(&s.app(&format!("installation_id = {INSTALLATION_ID}\ntoken_scope = \"repository\"")));
    let web = s.served(&s.get(&cfg, "acme/web.git"));
    assert_eq!(s.mint_bodies(), [json!({"repositories": ["web"]})]);
    assert_eq!(s.issued(&web).repositories, Some(vec!["web".to_string()]));

    let other = s.served(&s.get(&cfg, "acme/other.git"));
    assert_ne!(other, web);
    assert_eq!(s.mint_bodies(), [json!({"repositories": ["web"]}), json!({"repositories": ["other"]})]);
    assert_eq!(s.issued(&other).repositories, Some(vec!["other".to_string()]));

    assert_eq!(s.served(&s.get(&cfg, "acme/web.git")), web, "each repository has its own entry");
    assert_eq!(s.served(&s.get(&cfg, "acme/other.git")), other);
    assert_eq!(s.fake.mint_count(), 2);
}

#[test]
fn permissions_narrow_the_token_and_one_the_installation_lacks_is_githubs_422() {
    let s = setup();
    let cfg = s.config(
        &s.app(&format!("installation_id = {INSTALLATION_ID}\npermissions = {{ contents = \"read\" }}")),
    );
    let token = s.served(&s.get(&cfg, "acme/web"));
    assert_eq!(s.mint_bodies(), [json!({"permissions": {"contents": "read"}})]);
    let granted = s.issued(&token).permissions;
    assert_eq!(granted.into_iter().collect::<Vec<_>>(), [("contents".to_string(), "read".to_string())]);

    let cfg = s.config(&s.app(&format!(
        "installation_id = {INSTALLATION_ID}\npermissions = {{ administration = \"write\" }}"
    )));
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("422"), "{line}");
    assert!(line.contains("The permissions requested are not granted to this installation."), "{line}");
    assert!(line.contains(&format!("/app/installations/{INSTALLATION_ID}/access_tokens")), "{line}");
    assert_eq!(s.fake.mint_count(), 1);

    // Levels are checked when the config is loaded.
    let cfg = s.config(
        &s.app(&format!("installation_id = {INSTALLATION_ID}\npermissions = {{ contents = \"owner\" }}")),
    );
    let line = s.failed(&s.get(&cfg, "acme/web"));
    assert!(line.contains("owner") && line.contains(cfg.to_str().unwrap()), "{line}");
    assert_eq!(s.fake.count("POST", "/app/installations/"), 2);
}

#[test]
fn a_read_only_app_for_the_owner_and_a_writer_for_one_repository_each_serve_their_own() {
    let s = setup();
    let cfg = s.config(&format!(
        "{}{}",
        s.app("repos = [\"acme/*\"]\npermissions = { contents = \"read\" }"),
        s.other_app("repos = [\"acme/deploy\"]")
    ));
    let web = s.served(&s.get(&cfg, "acme/web"));
    let deploy = s.served(&s.get(&cfg, "acme/deploy"));
    let api = s.served(&s.get(&cfg, "acme/api"));

    assert_eq!(api, web, "the reader's installation-wide token serves acme/*");
    assert_ne!(deploy, web);
    let reader = s.issued(&web);
    assert_eq!((reader.app_id, reader.installation_id), (APP_ID, INSTALLATION_ID));
    assert_eq!(reader.permissions.get("contents").map(String::as_str), Some("read"));
    let writer = s.issued(&deploy);
    assert_eq!((writer.app_id, writer.installation_id), (OTHER_APP_ID, OTHER_INSTALLATION_ID));
    assert_eq!(writer.permissions.get("contents").map(String::as_str), Some("write"));
    assert_eq!(s.mint_bodies(), [json!({"permissions": {"contents": "read"}}), serde_json::Value::Null]);

    assert_eq!(s.served(&s.get(&cfg, "acme/deploy")), deploy);
    assert_eq!(s.served(&s.get(&cfg, "acme/web")), web);
    assert_eq!(s.fake.mint_count(), 2);
    assert_eq!(s.cache_files("token-").len(), 2);
}

#[test]
fn a_path_less_request_for_an_app_that_discovers_its_installation_asks_for_use_http_path() {
    let s = setup();
    let cfg = s.config(&s.app("repos = [\"acme/*\"]"));
    let out = s.helper(&cfg, "get", request(&s.fake.host(), None).as_bytes());
    out.assert_success();
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with(PREFIX) && lines[0].contains("useHttpPath"), "{out}");
    assert_eq!(lines[0].matches(PREFIX).count(), 1, "{out}");
    assert_eq!(s.fake.requests().len(), 0);
}
