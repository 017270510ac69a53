//! What the process hands every operation: the validated config, the clock,
//! the deadline, the network environment, the vault credentials from the
//! environment ([`VaultEnv`]), and where diagnostics go. Built by `run` from
//! what `main` read; nothing below reads the process itself.

use crate::cache::Cache;
use crate::config::{App, Config};
use crate::diag::Diag;
use crate::github::{ApiError, Client, ClientOptions};
use crate::network::{self, GitHttpQuery, NetworkEnv};
use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(crate) struct Context<'a> {
    pub(crate) config: &'a Config,
    /// Unix seconds.
    pub(crate) now: u64,
    /// When this operation must be done (its start plus `timeout_secs`).
    pub(crate) deadline: Instant,
    pub(crate) network: &'a NetworkEnv,
    /// Looks up an environment variable (for `private_key_env`).
    pub(crate) var: fn(&str) -> Option<String>,
    /// This process's user, which must own the cache directory.
    pub(crate) uid: Option<u32>,
    /// Warnings, hints and trace lines (git's stderr).
    pub(crate) diag: &'a Diag<'a>,
    /// Vault credentials from the environment (for `transit_key`).
    pub(crate) vault_env: &'a VaultEnv,
}

/// An API client being set up: git is asked for its `http.*` settings in the
/// background (only when they could matter), so a key can be read meanwhile.
pub(crate) struct ClientSetup {
    api_url: String,
    ca_file: Option<std::path::PathBuf>,
    git: Option<GitHttpQuery>,
}

impl<'a> Context<'a> {
    /// The cache of the config, which must belong to this user.
    pub(crate) fn cache(&self) -> Cache {
        Cache::new(&self.config.cache_dir, self.uid, self.now)
    }

    /// Starts setting up the client for `app`'s API URL.
    pub(crate) fn client_for(&self, app: &App) -> ClientSetup {
        self.client_at(&app.api_url, app.ca_file.as_deref())
    }

    /// Starts setting up a client for `api_url`, trusting `ca_file` when given.
    pub(crate) fn client_at(&self, api_url: &str, ca_file: Option<&Path>) -> ClientSetup {
        let git = network::wants_git(ca_file, self.network).then(|| GitHttpQuery::start(api_url));
        ClientSetup { api_url: api_url.to_string(), ca_file: ca_file.map(Path::to_path_buf), git }
    }

    /// The client, once git has answered (or the deadline passed).
    pub(crate) fn finish(&self, setup: ClientSetup) -> Result<Client<'a>, ApiError> {
        let ClientSetup { api_url, ca_file, git } = setup;
        let mut hung = None;
        let connection = network::resolve(&api_url, ca_file.as_deref(), self.network, || {
            match git.map(|query| query.finish(self.deadline, self.diag)) {
                Some(Ok(config)) => config,
                Some(Err(why)) => {
                    hung = Some(why);
                    network::GitHttpConfig::default()
                }
                None => network::GitHttpConfig::default(),
            }
        });
        if let Some(why) = hung {
            return Err(ApiError::Setup(why));
        }
        let options = ClientOptions {
            api_url,
            connection,
            deadline: self.deadline,
            timeout: self.config.timeout,
            now: self.now,
        };
        Client::new(options, self.diag)
    }
}

/// What the vault's authentication reads from the process environment
/// (filled by `main`; the tokens are `Secret`s, never printed).
#[derive(Debug, Clone, Default)]
pub struct VaultEnv {
    /// `$VAULT_TOKEN`, else `$BAO_TOKEN`, with the variable's name (`"$VAULT_TOKEN"`).
    pub token: Option<(&'static str, Secret<String>)>,
    /// `~/.vault-token`, where `vault login` / `bao login` leave the token.
    pub token_file: Option<PathBuf>,
    /// `$ACTIONS_ID_TOKEN_REQUEST_URL` (set in a GitHub Actions job with `id-token: write`).
    pub actions_request_url: Option<String>,
    /// `$ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub actions_request_token: Option<Secret<String>>,
}
