//! The app JWT: claims from the clock, RS256 signature with the app's key.
//!
//! `claims` is pure (time is a parameter). Reading the key lives in
//! [`crate::key`]; the PEM only passes through here on its way to `ring`.

use crate::config::AppId;
use crate::secret::Secret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::fmt;

/// GitHub recommends `iat` 60 s in the past to absorb clock drift.
pub const BACKDATE_SECS: i64 = 60;
/// GitHub refuses `exp` more than 10 minutes ahead of its clock; 9 leaves room.
pub const LIFETIME_SECS: i64 = 9 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: Issuer,
}

/// `iss` as configured: a JSON number for an App ID, a string for a client ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Issuer {
    Number(u64),
    Text(String),
}

/// The claims of a JWT signed at `now` (unix seconds).
pub fn claims(app_id: &AppId, now: i64) -> Claims {
    Claims {
        iat: now.saturating_sub(BACKDATE_SECS),
        exp: now.saturating_add(LIFETIME_SECS),
        iss: match app_id {
            AppId::Number(n) => Issuer::Number(*n),
            AppId::ClientId(s) => Issuer::Text(s.clone()),
        },
    }
}

#[derive(Debug)]
pub enum JwtError {
    /// The PEM is not an RSA private key (PKCS#1 or PKCS#8).
    NotAnRsaKey,
    /// ring refused to sign (a key it cannot use, such as one under 2048 bits).
    Signing,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::NotAnRsaKey => f.write_str("is not an RSA private key in PEM form (PKCS#1 or PKCS#8)"),
            JwtError::Signing => f.write_str("cannot sign with this RSA key (is it at least 2048 bits?)"),
        }
    }
}

/// Signs `claims` with RS256.
pub fn sign(pem: &Secret<Vec<u8>>, claims: &Claims) -> Result<Secret<String>, JwtError> {
    let key = EncodingKey::from_rsa_pem(pem.expose()).map_err(|_| JwtError::NotAnRsaKey)?;
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key)
        .map(Secret::new)
        .map_err(|_| JwtError::Signing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_backdated_a_minute_and_expire_within_ten() {
        let c = claims(&AppId::Number(42), 1_000_000);
        assert_eq!(c.iat, 999_940);
        assert_eq!(c.exp, 1_000_540);
        assert!(c.exp - c.iat <= 600);
        assert_eq!(serde_json::to_value(&c).unwrap()["iss"], serde_json::json!(42));
    }

    #[test]
    fn a_client_id_is_the_issuer_verbatim() {
        let c = claims(&AppId::ClientId("Iv23liXYZ".into()), 0);
        assert_eq!(serde_json::to_value(&c).unwrap()["iss"], serde_json::json!("Iv23liXYZ"));
    }

    #[test]
    fn text_that_is_not_a_key_is_refused_without_echoing_it() {
        let pem = Secret::new(
            b"-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n".to_vec(),
        );
        let err = sign(&pem, &claims(&AppId::Number(1), 0)).unwrap_err();
        assert!(matches!(err, JwtError::NotAnRsaKey));
        assert!(!err.to_string().contains("base64"));
    }
}
