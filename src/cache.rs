//! The token cache: one JSON file per (API URL, app, installation, scope), in
//! a directory only the user can enter.
//!
//! Reading a fresh entry is the whole cost of a cached `get`: one file read.
//! A miss takes an exclusive `flock` on the entry's lock file, re-reads (another
//! process may have minted meanwhile), mints, writes a temp file and renames it
//! over the entry, so readers see the old entry or the new one, never a torn one.

use crate::secret::Secret;
use crate::token::InstallationToken;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const FORMAT_VERSION: u32 = 1;
const ENTRY_PREFIX: &str = "token-";

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
    fn stem(&self) -> String {
        let fields = [self.api_url.as_str(), &self.app_id, &self.installation, &self.scope];
        format!("{ENTRY_PREFIX}{}", hash_hex(&fields))
    }
}

/// Hex of the first 16 bytes of the SHA-256 of `fields`, each ended by a newline.
pub(crate) fn hash_hex(fields: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for field in fields {
        ctx.update(field.as_bytes());
        ctx.update(b"\n");
    }
    ctx.finish().as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
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
struct StoredEntry {
    version: u32,
    #[serde(flatten)]
    key: EntryKey,
    installation_id: u64,
    token: String,
    expires_at: u64,
}

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

/// True when a token expiring at `expires_at` still has `min_lifetime` seconds to live at `now`.
pub(crate) fn is_fresh(expires_at: u64, now: u64, min_lifetime: u64) -> bool {
    expires_at >= now.saturating_add(min_lifetime)
}

#[derive(Debug)]
pub enum CacheError {
    Dir { path: PathBuf, source: io::Error },
    NotADirectory { path: PathBuf },
    Owner { path: PathBuf, uid: u32 },
    Lock { path: PathBuf, source: io::Error },
    LockTimeout { path: PathBuf, waited: Duration },
    Write { path: PathBuf, source: io::Error },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Dir { path, source } => {
                write!(f, "cannot use cache directory {}: {source}", path.display())
            }
            CacheError::NotADirectory { path } => write!(
                f,
                "cache directory {} is a symlink or not a directory: refusing to use it",
                path.display()
            ),
            CacheError::Owner { path, uid } => write!(
                f,
                "cache directory {} belongs to uid {uid}, not to this user: refusing to use it",
                path.display()
            ),
            CacheError::Lock { path, source } => {
                write!(f, "cannot lock {}: {source}", path.display())
            }
            CacheError::LockTimeout { path, waited } => {
                write!(f, "another process held {} for {} s", path.display(), waited.as_secs())
            }
            CacheError::Write { path, source } => {
                write!(f, "cannot write cache entry {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Dir { source, .. }
            | CacheError::Lock { source, .. }
            | CacheError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An exclusive lock on one entry, released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct EntryLock {
    _file: File,
}

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
    /// The uid that must own the directory; `None` where it cannot be known.
    owner: Option<u32>,
}

impl Cache {
    pub(crate) fn new(dir: impl Into<PathBuf>, owner: Option<u32>) -> Cache {
        Cache { dir: dir.into(), owner }
    }

    /// Refuses a directory someone else could have prepared: a symlink, a
    /// non-directory, or one owned by another user. One `lstat`, so it stays
    /// on the cached path.
    fn check_dir(&self) -> Result<fs::Metadata, CacheError> {
        let meta = fs::symlink_metadata(&self.dir)
            .map_err(|source| CacheError::Dir { path: self.dir.clone(), source })?;
        if !meta.is_dir() {
            return Err(CacheError::NotADirectory { path: self.dir.clone() });
        }
        if let Some(owner) = self.owner
            && meta.uid() != owner
        {
            return Err(CacheError::Owner { path: self.dir.clone(), uid: meta.uid() });
        }
        Ok(meta)
    }

    /// Whether what the directory holds can be believed: [`Cache::check_dir`]
    /// passes and no one else may write to it (it could hold planted files;
    /// the next mint tightens a directory of ours with `ensure_dir`).
    fn trusted(&self) -> bool {
        self.check_dir().is_ok_and(|meta| meta.permissions().mode() & 0o022 == 0)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name of `key`'s entry, for `cache list`.
    pub(crate) fn entry_name(key: &EntryKey) -> String {
        format!("{}.json", key.stem())
    }

    /// Deletes every token, remembered installation and clock offset; lock
    /// files stay (deleting one under a waiting process would split the lock).
    pub(crate) fn clear(&self) -> Result<usize, CacheError> {
        match self.check_dir() {
            Err(CacheError::Dir { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let dir =
            fs::read_dir(&self.dir).map_err(|source| CacheError::Dir { path: self.dir.clone(), source })?;
        let mut removed = 0;
        for entry in dir.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = ["token-", "installations-", "clock-"].iter().any(|p| name.starts_with(p))
                && name.ends_with(".json");
            if ours || (name.starts_with('.') && name.contains(".json.tmp")) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(CacheError::Write { path: entry.path(), source }),
                }
            }
        }
        Ok(removed)
    }

    fn entry_path(&self, key: &EntryKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.stem()))
    }

    /// The entry for `key`, or `None` when absent, unreadable, corrupt, or
    /// written for another key: all of those are misses.
    pub(crate) fn read(&self, key: &EntryKey) -> Option<Entry> {
        if !self.trusted() {
            return None;
        }
        let entry = read_entry(&self.entry_path(key))?;
        (entry.key == *key).then_some(entry)
    }

    /// Creates the directory with mode 0700 (or tightens it), refusing a symlink.
    pub(crate) fn ensure_dir(&self) -> Result<(), CacheError> {
        let err = |source| CacheError::Dir { path: self.dir.clone(), source };
        if let Some(parent) = self.dir.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        match fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e)),
        }
        let meta = self.check_dir()?;
        // Ours, but opened up by hand: tighten it back.
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
        Ok(())
    }

    /// Takes the entry's exclusive lock, waiting at most `timeout`.
    pub(crate) fn lock(&self, key: &EntryKey, timeout: Duration) -> Result<EntryLock, CacheError> {
        self.lock_file(&key.stem(), timeout)
    }

    fn lock_file(&self, stem: &str, timeout: Duration) -> Result<EntryLock, CacheError> {
        let path = self.dir.join(format!("{stem}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| CacheError::Lock { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => return Ok(EntryLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(source)) => return Err(CacheError::Lock { path, source }),
        }
        // `flock` has no timeout: block in a thread and stop waiting for it at
        // the deadline. The holder wakes us the moment it releases, unlike polling.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let result = file.lock().map(|()| file);
            // The receiver is gone only when we already gave up; nothing to do.
            let _ = tx.send(result);
        });
        match rx.recv_timeout(timeout) {
            Ok(Ok(file)) => Ok(EntryLock { _file: file }),
            Ok(Err(source)) => Err(CacheError::Lock { path, source }),
            Err(_) => Err(CacheError::LockTimeout { path, waited: timeout }),
        }
    }

    /// Writes the entry for `key`: temp file (0600) in the same directory, then rename.
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
            token: token.token.expose().clone(),
            expires_at: token.expires_at,
        };
        self.replace(&self.entry_path(key), &stored)
    }

    /// Writes `value` as JSON to a temp file (0600) in the same directory and
    /// renames it over `path`, so readers see the old file or the new one.
    fn replace(&self, path: &Path, value: &impl Serialize) -> Result<(), CacheError> {
        let err = |source| CacheError::Write { path: path.to_path_buf(), source };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.dir.join(format!(".{name}.tmp{}", std::process::id()));
        let bytes = serde_json::to_vec(value).map_err(|e| err(e.into()))?;
        let written = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }

    fn installations_stem(api_url: &str, app_id: &str) -> String {
        format!("installations-{}", hash_hex(&[api_url, app_id]))
    }

    /// What discovery remembers for (API URL, app); empty when nothing is known.
    pub(crate) fn installations(&self, api_url: &str, app_id: &str) -> Installations {
        if !self.trusted() {
            return Installations::default();
        }
        let path = self.dir.join(format!("{}.json", Self::installations_stem(api_url, app_id)));
        fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
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
        self.replace(&self.dir.join(format!("{stem}.json")), &known)
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
                let path = self.entry_path(&entry.key);
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(CacheError::Write { path, source }),
                }
            }
        }
        Ok(removed)
    }

    fn clock_path(&self, api_url: &str) -> PathBuf {
        self.dir.join(format!("clock-{}.json", hash_hex(&[api_url])))
    }

    /// The offset (GitHub's clock minus ours, in seconds) learnt from an
    /// earlier clock-skew error for `api_url`; 0 when none was learnt.
    pub(crate) fn clock_offset(&self, api_url: &str) -> i64 {
        #[derive(Deserialize)]
        struct Stored {
            offset_secs: i64,
        }
        if !self.trusted() {
            return 0;
        }
        fs::read(self.clock_path(api_url))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .map_or(0, |s| s.offset_secs)
    }

    /// Remembers the clock offset for `api_url` so later mints sign with GitHub's time.
    pub(crate) fn set_clock_offset(&self, api_url: &str, offset_secs: i64) -> Result<(), CacheError> {
        self.replace(
            &self.clock_path(api_url),
            &serde_json::json!({ "api_url": api_url, "offset_secs": offset_secs }),
        )
    }

    /// Every readable token entry in the directory.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        if !self.trusted() {
            return Vec::new();
        }
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with(ENTRY_PREFIX) && name.ends_with(".json")
            })
            .filter_map(|e| read_entry(&e.path()))
            .collect()
    }
}

