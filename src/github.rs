//! The GitHub REST client: one `ureq` agent per API URL, the calls the helper
//! makes, and which of their answers are retried (attempts, backoff and the
//! deadline are `http.rs`'s one policy). Errors name the endpoint, the
//! status and GitHub's message, plus what to do about it.
//!
//! Policy (docs/troubleshooting.md): at most 3 attempts per call; connection
//! failures and 5xx are retried after ~250 ms then ~500 ms (with jitter); a
//! 403/429 carrying `Retry-After` of at most 10 s is retried after that wait;
//! a primary rate limit (`x-ratelimit-remaining: 0`) or a longer wait is not.
//! Nothing outlives the caller's deadline.

use crate::diag::Diag;
use crate::http::{self, CONNECT_TIMEOUT, Method, backoff, is_retryable, retry_wait, tls_error};
use crate::network::{Connection, Trust};
use crate::redact::{self, one_line, truncate};
use crate::secret::Secret;
use crate::time::{format_utc, parse_http_date, parse_timestamp};
use crate::tls;
use crate::token::{InstallationToken, is_token_shaped};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

const API_VERSION: &str = "2022-11-28";
/// GitHub's answers here are well under a kilobyte; a captive portal's page is not.
const MAX_BODY: u64 = 1024 * 1024;
/// The longest `Retry-After` we wait out; longer ones fail at once with the wait in the message.
const MAX_RETRY_AFTER: u64 = 10;
/// The longest token lifetime we believe (GitHub's is one hour).
const MAX_TOKEN_LIFETIME: u64 = 24 * 3600;

/// How to reach one API URL.
#[derive(Debug, Clone)]
pub(crate) struct ClientOptions {
    pub(crate) api_url: String,
    pub(crate) connection: Connection,
    /// No call outlives this instant, retries included.
    pub(crate) deadline: Instant,
    /// The whole budget, for messages.
    pub(crate) timeout: Duration,
    /// Local unix seconds, to compare with GitHub's `Date` header.
    pub(crate) now: u64,
}

/// A failed API call, described for the person who has to fix it.
#[derive(Debug)]
pub enum ApiError {
    /// The request never got an HTTP answer (DNS, connect, TLS, timeout).
    Transport { endpoint: String, detail: String },
    /// GitHub answered with an error status.
    Status {
        endpoint: String,
        status: u16,
        message: String,
        /// GitHub's clock (`Date` header), unix seconds.
        server_date: Option<u64>,
        hint: Option<String>,
    },
    /// A rate limit we do not wait out.
    RateLimited {
        endpoint: String,
        status: u16,
        message: String,
        resets_at: Option<u64>,
        retry_after: Option<u64>,
    },
    /// A 2xx answer we cannot use (not JSON, fields missing, unusable token).
    Malformed { endpoint: String, detail: String },
    /// Client set-up failed (bad `ca_file`, bad proxy URL).
    Setup(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport { endpoint, detail } => write!(f, "{endpoint} failed: {detail}"),
            ApiError::Status { endpoint, status, message, hint, .. } => {
                write!(f, "{endpoint} answered HTTP {status} ({message})")?;
                match hint {
                    Some(hint) => write!(f, ": {hint}"),
                    None => Ok(()),
                }
            }
            ApiError::RateLimited { endpoint, status, message, resets_at, retry_after } => {
                write!(f, "{endpoint} answered HTTP {status} ({message}): rate limited")?;
                match (resets_at, retry_after) {
                    (_, Some(secs)) => write!(f, "; GitHub asks to wait {secs} s before retrying"),
                    (Some(at), None) => write!(f, "; the limit resets at {}", format_utc(*at)),
                    (None, None) => Ok(()),
                }
            }
            ApiError::Malformed { endpoint, detail } => {
                write!(f, "{endpoint} gave an answer that is not GitHub's: {detail}")
            }
            ApiError::Setup(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for ApiError {}

/// The optional body of a mint that narrows the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct MintRequest {
    /// Repository names (without owner) the token is limited to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) repositories: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) permissions: BTreeMap<String, &'static str>,
}

impl MintRequest {
    pub(crate) fn is_empty(&self) -> bool {
        self.repositories.is_none() && self.permissions.is_empty()
    }
}

/// One HTTP answer, before it is judged.
struct Answer {
    status: u16,
    body: String,
    date: Option<u64>,
    retry_after: Option<u64>,
    ratelimit_remaining: Option<u64>,
    ratelimit_reset: Option<u64>,
    /// The `rel="next"` URL of a paginated answer.
    next: Option<String>,
}

pub(crate) struct Client<'a> {
    agent: ureq::Agent,
    options: ClientOptions,
    diag: &'a Diag<'a>,
}

/// An app as `GET /app` describes it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AppInfo {
    pub(crate) slug: String,
}

