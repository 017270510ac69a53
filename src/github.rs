//! The GitHub REST client: one `ureq` agent per API URL, the calls the helper
//! makes, and errors that name the endpoint, the status and GitHub's message.

use crate::config::Access;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const USER_AGENT: &str = concat!("git-credential-github-app/", env!("CARGO_PKG_VERSION"));
const API_VERSION: &str = "2022-11-28";
/// GitHub's answers here are well under a kilobyte; a captive portal's page is not.
const MAX_BODY: u64 = 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Proxy settings read from the environment by `main`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `https_proxy`, `HTTPS_PROXY`, `all_proxy` or `ALL_PROXY`, in that order.
    pub url: Option<String>,
    /// `no_proxy` / `NO_PROXY`.
    pub no_proxy: Option<String>,
}

/// How to reach one API URL.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub api_url: String,
    /// PEM roots replacing the system trust store.
    pub ca_file: Option<PathBuf>,
    pub proxy: ProxySettings,
    pub timeout: Duration,
}

/// A failed API call, described for the person who has to fix it.
#[derive(Debug)]
pub enum ApiError {
    /// The request never got an HTTP answer (DNS, connect, TLS, timeout).
    Transport { endpoint: String, detail: String },
    /// GitHub answered with an error status.
    Status { endpoint: String, status: u16, message: String },
    /// A 2xx answer we cannot use (not JSON, fields missing, unusable token).
    Malformed { endpoint: String, detail: String },
    /// Client set-up failed (bad `ca_file`, bad proxy URL).
    Setup(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport { endpoint, detail } => write!(f, "{endpoint} failed: {detail}"),
            ApiError::Status { endpoint, status, message } => {
                write!(f, "{endpoint} answered HTTP {status}: {message}")
            }
            ApiError::Malformed { endpoint, detail } => {
                write!(f, "{endpoint} gave an answer that is not GitHub's: {detail}")
            }
            ApiError::Setup(detail) => f.write_str(detail),
        }
    }
}

/// The optional body of a mint that narrows the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MintRequest {
    /// Repository names (without owner) the token is limited to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub permissions: BTreeMap<String, Access>,
}

impl MintRequest {
    pub fn is_empty(&self) -> bool {
        self.repositories.is_none() && self.permissions.is_empty()
    }
}

/// An installation access token and when it expires (unix seconds).
#[derive(Debug, Clone)]
pub struct InstallationToken {
    pub token: Secret<String>,
    pub expires_at: u64,
}

pub struct Client {
    agent: ureq::Agent,
    options: ClientOptions,
    trust: String,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client, ApiError> {
        let (roots, trust) = match &options.ca_file {
            Some(path) => (read_roots(path)?, format!("ca_file {}", path.display())),
            None => (ureq::tls::RootCerts::PlatformVerifier, "the system trust store".to_string()),
        };
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let proxy = match &options.proxy.url {
            Some(url) => Some(build_proxy(url, options.proxy.no_proxy.as_deref())?),
            None => None,
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .tls_config(tls)
            .proxy(proxy)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(options.timeout))
            .max_redirects(0)
            .build()
            .new_agent();
        Ok(Client { agent, options, trust })
    }

    /// `POST /app/installations/{id}/access_tokens`, authenticated with the app JWT,
    /// narrowed by `narrow` when it asks for anything.
    pub fn mint(
        &self,
        installation_id: u64,
        jwt: &Secret<String>,
        narrow: &MintRequest,
    ) -> Result<InstallationToken, ApiError> {
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let body = (!narrow.is_empty()).then(|| serde_json::to_string(narrow).unwrap_or_default());
        let (endpoint, body) = self.call("POST", &path, jwt, body.as_deref())?;
        parse_token(&body).map_err(|detail| ApiError::Malformed { endpoint, detail })
    }

