//! The signing seam: each app gets one [`Signer`], chosen by its key source,
//! that signs the JWT's bytes. The JWT itself is assembled in [`crate::jwt`];
//! a new key source is one more variant here and one file beside it:
//! [`crate::pem_key`] (a PEM from a file, a variable or a command),
//! [`crate::vault`] (a Transit key) and [`crate::sign_command`] (any KMS).

use crate::cache::Cache;
use crate::config::{App, AppId, KeySource};
use crate::context::Context;
use crate::jwt;
use crate::pem_key::{KeyError, PemKey};
use crate::program;
use crate::secret::Secret;
use crate::sign_command::{self, CommandError};
use crate::vault::{Transit, VaultError};
use std::fmt;
use std::path::Path;
use std::time::Instant;

/// What signs an app's JWTs.
pub(crate) enum Signer<'a> {
    /// The app's PEM key, from a file, an environment variable or a command.
    Pem { key: PemKey, source: String },
    /// A key in the vault's Transit engine; the vault signs.
    Transit(Box<Transit<'a>>),
    /// A program that signs (a cloud KMS, a PKCS#11 token): `argv` starts
    /// with where it was found, `program` is how the config names it.
    /// It runs in `dir`, the config's [`crate::config::Config::command_dir`].
    Command { argv: Vec<String>, program: String, dir: &'a Path, deadline: Instant, source: String },
}

/// `argv` with its program as the absolute path to start it by
/// (`program::locate`: never found in git's working directory), or the
/// program as written and why it cannot run.
fn located(argv: &[String], search: &[std::path::PathBuf]) -> Result<Vec<String>, (String, String)> {
    let written = argv.first().cloned().unwrap_or_default();
    let path = program::locate(&written, search).map_err(|why| (written.clone(), why))?;
    let path =
        path.into_os_string().into_string().map_err(|_| (written, "is not a UTF-8 path".to_string()))?;
    Ok(std::iter::once(path).chain(argv.iter().skip(1).cloned()).collect())
}

/// Why an app's JWT cannot be signed; each names the key source.
#[derive(Debug)]
pub enum SignError {
    Key(KeyError),
    /// Boxed: it is large, and rare.
    Vault(Box<VaultError>),
    Command(CommandError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Key(e) => e.fmt(f),
            SignError::Vault(e) => e.fmt(f),
            SignError::Command(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SignError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignError::Key(e) => Some(e),
            SignError::Vault(e) => Some(e.as_ref()),
            SignError::Command(e) => Some(e),
        }
    }
}

impl<'a> Signer<'a> {
    /// The signer for `app`. A PEM is read now (a command runs at most until
    /// the deadline); a vault or a sign command is contacted only to sign.
    /// `cache` (when usable) keeps a vault login between mints.
    pub(crate) fn for_app(
        app: &App,
        ctx: &Context<'a>,
        cache: Option<&'a Cache>,
    ) -> Result<Signer<'a>, SignError> {
        match &app.key {
            KeySource::Transit { key, mount } => {
                let vault = ctx.config.vault.as_ref().ok_or_else(|| {
                    SignError::Vault(Box::new(VaultError::Setup(
                        "transit_key needs a vault address in [vault] or $VAULT_ADDR".into(),
                    )))
                })?;
                let transit =
                    Transit::new(vault, key, mount, ctx, cache).map_err(|e| SignError::Vault(Box::new(e)))?;
                Ok(Signer::Transit(Box::new(transit)))
            }
            KeySource::SignCommand(argv) => Ok(Signer::Command {
                argv: located(argv, &ctx.config.search_path)
                    .map_err(|(program, detail)| SignError::Command(CommandError::new(program, detail)))?,
                program: argv.first().cloned().unwrap_or_default(),
                dir: &ctx.config.command_dir,
                deadline: ctx.deadline,
                source: app.key.to_string(),
            }),
            KeySource::Command(argv) => {
                let located = located(argv, &ctx.config.search_path)
                    .map_err(|(program, detail)| SignError::Key(KeyError::Command { program, detail }))?;
                // A failure names the program as the config does, not where it was found.
                let key = PemKey::load(
                    &KeySource::Command(located),
                    ctx.var,
                    &ctx.config.command_dir,
                    ctx.deadline,
                )
                .map_err(|e| match e {
                    KeyError::Command { detail, .. } => {
                        KeyError::Command { program: argv.first().cloned().unwrap_or_default(), detail }
                    }
                    e => e,
                });
                let key = key.map_err(SignError::Key)?;
                Ok(Signer::Pem { key, source: app.key.to_string() })
            }
            source => {
                let key = PemKey::load(source, ctx.var, &ctx.config.command_dir, ctx.deadline)
                    .map_err(|e| SignError::Key(e.set_by(app.key_setting(ctx.config))))?;
                Ok(Signer::Pem { key, source: source.to_string() })
            }
        }
    }

    /// What messages call this signer (`private key file /k.pem`, `transit key "k" ... at vault ...`).
    pub(crate) fn describe(&self) -> String {
        match self {
            Signer::Pem { source, .. } | Signer::Command { source, .. } => source.clone(),
            Signer::Transit(transit) => transit.describe(),
        }
    }

    /// The app JWT for `app_id`, signed at `now` (GitHub's clock, unix seconds).
    pub(crate) fn jwt(&mut self, app_id: &AppId, now: i64) -> Result<Secret<String>, SignError> {
        jwt::encode(&jwt::claims(app_id, now), |input| self.sign(input))
    }

    fn sign(&mut self, input: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            Signer::Pem { key, source } => {
                key.sign(input).map_err(|_| SignError::Key(KeyError::Unusable { source: source.clone() }))
            }
            Signer::Transit(transit) => transit.sign(input).map_err(|e| SignError::Vault(Box::new(e))),
            Signer::Command { argv, program, dir, deadline, .. } => {
                sign_command::sign(argv, dir, input, *deadline)
                    .map_err(|e| SignError::Command(CommandError::new(program.clone(), e.detail)))
            }
        }
    }
}
