//! The typed values of the config file. Each checks itself while serde reads
//! it (`serde(try_from)`), so an invalid value is reported with its TOML line,
//! and no message quotes a value that may be a pasted secret.

use crate::redact::{looks_secret, shown};
use crate::repo::{Pattern, normalise_host};
use serde::Deserialize;
use std::fmt;
use std::ops::Deref;

/// The App ID (a number) or client ID (`Iv23li...`): the JWT's `iss`, sent as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AppId {
    Number(u64),
    ClientId(String),
}

const APP_ID_EXPECTED: &str =
    "the App ID (a positive integer) or the client ID (a string like \"Iv23li...\")";

impl<'de> Deserialize<'de> for AppId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<AppId, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AppId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(APP_ID_EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AppId, E> {
                match u64::try_from(v) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format_args!("app_id must be {APP_ID_EXPECTED}"))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AppId, E> {
                if v == 0 {
                    return Err(E::custom(format_args!("app_id must be {APP_ID_EXPECTED}, not 0")));
                }
                Ok(AppId::Number(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AppId, E> {
                if v.trim().is_empty() || v.contains(char::is_whitespace) || looks_secret(v) {
                    return Err(E::custom(format_args!("app_id must be {APP_ID_EXPECTED}; value not shown")));
                }
                Ok(AppId::ClientId(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppId::Number(n) => write!(f, "{n}"),
            AppId::ClientId(s) => f.write_str(s),
        }
    }
}

/// A host name, optionally with `:PORT`: lower-case, without `:443`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Host(String);

impl Host {
    pub(crate) fn github_com() -> Host {
        Host("github.com".into())
    }
}

impl TryFrom<String> for Host {
    type Error = String;
    fn try_from(value: String) -> Result<Host, String> {
        let host = normalise_host(&value);
        if host.is_empty()
            || looks_secret(&value)
            || host.contains(['/', '@', ' '])
            || host.contains(char::is_control)
        {
            return Err(format!("host {} must be a host name, optionally with :PORT", shown(&value)));
        }
        Ok(Host(host))
    }
}

/// An `https://` API base URL without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct ApiUrl(String);

impl ApiUrl {
    /// `https://api.github.com` for github.com, `https://api.SUB.ghe.com` for
    /// `SUB.ghe.com` (Enterprise Cloud with data residency), `https://HOST/api/v3`
    /// for any other host (Enterprise Server).
    pub(crate) fn default_for(host: &Host) -> ApiUrl {
        let host = host.as_ref();
        if host == "github.com" {
            return ApiUrl("https://api.github.com".to_string());
        }
        ApiUrl(match host.strip_suffix(".ghe.com") {
            Some(sub) if !sub.is_empty() && !sub.contains('.') => format!("https://api.{host}"),
            _ => format!("https://{host}/api/v3"),
        })
    }
}

impl TryFrom<String> for ApiUrl {
    type Error = String;
    fn try_from(value: String) -> Result<ApiUrl, String> {
        let url = value.trim_end_matches('/');
        let rest = url.strip_prefix("https://").unwrap_or("");
        if rest.is_empty()
            || looks_secret(&value)
            || url.contains(char::is_whitespace)
            || url.contains(char::is_control)
        {
            return Err(format!("api_url {} must be an https:// URL", shown(&value)));
        }
        Ok(ApiUrl(url.to_string()))
    }
}

/// The name of an environment variable (letters, digits, `_`; not starting with a digit).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct EnvName(String);

impl TryFrom<String> for EnvName {
    type Error = String;
    fn try_from(name: String) -> Result<EnvName, String> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(
                "private_key_env must name an environment variable (letters, digits, '_'), not hold the key; value not shown"
                    .into(),
            );
        }
        Ok(EnvName(name))
    }
}

/// A vault address: `https://HOST[:PORT][/PREFIX]`, or `http://` for a
/// loopback host only (a local Vault Agent listener, a dev server), without a
/// trailing slash. `origin` names the setting in the message.
pub(crate) fn vault_address(value: &str, origin: &str) -> Result<String, String> {
    let url = value.trim().trim_end_matches('/');
    let bad = |why: &str| format!("{origin} {} {why}", shown(value));
    if looks_secret(value) || url.contains(char::is_whitespace) || url.contains(char::is_control) {
        return Err(bad("must be the vault's URL, like https://vault.example:8200"));
    }
    let (secure, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err(bad("must start with https://")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || rest.contains(['?', '#']) {
        return Err(bad("must be https://HOST[:PORT], without credentials or a query"));
    }
    if !secure && !is_loopback(authority) {
        return Err(bad("must be https:// (http:// is only allowed for a loopback address)"));
    }
    Ok(url.to_string())
}

/// Whether `authority` (`host[:port]`) names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
/// An authority with user info (`localhost:1@elsewhere`) or anything after
/// `[::1]` but a port names some other host: never loopback.
pub(crate) fn is_loopback(authority: &str) -> bool {
    if authority.contains(['@', '\\', '?', '#', '/']) {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((host, port)) if port.is_empty() || port.starts_with(':') => host,
            _ => return false,
        },
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A vault path word (transit key, mount, role, namespace): letters, digits,
/// `-`, `_`, `.`, and `/` between parts where `slash` allows.
pub(crate) fn vault_name(value: &str, what: &str, slash: bool) -> Result<String, String> {
    let value = if slash { value.trim_matches('/') } else { value };
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || (slash && c == '/'));
    if !ok || looks_secret(value) {
        let allowed =
            if slash { "letters, digits, '-', '_', '.', '/'" } else { "letters, digits, '-', '_', '.'" };
        return Err(format!("{what} {} must be a vault name ({allowed})", shown(value)));
    }
    Ok(value.to_string())
}

/// One `repos` entry, checked at load.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct RepoPattern(Pattern);

impl TryFrom<String> for RepoPattern {
    type Error = String;
    fn try_from(text: String) -> Result<RepoPattern, String> {
        // `acme/web.git` is how the clone URL spells it; GitHub's name has no `.git`.
        let name = match text.len().checked_sub(4) {
            Some(cut) if text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case(".git") => {
                &text[..cut]
            }
            _ => &text,
        };
        Pattern::parse(name).map(RepoPattern).ok_or_else(|| {
            format!(
                "repos pattern {} is not OWNER/REPO (letters, digits, '-', '_', '.', '*' in each part)",
                shown(&text)
            )
        })
    }
}

impl From<RepoPattern> for Pattern {
    fn from(p: RepoPattern) -> Pattern {
        p.0
    }
}

/// A GitHub permission name (`contents`, `pull_requests`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct PermissionName(String);

impl TryFrom<String> for PermissionName {
    type Error = String;
    fn try_from(name: String) -> Result<PermissionName, String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(format!("permissions: {} is not a GitHub permission name", shown(&name)));
        }
        Ok(PermissionName(name))
    }
}

/// A permission level a narrowed token may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum Access {
    Read,
    Write,
    Admin,
}

impl TryFrom<String> for Access {
    type Error = String;
    fn try_from(level: String) -> Result<Access, String> {
        match level.as_str() {
            "read" => Ok(Access::Read),
            "write" => Ok(Access::Write),
            "admin" => Ok(Access::Admin),
            _ => Err(format!(
                "permission level {} is not one of \"read\", \"write\", \"admin\"",
                shown(&level)
            )),
        }
    }
}

impl Access {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        }
    }
}

