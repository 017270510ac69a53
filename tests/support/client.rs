//! A tiny API client for tests that talk to the fake directly: a ureq agent trusting the test
//! CA, and JWT signing with a fixture key.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::FakeGitHub;

/// A ureq agent that trusts only the fake's CA, does not turn 4xx/5xx into errors, and gives
/// up after 30 s (so a `Fault::Hang` cannot block a test for long).
pub fn agent(fake: &FakeGitHub) -> ureq::Agent {
    let ca = Certificate::from_pem(fake.ca_pem().as_bytes()).expect("parsing CA PEM");
    let tls = TlsConfig::builder().root_certs(RootCerts::Specific(Arc::new(vec![ca]))).build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// RS256-signs `claims` with a PEM private key (PKCS#1 or PKCS#8).
pub fn sign_jwt(private_key_pem: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).expect("parsing RSA key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("signing JWT")
}

/// A JWT as GitHub recommends: `iat` 60 s before `now`, `exp` 9 minutes after.
pub fn app_jwt(private_key_pem: &str, iss: impl Into<Value>, now: i64) -> String {
    sign_jwt(private_key_pem, &serde_json::json!({"iat": now - 60, "exp": now + 540, "iss": iss.into()}))
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ApiResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// GitHub's error `message`, or "".
    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_string()
    }
}

/// Calls `METHOD {api_url}{path}` with an optional `Authorization` value and JSON body.
pub fn call(
    agent: &ureq::Agent,
    fake: &FakeGitHub,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> Result<ApiResponse, ureq::Error> {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", fake.api_url()))
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "fake-github-self-test")
        .header("X-GitHub-Api-Version", "2022-11-28");
    if let Some(auth) = authorization {
        builder = builder.header("Authorization", auth);
    }
    let bytes = match body {
        Some(v) => {
            builder = builder.header("Content-Type", "application/json");
            serde_json::to_vec(v).expect("serialising body")
        }
        None => Vec::new(),
    };
    let request = builder.body(bytes).expect("building request");
    let mut response = agent.run(request)?;
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string()?;
    Ok(ApiResponse { status, headers, body })
}

/// `call` with `Authorization: Bearer {jwt}`, panicking on transport errors.
pub fn call_with_jwt(
    agent: &ureq::Agent,
    fake: &FakeGitHub,
    method: &str,
    path: &str,
    jwt: &str,
    body: Option<&Value>,
) -> ApiResponse {
    call(agent, fake, method, path, Some(&format!("Bearer {jwt}")), body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}
