//! The `[vault]` table: where the vault is, which CA it is verified with, and
//! how the helper gets a token (`token_path`, `[vault.login]`, or the
//! environment). Checked on its own while the config is validated, then
//! completed from the environment's `$VAULT_*`/`$BAO_*` defaults only when an
//! app uses `transit_key`.

use super::values::{vault_address, vault_name};
use crate::redact::looks_secret;
use serde::Deserialize;
use std::path::PathBuf;

const DEFAULT_LOGIN_MOUNT: &str = "jwt";

/// The vault settings `[vault]` falls back to, each with the variable that
/// gave it (`"$VAULT_ADDR"`: `$VAULT_*` first, then `$BAO_*`), for messages.
#[derive(Debug, Clone, Default)]
pub struct VaultDefaults {
    pub address: Option<(&'static str, String)>,
    pub namespace: Option<(&'static str, String)>,
    pub ca_cert: Option<(&'static str, PathBuf)>,
}

/// The validated `[vault]` table with its environment defaults applied;
/// present when an app uses `transit_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vault {
    /// `https://HOST[:PORT]` (or loopback `http://`), no trailing slash.
    pub(crate) address: String,
    /// The setting that gave the address: `[vault] address`, `$VAULT_ADDR`, `$BAO_ADDR`.
    pub(crate) address_origin: &'static str,
    pub(crate) namespace: Option<String>,
    /// The roots to trust and the setting that chose them; `None`: the system store.
    pub(crate) ca_file: Option<(PathBuf, &'static str)>,
    pub(crate) auth: VaultAuth,
}

/// How the helper gets a vault token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VaultAuth {
    /// `token_path`: a file a Vault Agent keeps fresh.
    TokenFile(PathBuf),
    /// `$VAULT_TOKEN`, then `$BAO_TOKEN`, then `~/.vault-token`.
    Ambient,
    /// `[vault.login]`: a workload identity JWT exchanged for a short-lived token.
    Login(VaultLogin),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VaultLogin {
    pub(crate) role: String,
    /// The auth method's mount: `auth/{mount}/login`.
    pub(crate) mount: String,
    pub(crate) identity: Identity,
}

/// Where the login JWT comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// A file holding the JWT (a projected service-account token), read at each login.
    JwtFile(PathBuf),
    /// The GitHub Actions runner's OIDC endpoint, asked for this audience.
    GitHubActions { audience: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVault {
    address: Option<String>,
    namespace: Option<String>,
    ca_file: Option<String>,
    token_path: Option<String>,
    login: Option<RawLogin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    role: String,
    mount: Option<String>,
    jwt_path: Option<String>,
    github_actions_audience: Option<String>,
}

/// `[vault]` as written, checked on its own (before the environment fills gaps).
#[derive(Debug, Default)]
pub(super) struct VaultTable {
    address: Option<String>,
    namespace: Option<String>,
    ca_file: Option<PathBuf>,
    auth: Option<VaultAuth>,
}

pub(super) fn vault_table(
    raw: RawVault,
    resolve: &dyn Fn(&str) -> Result<PathBuf, String>,
) -> Result<VaultTable, String> {
    let address = raw.address.map(|a| vault_address(&a, "address")).transpose()?;
    let namespace = raw.namespace.map(|n| vault_name(&n, "namespace", true)).transpose()?;
    let ca_file = raw.ca_file.map(|f| resolve(&f).map_err(|m| format!("ca_file: {m}"))).transpose()?;
    let token_path =
        raw.token_path.map(|f| resolve(&f).map_err(|m| format!("token_path: {m}"))).transpose()?;
    let auth = match (token_path, raw.login) {
        (Some(_), Some(_)) => return Err("give token_path or [vault.login], not both".into()),
        (Some(path), None) => Some(VaultAuth::TokenFile(path)),
        (None, Some(login)) => {
            let role = vault_name(&login.role, "[vault.login] role", false)?;
            let mount = vault_name(
                login.mount.as_deref().unwrap_or(DEFAULT_LOGIN_MOUNT),
                "[vault.login] mount",
                true,
            )?;
            let identity = match (login.jwt_path, login.github_actions_audience) {
                (Some(p), None) => {
                    Identity::JwtFile(resolve(&p).map_err(|m| format!("[vault.login] jwt_path: {m}"))?)
                }
                (None, Some(audience)) => {
                    if audience.is_empty()
                        || audience.chars().any(|c| c.is_whitespace() || c.is_control())
                        || looks_secret(&audience)
                    {
                        return Err(format!(
                            "[vault.login] github_actions_audience {} must be a short text without spaces, such as the vault's URL",
                            crate::redact::shown(&audience)
                        ));
                    }
                    Identity::GitHubActions { audience }
                }
                _ => {
                    return Err("[vault.login] needs exactly one of jwt_path, github_actions_audience".into());
                }
            };
            Some(VaultAuth::Login(VaultLogin { role, mount, identity }))
        }
        (None, None) => None,
    };
    Ok(VaultTable { address, namespace, ca_file, auth })
}

/// Fills what `[vault]` leaves out from the environment: the address is required.
pub(super) fn apply_vault_defaults(table: VaultTable, env: &VaultDefaults) -> Result<Vault, String> {
    let (address, address_origin) = match (table.address, &env.address) {
        (Some(address), _) => (address, "[vault] address"),
        (None, Some((name, value))) => (vault_address(value, name)?, *name),
        (None, None) => {
            return Err(
                "transit_key needs the vault's address: set address in [vault], or $VAULT_ADDR (or $BAO_ADDR)"
                    .into(),
            );
        }
    };
    let namespace = match (table.namespace, &env.namespace) {
        (Some(ns), _) => Some(ns),
        (None, Some((name, value))) if !value.is_empty() => Some(vault_name(value, name, true)?),
        (None, _) => None,
    };
    let ca_file = match (table.ca_file, &env.ca_cert) {
        (Some(path), _) => Some((path, "[vault] ca_file")),
        (None, Some((name, path))) => Some((path.clone(), *name)),
        (None, None) => None,
    };
    Ok(Vault { address, address_origin, namespace, ca_file, auth: table.auth.unwrap_or(VaultAuth::Ambient) })
}
