//! Signing with a Transit key: `POST {mount}/sign/{key}/sha2-256` with
//! `signature_algorithm = pkcs1v15` (RS256; the default for RSA keys is PSS,
//! which GitHub refuses). The answer's `vault:vN:BASE64` is the raw signature.
//!
//! The vault token is fetched at the first signature (so building the signer
//! costs nothing). A 403 is told apart: a cached login token is dropped and
//! the login done once more; otherwise `auth/token/lookup-self` says whether
//! the token is dead (renew it) or lacks the `update` capability on the sign
//! path (fix the policy).

use super::auth::{self, Sources, VaultToken};
use super::client::{VaultClient, VaultError};
use crate::cache::Cache;
use crate::config::Vault;
use crate::context::Context;
use crate::http::Method;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The smallest RSA signature GitHub takes (2048 bits).
const MIN_SIGNATURE_BYTES: usize = 256;

/// A Transit key that signs the app's JWTs.
pub(crate) struct Transit<'a> {
    client: VaultClient<'a>,
    sources: Sources<'a>,
    key: String,
    mount: String,
    token: Option<VaultToken>,
}

impl<'a> Transit<'a> {
    /// A signer for `key` at `mount` of `vault`; nothing is sent yet.
    pub(crate) fn new(
        vault: &'a Vault,
        key: &str,
        mount: &str,
        ctx: &Context<'a>,
        cache: Option<&'a Cache>,
    ) -> Result<Transit<'a>, VaultError> {
        let client = VaultClient::new(vault, ctx.network, ctx.deadline, ctx.config.timeout, ctx.diag)?;
        let sources = Sources { env: ctx.vault_env, network: ctx.network, cache, now: ctx.now };
        Ok(Transit { client, sources, key: key.to_string(), mount: mount.to_string(), token: None })
    }

    /// The vault and where its token came from (once one was used), for messages.
    pub(crate) fn describe(&self) -> String {
        let vault = self.client.vault;
        let mut text = format!(
            "transit key {:?} (mount {:?}) at vault {} (from {})",
            self.key, self.mount, vault.address, vault.address_origin
        );
        if let Some(ns) = &vault.namespace {
            text.push_str(&format!(", namespace {ns:?}"));
        }
        if let Some(token) = &self.token {
            text.push_str(&format!(", token from {}", token.origin));
        }
        text
    }

    /// The RS256 signature of `input`.
    pub(crate) fn sign(&mut self, input: &[u8]) -> Result<Vec<u8>, VaultError> {
        let token = match self.token.take() {
            Some(token) => token,
            None => auth::obtain(&self.client, &self.sources, true)?,
        };
        let first = self.sign_with(&token, input);
        let (token, result) = match first {
            Err(e)
                if e.status() == Some(403)
                    && matches!(token.origin, auth::TokenOrigin::Login { cached: true, .. }) =>
            {
                self.client
                    .diag()
                    .trace(|| "vault: the cached login token was refused; logging in again".into());
                auth::forget(&self.client, &self.sources);
                let fresh = auth::obtain(&self.client, &self.sources, false)?;
                let again = self.sign_with(&fresh, input);
                (fresh, again)
            }
            other => (token, other),
        };
        let result = match result {
            Err(e) if e.status() == Some(403) => Err(self.explain_denied(e, &token)),
            other => other,
        };
        self.token = Some(token);
        result
    }

    fn sign_path(&self) -> String {
        format!("{}/sign/{}/sha2-256", self.mount, self.key)
    }

    fn sign_with(&self, token: &VaultToken, input: &[u8]) -> Result<Vec<u8>, VaultError> {
        let body = json!({ "input": STANDARD.encode(input), "signature_algorithm": "pkcs1v15" });
        let answer = self
            .client
            .call(Method::Post, &self.sign_path(), Some(&token.token), Some(&body))
            .map_err(|e| self.sign_hint(e))?;
        let signature = parse_signature(&answer).map_err(|detail| VaultError::Malformed {
            address: self.client.vault.address.clone(),
            endpoint: format!("POST /v1/{}", self.sign_path()),
            detail,
        })?;
        if signature.len() < MIN_SIGNATURE_BYTES {
            return Err(VaultError::NotRsa {
                address: self.client.vault.address.clone(),
                key: self.key.clone(),
                mount: self.mount.clone(),
                bytes: signature.len(),
            });
        }
        Ok(signature)
    }

    /// What to do about a refused sign call (other than 403), from the vault's message.
    fn sign_hint(&self, error: VaultError) -> VaultError {
        let message = error.message();
        let (key, mount) = (&self.key, &self.mount);
        let hint = match error.status() {
            Some(400) if message.contains("key not found") => format!(
                "there is no transit key {key:?} at mount {mount:?}: import the GitHub App's key (docs/fleet.md) or fix transit_key"
            ),
            Some(400)
                if message.contains("support")
                    || message.contains("type")
                    || message.contains("algorithm") =>
            {
                format!(
                    "transit key {key:?} cannot make RS256 signatures: GitHub needs an RSA key of 2048 bits or more; import the GitHub App's key with type=rsa-2048"
                )
            }
            Some(404) => {
                let namespace = self
                    .client
                    .vault
                    .namespace
                    .as_ref()
                    .map(|ns| format!(" in namespace {ns:?}"))
                    .unwrap_or_default();
                format!(
                    "no Transit engine answers at mount {mount:?}{namespace}: check transit_mount (`bao secrets list`)"
                )
            }
            _ => return error,
        };
        error.with_hint(hint)
    }

    /// A 403 means a dead token or a missing capability. A fresh login token is
    /// alive; otherwise `lookup-self` (allowed by the default policy) tells which.
    fn explain_denied(&self, error: VaultError, token: &VaultToken) -> VaultError {
        let grant = format!(
            "`update` capability on {}: add `path \"{}/sign/{}/*\" {{ capabilities = [\"update\"] }}` to its policy",
            self.sign_path(),
            self.mount,
            self.key
        );
        let alive = match token.origin {
            auth::TokenOrigin::Login { cached: false, .. } => Ok(Value::Null),
            _ => self.client.call(Method::Get, "auth/token/lookup-self", Some(&token.token), None),
        };
        let hint = match alive {
            Ok(_) => format!("the vault token (from {}) lacks the {grant}", token.origin),
            Err(e) if e.status() == Some(403) => format!(
                "the vault token (from {}) is invalid or expired ({}), or it lacks the {grant} (it may not look itself up, so the vault cannot tell which)",
                token.origin,
                token.origin.renew_hint()
            ),
            Err(_) => format!(
                "the vault token (from {}) is invalid or expired, or it lacks the {grant}",
                token.origin
            ),
        };
        error.with_hint(hint)
    }
}

