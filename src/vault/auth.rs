//! Where the vault token comes from, in order: `[vault.login]` (a workload
//! identity JWT from a file or the GitHub Actions OIDC endpoint, exchanged at
//! `auth/{mount}/login`), `token_path` (a Vault Agent sink), `$VAULT_TOKEN`,
//! `$BAO_TOKEN`, then `~/.vault-token`.
//!
//! A logged-in token is kept in the cache dir (0600, written by temp file and
//! rename, like token entries) until a minute before its lease ends, keyed by
//! vault address, namespace, auth mount, role and identity (a hash of the JWT
//! file or of the Actions job's request token), so a fleet's runners log in
//! once per lease rather than once per mint, and never with another job's
//! login. Tokens live only in `Secret`s: they go into the `X-Vault-Token`
//! header and that file, nowhere else.

use super::client::{VaultClient, VaultError, agent, connection, send, transport_detail};
use super::kept;
use crate::cache::Cache;
use crate::config::{Identity, VaultAuth, VaultLogin, is_loopback};
use crate::context::VaultEnv;
use crate::files::{FileError, Refusal};
use crate::github::github_message;
use crate::http::Method;
use crate::network::{self, NetworkEnv, Trust};
use crate::os;
use crate::redact::{WITHHELD, escape, may_echo};
use crate::secret::Secret;
use serde_json::json;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Token and JWT files are small; refuse to slurp a wrong file.
const MAX_FILE_BYTES: u64 = 64 * 1024;
/// A cached login token is used while more than this is left of its lease.
const LEASE_MARGIN_SECS: u64 = 60;

/// Where a vault token came from, for messages (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenOrigin {
    TokenPath(PathBuf),
    Env(&'static str),
    HomeFile(PathBuf),
    Login { role: String, mount: String, cached: bool },
}

impl fmt::Display for TokenOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenOrigin::TokenPath(path) => write!(f, "token_path {}", os::shown(path)),
            TokenOrigin::Env(name) => f.write_str(name),
            TokenOrigin::HomeFile(path) => write!(f, "{}", os::shown(path)),
            TokenOrigin::Login { role, mount, cached } => {
                write!(f, "login with role {role:?} at auth/{mount}")?;
                if *cached { f.write_str(", cached") } else { Ok(()) }
            }
        }
    }
}

impl TokenOrigin {
    /// What to do when the vault says this token is invalid or expired.
    pub(crate) fn renew_hint(&self) -> String {
        match self {
            TokenOrigin::TokenPath(path) => {
                format!("is the Vault Agent running and renewing {}?", os::shown(path))
            }
            TokenOrigin::Env(name) => format!("renew it or set a fresh token in {name}"),
            TokenOrigin::HomeFile(_) => "log in again with `bao login` / `vault login`".into(),
            TokenOrigin::Login { .. } => {
                "the role's token_ttl may be shorter than a sign call: raise it".into()
            }
        }
    }
}

/// A vault token and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct VaultToken {
    pub(crate) token: Secret<String>,
    pub(crate) origin: TokenOrigin,
}

/// What the token sources read besides the config.
pub(crate) struct Sources<'a> {
    pub(crate) env: &'a VaultEnv,
    pub(crate) network: &'a NetworkEnv,
    pub(crate) cache: Option<&'a Cache>,
    /// Unix seconds.
    pub(crate) now: u64,
}

/// The vault token to use; a cached login token only when `use_cached`.
pub(crate) fn obtain(
    client: &VaultClient<'_>,
    sources: &Sources<'_>,
    use_cached: bool,
) -> Result<VaultToken, VaultError> {
    match &client.vault.auth {
        VaultAuth::Login(login) => {
            let fields = cache_fields(client, login, sources)?;
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            let origin =
                |cached| TokenOrigin::Login { role: login.role.clone(), mount: login.mount.clone(), cached };
            if use_cached
                && let Some(token) =
                    sources.cache.and_then(|c| kept::login_token(c, &fields, sources.now, LEASE_MARGIN_SECS))
            {
                client.diag().trace(|| "vault: using the cached login token".into());
                return Ok(VaultToken { token, origin: origin(true) });
            }
            let (token, lease) = log_in(client, sources, login)?;
            if let Some(cache) = sources.cache
                && lease > 2 * LEASE_MARGIN_SECS
            {
                // Only an optimisation: without it the next mint logs in again.
                let _ = kept::set_login_token(cache, &fields, &token, sources.now.saturating_add(lease));
            }
            Ok(VaultToken { token, origin: origin(false) })
        }
        VaultAuth::TokenFile(path) => {
            let token = read_small_file(path, "[vault] token_path")?;
            Ok(VaultToken { token, origin: TokenOrigin::TokenPath(path.clone()) })
        }
        VaultAuth::Ambient => {
            if let Some((name, value)) = sources
                .env
                .token
                .as_ref()
                .map(|(name, v)| (name, v.expose().trim()))
                .filter(|(_, v)| !v.is_empty())
            {
                if value.contains(|c: char| c.is_whitespace() || c.is_control()) {
                    return Err(VaultError::Identity(format!(
                        "{name} holds spaces or control characters: it must hold only the vault token"
                    )));
                }
                return Ok(VaultToken {
                    token: Secret::new(value.to_string()),
                    origin: TokenOrigin::Env(name),
                });
            }
            match &sources.env.token_file {
                Some(path) if path.exists() => {
                    let token = read_small_file(path, "vault token file")?;
                    Ok(VaultToken { token, origin: TokenOrigin::HomeFile(path.clone()) })
                }
                home_file => Err(VaultError::NoToken { home_file: home_file.clone() }),
            }
        }
    }
}