/// What an installation token may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum TokenScope {
    /// Every repository the installation can reach.
    Installation,
    /// Only the repository git asked for.
    Repository,
}

impl TryFrom<String> for TokenScope {
    type Error = String;
    fn try_from(scope: String) -> Result<TokenScope, String> {
        match scope.as_str() {
            "installation" => Ok(TokenScope::Installation),
            "repository" => Ok(TokenScope::Repository),
            _ => Err(format!("token_scope {} is not \"installation\" or \"repository\"", shown(&scope))),
        }
    }
}

macro_rules! str_newtype {
    ($($name:ident),*) => {$(
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
str_newtype!(Host, ApiUrl, EnvName, PermissionName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_spelt_like_a_clone_url_drops_its_git_suffix() {
        let p: Pattern = RepoPattern::try_from("acme/web.git".to_string()).unwrap().into();
        assert_eq!(p.as_str(), "acme/web");
        assert!(RepoPattern::try_from("acme/.git".to_string()).is_err());
    }

    #[test]
    fn user_info_or_junk_after_a_loopback_name_is_not_loopback() {
        for authority in ["127.0.0.1", "localhost:8200", "[::1]", "[::1]:8200", "127.0.0.2:1"] {
            assert!(is_loopback(authority), "{authority}");
        }
        for authority in
            ["localhost:1@evil.example", "[::1]@evil", "[::1]evil", "127.0.0.1.evil.example", "127.0.0.1\\@x"]
        {
            assert!(!is_loopback(authority), "{authority}");
        }
    }

    #[test]
    fn a_vault_address_is_https_or_loopback_http() {
        let ok = |v: &str| vault_address(v, "address").unwrap();
        assert_eq!(ok("https://vault.example:8200/"), "https://vault.example:8200");
        assert_eq!(ok("http://127.0.0.1:8200"), "http://127.0.0.1:8200");
        assert_eq!(ok("http://localhost:8100"), "http://localhost:8100");
        assert_eq!(ok("http://[::1]:8200"), "http://[::1]:8200");
        for bad in [
            "http://vault.example:8200",
            "vault:8200",
            "https://",
            "https://u:p@v",
            "ftp://v",
            "http://10.0.0.1",
        ] {
            let err = vault_address(bad, "$VAULT_ADDR").unwrap_err();
            assert!(err.starts_with("$VAULT_ADDR"), "{err}");
        }
        assert!(
            !vault_address("hvs.CAESIJ0123456789abcdefABCDEF0123456789abcd", "address")
                .unwrap_err()
                .contains("hvs.")
        );
    }

    #[test]
    fn vault_names_allow_slashes_only_where_paths_are_expected() {
        assert_eq!(vault_name("github-app.acme_1", "transit_key", false).unwrap(), "github-app.acme_1");
        assert!(vault_name("a/b", "transit_key", false).is_err());
        assert_eq!(vault_name("/team/transit/", "transit_mount", true).unwrap(), "team/transit");
        for bad in ["", "a//b", "../sys", "a b", "k?x"] {
            assert!(vault_name(bad, "transit_mount", true).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_residency_hosts_get_an_api_subdomain() {
        let url = |h: &str| ApiUrl::default_for(&Host::try_from(h.to_string()).unwrap()).to_string();
        assert_eq!(url("github.com"), "https://api.github.com");
        assert_eq!(url("octocorp.ghe.com"), "https://api.octocorp.ghe.com");
        assert_eq!(url("ghe.example.com"), "https://ghe.example.com/api/v3");
        assert_eq!(url("a.b.ghe.com"), "https://a.b.ghe.com/api/v3");
    }
}
