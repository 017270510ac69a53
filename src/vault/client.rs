//! The vault's HTTP API: one `ureq` agent (the proxy from the environment,
//! the roots from `[vault] ca_file`, `$VAULT_CACERT`, `$BAO_CACERT` or the
//! system store), the operation's deadline, and the retry policy of
//! `http.rs` (connection failures and 5xx are tried up to 3 times) except for
//! 503: a sealed vault stays sealed, so it fails at once with the hint.
//!
//! Errors name the vault's address, the method and path, and the vault's own
//! message (its `errors` list); callers add what to do.

use crate::config::{Vault, is_loopback};
use crate::diag::Diag;
use crate::http::{self, CONNECT_TIMEOUT, Method, backoff, is_retryable, retry_wait, tls_error};
use crate::network::{self, Connection, NetworkEnv, Proxy, Trust};
use crate::os;
use crate::redact::{WITHHELD, describe_non_json, may_echo, one_line, truncate};
use crate::secret::Secret;
use crate::tls;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Vault answers here are a few hundred bytes.
const MAX_BODY: u64 = 256 * 1024;

/// A vault (or identity endpoint) call that failed, for the person who fixes it.
#[derive(Debug)]
pub enum VaultError {
    /// The client could not be set up (an unreadable CA file, a bad proxy URL).
    Setup(String),
    /// No HTTP answer.
    Unreachable { address: String, origin: &'static str, endpoint: String, detail: String },
    /// The vault answered with an error status; `hint` says what to do.
    Status { address: String, endpoint: String, status: u16, message: String, hint: Option<String> },
    /// A 2xx answer the helper cannot use.
    Malformed { address: String, endpoint: String, detail: String },
    /// No vault token is configured or found.
    NoToken { home_file: Option<PathBuf> },
    /// A token or identity file cannot be used.
    File { what: &'static str, path: PathBuf, detail: String },
    /// The workload identity cannot be had (GitHub Actions OIDC).
    Identity(String),
    /// The transit key signed, but not as an RSA key of 2048 bits or more.
    NotRsa { address: String, key: String, mount: String, bytes: usize },
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::Setup(detail) => write!(f, "vault client: {detail}"),
            VaultError::Unreachable { address, origin, endpoint, detail }
                if detail.starts_with("TLS failure") =>
            {
                write!(
                    f,
                    "vault {address}: {endpoint} failed: {detail}: trust the vault's CA with [vault] ca_file or $VAULT_CACERT, or check the address (from {origin})"
                )
            }
            VaultError::Unreachable { address, origin, endpoint, detail } => write!(
                f,
                "vault {address}: {endpoint} failed: {detail}: is the vault running and reachable at this address (from {origin})?"
            ),
            VaultError::Status { address, endpoint, status, message, hint } => {
                write!(f, "vault {address}: {endpoint} answered HTTP {status} ({message})")?;
                match hint {
                    Some(hint) => write!(f, ": {hint}"),
                    None => Ok(()),
                }
            }
            VaultError::Malformed { address, endpoint, detail } => {
                write!(f, "vault {address}: {endpoint} gave an answer that is not the vault's: {detail}")
            }
            VaultError::NoToken { home_file } => {
                write!(
                    f,
                    "no vault token: set token_path or [vault.login] in [vault], or $VAULT_TOKEN (or $BAO_TOKEN)"
                )?;
                match home_file {
                    Some(path) => write!(
                        f,
                        ", or log in with `bao login` / `vault login` (it writes {})",
                        os::shown(path)
                    ),
                    None => Ok(()),
                }
            }
            VaultError::File { what, path, detail } => write!(f, "{what} {}: {detail}", os::shown(path)),
            VaultError::Identity(detail) => f.write_str(detail),
            VaultError::NotRsa { address, key, mount, bytes } => write!(
                f,
                "vault {address}: transit key {key:?} (mount {mount:?}) gave a {bytes}-byte signature, so it is not an RSA key of 2048 bits or more: GitHub needs RS256; import the GitHub App's private key with type=rsa-2048 (docs/fleet.md)"
            ),
        }
    }
}

