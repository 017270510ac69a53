//! A vault (or a proxy at its address) and a GitHub Actions OIDC endpoint that echo back the
//! secrets the helper sent them: the vault token, the login JWT, the Actions request token. The
//! helper quotes a server's message to help, but never one that holds a secret it sent, or
//! anything shaped like a vault token, whatever the status and whether or not it is JSON.
//! Against a hostile loopback vault (`support::echo_vault`) and the fake OIDC endpoint; what a
//! real vault answers is tested with real OpenBao (`keyless.rs`, and the namespace below).

use std::path::PathBuf;

use serde_json::json;

use crate::support::echo_vault::EchoVault;
use crate::support::http::{Request, Response};
use crate::support::idp::{self, TestIdp};
use crate::support::oidc::FakeActionsOidc;
use crate::support::openbao::OpenBao;
use crate::support::world::{Config, INSTALLATION_ID, World};
use crate::support::{fixture_string, toml_path as qp, toml_string as q, write_file};

/// A vault token with no shape a filter could know: only comparing with what was sent finds it.
const TOKEN: &str = "PlainAgentToken0123456789";
/// A login JWT that does not start with `eyJ`.
const JWT: &str = "notAJwtButSecret.abc.def";

/// A config whose app signs with `transit_key` at `vault` (its address), `vault_lines` in
/// `[vault]`.
fn config(w: &World, vault: &str, vault_lines: &str) -> PathBuf {
    let app = w.test_app().key_lines("transit_key = \"k\"").installation(INSTALLATION_ID);
    let vault = format!("[vault]\naddress = {}\n{vault_lines}", q(vault));
    w.config(Config::new().timeout_secs(10).top(&vault).app(app))
}

/// The vault token, in `token_path`.
fn token_file(w: &World) -> String {
    let path = w.env.root().join("vault-token");
    write_file(&path, TOKEN, 0o600);
    format!("token_path = {}", qp(&path))
}

/// Runs a `get` that must fail with one line that holds no part of `secret` (its first 8
/// characters included) and says it was withheld; returns the line.
#[track_caller]
fn fails_without(w: &World, cfg: &std::path::Path, secret: &str) -> String {
    let out = w.get(cfg, "acme/web.git");
    let line = w.failed(&out);
    assert!(!out.stderr.contains(&secret[..8]), "{out}");
    assert!(line.contains("withheld"), "{line}");
    line
}

/// What the vault's request carried in `X-Vault-Token`.
fn sent_token(req: &Request) -> String {
    req.header("x-vault-token").unwrap_or("").to_string()
}

#[test]
fn a_2xx_vault_answer_that_is_not_json_and_echoes_the_token_is_not_quoted() {
    let w = World::new();
    let vault = EchoVault::start(|req| {
        Response::new(200).header("Content-Type", "text/plain").body(format!("hello {}", sent_token(req)))
    });
    let cfg = config(&w, &vault.addr(), &token_file(&w));
    let line = fails_without(&w, &cfg, TOKEN);
    assert!(line.contains("not JSON"), "{line}");
}

#[test]
fn a_token_past_the_300_character_cut_of_the_vaults_errors_is_withheld_not_printed_in_part() {
    let w = World::new();
    let vault = EchoVault::start(|req| {
        let message = format!("{} {}", "x".repeat(290), sent_token(req));
        Response::json(403, &json!({ "errors": [message] }))
    });
    let cfg = config(&w, &vault.addr(), &token_file(&w));
    fails_without(&w, &cfg, TOKEN);
}

#[test]
fn the_token_echoed_on_any_status_json_or_not_is_withheld() {
    for status in [200, 400, 403, 404, 412, 503] {
        for json in [true, false] {
            let w = World::new();
            let vault = EchoVault::start(move |req| {
                let echoed = format!("bad token {}", sent_token(req));
                match json {
                    true if status == 200 => {
                        Response::json(200, &json!({ "data": {}, "warnings": [echoed] }))
                    }
                    true => Response::json(status, &json!({ "errors": [echoed] })),
                    false => Response::new(status).header("Content-Type", "text/plain").body(echoed),
                }
            });
            let cfg = config(&w, &vault.addr(), &token_file(&w));
            let out = w.get(&cfg, "acme/web.git");
            w.failed(&out);
            assert!(!out.stderr.contains(&TOKEN[..8]), "HTTP {status}, JSON {json}:\n{out}");
        }
    }
}

