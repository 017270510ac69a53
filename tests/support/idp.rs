//! A test identity provider: RS256 JWTs signed with the fixture key `idp-key-pkcs1.pem`, with
//! the issuer, audience, subject, extra claims and lifetime a test asks for (expired ones too).
//! OpenBao's JWT auth method is configured with [`TestIdp::public_key_pem`] to trust them.

use serde_json::{Map, Value, json};

use super::{client, fixture_string, unix_now};

/// The issuer of GitHub Actions OIDC tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

#[derive(Debug, Clone)]
pub struct TestIdp {
    issuer: String,
    private_key_pem: String,
    public_key_pem: String,
}

impl TestIdp {
    /// An identity provider with this `iss`, signing with the fixture IdP key.
    pub fn new(issuer: &str) -> TestIdp {
        TestIdp {
            issuer: issuer.to_string(),
            private_key_pem: fixture_string("idp-key-pkcs1.pem"),
            public_key_pem: fixture_string("idp-key.pub.pem"),
        }
    }

    /// One that looks like GitHub Actions (`iss` = [`GITHUB_ACTIONS_ISSUER`]).
    pub fn github_actions() -> TestIdp {
        TestIdp::new(GITHUB_ACTIONS_ISSUER)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The verification key (PEM `PUBLIC KEY`), for `jwt_validation_pubkeys`.
    pub fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// RS256-signs exactly these claims.
    pub fn sign(&self, claims: &Value) -> String {
        client::sign_jwt(&self.private_key_pem, claims)
    }

    /// A JWT with `iss`, `aud`, `sub`, `iat`/`nbf` = now, `exp` = now + `lifetime_secs` (negative
    /// for an expired token), plus `extra` claims (an object; its keys win).
    pub fn jwt(&self, aud: &str, sub: &str, extra: &Value, lifetime_secs: i64) -> String {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("aud".into(), json!(aud));
        claims.insert("sub".into(), json!(sub));
        claims.insert("iat".into(), json!(now.min(now + lifetime_secs) - 5));
        claims.insert("nbf".into(), json!(now.min(now + lifetime_secs) - 5));
        claims.insert("exp".into(), json!(now + lifetime_secs));
        if let Some(obj) = extra.as_object() {
            claims.extend(obj.clone());
        }
        self.sign(&Value::Object(claims))
    }

    /// A JWT that expired `ago_secs` seconds ago (issued ten minutes before that).
    pub fn expired_jwt(&self, aud: &str, sub: &str, extra: &Value, ago_secs: i64) -> String {
        let now = unix_now();
        let mut claims = json!({
            "iss": self.issuer, "aud": aud, "sub": sub,
            "iat": now - ago_secs - 600, "nbf": now - ago_secs - 600, "exp": now - ago_secs,
        });
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        self.sign(&claims)
    }
}

/// The claims GitHub Actions puts in a job's OIDC token for `owner/repo` on branch `branch`
/// (`sub` is given separately to [`TestIdp::jwt`]: see [`github_actions_sub`]).
pub fn github_actions_claims(repository: &str, branch: &str) -> Value {
    let owner = repository.split('/').next().unwrap_or(repository);
    json!({
        "repository": repository,
        "repository_owner": owner,
        "ref": format!("refs/heads/{branch}"),
        "ref_type": "branch",
        "workflow": "ci",
        "job_workflow_ref": format!("{repository}/.github/workflows/ci.yml@refs/heads/{branch}"),
        "event_name": "push",
        "runner_environment": "self-hosted",
    })
}

/// `repo:OWNER/REPO:ref:refs/heads/BRANCH`, GitHub Actions' `sub` for a branch job.
pub fn github_actions_sub(repository: &str, branch: &str) -> String {
    format!("repo:{repository}:ref:refs/heads/{branch}")
}

/// The claims of a JWT, decoded without verifying it (for assertions).
pub fn decode_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap_or("");
    let std_b64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    super::base64_decode(&std_b64).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null)
}