impl std::error::Error for VaultError {}

impl VaultError {
    /// The HTTP status, when the vault answered with one.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            VaultError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The vault's message, lower-cased, for deciding hints.
    pub(crate) fn message(&self) -> String {
        match self {
            VaultError::Status { message, .. } => message.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    /// The same error with `hint` (unless it already has one).
    pub(crate) fn with_hint(self, new: impl Into<String>) -> VaultError {
        match self {
            VaultError::Status { address, endpoint, status, message, hint: None } => {
                VaultError::Status { address, endpoint, status, message, hint: Some(new.into()) }
            }
            other => other,
        }
    }
}

/// A client for one vault, bound to the operation's deadline.
pub(crate) struct VaultClient<'a> {
    agent: ureq::Agent,
    pub(crate) vault: &'a Vault,
    pub(crate) deadline: Instant,
    timeout: Duration,
    diag: &'a Diag<'a>,
}

/// How to reach `url`: the environment's proxy (not for a loopback address)
/// and the given roots.
pub(crate) fn connection(url: &str, trust: Trust, network: &NetworkEnv) -> Connection {
    let proxy = match &network.proxy {
        Some(p) if !is_loopback(network::authority(url)) && !network::exempt(url, network) => {
            Some(Proxy { url: p.clone(), origin: "environment" })
        }
        _ => None,
    };
    let system_cert_file = (trust == Trust::System).then(|| network.ssl_cert_file.clone()).flatten();
    Connection { proxy, trust, system_cert_file }
}

impl<'a> VaultClient<'a> {
    pub(crate) fn new(
        vault: &'a Vault,
        network: &NetworkEnv,
        deadline: Instant,
        timeout: Duration,
        diag: &'a Diag<'a>,
    ) -> Result<VaultClient<'a>, VaultError> {
        let trust = match &vault.ca_file {
            Some((path, origin)) => Trust::CaFile { path: path.clone(), origin },
            None => Trust::System,
        };
        let agent = agent(&connection(&vault.address, trust, network))?;
        Ok(VaultClient { agent, vault, deadline, timeout, diag })
    }

    pub(crate) fn diag(&self) -> &'a Diag<'a> {
        self.diag
    }

