//! The test support checks itself: the fake GitHub (JWT verification, minting, discovery,
//! faults, git smart HTTP), the hermetic git environment, and the small formatting helpers.
//! Compiled into the integration test binary only.

use std::time::Duration;

use serde_json::json;

use super::client::{self, ApiResponse};
use super::world::{APP_ID, CLIENT_ID, INSTALLATION_ID, OWNER, fake_with_app};
use super::{FakeGitHub, Fault, GitAuth, Options, TestEnv, fixture_string, run};

fn app_key() -> String {
    fixture_string("app-key-pkcs1.pem")
}

fn mint(fake: &FakeGitHub, body: Option<&serde_json::Value>) -> ApiResponse {
    let jwt = client::app_jwt(&app_key(), APP_ID, super::unix_now());
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
    assert_eq!(super::iso8601(issued[0].expires_at), expires_at);
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
        let jwt = client::app_jwt(&key, iss.clone(), super::unix_now());
        let resp = client::call_with_jwt(&agent, &fake, "GET", "/app", &jwt, None);
        assert_eq!(resp.status, 200, "iss {iss}: {}", resp.body);
        assert_eq!(resp.json()["slug"], "test-app");
        assert_eq!(resp.json()["client_id"], CLIENT_ID);
    }
}

#[test]
fn fake_github_rejects_a_jwt_signed_by_another_key() {
    let fake = fake_with_app();
    let jwt = client::app_jwt(&fixture_string("other-key-pkcs1.pem"), APP_ID, super::unix_now());
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
    let jwt = client::app_jwt(&app_key(), "Iv23liSomebodyElse", super::unix_now());
    let resp = client::call_with_jwt(&client::agent(&fake), &fake, "GET", "/app", &jwt, None);
    assert_eq!((resp.status, resp.message().as_str()), (401, "Integration not found"));
}

#[test]
fn fake_github_rejects_a_jwt_issued_in_the_future() {
    let fake = fake_with_app();
    // Server clock five minutes behind: our iat (real now - 60) is in its future.
    fake.set_clock_offset(-300);
    let real_now = super::unix_now();
    let jwt = client::app_jwt(&app_key(), APP_ID, real_now);
    let resp = client::call_with_jwt(&client::agent(&fake), &fake, "GET", "/app", &jwt, None);
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.message(),
        "'Issued at' claim ('iat') must be an Integer representing a time in the past"
    );
    // The Date header follows the server clock, so a client can measure the skew.
    let date = resp.header("date").unwrap();
    let after = super::unix_now();
    let expected: Vec<String> = (real_now..=after).map(|t| super::http_date(t - 300)).collect();
    assert!(expected.iter().any(|e| e == date), "{date} vs {expected:?}");
    assert_eq!(fake.jwt_claims().len(), 1, "rejected JWTs are recorded too");
}

#[test]
fn fake_github_rejects_expired_and_too_long_jwts() {
    let fake = fake_with_app();
    let agent = client::agent(&fake);
    let now = super::unix_now();
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
    let jwt = client::app_jwt(&app_key(), APP_ID, super::unix_now());
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
    let jwt = client::app_jwt(&app_key(), APP_ID, super::unix_now());
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

    let jwt = client::app_jwt(&app_key(), APP_ID, super::unix_now());
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
    let jwt = client::app_jwt(&app_key(), APP_ID, super::unix_now());
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

    // A valid token without access is a 403, as on GitHub (git sends no `erase` for it).
    let out = run(env.git(["ls-remote", &fake.repo_url("elsewhere", "web")]));
    out.assert_failure();
    assert!(out.stderr.contains("The requested URL returned error: 403"), "{out}");
    assert_eq!(fake.git_forbidden(), 1, "{out}");
    assert_eq!(fake.git_auth_failures(), 0, "{out}");

    fake.revoke_token(&token);
    run(env.git(["ls-remote", &fake.repo_url(OWNER, "web")])).assert_failure();
    let reasons: Vec<GitAuth> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.git_auth)
        .filter(|a| matches!(a, GitAuth::Rejected(_) | GitAuth::Forbidden(_)))
        .collect();
    assert_eq!(
        reasons,
        [GitAuth::Forbidden("token is for another owner".into()), GitAuth::Rejected("revoked token".into())]
    );
}