/// One entry of `GET /app/installations`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InstallationInfo {
    pub(crate) id: u64,
    pub(crate) account: Option<Account>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    pub(crate) login: String,
}

impl<'a> Client<'a> {
    pub(crate) fn new(options: ClientOptions, diag: &'a Diag<'a>) -> Result<Client<'a>, ApiError> {
        let agent = http::agent(&options.connection).map_err(ApiError::Setup)?;
        Ok(Client { agent, options, diag })
    }

    pub(crate) fn diag(&self) -> &'a Diag<'a> {
        self.diag
    }

    /// `GET /app`: proves the JWT is accepted. Returns the app and GitHub's clock.
    pub(crate) fn app(&self, jwt: &Secret<String>) -> Result<(AppInfo, Option<u64>), ApiError> {
        let (endpoint, answer) = self.call(Method::Get, "/app", jwt, None)?;
        let info = serde_json::from_str(&answer.body)
            .map_err(|_| ApiError::Malformed { endpoint, detail: describe_non_json(&answer.body) })?;
        Ok((info, answer.date))
    }

    /// `GET /app/installations`, every page (following `Link: rel="next"`
    /// only within this API URL, so the JWT never goes elsewhere).
    pub(crate) fn installations(&self, jwt: &Secret<String>) -> Result<Vec<InstallationInfo>, ApiError> {
        let mut all = Vec::new();
        let mut path = "/app/installations?per_page=100".to_string();
        for _ in 0..100 {
            let (endpoint, answer) = self.call(Method::Get, &path, jwt, None)?;
            let page: Vec<InstallationInfo> = serde_json::from_str(&answer.body)
                .map_err(|_| ApiError::Malformed { endpoint, detail: describe_non_json(&answer.body) })?;
            all.extend(page);
            match answer.next.as_deref().and_then(|url| url.strip_prefix(&self.options.api_url)) {
                Some(next) if next.starts_with('/') => path = next.to_string(),
                _ => break,
            }
        }
        Ok(all)
    }

    /// `DELETE /installation/token`, authenticated with the token itself.
    /// `Ok(false)` when GitHub says the token was already invalid (401).
    pub(crate) fn revoke(&self, token: &Secret<String>) -> Result<bool, ApiError> {
        match self.call(Method::Delete, "/installation/token", token, None) {
            Ok(_) => Ok(true),
            Err(ApiError::Status { status: 401, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `POST /app/installations/{id}/access_tokens`, authenticated with the app JWT,
    /// narrowed by `narrow` when it asks for anything. The expiry is converted
    /// to the local clock when GitHub's `Date` shows the clocks differ.
    pub(crate) fn mint(
        &self,
        installation_id: u64,
        jwt: &Secret<String>,
        narrow: &MintRequest,
    ) -> Result<InstallationToken, ApiError> {
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let body = (!narrow.is_empty()).then(|| serde_json::to_string(narrow).unwrap_or_default());
        let (endpoint, answer) = self.call(Method::Post, &path, jwt, body.as_deref())?;
        let mut token = parse_token(&answer.body)
            .map_err(|detail| ApiError::Malformed { endpoint: endpoint.clone(), detail })?;
        if let Some(date) = answer.date {
            let skew = i128::from(date) - i128::from(self.options.now);
            if skew.abs() > 30 {
                token.expires_at = u64::try_from(i128::from(token.expires_at) - skew).unwrap_or(0);
            }
        }
        // Installation tokens live an hour; a far expiry would pin a token in the cache.
        if token.expires_at > self.options.now.saturating_add(MAX_TOKEN_LIFETIME) {
            let detail = format!("expires_at is {}, more than a day away", format_utc(token.expires_at));
            return Err(ApiError::Malformed { endpoint, detail });
        }
        Ok(token)
    }

    /// The installation of this app that serves `owner` (or `owner/repo`):
    /// `GET /repos/{owner}/{repo}/installation` or `GET /users/{owner}/installation`.
    /// `Ok(None)` when GitHub answers 404: the app is not installed there.
    pub(crate) fn find_installation(
        &self,
        owner: &str,
        repo: Option<&str>,
        jwt: &Secret<String>,
    ) -> Result<Option<u64>, ApiError> {
        let path = match repo {
            Some(repo) => format!("/repos/{owner}/{repo}/installation"),
            None => format!("/users/{owner}/installation"),
        };
        #[derive(Deserialize)]
        struct Found {
            id: u64,
        }
        match self.call(Method::Get, &path, jwt, None) {
            Ok((endpoint, answer)) => serde_json::from_str::<Found>(&answer.body)
                .map(|f| Some(f.id))
                .map_err(|_| ApiError::Malformed { endpoint, detail: describe_non_json(&answer.body) }),
            Err(ApiError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One API call authenticated with `bearer` (the app JWT or an installation
    /// token), with the retry policy of this module. Returns the endpoint's
    /// description and the 2xx answer; anything else is an [`ApiError`].
    fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &Secret<String>,
        body: Option<&str>,
    ) -> Result<(String, Answer), ApiError> {
        let endpoint = format!("{method} {}{path}", self.options.api_url);
        let url = format!("{}{path}", self.options.api_url);
        let mut attempt = 1;
        loop {
            let remaining = self.options.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.out_of_time(&endpoint));
            }
            let started = Instant::now();
            let outcome = self.send(method, &url, bearer, body, remaining);
            self.diag.trace(|| {
                let result = match &outcome {
                    Ok(a) => a.status.to_string(),
                    Err(Failure::Transport(e)) => format!("failed ({})", one_line(&e.to_string())),
                    Err(Failure::Body { status, detail }) => format!("{status}, {detail}"),
                };
                let ms = started.elapsed().as_millis();
                format!("http: {method} {path} -> {result} in {ms} ms (attempt {attempt})")
            });
            let wait = match &outcome {
                Err(Failure::Transport(error)) if is_retryable(method, error) => Some(backoff(attempt)),
                // The answer arrived but its body did not: a GET may ask again;
                // a POST may have minted a token, so it is never repeated.
                Err(Failure::Body { .. }) if method != Method::Post => Some(backoff(attempt)),
                Ok(a) if a.status >= 500 => Some(backoff(attempt)),
                Ok(a) if is_rate_limited(a) && a.ratelimit_remaining != Some(0) => {
                    a.retry_after.filter(|&s| s <= MAX_RETRY_AFTER).map(Duration::from_secs)
                }
                _ => None,
            };
            if let Some(wait) = retry_wait(attempt, wait, self.options.deadline) {
                self.diag.trace(|| format!("http: retrying in {} ms", wait.as_millis()));
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            let answer = match outcome {
                Ok(answer) => answer,
                Err(Failure::Transport(e)) => return Err(self.transport(&endpoint, e)),
                Err(Failure::Body { status, detail }) => {
                    let detail = format!(
                        "it answered HTTP {status} but {detail}{}",
                        if method == Method::Post {
                            "; not retried, as the request may have taken effect"
                        } else {
                            ""
                        }
                    );
                    return Err(ApiError::Malformed { endpoint, detail });
                }
            };
            if (200..300).contains(&answer.status) {
                return Ok((endpoint, answer));
            }
            let message = github_message(&answer.body);
            if is_rate_limited(&answer) {
                return Err(ApiError::RateLimited {
                    endpoint,
                    status: answer.status,
                    message,
                    resets_at: answer.ratelimit_reset,
                    retry_after: answer.retry_after.filter(|_| answer.ratelimit_remaining != Some(0)),
                });
            }
            let hint = hint(method, path, answer.status, &message);
            return Err(ApiError::Status {
                endpoint,
                status: answer.status,
                message,
                server_date: answer.date,
                hint,
            });
        }
    }

    fn send(
        &self,
        method: Method,
        url: &str,
        bearer: &Secret<String>,
        body: Option<&str>,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        let authorization = format!("Bearer {}", bearer.expose());
        // The same headers and time budget for every method; only the body differs.
        fn prepare<B>(
            request: ureq::RequestBuilder<B>,
            timeout: Duration,
            auth: &str,
        ) -> ureq::RequestBuilder<B> {
            request
                .config()
                .timeout_global(Some(timeout))
                .build()
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", API_VERSION)
                .header("Authorization", auth)
        }
        let response = match (method, body) {
            (Method::Post, Some(json)) => prepare(self.agent.post(url), timeout, &authorization)
                .header("Content-Type", "application/json")
                .send(json),
            (Method::Post, None) => prepare(self.agent.post(url), timeout, &authorization).send_empty(),
            (Method::Delete, _) => prepare(self.agent.delete(url), timeout, &authorization).call(),
            (Method::Get, _) => prepare(self.agent.get(url), timeout, &authorization).call(),
        }
        .map_err(Failure::Transport)?;
        let header =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<u64>().ok());
        let status = response.status().as_u16();
        let date = header("date").and_then(|d| parse_http_date(&d));
        let (retry_after, ratelimit_remaining, ratelimit_reset) =
            (number("retry-after"), number("x-ratelimit-remaining"), number("x-ratelimit-reset"));
        let next = header("link").and_then(|l| next_link(&l));
        let body = read_body(response).map_err(|detail| Failure::Body { status, detail })?;
        Ok(Answer { status, body, date, retry_after, ratelimit_remaining, ratelimit_reset, next })
    }

    fn out_of_time(&self, endpoint: &str) -> ApiError {
        // A proxy that accepts and never answers looks the same as a silent server: name it.
        let waiting = match &self.options.connection.proxy {
            Some(p) => format!(" waiting for an answer through proxy {} ({})", p.shown(), p.origin),
            None => String::new(),
        };
        ApiError::Transport {
            endpoint: endpoint.to_string(),
            detail: format!("gave up after {} s (timeout_secs){waiting}", self.options.timeout.as_secs()),
        }
    }

    fn transport(&self, endpoint: &str, error: ureq::Error) -> ApiError {
        let host = self
            .options
            .api_url
            .strip_prefix("https://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(&self.options.api_url);
        let trust = &self.options.connection.trust;
        let via = match &self.options.connection.proxy {
            Some(p) => format!(" through proxy {} ({})", p.shown(), p.origin),
            None => String::new(),
        };
        let detail = match error {
            ureq::Error::Timeout(ureq::Timeout::Connect) => {
                format!("connecting to {host}{via} timed out after {} s", CONNECT_TIMEOUT.as_secs())
            }
            ureq::Error::Timeout(_) => {
                return self.out_of_time(endpoint);
            }
            ureq::Error::Tls(e) => format!("TLS failure with {host} (trusting {trust}): {e}"),
            ureq::Error::Rustls(e) => self.tls_failure(host, &e),
            ureq::Error::HostNotFound => format!("cannot resolve {host}{via}"),
            ureq::Error::ConnectionFailed => format!("cannot connect to {host}{via}"),
            ureq::Error::Io(e) => match tls_error(&e) {
                Some(tls) => self.tls_failure(host, tls),
                None => format!("cannot reach {host}{via}: {}", one_line(&e.to_string())),
            },
            other => format!("cannot reach {host}{via}: {}", one_line(&other.to_string())),
        };
        ApiError::Transport { endpoint: endpoint.to_string(), detail }
    }
}

/// Why a call got no usable answer.
enum Failure {
    /// No HTTP answer (DNS, connect, TLS, proxy, timeout).
    Transport(ureq::Error),
    /// The status line and headers arrived, the body did not (cut short,
    /// too large, not UTF-8).
    Body { status: u16, detail: String },
}

impl<'a> Client<'a> {
    fn tls_failure(&self, host: &str, error: &rustls::Error) -> String {
        let trust = &self.options.connection.trust;
        let words = tls::describe(error, matches!(trust, Trust::CaFile { .. }));
        format!("TLS failure with {host} (trusting {trust}): {words}")
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next =
            params.split(';').any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next");
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

fn is_rate_limited(answer: &Answer) -> bool {
    (answer.status == 429 || answer.status == 403)
        && (answer.ratelimit_remaining == Some(0) || answer.retry_after.is_some() || answer.status == 429)
}

/// What to do about an error status, where the status alone says it.
fn hint(method: Method, path: &str, status: u16, message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let mint = method == Method::Post && path.ends_with("/access_tokens");
    match status {
        401 if lower.contains("integration not found") => Some(
            "no GitHub App has this app_id on this API URL: check app_id (App ID or client ID) and api_url".into(),
        ),
        401 if lower.contains("could not be decoded") || lower.contains("signature") => Some(
            "the private key does not belong to this app (a regenerated or another app's key?)".into(),
        ),
        401 if lower.contains("'iat'") || lower.contains("'exp'") => {
            Some("GitHub refused the JWT's times: check this machine's clock".into())
        }
        404 if mint => Some(
            "the app has no such installation: check installation_id, or whether the app was uninstalled".into(),
        ),
        422 if mint => Some(
            "the installation was not granted that repository or permission: check repos, token_scope and permissions"
                .into(),
        ),
        _ => None,
    }
}

/// The TLS verdict inside an I/O error, if that is what it is (as opposed
/// to a connection that broke): rustls hands it up as an `io::Error`
/// wrapping a `rustls::Error`.
/// The body, at most [`MAX_BODY`] bytes of UTF-8; the error says what went wrong.
fn read_body(mut response: ureq::http::Response<ureq::Body>) -> Result<String, String> {
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| format!("its body could not be read ({})", one_line(&e.to_string())))?;
    String::from_utf8(bytes).map_err(|_| "its body is not UTF-8 text".to_string())
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<Secret<String>>,
    expires_at: Option<String>,
}

/// Reads the 201 answer of a mint.
pub(crate) fn parse_token(body: &str) -> Result<InstallationToken, String> {
    let answer: TokenAnswer = serde_json::from_str(body).map_err(|_| describe_non_json(body))?;
    let token = answer.token.ok_or("the answer has no token")?;
    if !is_token_shaped(token.expose()) {
        return Err(
            "the token is empty, longer than 4 KiB, or holds characters GitHub tokens never have".into()
        );
    }
    let expires_at = answer.expires_at.ok_or("the answer has no expires_at")?;
    let expires_at = parse_timestamp(&expires_at)
        .ok_or_else(|| format!("expires_at {:?} is not an ISO 8601 UTC time", truncate(&expires_at, 40)))?;
    Ok(InstallationToken { token, expires_at })
}

/// GitHub's `message` from an error body, else a short description of the body.
pub(crate) fn github_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        // Checked whole: a token past the cut would otherwise be printed in part.
        Ok(ErrorBody { message: Some(m) }) if redact::may_echo(&m, &[]) => redact::WITHHELD.to_string(),
        Ok(ErrorBody { message: Some(m) }) => one_line(&truncate(&m, 300)),
        Ok(_) => "(no message)".to_string(),
        Err(_) => describe_non_json(body),
    }
}

/// A non-JSON body from GitHub (or whatever answered), in words.
fn describe_non_json(body: &str) -> String {
    redact::describe_non_json(body, "a proxy or captive portal in the way?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mint_answer_yields_the_token_and_its_expiry() {
        let t = parse_token(r#"{"token":"ghs_abc","expires_at":"2016-07-11T22:14:10Z","permissions":{}}"#)
            .unwrap();
        assert_eq!(t.token.expose(), "ghs_abc");
        assert_eq!(t.expires_at, 1_468_275_250);
    }

    #[test]
    fn malformed_mint_answers_are_explained_without_the_token() {
        let no_token = parse_token(r#"{"expires_at":"2016-07-11T22:14:10Z"}"#).unwrap_err();
        assert!(no_token.contains("no token"));
        let no_expiry = parse_token(r#"{"token":"ghs_x"}"#).unwrap_err();
        assert!(no_expiry.contains("expires_at") && !no_expiry.contains("ghs_x"));
        let html = parse_token("<html><body>Login to the Wi-Fi</body></html>").unwrap_err();
        assert!(html.contains("HTML"));
        let newline =
            parse_token(r#"{"token":"ghs_a\nhost=evil","expires_at":"2016-07-11T22:14:10Z"}"#).unwrap_err();
        assert!(!newline.contains("evil"));
    }

    #[test]
    fn error_bodies_give_githubs_message_on_one_line() {
        assert_eq!(
            github_message(r#"{"message":"Integration not found","documentation_url":"x"}"#),
            "Integration not found"
        );
        assert_eq!(github_message(r#"{"message":"a\nb"}"#), "a b");
        assert!(github_message("").contains("empty"));
        assert!(github_message("<!DOCTYPE html>").contains("HTML"));
        assert_eq!(github_message("Bad Gateway"), r#"the body is not JSON: "Bad Gateway""#);
        let echoed = github_message("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig");
        assert!(!echoed.contains("eyJ") && echoed.contains("withheld"), "{echoed}");
        let echoed = github_message(r#"{"message":"bad header: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"}"#);
        assert!(!echoed.contains("eyJ") && echoed.contains("withheld"), "{echoed}");
    }

    #[test]
    fn a_non_json_body_that_may_hold_a_key_is_not_quoted() {
        let echoed = github_message("echo: MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t");
        assert!(!echoed.contains("MIIE") && echoed.contains("withheld"), "{echoed}");
    }

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let link = r#"<https://api.github.com/app/installations?page=2>; rel="next", <https://api.github.com/app/installations?page=5>; rel="last""#;
        assert_eq!(next_link(link).as_deref(), Some("https://api.github.com/app/installations?page=2"));
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn actionable_statuses_get_a_hint() {
        let mint = "/app/installations/1/access_tokens";
        assert!(hint(Method::Post, mint, 401, "Integration not found").unwrap().contains("app_id"));
        assert!(
            hint(Method::Post, mint, 401, "A JSON web token could not be decoded")
                .unwrap()
                .contains("private key")
        );
        assert!(hint(Method::Post, mint, 404, "Not Found").unwrap().contains("installation_id"));
        assert!(
            hint(Method::Post, mint, 422, "There is at least one repository that does not exist")
                .unwrap()
                .contains("granted")
        );
        assert_eq!(hint(Method::Get, "/app", 500, "oops"), None);
    }

    #[test]
    fn a_narrowing_mint_body_names_only_what_is_asked() {
        let mut narrow = MintRequest::default();
        assert!(narrow.is_empty());
        narrow.repositories = Some(vec!["web".into()]);
        narrow.permissions.insert("contents".into(), "read");
        assert_eq!(
            serde_json::to_string(&narrow).unwrap(),
            r#"{"repositories":["web"],"permissions":{"contents":"read"}}"#
        );
        let only_perms = MintRequest { repositories: None, permissions: narrow.permissions.clone() };
        assert_eq!(serde_json::to_string(&only_perms).unwrap(), r#"{"permissions":{"contents":"read"}}"#);
    }
}