    /// `METHOD /v1/{path}` with the vault token (if any) and namespace;
    /// the 2xx answer's JSON, or the error with the vault's message.
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret<String>>,
        body: Option<&Value>,
    ) -> Result<Value, VaultError> {
        self.call_sending(method, path, token, body, None)
    }

    /// [`VaultClient::call`] with a body that holds `body_secret` (the login
    /// JWT): an answer that echoes it, or the token, is never quoted.
    pub(crate) fn call_sending(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret<String>>,
        body: Option<&Value>,
        body_secret: Option<&Secret<String>>,
    ) -> Result<Value, VaultError> {
        // Every secret the request carries: the whole answer is compared with
        // them before any of it is described, cut or put on one line.
        let sent: Vec<&str> = token.into_iter().chain(body_secret).map(|s| s.expose().as_str()).collect();
        let endpoint = format!("{method} /v1/{path}");
        let url = format!("{}/v1/{path}", self.vault.address);
        let mut headers = vec![("X-Vault-Request", "true".to_string())];
        if let Some(ns) = &self.vault.namespace {
            headers.push(("X-Vault-Namespace", ns.clone()));
        }
        if let Some(token) = token {
            headers.push(("X-Vault-Token", token.expose().clone()));
        }
        let body = body.map(Value::to_string);
        let mut attempt = 1;
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.unreachable(&endpoint, self.out_of_time()));
            }
            let started = Instant::now();
            let outcome = send(&self.agent, method, &url, &headers, body.as_deref(), remaining);
            self.diag.trace(|| {
                let result = match &outcome {
                    Ok((status, _)) => status.to_string(),
                    Err(e) => format!("failed ({})", one_line(&e.to_string())),
                };
                let ms = started.elapsed().as_millis();
                format!("vault: {endpoint} -> {result} in {ms} ms (attempt {attempt})")
            });
            let retry = match &outcome {
                // Signing or logging in twice does no harm: retried like a GET.
                Err(error) => is_retryable(Method::Get, error),
                // 503: sealed (or a standby): waiting a second does not unseal it.
                Ok((status, _)) => *status >= 500 && *status != 503,
            };
            if let Some(wait) = retry_wait(attempt, retry.then(|| backoff(attempt)), self.deadline) {
                self.diag.trace(|| format!("vault: retrying in {} ms", wait.as_millis()));
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            let (status, text) = outcome.map_err(|e| {
                let detail = self.transport_detail(e);
                self.unreachable(&endpoint, detail)
            })?;
            if (200..300).contains(&status) {
                if status == 204 || text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|_| VaultError::Malformed {
                    address: self.vault.address.clone(),
                    endpoint,
                    detail: match may_echo(&text, &sent) {
                        true => format!("the body is not JSON ({WITHHELD})"),
                        false => describe_body(&text),
                    },
                });
            }
            let message = error_message(&text, &sent);
            let hint = match status {
                503 => Some(sealed_hint(&message)),
                404 if unknown_namespace(&message) => self.vault.namespace.as_ref().map(|ns| {
                    format!(
                        "there is no namespace {ns:?} at this vault: check [vault] namespace (or $VAULT_NAMESPACE / $BAO_NAMESPACE); `bao namespace list` shows the ones that exist"
                    )
                }),
                _ => None,
            };
            return Err(VaultError::Status {
                address: self.vault.address.clone(),
                endpoint,
                status,
                message,
                hint,
            });
        }
    }

    fn out_of_time(&self) -> String {
        format!("gave up after {} s (timeout_secs)", self.timeout.as_secs())
    }

    fn unreachable(&self, endpoint: &str, detail: String) -> VaultError {
        VaultError::Unreachable {
            address: self.vault.address.clone(),
            origin: self.vault.address_origin,
            endpoint: endpoint.to_string(),
            detail,
        }
    }

    fn transport_detail(&self, error: ureq::Error) -> String {
        let trust = match &self.vault.ca_file {
            Some((path, origin)) => format!("{origin} {}", os::shown(path)),
            None => "the system trust store".to_string(),
        };
        transport_detail(error, &trust, &self.out_of_time())
    }
}

/// An agent for `connection` (http.rs builds every agent the same way).
pub(crate) fn agent(connection: &Connection) -> Result<ureq::Agent, VaultError> {
    http::agent(connection).map_err(VaultError::Setup)
}

/// What went wrong before an HTTP answer, in words. `trust` names the roots
/// (`[vault] ca_file ...` or the system store) for a TLS failure.
pub(crate) fn transport_detail(error: ureq::Error, trust: &str, out_of_time: &str) -> String {
    let named_roots = trust != "the system trust store";
    match error {
        ureq::Error::Timeout(ureq::Timeout::Connect) => {
            format!("connecting timed out after {} s", CONNECT_TIMEOUT.as_secs())
        }
        ureq::Error::Timeout(_) => out_of_time.to_string(),
        ureq::Error::Tls(e) => format!("TLS failure (trusting {trust}): {e}"),
        ureq::Error::Rustls(e) => {
            format!("TLS failure (trusting {trust}): {}", tls::describe(&e, named_roots))
        }
        ureq::Error::Io(e) if tls_error(&e).is_some() => {
            let words = tls_error(&e).map(|t| tls::describe(t, named_roots)).unwrap_or_default();
            format!("TLS failure (trusting {trust}): {words}")
        }
        ureq::Error::HostNotFound => "cannot resolve the host".to_string(),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_string()
        }
        ureq::Error::ConnectionFailed => "cannot connect".to_string(),
        other => format!("cannot reach it: {}", one_line(&other.to_string())),
    }
}

