//! The vault as a key source: HashiCorp Vault or OpenBao (the same HTTP API)
//! signs the app JWT with its Transit engine, so the key never reaches the
//! runner. The helper authenticates with a token (a Vault Agent sink,
//! `$VAULT_TOKEN`, `~/.vault-token`) or logs in with a workload identity JWT
//! (a file, or the GitHub Actions runner's OIDC endpoint).
//!
//! - [`client`]: the HTTP client (one agent, the deadline, the retry policy,
//!   errors naming the address, the path and the vault's own message);
//! - [`auth`]: where the vault token comes from;
//! - [`kept`]: the login token kept in the cache dir until shortly before its
//!   lease ends;
//! - [`transit`]: the sign call and what its answer and errors mean.
//!
//! The vault is contacted only on the mint path (a cached `get` never builds a signer).

mod auth;
mod client;
mod kept;
mod transit;

pub(crate) use client::VaultError;
#[cfg(test)]
pub(crate) use client::error_message;
pub(crate) use transit::Transit;