    /// The installation of this app that serves `owner` (or `owner/repo`):
    /// `GET /repos/{owner}/{repo}/installation` or `GET /users/{owner}/installation`.
    /// `Ok(None)` when GitHub answers 404: the app is not installed there.
    pub fn find_installation(
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
        match self.call("GET", &path, jwt, None) {
            Ok((endpoint, body)) => serde_json::from_str::<Found>(&body)
                .map(|f| Some(f.id))
                .map_err(|_| ApiError::Malformed { endpoint, detail: describe_non_json(&body) }),
            Err(ApiError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One API call authenticated with `bearer` (the app JWT or an installation
    /// token); a non-2xx answer becomes [`ApiError::Status`].
    /// Returns the endpoint's description and the body of the 2xx answer.
    fn call(
        &self,
        method: &str,
        path: &str,
        bearer: &Secret<String>,
        body: Option<&str>,
    ) -> Result<(String, String), ApiError> {
        let endpoint = self.endpoint(method, path);
        let url = format!("{}{path}", self.options.api_url);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header("Authorization", format!("Bearer {}", bearer.expose()));
        let result = match body {
            Some(json) => request
                .header("Content-Type", "application/json")
                .body(json.to_string())
                .map_err(|e| ApiError::Setup(format!("cannot build {endpoint}: {e}")))
                .map(|r| self.agent.run(r)),
            None => request
                .body(())
                .map_err(|e| ApiError::Setup(format!("cannot build {endpoint}: {e}")))
                .map(|r| self.agent.run(r)),
        }?;
        let response = result.map_err(|e| self.transport(&endpoint, e))?;
        let status = response.status().as_u16();
        let text = read_body(response).map_err(|e| self.transport(&endpoint, e))?;
        if !(200..300).contains(&status) {
            return Err(ApiError::Status { endpoint, status, message: github_message(&text) });
        }
        Ok((endpoint, text))
    }

    fn endpoint(&self, method: &str, path: &str) -> String {
        format!("{method} {}{path}", self.options.api_url)
    }

    fn transport(&self, endpoint: &str, error: ureq::Error) -> ApiError {
        let host = self
            .options
            .api_url
            .strip_prefix("https://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(&self.options.api_url);
        let detail = match error {
            ureq::Error::Timeout(_) => {
                format!("no answer within {} s", self.options.timeout.as_secs())
            }
            ureq::Error::Tls(e) => {
                format!("TLS failure with {host} (trusting {}): {e}", self.trust)
            }
            ureq::Error::Rustls(e) => {
                format!("TLS failure with {host} (trusting {}): {e}", self.trust)
            }
            ureq::Error::Io(e) if is_tls_io(&e) => {
                format!("TLS failure with {host} (trusting {}): {e}", self.trust)
            }
            ureq::Error::HostNotFound => format!("cannot resolve {host}"),
            ureq::Error::ConnectionFailed => format!("cannot connect to {host}"),
            ureq::Error::Io(e) => format!("cannot reach {host}: {}", one_line(&e.to_string())),
            other => format!("cannot reach {host}: {}", one_line(&other.to_string())),
        };
        ApiError::Transport { endpoint: endpoint.to_string(), detail }
    }
}

fn is_tls_io(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>() || inner.to_string().contains("certificate"))
}

fn read_roots(path: &PathBuf) -> Result<ureq::tls::RootCerts, ApiError> {
    let pem = std::fs::read(path)
        .map_err(|e| ApiError::Setup(format!("cannot read ca_file {}: {e}", path.display())))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(ApiError::Setup(format!("ca_file {} holds no PEM certificate", path.display())));
    }
    Ok(ureq::tls::RootCerts::Specific(Arc::new(certs)))
}

fn build_proxy(url: &str, no_proxy: Option<&str>) -> Result<ureq::Proxy, ApiError> {
    let bad = |_| ApiError::Setup(format!("proxy URL {:?} is not valid", redact_userinfo(url)));
    let parsed = ureq::Proxy::new(url).map_err(bad)?;
    let mut builder = ureq::Proxy::builder(parsed.protocol()).host(parsed.host()).port(parsed.port());
    if let Some(user) = parsed.username() {
        builder = builder.username(user);
    }
    if let Some(password) = parsed.password() {
        builder = builder.password(password);
    }
    for entry in no_proxy.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty()) {
        builder = builder.no_proxy(entry);
    }
    builder.build().map_err(bad)
}

/// A proxy URL may carry `user:password@`: never repeat that part.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn read_body(mut response: ureq::http::Response<ureq::Body>) -> Result<String, ureq::Error> {
    response.body_mut().with_config().limit(MAX_BODY).read_to_string()
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    expires_at: Option<String>,
}

/// Reads the 201 answer of a mint.
pub fn parse_token(body: &str) -> Result<InstallationToken, String> {
    let answer: TokenAnswer = serde_json::from_str(body).map_err(|_| describe_non_json(body))?;
    let token = answer.token.ok_or("the answer has no token")?;
    if token.is_empty() || token.len() > 4096 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the token is empty, too long, or holds whitespace or control characters".into());
    }
    let expires_at = answer.expires_at.ok_or("the answer has no expires_at")?;
    let expires_at = parse_timestamp(&expires_at)
        .ok_or_else(|| format!("expires_at {:?} is not an ISO 8601 UTC time", truncate(&expires_at, 40)))?;
    Ok(InstallationToken { token: Secret::new(token), expires_at })
}

/// GitHub's `message` from an error body, else a short description of the body.
pub fn github_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { message: Some(m) }) => one_line(&truncate(&m, 300)),
        Ok(_) => "(no message)".to_string(),
        Err(_) => describe_non_json(body),
    }
}

fn describe_non_json(body: &str) -> String {
    let trimmed = body.trim_start();
    if trimmed.is_empty() {
        "the body is empty".to_string()
    } else if trimmed.starts_with('<') {
        "the body is HTML, not JSON (a proxy or captive portal in the way?)".to_string()
    } else {
        format!("the body is not JSON: {:?}", truncate(&one_line(trimmed), 60))
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)` to unix seconds; `None` when not UTC.
pub fn parse_timestamp(s: &str) -> Option<u64> {
    let (date, time) = s.split_once('T')?;
    let time = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00"))?;
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    if d.next().is_some() || t.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..=60).contains(&sec) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_timestamps_convert_to_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(parse_timestamp("2024-02-29T12:00:00.123Z"), Some(1_709_208_000));
        assert_eq!(parse_timestamp("2026-11-24T03:00:00+00:00"), Some(1_795_489_200));
        assert_eq!(parse_timestamp("2026-11-24T03:00:00+02:00"), None);
        assert_eq!(parse_timestamp("2026-13-24T03:00:00Z"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

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
    }

    #[test]
    fn a_narrowing_mint_body_names_only_what_is_asked() {
        let mut narrow = MintRequest::default();
        assert!(narrow.is_empty());
        narrow.repositories = Some(vec!["web".into()]);
        narrow.permissions.insert("contents".into(), Access::Read);
        assert_eq!(
            serde_json::to_string(&narrow).unwrap(),
            r#"{"repositories":["web"],"permissions":{"contents":"read"}}"#
        );
        let only_perms = MintRequest { repositories: None, permissions: narrow.permissions.clone() };
        assert_eq!(serde_json::to_string(&only_perms).unwrap(), r#"{"permissions":{"contents":"read"}}"#);
    }

    #[test]
    fn proxy_credentials_are_not_repeated_in_messages() {
        assert_eq!(redact_userinfo("http://u:p@proxy:3128"), "http://***@proxy:3128");
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }
}
