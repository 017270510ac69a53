//! Self-tests of the test infrastructure: the real OpenBao server and its
//! setup helpers, the test identity provider, the fake GitHub Actions OIDC endpoint, the SOCKS
//! proxies, and the self-signed `CA:TRUE` server certificates. They exercise only the support
//! code and real third-party components (bao, microsocks, openssl, curl, git), never the helper.

use std::process::Command;

use serde_json::{Value, json};

use super::client;
use super::fake_github::{FakeGitHub, GitAuth, Options};
use super::git_env::{TestEnv, run};
use super::idp::{self, TestIdp};
use super::oidc::{FakeActionsOidc, percent_decode};
use super::openbao::{OpenBao, sign_policy_name};
use super::selfsigned::{SelfSigned, SelfSignedKind};
use super::socks::{Socks4, Socks5};
use super::{base64_decode, base64_encode, fixture, fixture_string, unix_now};

const APP_ID: u64 = 4242;
const INSTALLATION_ID: u64 = 777;
const KEY: &str = "github-app";
const AUDIENCE: &str = "https://vault.example";

fn b64url(bytes: &[u8]) -> String {
    base64_encode(bytes).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// A server with transit at `transit/`, the fixture app key imported as `github-app`, and the
/// `sign-only` policy.
fn bao_with_key() -> OpenBao {
    let bao = OpenBao::start_with_transit_key(KEY, &fixture_string("app-key-pkcs1.pem"));
    assert_eq!(sign_policy_name(KEY), "sign-github-app");
    bao.write_sign_policy("sign-only", "transit", KEY);
    bao
}

/// A GitHub App JWT whose signature comes from Transit.
fn transit_jwt(bao: &OpenBao, token: &str, now: i64) -> String {
    let header = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = b64url(json!({"iat": now - 60, "exp": now + 540, "iss": APP_ID}).to_string().as_bytes());
    let input = format!("{header}.{claims}");
    let resp = bao.sign("transit", KEY, token, input.as_bytes());
    assert_eq!(resp.status, 200, "{resp:?}");
    let sig = resp.body["data"]["signature"].as_str().expect("data.signature");
    let raw = base64_decode(sig.strip_prefix("vault:v1:").expect("vault:v1: prefix")).expect("base64");
    format!("{input}.{}", b64url(&raw))
}

/// The PKCS#1 `RSAPublicKey` DER of a fixture public key, as ring wants it.
fn rsa_public_key_der(fixture_name: &str) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["rsa", "-pubin", "-RSAPublicKey_out", "-outform", "DER", "-in"])
        .arg(fixture(fixture_name))
        .output()
        .unwrap_or_else(|e| panic!("{}", super::spawn_error("openssl", &e)));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn openbao_starts_quickly_and_reports_healthy() {
    let bao = OpenBao::start();
    assert_eq!(bao.health(), Some(200));
    assert!(bao.addr().starts_with("http://127.0.0.1:"), "{}", bao.addr());
    eprintln!("OpenBao dev server healthy after {:?}", bao.startup_time());
    assert!(bao.startup_time().as_secs() < 15, "start-up took {:?}", bao.startup_time());
}

#[test]
fn transit_signs_with_the_imported_app_key_and_ring_verifies_the_signature() {
    let bao = bao_with_key();
    let input = b"header.payload";
    let resp = bao.sign("transit", KEY, bao.root_token(), input);
    assert_eq!(resp.status, 200, "{resp:?}");
    let sig = resp.body["data"]["signature"].as_str().unwrap();
    assert!(sig.starts_with("vault:v1:"), "{sig}");
    let raw = base64_decode(&sig["vault:v1:".len()..]).unwrap();
    assert_eq!(raw.len(), 256);
    let public = rsa_public_key_der("app-key.pub.pem");
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public);
    key.verify(input, &raw).expect("the transit signature verifies with the app's public key");
    let other = rsa_public_key_der("other-key.pub.pem");
    let wrong = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &other);
    assert!(wrong.verify(input, &raw).is_err());
}

