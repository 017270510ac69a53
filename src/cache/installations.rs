//! Remembered installations: what discovery learnt for one (API URL, app),
//! owner -> installation and repositories found not installed (until when),
//! in `installations-<hash>.json`, updated under its own lock.

use super::{Cache, CacheError, hash_hex};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// What discovery learnt for one (API URL, app): owner -> installation, and
/// lookups that found no installation, with when to ask again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Installations {
    #[serde(default)]
    pub(crate) found: BTreeMap<String, u64>,
    /// `owner` or `owner/repo` -> unix seconds until which it counts as not installed.
    #[serde(default)]
    pub(crate) missing: BTreeMap<String, u64>,
}

/// What discovery remembers about one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remembered {
    /// The owner's installation, found earlier.
    Installed(u64),
    /// Not installed for the repository, until this unix second.
    NotInstalled {
        until: u64,
    },
    Unknown,
}

impl Installations {
    /// What is remembered about `owner/repo` at `now`.
    pub(crate) fn about(&self, owner: &str, repo: &str, now: u64) -> Remembered {
        if let Some(&until) = self.missing.get(&format!("{owner}/{repo}")).filter(|&&until| until > now) {
            return Remembered::NotInstalled { until };
        }
        match self.found.get(owner) {
            Some(&id) => Remembered::Installed(id),
            None => Remembered::Unknown,
        }
    }
}

impl Cache {
    fn installations_stem(api_url: &str, app_id: &str) -> String {
        format!("installations-{}", hash_hex(&[api_url, app_id]))
    }

    /// What discovery remembers for (API URL, app); empty when nothing is known.
    pub(crate) fn installations(&self, api_url: &str, app_id: &str) -> Installations {
        let name = format!("{}.json", Self::installations_stem(api_url, app_id));
        self.read_json(&name).unwrap_or_default()
    }

    /// Applies `change` to the remembered installations under their own lock,
    /// so concurrent discoveries for different owners do not lose each other's.
    pub(crate) fn update_installations(
        &self,
        api_url: &str,
        app_id: &str,
        timeout: Duration,
        change: impl FnOnce(&mut Installations),
    ) -> Result<(), CacheError> {
        let stem = Self::installations_stem(api_url, app_id);
        let _lock = self.lock_file(&stem, timeout)?;
        let mut known = self.installations(api_url, app_id);
        change(&mut known);
        self.replace(&format!("{stem}.json"), &known)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::cache::tests::NOW;
    use crate::testing::TempDir;

    #[test]
    fn remembered_installations_accumulate_across_updates() {
        let tmp = TempDir::new("installations");
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        let t = Duration::from_secs(5);
        assert_eq!(cache.installations("https://api", "1"), Installations::default());
        cache
            .update_installations("https://api", "1", t, |k| {
                k.found.insert("acme".into(), 7);
            })
            .unwrap();
        cache
            .update_installations("https://api", "1", t, |k| {
                k.missing.insert("other/x".into(), 99);
            })
            .unwrap();
        let known = cache.installations("https://api", "1");
        assert_eq!(known.found.get("acme"), Some(&7));
        assert_eq!(known.missing.get("other/x"), Some(&99));
        assert_eq!(cache.installations("https://api", "2"), Installations::default());
    }
}
