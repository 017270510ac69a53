//! The app JWT: claims from the clock, assembled once (header and claims,
//! base64url) and handed to a signer for the RS256 signature. Pure apart from
//! the signer the caller passes: any key source (a PEM here, a vault or a
//! command elsewhere) signs the same bytes.

use crate::config::AppId;
use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

/// GitHub recommends `iat` 60 s in the past to absorb clock drift.
const BACKDATE_SECS: i64 = 60;
/// GitHub refuses `exp` more than 10 minutes ahead of its clock; 9 leaves room.
const LIFETIME_SECS: i64 = 9 * 60;

/// The JOSE header of every app JWT.
const HEADER: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Claims {
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) iss: Issuer,
}

/// `iss` as configured: a JSON number for an App ID, a string for a client ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Issuer {
    Number(u64),
    Text(String),
}

/// The claims of a JWT signed at `now` (unix seconds).
pub(crate) fn claims(app_id: &AppId, now: i64) -> Claims {
    Claims {
        iat: now.saturating_sub(BACKDATE_SECS),
        exp: now.saturating_add(LIFETIME_SECS),
        iss: match app_id {
            AppId::Number(n) => Issuer::Number(*n),
            AppId::ClientId(s) => Issuer::Text(s.clone()),
        },
    }
}

/// `base64url(header) . base64url(claims)`: the bytes the signature covers.
fn signing_input(claims: &Claims) -> String {
    // Serialising plain integers and strings cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(json))
}

/// The JWT for `claims`, signed by `sign` (which returns the raw RS256 signature of its input).
pub(crate) fn encode<E>(
    claims: &Claims,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Secret<String>, E> {
    let input = signing_input(claims);
    let signature = sign(input.as_bytes())?;
    Ok(Secret::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))))
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
    fn the_jwt_is_header_claims_and_signature_in_base64url() {
        let c = claims(&AppId::Number(7), 1_000);
        let jwt = encode(&c, |input| Ok::<_, ()>(input.iter().rev().copied().collect())).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[0]).unwrap(), HEADER.as_bytes());
        let body: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"iat": 940, "exp": 1540, "iss": 7}));
        let signed: Vec<u8> = format!("{}.{}", parts[0], parts[1]).bytes().rev().collect();
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), signed);
        assert!(!jwt.expose().contains('='));
    }

    #[test]
    fn a_signer_failure_is_returned_as_is() {
        let c = claims(&AppId::Number(7), 0);
        assert_eq!(encode(&c, |_| Err::<Vec<u8>, _>("no key")).unwrap_err(), "no key");
    }
}