/// Drops the cached login token (the vault refused it).
pub(crate) fn forget(client: &VaultClient<'_>, sources: &Sources<'_>) {
    if let (VaultAuth::Login(login), Some(cache)) = (&client.vault.auth, sources.cache)
        && let Ok(fields) = cache_fields(client, login, sources)
    {
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        kept::forget_login_token(cache, &fields);
    }
}

/// What a cached login token is keyed by: the vault, namespace, auth mount and
/// role, and the identity that logged in (the role's bound claims judged that
/// identity, not the next job's on this machine): the SHA-256 of the JWT file,
/// or of the Actions job's request token (one per job; its OIDC tokens differ
/// at each request).
fn cache_fields(
    client: &VaultClient<'_>,
    login: &VaultLogin,
    sources: &Sources<'_>,
) -> Result<[String; 5], VaultError> {
    let identity = match &login.identity {
        Identity::JwtFile(path) => digest(read_small_file(path, "[vault.login] jwt_path")?.expose()),
        Identity::GitHubActions { audience } => {
            let job = sources.env.actions_request_token.as_ref().map_or("", |t| t.expose().as_str());
            digest(&format!("{audience}\n{job}"))
        }
    };
    let vault = client.vault;
    Ok([
        vault.address.clone(),
        vault.namespace.clone().unwrap_or_default(),
        login.mount.clone(),
        login.role.clone(),
        identity,
    ])
}

/// Hex SHA-256: names an identity in the cache without keeping it.
fn digest(secret: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    crate::hex::encode(hash.as_ref())
}

/// `POST auth/{mount}/login {role, jwt}`: the client token and its lease (seconds).
fn log_in(
    client: &VaultClient<'_>,
    sources: &Sources<'_>,
    login: &VaultLogin,
) -> Result<(Secret<String>, u64), VaultError> {
    let jwt = identity_jwt(login, sources, client.deadline)?;
    let path = format!("auth/{}/login", login.mount);
    let body = json!({ "role": login.role, "jwt": jwt.expose() });
    let answer = client
        .call_sending(Method::Post, &path, None, Some(&body), Some(&jwt))
        .map_err(|e| login_hint(e, login))?;
    let auth = answer.get("auth");
    let token = auth.and_then(|a| a.get("client_token")).and_then(|t| t.as_str()).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(VaultError::Malformed {
            address: client.vault.address.clone(),
            endpoint: format!("POST /v1/{path}"),
            detail: "the answer has no auth.client_token".into(),
        });
    };
    let lease = auth.and_then(|a| a.get("lease_duration")).and_then(|l| l.as_u64()).unwrap_or(0);
    client.diag().trace(|| format!("vault: logged in with role {:?}; lease {lease} s", login.role));
    Ok((Secret::new(token.to_string()), lease))
}

/// What to do about a refused login, from the vault's message.
fn login_hint(error: VaultError, login: &VaultLogin) -> VaultError {
    let message = error.message();
    let role = &login.role;
    let mount = &login.mount;
    let hint = match error.status() {
        Some(400) if message.contains("expired") || message.contains("exp claim") => match &login.identity {
            Identity::JwtFile(path) => format!(
                "the login JWT in {} has expired: whatever writes it (the kubelet, a sidecar) must refresh it",
                os::shown(path)
            ),
            Identity::GitHubActions { .. } => {
                "the GitHub Actions OIDC token has expired: check this machine's clock".into()
            }
        },
        Some(400) if message.contains("role") && message.contains("not") => format!(
            "login role rejected: there is no role {role:?} at auth/{mount}: check [vault.login] role and mount"
        ),
        Some(400) if message.contains("claim") || message.contains("aud") || message.contains("validat") => {
            format!(
                "login role rejected: role {role:?} at auth/{mount} does not accept this identity: compare its bound_audiences and bound_claims with the JWT's claims"
            )
        }
        Some(403) | Some(404) | Some(405) => format!(
            "is an auth method (jwt, kubernetes) enabled at auth/{mount}? Check [vault.login] mount (`bao auth list`)"
        ),
        _ => return error,
    };
    error.with_hint(hint)
}