#[test]
fn a_transit_signed_jwt_mints_a_token_at_the_fake_github() {
    let bao = bao_with_key();
    let token = bao.create_token(&["sign-only"], "10m");
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, "Iv23liTestClient", "test-app", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, "acme", None);
    let jwt = transit_jwt(&bao, &token, unix_now());
    let path = format!("/app/installations/{INSTALLATION_ID}/access_tokens");
    let resp = client::call_with_jwt(&client::agent(&fake), &fake, "POST", &path, &jwt, None);
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn a_sign_only_token_can_sign_and_nothing_else() {
    let bao = bao_with_key();
    let token = bao.create_token(&["sign-only"], "10m");
    assert_eq!(bao.sign("transit", KEY, &token, b"x").status, 200);
    // The variant without the hash in the path is allowed too.
    let plain = bao.api(
        "POST",
        &format!("transit/sign/{KEY}"),
        Some(&token),
        Some(&json!({"input": "eA==", "signature_algorithm": "pkcs1v15"})),
    );
    assert_eq!(plain.status, 200, "{plain:?}");
    let read = bao.api("GET", &format!("transit/keys/{KEY}"), Some(&token), None);
    assert_eq!(read.status, 403, "{read:?}");
    assert!(read.errors().contains("permission denied"), "{read:?}");
}

#[test]
fn a_token_without_the_sign_capability_gets_403_permission_denied() {
    let bao = bao_with_key();
    bao.write_policy("nothing", "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n");
    let token = bao.create_token(&["nothing"], "10m");
    let resp = bao.sign("transit", KEY, &token, b"x");
    assert_eq!(resp.status, 403, "{resp:?}");
    // OpenBao wraps it: {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}.
    assert_eq!(resp.body, json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]}));
    // An unknown token gets the same answer.
    assert_eq!(bao.sign("transit", KEY, "s.not-a-token", b"x").status, 403);
}

#[test]
fn a_missing_transit_key_gets_400() {
    let bao = bao_with_key();
    let resp = bao.sign("transit", "no-such-key", bao.root_token(), b"x");
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.errors(), "signing key not found");
}

#[test]
fn a_sealed_server_answers_503_and_a_stopped_one_refuses_connections() {
    let mut bao = bao_with_key();
    bao.seal();
    assert_eq!(bao.health(), Some(503));
    let resp = bao.sign("transit", KEY, bao.root_token(), b"x");
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.errors(), "Vault is sealed");
    let addr = bao.socket_addr();
    bao.stop();
    assert_eq!(bao.health(), None);
    assert!(std::net::TcpStream::connect(addr).is_err(), "still listening on {addr}");
}

#[test]
fn the_audit_log_counts_what_was_sent_to_the_vault() {
    let bao = bao_with_key();
    let token = bao.create_token(&["sign-only"], "10m");
    for _ in 0..2 {
        assert_eq!(bao.sign("transit", KEY, &token, b"x").status, 200);
    }
    let signs = bao
        .audit_requests()
        .into_iter()
        .filter(|(op, path)| op == "update" && path == &format!("transit/sign/{KEY}/sha2-256"))
        .count();
    assert_eq!(signs, 2, "{:?}", bao.audit_requests());
}

/// OpenBao with the JWT auth method trusting the test IdP as GitHub Actions and a role `ci`
/// bound to AUDIENCE and `repository = acme/*`.
fn bao_with_jwt_login() -> (OpenBao, TestIdp) {
    let bao = bao_with_key();
    let idp = TestIdp::github_actions();
    bao.enable_jwt_login("jwt", &idp, "ci", AUDIENCE, json!({"repository": "acme/*"}), &["sign-only"]);
    (bao, idp)
}

fn actions_jwt(idp: &TestIdp, aud: &str, repo: &str, lifetime: i64) -> String {
    idp.jwt(aud, &idp::github_actions_sub(repo, "main"), &idp::github_actions_claims(repo, "main"), lifetime)
}

#[test]
fn a_jwt_login_returns_a_token_that_can_sign() {
    let (bao, idp) = bao_with_jwt_login();
    let resp = bao.login_jwt("jwt", "ci", &actions_jwt(&idp, AUDIENCE, "acme/widgets", 300));
    assert_eq!(resp.status, 200, "{resp:?}");
    let auth = &resp.body["auth"];
    assert_eq!(auth["lease_duration"], 900);
    assert!(auth["policies"].as_array().unwrap().contains(&json!("sign-only")), "{auth}");
    let token = auth["client_token"].as_str().expect("auth.client_token");
    assert_eq!(bao.sign("transit", KEY, token, b"x").status, 200);
}