/// The raw signature from a sign answer: `data.signature` is `vault:vN:BASE64`.
fn parse_signature(answer: &Value) -> Result<Vec<u8>, String> {
    let text = answer
        .get("data")
        .and_then(|d| d.get("signature"))
        .and_then(Value::as_str)
        .ok_or("the answer has no data.signature")?;
    let encoded = text
        .strip_prefix("vault:v")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(version, _)| !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()))
        .map(|(_, encoded)| encoded)
        .ok_or("data.signature is not of the form vault:vN:BASE64")?;
    let signature = STANDARD.decode(encoded).map_err(|_| "data.signature is not base64".to_string())?;
    // Shorter is another kind of key (told by NotRsa); longer must be an RSA modulus size.
    if signature.len() >= MIN_SIGNATURE_BYTES && ![256, 384, 512].contains(&signature.len()) {
        return Err(format!(
            "data.signature is {} bytes, not an RSA signature of 2048, 3072 or 4096 bits",
            signature.len()
        ));
    }
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_base64_after_the_key_version() {
        let answer = json!({"data": {"signature": format!("vault:v12:{}", STANDARD.encode([9u8; 256])), "key_version": 12}});
        assert_eq!(parse_signature(&answer).unwrap(), vec![9u8; 256]);
        for bad in [
            json!({}),
            json!({"data": {"signature": "v1:AAAA"}}),
            json!({"data": {"signature": "vault:vx:AAAA"}}),
            json!({"data": {"signature": "vault:v1:not base64!"}}),
            json!({"data": {"signature": format!("vault:v1:{}", STANDARD.encode([9u8; 257]))}}),
            json!({"data": {"signature": format!("vault:v1:{}", STANDARD.encode([9u8; 300]))}}),
        ] {
            assert!(parse_signature(&bad).is_err(), "{bad}");
        }
    }
}