/// The workload identity JWT: from `jwt_path`, or the GitHub Actions runner.
fn identity_jwt(
    login: &VaultLogin,
    sources: &Sources<'_>,
    deadline: Instant,
) -> Result<Secret<String>, VaultError> {
    match &login.identity {
        Identity::JwtFile(path) => read_small_file(path, "[vault.login] jwt_path"),
        Identity::GitHubActions { audience } => actions_token(audience, sources, deadline),
    }
}

/// `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with the request token: `{"value": JWT}`.
fn actions_token(
    audience: &str,
    sources: &Sources<'_>,
    deadline: Instant,
) -> Result<Secret<String>, VaultError> {
    let missing = |name: &str| {
        VaultError::Identity(format!(
            "[vault.login] github_actions_audience is set but ${name} is not: run in a GitHub Actions job with `permissions: id-token: write`"
        ))
    };
    let url = sources.env.actions_request_url.as_deref().filter(|u| !u.is_empty());
    let url = url.ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_URL"))?;
    let bearer = sources.env.actions_request_token.clone().filter(|t| !t.expose().is_empty());
    let bearer = bearer.ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))?;
    let shown = endpoint_of(url);
    let fail =
        |detail: String| VaultError::Identity(format!("GitHub Actions OIDC endpoint {shown}: {detail}"));
    if !(url.starts_with("https://") || (url.starts_with("http://") && is_loopback(network::authority(url))))
    {
        return Err(fail("$ACTIONS_ID_TOKEN_REQUEST_URL must be an https:// URL".into()));
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{separator}audience={}", percent_encode(audience));
    let agent = agent(&connection(url, Trust::System, sources.network))?;
    let headers = [
        ("Authorization", format!("bearer {}", bearer.expose())),
        ("Accept", "application/json".to_string()),
    ];
    let remaining = deadline.saturating_duration_since(Instant::now());
    let out_of_time = "gave up (timeout_secs)";
    let (status, body) = send(&agent, Method::Get, &full, &headers, None, remaining)
        .map_err(|e| fail(transport_detail(e, "the system trust store", out_of_time)))?;
    if !(200..300).contains(&status) {
        // Compared whole with the request token (and checked for anything
        // token-shaped) before it is reduced to a message.
        let message = match may_echo(&body, &[bearer.expose()]) {
            true => WITHHELD.to_string(),
            false => github_message(&body),
        };
        return Err(fail(format!(
            "answered HTTP {status} ({message}): does the job have `permissions: id-token: write`?"
        )));
    }
    let value: Option<String> = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("value").and_then(|v| v.as_str()).map(str::to_string))
        .filter(|v| !v.is_empty());
    value.map(Secret::new).ok_or_else(|| fail("the answer has no \"value\" (the OIDC token)".into()))
}