#[test]
fn jwt_logins_outside_the_role_are_refused_with_400() {
    let (bao, idp) = bao_with_jwt_login();
    let cases: [(&str, String); 5] = [
        ("wrong audience", actions_jwt(&idp, "https://other.example", "acme/widgets", 300)),
        ("claim outside the bound", actions_jwt(&idp, AUDIENCE, "evil/widgets", 300)),
        (
            "expired",
            idp.expired_jwt(
                AUDIENCE,
                "repo:acme/w:ref:refs/heads/main",
                &idp::github_actions_claims("acme/w", "main"),
                120,
            ),
        ),
        (
            "wrong issuer",
            TestIdp::new("https://issuer.invalid").jwt(
                AUDIENCE,
                "s",
                &idp::github_actions_claims("acme/w", "main"),
                300,
            ),
        ),
        (
            "signed by another key",
            client::sign_jwt(
                &fixture_string("other-key-pkcs1.pem"),
                &json!({
                    "iss": idp.issuer(), "aud": AUDIENCE, "sub": "s", "repository": "acme/w", "exp": unix_now() + 300,
                }),
            ),
        ),
    ];
    for (what, jwt) in cases {
        let resp = bao.login_jwt("jwt", "ci", &jwt);
        assert_eq!(resp.status, 400, "{what}: {resp:?}");
        assert!(resp.body["auth"].is_null(), "{what}: {resp:?}");
        assert!(!resp.errors().is_empty(), "{what}: {resp:?}");
    }
    let unknown_role = bao.login_jwt("jwt", "no-such-role", &actions_jwt(&idp, AUDIENCE, "acme/w", 300));
    assert_eq!(unknown_role.status, 400, "{unknown_role:?}");
}

#[test]
fn the_test_idp_issues_the_claims_it_was_asked_for() {
    let idp = TestIdp::github_actions();
    let claims = idp::decode_claims(&actions_jwt(&idp, AUDIENCE, "acme/widgets", 300));
    assert_eq!(claims["iss"], idp::GITHUB_ACTIONS_ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["sub"], "repo:acme/widgets:ref:refs/heads/main");
    assert_eq!(claims["repository"], "acme/widgets");
    assert!(claims["exp"].as_i64().unwrap() > unix_now());
    let expired = idp::decode_claims(&idp.expired_jwt(AUDIENCE, "s", &json!({}), 60));
    assert!(expired["exp"].as_i64().unwrap() <= unix_now() - 60);
}

fn http_get(url: &str, authorization: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let mut req = agent.get(url);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let mut resp = req.call().expect("GET");
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null))
}

#[test]
fn the_fake_actions_oidc_endpoint_answers_only_the_bearer_of_the_request_token() {
    let idp = TestIdp::github_actions();
    let oidc = FakeActionsOidc::start(
        idp.clone(),
        "request-token-123",
        &idp::github_actions_sub("acme/widgets", "main"),
        idp::github_actions_claims("acme/widgets", "main"),
    );
    assert!(oidc.request_url().contains("?api-version=2.0"), "{}", oidc.request_url());
    let url = format!("{}&audience=https%3A%2F%2Fvault.example", oidc.request_url());
    let (status, body) = http_get(&url, Some("bearer request-token-123"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 1);
    let claims = idp::decode_claims(body["value"].as_str().unwrap());
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["repository"], "acme/widgets");

    assert_eq!(http_get(&url, Some("bearer wrong")).0, 401);
    assert_eq!(http_get(&url, None).0, 401);
    let reqs = oidc.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].audience.as_deref(), Some(AUDIENCE));
    assert_eq!(reqs.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 401, 401]);
    assert_eq!(percent_decode("a%2Fb+c%zz"), "a/b c%zz");
}

#[test]
fn an_oidc_token_from_the_fake_runner_logs_in_to_openbao() {
    let (bao, idp) = bao_with_jwt_login();
    let oidc = FakeActionsOidc::start(
        idp,
        "rt",
        &idp::github_actions_sub("acme/widgets", "main"),
        idp::github_actions_claims("acme/widgets", "main"),
    );
    let (_, body) = http_get(&format!("{}&audience={AUDIENCE}", oidc.request_url()), Some("Bearer rt"));
    let resp = bao.login_jwt("jwt", "ci", body["value"].as_str().unwrap());
    assert_eq!(resp.status, 200, "{resp:?}");
    oidc.set_lifetime(-60);
    let (_, body) = http_get(&format!("{}&audience={AUDIENCE}", oidc.request_url()), Some("Bearer rt"));
    assert_eq!(bao.login_jwt("jwt", "ci", body["value"].as_str().unwrap()).status, 400);
}

/// curl through a proxy to the fake OIDC endpoint (a plain HTTP server on loopback).
fn curl_via(proxy_args: &[&str], url: &str) -> super::RunOutput {
    let mut cmd = Command::new("curl");
    cmd.env_clear().args(["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"]);
    cmd.args(proxy_args).arg(url);
    run(cmd)
}

