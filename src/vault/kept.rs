//! The kept login: a vault token from `[vault.login]`, kept in the cache dir
//! (0600, written by temp file and rename, like token entries) until shortly
//! before its lease ends, keyed by what logged in (see `auth.rs`). The cache
//! owns the file; this owns what it holds and when it may be used.

use crate::cache::{Cache, CacheError, is_fresh};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// The format of the kept login file.
const FORMAT_VERSION: u32 = 1;

/// A logged-in vault token as kept on disk.
#[derive(Serialize, Deserialize)]
struct StoredLogin {
    version: u32,
    /// What the login is keyed by: vault address, namespace, auth mount, role
    /// and identity (see `auth.rs`).
    fields: Vec<String>,
    token: Secret<String>,
    expires_at: u64,
}

/// The vault token a login for `fields` (address, namespace, mount, role,
/// identity) left in `cache`, while more than `margin` seconds of its lease remain at `now`.
pub(super) fn login_token(cache: &Cache, fields: &[&str], now: u64, margin: u64) -> Option<Secret<String>> {
    let stored: StoredLogin = cache.read_vault_login(fields)?;
    let same = stored.fields.iter().map(String::as_str).eq(fields.iter().copied());
    let usable = stored.version == FORMAT_VERSION
        && same
        && is_fresh(stored.expires_at, now, margin)
        && !stored.token.expose().is_empty()
        && !stored.token.expose().contains(|c: char| c.is_whitespace() || c.is_control());
    usable.then_some(stored.token)
}

/// Keeps a logged-in vault token until `expires_at` (same file rules as tokens).
pub(super) fn set_login_token(
    cache: &Cache,
    fields: &[&str],
    token: &Secret<String>,
    expires_at: u64,
) -> Result<(), CacheError> {
    let stored = StoredLogin {
        version: FORMAT_VERSION,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        token: token.clone(),
        expires_at,
    };
    cache.write_vault_login(fields, &stored)
}

/// Drops the kept login token for `fields` (the vault refused it).
pub(super) fn forget_login_token(cache: &Cache, fields: &[&str]) {
    cache.remove_vault_login(fields);
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_kept_vault_login_is_used_until_shortly_before_its_lease_ends_and_only_for_its_own_keys() {
        let dir = TempDir::new("vault-login");
        let cache = Cache::new(&dir.0, None, 9_000);
        cache.ensure_dir().unwrap();
        let fields = ["https://v:8200", "ci", "jwt", "runner"];
        let token = Secret::new("s.kept".to_string());
        set_login_token(&cache, &fields, &token, 10_000).unwrap();
        let file = fs::read_dir(&dir.0).unwrap().next().unwrap().unwrap().path();
        assert!(file.file_name().unwrap().to_string_lossy().starts_with("vault-login-"));
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            login_token(&cache, &fields, 9_000, 60).map(|t| t.expose().clone()),
            Some("s.kept".into())
        );
        assert!(login_token(&cache, &fields, 9_950, 60).is_none(), "within the margin");
        assert!(login_token(&cache, &["https://v:8200", "ci", "jwt", "other"], 9_000, 60).is_none());
        assert!(login_token(&cache, &["https://w:8200", "ci", "jwt", "runner"], 9_000, 60).is_none());
        forget_login_token(&cache, &fields);
        assert!(login_token(&cache, &fields, 9_000, 60).is_none());
        set_login_token(&cache, &fields, &token, 10_000).unwrap();
        assert_eq!(cache.clear().unwrap(), 1);
        assert!(login_token(&cache, &fields, 9_000, 60).is_none());
    }
}