#[test]
fn a_public_repository_is_read_anonymously_until_the_limit_and_with_any_token_but_pushed_only_by_its_own() {
    let fake = fake_with_app();
    fake.create_repo("octo", "lib");
    fake.set_public("octo", "lib");
    let mut anonymous = TestEnv::new();
    anonymous.set_ca(fake.ca_pem_path());
    run(anonymous.git(["ls-remote", &fake.repo_url("octo", "lib")])).assert_success();
    assert!(fake.git_anonymous() >= 1);

    fake.set_limit_anonymous(true);
    let out = run(anonymous.git(["ls-remote", &fake.repo_url("octo", "lib")]));
    out.assert_failure();
    let said = format!("fatal: remote error: {}", crate::support::fake_github::ANONYMOUS_LIMIT_MESSAGE);
    assert!(out.stderr.contains(&said), "{out}");
    assert_eq!(fake.git_limited(), 1);

    // acme's token reads octo/lib (public), but a push is refused with GitHub's 403.
    fake.set_limit_anonymous(false);
    let token = minted_token(&fake);
    let env = env_with_token(&fake, &token);
    run(env.git(["clone", &fake.repo_url("octo", "lib"), "lib"])).assert_success();
    std::fs::write(env.work().join("lib/a.txt"), "a\n").unwrap();
    run(env.git(["-C", "lib", "add", "a.txt"])).assert_success();
    run(env.git(["-C", "lib", "commit", "-q", "-m", "a"])).assert_success();
    let out = run(env.git(["-C", "lib", "push", "origin", "main"]));
    out.assert_failure();
    assert!(out.stderr.contains("remote: Permission to octo/lib.git denied to test-app[bot]."), "{out}");
    assert!(out.stderr.contains("The requested URL returned error: 403"), "{out}");
    assert_eq!(fake.git_auth_failures(), 0);
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
    assert!(super::git_env::helper_path().exists());
}

#[test]
fn run_kills_a_command_that_outlives_its_timeout() {
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    let out = super::git_env::run_with_timeout(&mut cmd, None, Duration::from_millis(200));
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
    super::run_with_stdin(env.git(["-C", "a", "fast-import", "--quiet"]), stream.as_bytes()).assert_success();
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
    assert_eq!(super::http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(super::http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(super::iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(super::iso8601(0), "1970-01-01T00:00:00Z");
    for input in ["", "a", "ab", "abc", "x-access-token:ghs_abc"] {
        let encoded = super::base64_encode(input.as_bytes());
        assert_eq!(super::base64_decode(&encoded).unwrap(), input.as_bytes());
    }
    assert_eq!(super::base64_encode(b"ab"), "YWI=");
}

/// What `GCGA_TEST_EXPLICIT_CACHE_DIR` relies on: a config's own top-level `cache_dir` is
/// found (and kept), one inside a table or a longer key is not.
#[test]
fn a_top_level_cache_dir_is_recognised_and_nothing_else_is() {
    use super::world::sets_cache_dir;
    assert!(sets_cache_dir("cache_dir = \"/tmp/x\"\n[[app]]\napp_id = 1\n"));
    assert!(sets_cache_dir("timeout_secs = 5\n  cache_dir=\"/tmp/x\"\n"));
    assert!(!sets_cache_dir("[[app]]\ncache_dir = \"/tmp/x\"\n"));
    assert!(!sets_cache_dir("cache_dir_extra = 1\n"));
    assert!(!sets_cache_dir("min_token_lifetime_secs = 600\n\n[[app]]\napp_id = 1\n"));
}