fn oidc_for_proxy_tests() -> FakeActionsOidc {
    let idp = TestIdp::github_actions();
    FakeActionsOidc::start(idp, "rt", "s", json!({}))
}

#[test]
fn microsocks_tunnels_socks5_and_socks5h_and_the_relay_records_each_request() {
    let socks = Socks5::start();
    let oidc = oidc_for_proxy_tests();
    let port = oidc.addr().port();
    let url = format!("http://localhost:{port}{}", super::oidc::OIDC_PATH);
    let out = curl_via(&["--proxy", &socks.url_h()], &format!("{url}?api-version=2.0"));
    assert_eq!(out.stdout, "401", "{out}");
    let out = curl_via(&["--proxy", &socks.url()], &format!("{url}?api-version=2.0"));
    assert_eq!(out.stdout, "401", "{out}");
    assert_eq!(oidc.requests().len(), 2);
    assert_eq!(socks.connections(), 2);
    let reqs = socks.requests();
    assert_eq!(reqs[0].target, format!("localhost:{port}"));
    assert!(reqs[0].by_name && !reqs[0].authenticated, "{reqs:?}");
    assert!(!reqs[1].by_name, "{reqs:?}");
    assert!(reqs[1].target.ends_with(&format!(":{port}")), "{reqs:?}");
}

#[test]
fn microsocks_with_a_password_refuses_clients_without_it() {
    let socks = Socks5::start_with_auth("proxyuser", "proxypass");
    assert!(socks.url().starts_with("socks5://proxyuser:proxypass@127.0.0.1:"), "{}", socks.url());
    let oidc = oidc_for_proxy_tests();
    let url = oidc.request_url();
    let out = curl_via(&["--proxy", &socks.url_h()], &url);
    assert_eq!(out.stdout, "401", "{out}");
    assert!(socks.requests()[0].authenticated);
    let anonymous = format!("socks5h://{}", socks.addr());
    let out = curl_via(&["--proxy", &anonymous], &url);
    assert!(!out.success(), "{out}");
    let wrong = format!("socks5h://proxyuser:nope@{}", socks.addr());
    let out = curl_via(&["--proxy", &wrong], &url);
    assert!(!out.success(), "{out}");
    assert_eq!(oidc.requests().len(), 1);
}

#[test]
fn the_socks4_proxy_tunnels_socks4_and_socks4a() {
    let socks = Socks4::start();
    let oidc = oidc_for_proxy_tests();
    let port = oidc.addr().port();
    let url = format!("http://localhost:{port}{}?api-version=2.0", super::oidc::OIDC_PATH);
    assert_eq!(curl_via(&["--proxy", &socks.url()], &url).stdout, "401");
    assert_eq!(curl_via(&["--proxy", &socks.url_a()], &url).stdout, "401");
    let reqs = socks.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(!reqs[0].by_name && reqs[0].target.ends_with(&format!(":{port}")), "{reqs:?}");
    assert_eq!((reqs[1].target.as_str(), reqs[1].by_name), (format!("localhost:{port}").as_str(), true));
    assert_eq!(oidc.requests().len(), 2);
}

#[test]
fn git_fetches_from_the_fake_github_through_microsocks_with_a_password() {
    let socks = Socks5::start_with_auth("proxyuser", "proxypass");
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, "Iv23liTestClient", "test-app", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, "acme", None);
    fake.create_repo("acme", "widgets");
    let jwt = client::app_jwt(&fixture_string("app-key-pkcs1.pem"), APP_ID, unix_now());
    let path = format!("/app/installations/{INSTALLATION_ID}/access_tokens");
    let minted = client::call_with_jwt(&client::agent(&fake), &fake, "POST", &path, &jwt, None);
    let token = minted.json()["token"].as_str().expect("token").to_string();

    let mut env = TestEnv::new();
    env.set_ca(fake.ca_pem_path());
    env.set_env("GCGA_TEST_TOKEN", &token);
    env.git_config_global("credential.helper", CREDENTIAL_FROM_ENV);
    env.git_config_global("http.proxy", &socks.url_h());
    let out = run(env.git(["ls-remote", &fake.repo_url("acme", "widgets")]));
    assert!(out.stdout.contains("refs/heads/main"), "{out}");
    let reqs = socks.requests();
    assert!(!reqs.is_empty() && reqs.iter().all(|r| r.authenticated), "{reqs:?}");
    // curl sends an address literal as an address even for socks5h.
    assert_eq!(reqs[0].target, fake.host());
    assert!(!reqs[0].by_name, "{reqs:?}");
    assert_eq!(socks.connections(), reqs.len());
}