/// `scheme://host/path` of a URL for messages: never its user info or its
/// query, which may carry credentials or parameters of the runner, and with
/// control characters escaped.
fn endpoint_of(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or("");
    let shown = match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    };
    escape(&shown)
}

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A token or JWT file's content, trimmed; never repeated in messages.
fn read_small_file(path: &Path, what: &'static str) -> Result<Secret<String>, VaultError> {
    let fail = |detail: String| VaultError::File { what, path: path.to_path_buf(), detail };
    // A regular file only (no FIFO a hostile user could hold open), capped like every file read.
    let bytes = crate::files::read_regular(path, MAX_FILE_BYTES).map_err(|e| match e.refusal {
        Refusal::Io(io) => fail(format!("cannot be read: {io}")),
        Refusal::TooLarge { .. } => fail("is larger than 64 KiB: is it the right file?".into()),
        Refusal::NotRegular(kind) => fail(format!("is {kind}, not a regular file")),
        other => fail(FileError { path: path.to_path_buf(), refusal: other }.to_string()),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| fail("is not text".into()))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(fail("is empty".into()));
    }
    if trimmed.contains(char::is_whitespace) || trimmed.contains(char::is_control) {
        return Err(fail("holds more than one word: it must hold only the token".into()));
    }
    Ok(Secret::new(trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    #[test]
    fn audiences_are_percent_encoded_and_queries_never_shown() {
        assert_eq!(percent_encode("https://vault.example:8200"), "https%3A%2F%2Fvault.example%3A8200");
        assert_eq!(percent_encode("sts.amazonaws.com"), "sts.amazonaws.com");
        assert_eq!(
            endpoint_of("https://run.example/idtoken?api-version=2.0&x=1"),
            "https://run.example/idtoken"
        );
        assert_eq!(
            endpoint_of("https://user:pa55@run.example/id\u{1b}]0;x\u{7}token?api-version=2.0"),
            "https://run.example/id\\u{1b}]0;x\\u{7}token"
        );
        assert_eq!(endpoint_of("http://ghost@127.0.0.1:1/x@y"), "http://127.0.0.1:1/x@y");
    }

    #[test]
    fn outside_a_github_actions_job_the_missing_variable_is_named() {
        let env = VaultEnv::default();
        let network = NetworkEnv::default();
        let sources = Sources { env: &env, network: &network, cache: None, now: 0 };
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let err = actions_token("aud", &sources, deadline).unwrap_err().to_string();
        assert!(err.contains("$ACTIONS_ID_TOKEN_REQUEST_URL") && err.contains("id-token: write"), "{err}");
        let env = VaultEnv {
            actions_request_url: Some("https://runner/idtoken?api-version=2.0".into()),
            ..VaultEnv::default()
        };
        let sources = Sources { env: &env, ..sources };
        let err = actions_token("aud", &sources, deadline).unwrap_err().to_string();
        assert!(err.contains("$ACTIONS_ID_TOKEN_REQUEST_TOKEN"), "{err}");
        let env = VaultEnv {
            actions_request_url: Some("http://runner.example/idtoken".into()),
            actions_request_token: Some("rt".into()),
            ..VaultEnv::default()
        };
        let sources = Sources { env: &env, ..sources };
        let err = actions_token("aud", &sources, deadline).unwrap_err().to_string();
        assert!(err.contains("must be an https:// URL") && !err.contains("rt\""), "{err}");
    }

    #[test]
    fn a_loopback_name_in_the_user_info_does_not_let_the_request_token_go_out_in_clear() {
        let network = NetworkEnv::default();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        for url in [
            "http://localhost:1@runner.invalid/idtoken",
            "http://127.0.0.1:80@runner.invalid/idtoken",
            "http://[::1]@runner.invalid/idtoken",
            "http://[::1]runner.invalid/idtoken",
        ] {
            let env = VaultEnv {
                actions_request_url: Some(url.into()),
                actions_request_token: Some("rt".into()),
                ..VaultEnv::default()
            };
            let sources = Sources { env: &env, network: &network, cache: None, now: 0 };
            let err = actions_token("aud", &sources, deadline).unwrap_err().to_string();
            assert!(err.contains("must be an https:// URL"), "{url}: {err}");
        }
    }

    #[test]
    fn token_files_are_trimmed_and_never_quoted() {
        let tmp = TempDir::new("vault-auth");
        let dir = tmp.path();
        let path = dir.join("token");
        std::fs::write(&path, "s.SECRETTOKEN\n").unwrap();
        assert_eq!(read_small_file(&path, "[vault] token_path").unwrap().expose(), "s.SECRETTOKEN");
        std::fs::write(&path, "s.SECRET other\n").unwrap();
        let err = read_small_file(&path, "[vault] token_path").unwrap_err().to_string();
        assert!(err.contains("one word") && !err.contains("SECRET"), "{err}");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_small_file(&path, "x").unwrap_err().to_string().contains("empty"));
        let err = read_small_file(dir, "[vault] token_path").unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let err = read_small_file(&dir.join("missing"), "[vault] token_path").unwrap_err().to_string();
        assert!(err.starts_with("[vault] token_path") && err.contains("missing"), "{err}");
    }

    #[test]
    fn login_refusals_get_one_hint_each() {
        let login = VaultLogin {
            role: "ci".into(),
            mount: "jwt".into(),
            identity: Identity::JwtFile("/var/run/token".into()),
        };
        let refused = |status: u16, message: &str| {
            login_hint(
                VaultError::Status {
                    address: "https://v".into(),
                    endpoint: "POST /v1/auth/jwt/login".into(),
                    status,
                    message: message.into(),
                    hint: None,
                },
                &login,
            )
            .to_string()
        };
        assert!(refused(400, "role \"ci\" could not be found").contains("there is no role \"ci\""));
        assert!(
            refused(400, "error validating claims: claim \"repository\" does not match")
                .contains("bound_claims")
        );
        assert!(
            refused(400, "error validating token: token is expired")
                .contains(&format!("{} has expired", os::shown(Path::new("/var/run/token"))))
        );
        assert!(refused(403, "permission denied").contains("bao auth list"));
        assert!(!refused(500, "internal error").contains(": is"));
    }
}
