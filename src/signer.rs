//! The signing seam: each app gets one [`Signer`], chosen by its key source,
//! that signs the JWT's bytes. The JWT itself is assembled in [`crate::jwt`];
//! a new key source is one more variant here and one file beside it.

use crate::config::{App, AppId};
use crate::jwt;
use crate::pem_key::{KeyError, PemKey};
use crate::secret::Secret;
use std::fmt;
use std::time::{Duration, Instant};

/// What signs an app's JWTs.
#[derive(Debug)]
pub(crate) enum Signer {
    /// The app's PEM key, from a file, an environment variable or a command.
    Pem { key: PemKey, source: String },
}

/// Why an app's JWT cannot be signed; each names the key source.
#[derive(Debug)]
pub enum SignError {
    Key(KeyError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Key(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SignError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignError::Key(e) => Some(e),
        }
    }
}

impl Signer {
    /// The signer for `app`: reads its key now (a command runs at most until `deadline`).
    pub(crate) fn for_app(
        app: &App,
        var: fn(&str) -> Option<String>,
        deadline: Instant,
    ) -> Result<Signer, SignError> {
        let timeout = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let key = PemKey::load(&app.key, var, timeout).map_err(SignError::Key)?;
        Ok(Signer::Pem { key, source: app.key.to_string() })
    }

    /// What messages call this signer (`private key file /k.pem`).
    pub(crate) fn describe(&self) -> &str {
        match self {
            Signer::Pem { source, .. } => source,
        }
    }

    /// The app JWT for `app_id`, signed at `now` (GitHub's clock, unix seconds).
    pub(crate) fn jwt(&self, app_id: &AppId, now: i64) -> Result<Secret<String>, SignError> {
        jwt::encode(&jwt::claims(app_id, now), |input| self.sign(input))
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            Signer::Pem { key, source } => {
                key.sign(input).map_err(|_| SignError::Key(KeyError::Unusable { source: source.clone() }))
            }
        }
    }
}
