//! The vault as a key source: HashiCorp Vault or OpenBao (the same HTTP API)
//! signs the app JWT with its Transit engine, so the key never reaches the
//! runner. The helper authenticates with a token (a Vault Agent sink,
//! `$VAULT_TOKEN`, `~/.vault-token`) or logs in with a workload identity JWT
//! (a file, or the GitHub Actions runner's OIDC endpoint).
//!
//! - [`client`]: the HTTP client (one agent, the deadline, the retry policy,
//!   errors naming the address, the path and the vault's own message);
//! - [`auth`]: where the vault token comes from, and the login token kept in
//!   the cache dir until shortly before its lease ends;
//! - [`transit`]: the sign call and what its answer and errors mean.
//!
//! The vault is contacted only on the mint path (a cached `get` never builds a signer).

mod auth;
mod client;
mod transit;

pub(crate) use client::VaultError;
pub(crate) use transit::Transit;

use std::fmt;
use std::path::PathBuf;

/// What the vault's authentication reads from the process environment
/// (filled by `main`; the values are credentials and never printed).
#[derive(Clone, Default)]
pub struct VaultEnv {
    /// `$VAULT_TOKEN`, else `$BAO_TOKEN`, with the variable's name (`"$VAULT_TOKEN"`).
    pub token: Option<(&'static str, String)>,
    /// `~/.vault-token`, where `vault login` / `bao login` leave the token.
    pub token_file: Option<PathBuf>,
    /// `$ACTIONS_ID_TOKEN_REQUEST_URL` (set in a GitHub Actions job with `id-token: write`).
    pub actions_request_url: Option<String>,
    /// `$ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub actions_request_token: Option<String>,
}

impl fmt::Debug for VaultEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultEnv")
            .field("token", &self.token.as_ref().map(|(name, _)| (name, "REDACTED")))
            .field("token_file", &self.token_file)
            .field("actions_request_url", &self.actions_request_url.as_ref().map(|_| "REDACTED"))
            .field("actions_request_token", &self.actions_request_token.as_ref().map(|_| "REDACTED"))
            .finish()
    }
}