/// A git credential helper answering `x-access-token` and `$GCGA_TEST_TOKEN` (so the token
/// is in no argv).
const CREDENTIAL_FROM_ENV: &str = "!f() { test \"$1\" = get && printf 'username=x-access-token\\npassword=%s\\n' \"$GCGA_TEST_TOKEN\"; }; f";

/// A fake with the app installed and `acme/widgets`, served with this certificate.
fn self_signed_fake(cert: &SelfSigned) -> FakeGitHub {
    let fake = cert.start_fake(Options::default());
    fake.add_app(APP_ID, "Iv23liTestClient", "test-app", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, "acme", None);
    fake.create_repo("acme", "widgets");
    fake
}

/// git in a hermetic env trusting `cert`, with a credential helper answering the token in
/// `$GCGA_TEST_TOKEN`.
fn git_trusting(cert: &SelfSigned, token: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_ca(&cert.cert_path());
    env.set_env("GCGA_TEST_TOKEN", token);
    env.git_config_global("credential.helper", CREDENTIAL_FROM_ENV);
    env
}

#[test]
fn the_self_signed_certificate_is_a_ca_used_as_the_server_certificate() {
    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let mut cmd = Command::new("openssl");
    cmd.args(["x509", "-noout", "-text", "-in"]).arg(cert.cert_path());
    let text = run(cmd).assert_success().stdout.clone();
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    // rustls refuses it as a plain root: the default fake's client cannot connect.
    let fake = self_signed_fake(&cert);
    let err =
        client::call(&client::agent(&fake), &fake, "GET", "/app", None, None).expect_err("rustls refuses");
    assert!(format!("{err:?}").contains("CaUsedAsEndEntity"), "{err:?}");
}

#[test]
fn git_ls_remote_trusts_the_self_signed_certificate_named_in_git_ssl_cainfo() {
    let cert = SelfSigned::generate(SelfSignedKind::Valid);
    let fake = self_signed_fake(&cert);
    assert_eq!(std::fs::read_to_string(fake.ca_pem_path()).unwrap(), cert.cert_pem);
    // Mint with curl (OpenSSL, like git), trusting only the certificate.
    let jwt = client::app_jwt(&fixture_string("app-key-pkcs1.pem"), APP_ID, unix_now());
    let mut cmd = Command::new("curl");
    cmd.env_clear()
        .args(["-sS", "--max-time", "20", "-X", "POST", "--cacert"])
        .arg(cert.cert_path())
        .args(["-H", "@-"])
        .arg(format!("{}/app/installations/{INSTALLATION_ID}/access_tokens", fake.api_url()));
    let out = super::run_with_stdin(cmd, format!("Authorization: Bearer {jwt}\n").as_bytes());
    out.assert_success();
    let token = serde_json::from_str::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_string();

    let env = git_trusting(&cert, &token);
    let out = run(env.git(["ls-remote", &fake.repo_url("acme", "widgets")]));
    out.assert_success();
    assert!(out.stdout.contains("refs/heads/main"), "{out}");
    assert!(fake.requests().iter().any(|r| r.git_auth == Some(GitAuth::Ok)));
}

#[test]
fn git_and_curl_refuse_the_expired_and_the_wrong_host_self_signed_certificates() {
    // Debian's git uses libcurl-gnutls (generic message for an expired certificate); curl
    // uses OpenSSL and names the cause.
    for (kind, git_says, curl_says) in [
        (SelfSignedKind::Expired, "server certificate verification failed", "certificate has expired"),
        (
            SelfSignedKind::WrongHost,
            "certificate subject name (github.invalid) does not match target host name '127.0.0.1'",
            "no alternative certificate subject name matches target host name '127.0.0.1'",
        ),
    ] {
        let cert = SelfSigned::generate(kind);
        let fake = self_signed_fake(&cert);
        let env = git_trusting(&cert, "unused");
        let out = run(env.git(["ls-remote", &fake.repo_url("acme", "widgets")]));
        out.assert_failure();
        assert!(out.stderr.contains(git_says), "{kind:?}: {out}");
        let mut cmd = Command::new("curl");
        cmd.env_clear()
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(cert.cert_path())
            .arg(fake.api_url());
        let out = run(cmd);
        out.assert_failure();
        assert!(out.stderr.contains(curl_says), "{kind:?}: {out}");
        assert_eq!(fake.git_requests(), 0, "{kind:?}");
    }
}
