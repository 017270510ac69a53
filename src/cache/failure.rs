//! Failure notes: a failed mint recorded for seconds (`failure-<hash>.json`),
//! so the processes queued on the entry's lock fail with its error instead of
//! each retrying.

use super::{Cache, CacheError, EntryKey, hash_hex};
use serde::{Deserialize, Serialize};

/// How long a failed mint is shared with the processes queued behind it.
const FAILURE_NOTE_SECS: u64 = 10;

/// A failure another process recorded for an entry moments ago.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailureNote {
    /// Its one-line message (never a secret: error messages hold none).
    pub(crate) message: String,
    pub(crate) age_secs: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredFailure {
    at: u64,
    message: String,
}

impl Cache {
    fn failure_name(key: &EntryKey) -> String {
        format!("failure-{}.json", hash_hex(&[&key.stem()]))
    }

    /// Records that minting for `key` just failed with `message`, so the
    /// processes queued on its lock fail with it instead of retrying each.
    pub(crate) fn record_failure(&self, key: &EntryKey, message: &str) -> Result<(), CacheError> {
        let stored = StoredFailure { at: self.now, message: message.to_string() };
        self.replace(&Self::failure_name(key), &stored)
    }

    /// A failure recorded for `key` by a process that started less than
    /// [`FAILURE_NOTE_SECS`] before this one, or after it (while this one
    /// waited for the lock; a run lasts at most an hour).
    pub(crate) fn recent_failure(&self, key: &EntryKey) -> Option<FailureNote> {
        let stored: StoredFailure = self.read_json(&Self::failure_name(key))?;
        let recent = self.now < stored.at.saturating_add(FAILURE_NOTE_SECS)
            && stored.at <= self.now.saturating_add(3600);
        let age_secs = self.now.saturating_sub(stored.at);
        recent.then(|| FailureNote {
            message: crate::redact::escape(&stored.message.chars().take(1000).collect::<String>()),
            age_secs,
        })
    }

    /// Drops the failure note for `key` (a mint succeeded).
    pub(crate) fn forget_failure(&self, key: &EntryKey) {
        if let Ok(dir) = self.open_dir() {
            let _ = dir.remove(&Self::failure_name(key));
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::cache::tests::{NOW, key};
    use crate::testing::TempDir;

    #[test]
    fn a_failure_note_is_shared_for_seconds_only_and_dropped_on_success() {
        let tmp = TempDir::new("failure");
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        assert_eq!(cache.recent_failure(&key("k")), None);
        cache.record_failure(&key("k"), "POST x answered HTTP 500 (\u{1b}boom)\u{7}").unwrap();
        let note = cache.recent_failure(&key("k")).unwrap();
        assert_eq!(note.age_secs, 0);
        assert!(!note.message.contains('\u{1b}') && !note.message.contains('\u{7}'), "{note:?}");
        assert_eq!(cache.recent_failure(&key("other")), None);
        let later = Cache::new(&tmp.0, None, NOW + FAILURE_NOTE_SECS);
        assert_eq!(later.recent_failure(&key("k")), None);
        // Written by a process that started after this one, while it waited: shared.
        let earlier = Cache::new(&tmp.0, None, NOW - 1);
        assert_eq!(earlier.recent_failure(&key("k")).map(|n| n.age_secs), Some(0));
        let long_before = Cache::new(&tmp.0, None, NOW - 3601);
        assert_eq!(long_before.recent_failure(&key("k")), None);
        cache.forget_failure(&key("k"));
        assert_eq!(cache.recent_failure(&key("k")), None);
    }
}