fn read_entry(path: &Path) -> Option<Entry> {
    let bytes = fs::read(path).ok()?;
    let stored: StoredEntry = serde_json::from_slice(&bytes).ok()?;
    if stored.version != FORMAT_VERSION || !crate::token::is_token_shaped(&stored.token) {
        return None;
    }
    Some(Entry {
        key: stored.key,
        installation_id: stored.installation_id,
        token: Secret::new(stored.token),
        expires_at: stored.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("gcga-cache-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn key(scope: &str) -> EntryKey {
        EntryKey {
            api_url: "https://api.github.com".into(),
            app_id: "1".into(),
            installation: "2".into(),
            scope: scope.into(),
        }
    }

    fn token(value: &str, expires_at: u64) -> InstallationToken {
        InstallationToken { token: Secret::new(value.into()), expires_at }
    }

    #[test]
    fn freshness_requires_the_minimum_lifetime_left() {
        assert!(is_fresh(1600, 1000, 600));
        assert!(!is_fresh(1599, 1000, 600));
        assert!(!is_fresh(900, 1000, 0));
    }

    #[test]
    fn a_written_entry_reads_back_and_files_are_private() {
        let tmp = TempDir::new("roundtrip");
        let cache = Cache::new(tmp.0.join("sub"), None);
        cache.ensure_dir().unwrap();
        cache.write(&key("installation"), 2, &token("ghs_one", 5000)).unwrap();
        let entry = cache.read(&key("installation")).unwrap();
        assert_eq!(entry.token.expose(), "ghs_one");
        assert_eq!(entry.expires_at, 5000);
        let dir_mode = fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let file_mode =
            fs::metadata(cache.entry_path(&key("installation"))).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        assert!(cache.read(&key("repository:acme/web")).is_none());
    }

    #[test]
    fn a_corrupt_entry_is_a_miss_and_is_replaced_by_the_next_write() {
        let tmp = TempDir::new("corrupt");
        let cache = Cache::new(&tmp.0, None);
        cache.ensure_dir().unwrap();
        fs::write(cache.entry_path(&key("installation")), b"{\"version\":1,\"tok").unwrap();
        assert!(cache.read(&key("installation")).is_none());
        cache.write(&key("installation"), 2, &token("ghs_two", 9)).unwrap();
        assert_eq!(cache.read(&key("installation")).unwrap().token.expose(), "ghs_two");
    }

    #[test]
    fn removing_a_token_deletes_only_the_entries_holding_it() {
        let tmp = TempDir::new("remove");
        let cache = Cache::new(&tmp.0, None);
        cache.ensure_dir().unwrap();
        cache.write(&key("a"), 2, &token("ghs_a", 9)).unwrap();
        cache.write(&key("b"), 2, &token("ghs_b", 9)).unwrap();
        let removed = cache.remove_token(&Secret::new("ghs_a".into()), Duration::from_secs(5)).unwrap();
        assert_eq!(removed, 1);
        assert!(cache.read(&key("a")).is_none());
        assert!(cache.read(&key("b")).is_some());
    }

    #[test]
    fn a_second_lock_waits_until_the_first_is_released() {
        let tmp = TempDir::new("lock");
        let cache = Cache::new(&tmp.0, None);
        cache.ensure_dir().unwrap();
        let held = cache.lock(&key("x"), Duration::from_secs(5)).unwrap();
        let err = cache.lock(&key("x"), Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, CacheError::LockTimeout { .. }));
        drop(held);
        assert!(cache.lock(&key("x"), Duration::from_secs(5)).is_ok());
    }

    #[test]
    fn remembered_installations_accumulate_across_updates() {
        let tmp = TempDir::new("installations");
        let cache = Cache::new(&tmp.0, None);
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

    #[test]
    fn a_cache_dir_owned_by_another_user_is_refused_and_its_entries_ignored() {
        let tmp = TempDir::new("owner");
        let mine = Cache::new(&tmp.0, None);
        mine.ensure_dir().unwrap();
        mine.write(&key("k"), 2, &token("ghs_planted", u64::MAX)).unwrap();
        let uid = fs::metadata(&tmp.0).unwrap().uid();
        let theirs = Cache::new(&tmp.0, Some(uid.wrapping_add(1)));
        assert!(theirs.read(&key("k")).is_none());
        assert!(theirs.entries().is_empty());
        assert!(matches!(theirs.ensure_dir().unwrap_err(), CacheError::Owner { .. }));
        assert!(Cache::new(&tmp.0, Some(uid)).read(&key("k")).is_some());
    }

    #[test]
    fn concurrent_writers_and_readers_never_see_a_torn_or_empty_entry() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let tmp = TempDir::new("torn");
        let cache = Arc::new(Cache::new(&tmp.0, None));
        cache.ensure_dir().unwrap();
        let k = key("installation");
        cache.write(&k, 2, &token("ghs_initial", 1)).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (cache, k, done, reads) = (cache.clone(), k.clone(), done.clone(), reads.clone());
                std::thread::spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        let bytes = fs::read(cache.entry_path(&k)).unwrap();
                        assert!(
                            serde_json::from_slice::<StoredEntry>(&bytes).is_ok(),
                            "torn: {} bytes",
                            bytes.len()
                        );
                        assert!(cache.read(&k).is_some());
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let (cache, k) = (cache.clone(), k.clone());
                std::thread::spawn(move || {
                    for i in 0..200u64 {
                        let _lock = cache.lock(&k, Duration::from_secs(30)).unwrap();
                        // Lengths vary so a torn write would show as a short or mixed file.
                        let value = format!("ghs_{w}_{i}_{}", "x".repeat((i as usize * 37) % 600));
                        cache.write(&k, 2, &token(&value, i)).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert!(reads.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_symlinked_cache_dir_is_refused() {
        let tmp = TempDir::new("symlink");
        fs::create_dir_all(tmp.0.join("real")).unwrap();
        std::os::unix::fs::symlink(tmp.0.join("real"), tmp.0.join("link")).unwrap();
        fs::write(tmp.0.join("real").join("token-planted.json"), "{}").unwrap();
        let link = Cache::new(tmp.0.join("link"), None);
        assert!(matches!(link.clear().unwrap_err(), CacheError::NotADirectory { .. }));
        assert!(tmp.0.join("real").join("token-planted.json").exists());
        let err = link.ensure_dir().unwrap_err();
        assert!(matches!(err, CacheError::NotADirectory { .. }));
    }
}
