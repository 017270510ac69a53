//! Token entries: what a cached token was minted for ([`EntryKey`]), the file
//! holding it (`token-<hash>.json`, with `minted_at`; an expiry GitHub could
//! not have issued is corrupt), its lock, and `remove_token` for git's `erase`.

use super::{Cache, CacheError, ENTRY_PREFIX, EntryLock, FORMAT_VERSION, MAX_FILE_BYTES, hash_hex};
use crate::secret::Secret;
use crate::token::InstallationToken;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a cached token was minted for; two requests share a token only if
/// every field is equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntryKey {
    pub(crate) api_url: String,
    pub(crate) app_id: String,
    /// The configured installation id, or `owner:NAME` for a discovered one,
    /// so a cached `get` needs no lookup before reading its entry.
    pub(crate) installation: String,
    /// `installation` for an installation-wide token, else what narrows it.
    pub(crate) scope: String,
}

impl EntryKey {
    /// A file name that cannot be steered by config values: a hash of the key.
    pub(super) fn stem(&self) -> String {
        let fields = [self.api_url.as_str(), &self.app_id, &self.installation, &self.scope];
        format!("{ENTRY_PREFIX}{}", hash_hex(&fields))
    }
}

/// A cached token with what it was minted for.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: EntryKey,
    pub(crate) installation_id: u64,
    pub(crate) token: Secret<String>,
    pub(crate) expires_at: u64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct StoredEntry {
    version: u32,
    #[serde(flatten)]
    key: EntryKey,
    installation_id: u64,
    token: Secret<String>,
    /// When it was minted (local unix seconds); entries without it are corrupt.
    #[serde(default)]
    minted_at: u64,
    expires_at: u64,
}

/// True when a token expiring at `expires_at` still has `min_lifetime` seconds to live at `now`.
pub(crate) fn is_fresh(expires_at: u64, now: u64, min_lifetime: u64) -> bool {
    expires_at >= now.saturating_add(min_lifetime)
}

/// The longest an entry may live after it was minted: GitHub's tokens live
/// an hour; ten minutes more allow for clock corrections. A longer one was
/// not issued by GitHub and is treated as corrupt.
pub(super) const MAX_ENTRY_LIFETIME: u64 = 70 * 60;

/// Whether an entry's times are ones GitHub could have issued at `now`.
fn plausible(minted_at: u64, expires_at: u64, now: u64) -> bool {
    minted_at <= now.saturating_add(MAX_ENTRY_LIFETIME)
        && expires_at <= minted_at.saturating_add(MAX_ENTRY_LIFETIME)
        && expires_at <= now.saturating_add(MAX_ENTRY_LIFETIME)
}

impl Cache {
    /// The file name of `key`'s entry, for `cache list`.
    pub(crate) fn entry_name(key: &EntryKey) -> String {
        format!("{}.json", key.stem())
    }

    #[cfg(all(test, unix))]
    pub(super) fn entry_path(&self, key: &EntryKey) -> std::path::PathBuf {
        self.dir.join(Self::entry_name(key))
    }

    /// The entry for `key`, or `None` when absent, unreadable, corrupt, or
    /// written for another key: all of those are misses.
    pub(crate) fn read(&self, key: &EntryKey) -> Option<Entry> {
        let dir = self.open_dir().ok()?;
        let entry = self.parse_entry(&dir.read(&Self::entry_name(key), MAX_FILE_BYTES)?)?;
        (entry.key == *key).then_some(entry)
    }

    /// Takes the entry's exclusive lock, waiting at most `timeout`.
    pub(crate) fn lock(&self, key: &EntryKey, timeout: Duration) -> Result<EntryLock, CacheError> {
        self.lock_file(&key.stem(), timeout)
    }

    /// Writes the entry for `key`, minted now: temp file (0600) in the same directory, then rename.
    pub(crate) fn write(
        &self,
        key: &EntryKey,
        installation_id: u64,
        token: &InstallationToken,
    ) -> Result<(), CacheError> {
        let stored = StoredEntry {
            version: FORMAT_VERSION,
            key: key.clone(),
            installation_id,
            token: token.token.clone(),
            minted_at: self.now,
            expires_at: token.expires_at,
        };
        self.replace(&Self::entry_name(key), &stored)
    }

    /// Deletes every entry holding `token` (git's `erase` after a 401); returns how many.
    pub(crate) fn remove_token(
        &self,
        token: &Secret<String>,
        timeout: Duration,
    ) -> Result<usize, CacheError> {
        let mut removed = 0;
        for entry in self.entries() {
            if !entry.token.ct_eq(token.expose()) {
                continue;
            }
            let _lock = self.lock(&entry.key, timeout)?;
            // Re-read under the lock: a new token may have replaced the rejected one.
            if self.read(&entry.key).is_some_and(|e| e.token.ct_eq(token.expose())) {
                let name = Self::entry_name(&entry.key);
                match self.open_dir()?.remove(&name) {
                    Ok(gone) => removed += usize::from(gone),
                    Err(source) => return Err(CacheError::Write { path: self.dir.join(name), source }),
                }
            }
        }
        Ok(removed)
    }

    /// Every readable token entry in the directory.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let Ok(dir) = self.open_dir() else {
            return Vec::new();
        };
        dir.names()
            .into_iter()
            .filter(|name| name.starts_with(ENTRY_PREFIX) && name.ends_with(".json"))
            .filter_map(|name| self.parse_entry(&dir.read(&name, MAX_FILE_BYTES)?))
            .collect()
    }

    /// An entry from its bytes; `None` when corrupt, of another format, or
    /// with times GitHub could not have issued.
    fn parse_entry(&self, bytes: &[u8]) -> Option<Entry> {
        let stored: StoredEntry = serde_json::from_slice(bytes).ok()?;
        if stored.version != FORMAT_VERSION
            || !crate::token::is_token_shaped(stored.token.expose())
            || !plausible(stored.minted_at, stored.expires_at, self.now)
        {
            return None;
        }
        Some(Entry {
            key: stored.key,
            installation_id: stored.installation_id,
            token: stored.token,
            expires_at: stored.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_requires_the_minimum_lifetime_left() {
        assert!(is_fresh(1600, 1000, 600));
        assert!(!is_fresh(1599, 1000, 600));
        assert!(!is_fresh(900, 1000, 0));
    }
}
