//! A fake of the GitHub Actions runner's OIDC token endpoint on `http://127.0.0.1:PORT`.
//!
//! As documented for `ACTIONS_ID_TOKEN_REQUEST_URL`: the URL already carries a query string
//! (`?api-version=2.0`); the client appends `&audience=AUD` and sends
//! `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the answer is
//! `{"count": 1, "value": "<JWT>"}` with the JWT's `aud` = the requested audience. A wrong or
//! missing bearer token gets 401, another path 404. Every request is recorded.
//!
//! One accept thread, one thread per connection; dropping the server stops it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use super::http::{self, Request, Response, Server};
use super::idp::TestIdp;

/// The path part of the request URL (as the runner's, minus the host-specific prefix).
pub const OIDC_PATH: &str = "/_apis/distributedtask/hubs/Actions/plans/7f1e/jobs/9c2d/idtoken";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct OidcRequest {
    pub method: String,
    /// Path with query, as sent.
    pub target: String,
    /// The `audience` query parameter, percent-decoded (`None` when absent).
    pub audience: Option<String>,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    pub status: u16,
}

struct State {
    requests: Vec<OidcRequest>,
    subject: String,
    claims: Value,
    lifetime_secs: i64,
    /// When set, every request is answered with this status and body instead.
    override_response: Option<(u16, String)>,
}

struct Shared {
    state: Mutex<State>,
    request_token: String,
    idp: TestIdp,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running endpoint.
pub struct FakeActionsOidc {
    server: Server,
    shared: Arc<Shared>,
}

impl FakeActionsOidc {
    /// Serves tokens signed by `idp` for `sub`/`claims` (see [`super::idp::github_actions_claims`])
    /// to clients presenting `request_token`.
    pub fn start(idp: TestIdp, request_token: &str, sub: &str, claims: Value) -> FakeActionsOidc {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requests: Vec::new(),
                subject: sub.to_string(),
                claims,
                lifetime_secs: 300,
                override_response: None,
            }),
            request_token: request_token.to_string(),
            idp,
        });
        let conn_shared = shared.clone();
        let server = Server::start("fake-oidc", move |stream| {
            http::answer_each(stream, |req| answer(&conn_shared, req))
        });
        FakeActionsOidc { server, shared }
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_URL`: `http://127.0.0.1:PORT/...idtoken?api-version=2.0`.
    pub fn request_url(&self) -> String {
        format!("http://{}{OIDC_PATH}?api-version=2.0", self.server.addr())
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn request_token(&self) -> &str {
        &self.shared.request_token
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn requests(&self) -> Vec<OidcRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// Lifetime of the JWTs handed out from now on (negative: already expired).
    pub fn set_lifetime(&self, secs: i64) {
        lock(&self.shared.state).lifetime_secs = secs;
    }

    /// Claims of the JWTs handed out from now on.
    pub fn set_claims(&self, sub: &str, claims: Value) {
        let mut st = lock(&self.shared.state);
        st.subject = sub.to_string();
        st.claims = claims;
    }

    /// Answer every request with this status and body (`None`: behave normally again).
    pub fn set_override(&self, response: Option<(u16, &str)>) {
        lock(&self.shared.state).override_response = response.map(|(s, b)| (s, b.to_string()));
    }
}

/// `%XX` and `+` decoding of a query value.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers one request and records it.
fn answer(shared: &Shared, req: &Request) -> Response {
    let audience = req.query_param("audience").map(percent_decode);
    let authorization = req.header("authorization").map(str::to_string);
    let resp = {
        let st = lock(&shared.state);
        if let Some((status, body)) = &st.override_response {
            Response::new(*status).header("Content-Type", "application/json").body(body.clone())
        } else if req.method != "GET"
            || req.path() != OIDC_PATH
            || req.query_param("api-version") != Some("2.0")
        {
            Response::json(404, &json!({"message": "not found"}))
        } else if !authorization.as_deref().and_then(|a| a.split_once(' ')).is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token == shared.request_token
        }) {
            Response::json(401, &json!({"message": "Bad credentials"}))
        } else {
            // GitHub falls back to the repository owner's URL when no audience is given.
            let aud = audience.clone().unwrap_or_else(|| "https://github.com/acme".to_string());
            let jwt = shared.idp.jwt(&aud, &st.subject, &st.claims, st.lifetime_secs);
            Response::json(200, &json!({"count": 1, "value": jwt}))
        }
    };
    lock(&shared.state).requests.push(OidcRequest {
        method: req.method.clone(),
        target: req.target.clone(),
        audience,
        authorization,
        status: resp.status,
    });
    resp
}