#[test]
fn openbao_tokens_are_withheld_by_shape_but_host_names_like_them_are_quoted() {
    let w = World::new();
    let vault = EchoVault::start(|_| {
        Response::json(403, &json!({ "errors": ["token s.AbCdEfGhIjKlMnOpQrStUvWx was revoked"] }))
    });
    let cfg = config(&w, &vault.addr(), &token_file(&w));
    fails_without(&w, &cfg, "s.AbCdEfGhIjKlMnOpQrStUvWx");
    let vault = EchoVault::start(|_| {
        Response::json(403, &json!({ "errors": ["permission denied by the policy at s.example.com"] }))
    });
    let cfg = config(&w, &vault.addr(), &token_file(&w));
    let line = w.failed(&w.get(&cfg, "acme/web.git"));
    assert!(line.contains("permission denied by the policy at s.example.com"), "{line}");
}

#[test]
fn a_login_jwt_the_vault_echoes_is_withheld_even_when_it_does_not_start_like_a_jwt() {
    let w = World::new();
    let vault = EchoVault::start(|req| {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let jwt = body["jwt"].as_str().unwrap_or("").to_string();
        Response::json(400, &json!({ "errors": [format!("error validating token: {jwt} is malformed")] }))
    });
    let jwt_file = w.env.root().join("jwt");
    write_file(&jwt_file, JWT, 0o600);
    let cfg =
        config(&w, &vault.addr(), &format!("[vault.login]\nrole = \"r\"\njwt_path = {}", qp(&jwt_file)));
    let line = fails_without(&w, &cfg, JWT);
    assert!(line.contains("POST /v1/auth/jwt/login"), "{line}");
    assert_eq!(vault.requests().len(), 1);
}

/// A config that logs in with the GitHub Actions OIDC token, through an OIDC endpoint that
/// answers `status` with `body`; the vault is never reached.
fn actions_failure(request_url: impl Fn(&FakeActionsOidc) -> String, status: u16, body: &str) -> String {
    let mut w = World::new();
    let idp = TestIdp::github_actions();
    let oidc = FakeActionsOidc::start(
        idp,
        "RequestTokenOfThisJob42",
        &idp::github_actions_sub("acme/web", "main"),
        idp::github_actions_claims("acme/web", "main"),
    );
    oidc.set_override(Some((status, body)));
    w.env.set_env("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url(&oidc));
    w.env.set_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc.request_token());
    let vault = EchoVault::start(|_| Response::json(500, &json!({ "errors": ["never asked"] })));
    let cfg = config(&w, &vault.addr(), "[vault.login]\nrole = \"r\"\ngithub_actions_audience = \"aud\"");
    let out = w.get(&cfg, "acme/web.git");
    let line = w.failed(&out);
    assert!(!out.stderr.contains("RequestTokenOf"), "{out}");
    assert!(vault.requests().is_empty());
    line
}

#[test]
fn the_actions_oidc_endpoint_echoing_the_request_token_is_withheld_in_any_case_of_bearer() {
    let url = |oidc: &FakeActionsOidc| oidc.request_url();
    for body in [
        r#"{"message": "token RequestTokenOfThisJob42 is not valid"}"#,
        r#"{"message": "bearer RequestTokenOfThisJob42"}"#,
        "RequestTokenOfThisJob42",
        r#"{"message": "missing bearer"}"#,
    ] {
        let line = actions_failure(url, 401, body);
        assert!(line.contains("HTTP 401 (") && line.contains("withheld"), "{body}: {line}");
    }
    let line = actions_failure(url, 401, r#"{"message": "Bad credentials"}"#);
    assert!(line.contains("HTTP 401 (Bad credentials)"), "{line}");
}

#[test]
fn the_actions_oidc_endpoint_is_named_without_user_info_or_raw_control_characters() {
    let url = |oidc: &FakeActionsOidc| {
        oidc.request_url().replacen("http://", "http://runner:pa55word@", 1).replacen(
            "?",
            "\u{1b}]0;x\u{7}?",
            1,
        )
    };
    let line = actions_failure(url, 200, "{}");
    assert!(!line.contains("runner") && !line.contains("pa55word"), "{line}");
    assert!(!line.contains(['\u{1b}', '\u{7}']), "{line}");
}

#[test]
fn a_namespace_the_vault_does_not_have_gets_its_own_hint_not_the_transit_mounts() {
    let w = World::new();
    let bao = OpenBao::start_with_transit_key("k", &fixture_string("app-key-pkcs1.pem"));
    let token = w.env.root().join("vault-token");
    write_file(&token, bao.root_token(), 0o600);
    let lines = format!("namespace = \"no-such-team\"\ntoken_path = {}", qp(&token));
    let cfg = config(&w, &bao.addr(), &lines);
    let line = w.failed(&w.get(&cfg, "acme/web.git"));
    assert!(line.contains("HTTP 404 (namespace not found)"), "{line}");
    assert!(line.contains("there is no namespace \"no-such-team\""), "{line}");
    assert!(!line.contains("Transit engine"), "{line}");
}