/// One request: status and body text (limited), whatever the status.
pub(crate) fn send(
    agent: &ureq::Agent,
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
    timeout: Duration,
) -> Result<(u16, String), ureq::Error> {
    let mut response = match method {
        Method::Get => {
            let mut request = agent.get(url).config().timeout_global(Some(timeout)).build();
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            request.call()?
        }
        Method::Post => {
            let mut request = agent.post(url).config().timeout_global(Some(timeout)).build();
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            request.header("Content-Type", "application/json").send(body.unwrap_or("{}"))?
        }
        Method::Delete => {
            let mut request = agent.delete(url).config().timeout_global(Some(timeout)).build();
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            request.call()?
        }
    };
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(MAX_BODY).read_to_string()?;
    Ok((status, text))
}

/// What an error answer `body` says, for a message: withheld whole when it
/// may echo one of the `sent` secrets (or holds anything token-shaped),
/// checked before any of it is cut or put on one line.
pub(crate) fn error_message(body: &str, sent: &[&str]) -> String {
    if may_echo(body, sent) { WITHHELD.to_string() } else { vault_message(body) }
}

/// The vault's `{"errors": [...]}` as one line, else a short description.
fn vault_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(value) => match value.get("errors").and_then(Value::as_array) {
            Some(errors) if !errors.is_empty() => {
                let joined: Vec<String> = errors
                    .iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                    .map(|e| one_line(&e).trim_start_matches("1 error occurred: * ").to_string())
                    .collect();
                truncate(&joined.join("; "), 300)
            }
            _ => "(no message)".to_string(),
        },
        Err(_) => describe_body(body),
    }
}

/// A non-JSON body from the vault, in words.
fn describe_body(body: &str) -> String {
    describe_non_json(body, "a proxy or another server at this address?")
}

/// Whether the vault's message says the request's namespace does not exist
/// (OpenBao and Vault answer 404 `namespace not found`).
fn unknown_namespace(message: &str) -> bool {
    message.to_ascii_lowercase().contains("namespace not found")
}

fn sealed_hint(message: &str) -> String {
    if message.to_ascii_lowercase().contains("sealed") {
        "the vault is sealed: unseal it (`bao operator unseal` / `vault operator unseal`) and retry".into()
    } else {
        "the vault is unavailable (sealed, or a standby node): check `bao status` / `vault status`".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vaults_errors_list_becomes_one_line() {
        assert_eq!(vault_message(r#"{"errors":["permission denied"]}"#), "permission denied");
        assert_eq!(
            vault_message(r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#),
            "permission denied"
        );
        assert_eq!(vault_message(r#"{"errors":["a","b"]}"#), "a; b");
        assert_eq!(vault_message(r#"{"errors":[]}"#), "(no message)");
        assert!(vault_message("<html>").contains("HTML"));
        assert!(vault_message("").contains("empty"));
    }

    #[test]
    fn a_sealed_vault_gets_the_unseal_hint() {
        assert!(sealed_hint("Vault is sealed").contains("unseal"));
        assert!(sealed_hint("").contains("standby"));
    }

    #[test]
    fn transport_failures_are_told_in_words() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(transport_detail(ureq::Error::Io(refused), "x", "late"), "connection refused");
        assert_eq!(transport_detail(ureq::Error::Timeout(ureq::Timeout::Global), "x", "late"), "late");
        let tls = VaultError::Unreachable {
            address: "https://v".into(),
            origin: "$VAULT_ADDR",
            endpoint: "POST /v1/transit/sign/k/sha2-256".into(),
            detail: "TLS failure (trusting the system trust store): invalid peer certificate".into(),
        };
        assert!(tls.to_string().contains("$VAULT_CACERT"), "{tls}");
    }

    #[test]
    fn loopback_addresses_skip_the_proxy() {
        let env = NetworkEnv { proxy: Some("http://proxy:3128".into()), ..Default::default() };
        assert!(connection("http://127.0.0.1:8200", Trust::System, &env).proxy.is_none());
        assert!(connection("https://vault.example:8200", Trust::System, &env).proxy.is_some());
    }
}
