//! The token cache: one JSON file per (API URL, app, installation, scope), in
//! a directory only the user can enter.
//!
//! Reading a fresh entry is the whole cost of a cached `get`: one directory
//! open and one file read. The directory and every file in it are checked on
//! the opened file (see [`crate::files`]): a directory others may write to,
//! a symlink, a FIFO or a file of another user is never read. A miss takes an
//! exclusive `flock` on the entry's lock file, re-reads (another process may
//! have minted meanwhile), mints, writes a temp file and renames it over the
//! entry, so readers see the old entry or the new one, never a torn one.
//!
//! This file owns the directory, its file names, locks and `clear`; what each
//! kind of file holds is beside it:
//! - [`entry`]: token entries, their key and freshness, `remove_token`;
//! - [`installations`]: what discovery remembers per (API URL, app);
//! - [`failure`]: failure notes shared with the processes queued on a lock;
//! - [`clock`]: the clock offset learnt from GitHub per API URL.
//!
//! Kept vault logins are files here too, but what they hold is the vault's
//! (`vault/kept.rs`).

mod clock;
mod entry;
mod failure;
mod installations;

pub(crate) use entry::{Entry, EntryKey, is_fresh};
pub(crate) use installations::Remembered;

use crate::files::{DirRefusal, PrivateDir};
use crate::os;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const FORMAT_VERSION: u32 = 1;
const ENTRY_PREFIX: &str = "token-";
/// Vault tokens from `[vault.login]`, kept until shortly before their lease
/// ends; the vault owns what they hold (`vault/kept.rs`), the cache their files.
const LOGIN_PREFIX: &str = "vault-login-";

/// Hex of the first 16 bytes of the SHA-256 of `fields`, each ended by a newline.
fn hash_hex(fields: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for field in fields {
        ctx.update(field.as_bytes());
        ctx.update(b"\n");
    }
    crate::hex::encode(&ctx.finish().as_ref()[..16])
}

/// The most an entry, remembered installations or a clock offset may hold.
const MAX_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub enum CacheError {
    Dir {
        path: PathBuf,
        source: io::Error,
    },
    NotADirectory {
        path: PathBuf,
    },
    Owner {
        path: PathBuf,
        uid: u32,
    },
    /// Group or others may write to the directory: anything in it may be planted.
    Loose {
        path: PathBuf,
        mode: u32,
    },
    Lock {
        path: PathBuf,
        source: io::Error,
    },
    LockTimeout {
        path: PathBuf,
        waited: Duration,
    },
    Write {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Dir { path, source } => {
                write!(f, "cannot use cache directory {}: {source}", os::shown(path))
            }
            CacheError::NotADirectory { path } => write!(
                f,
                "cache directory {} is a symlink or not a directory: refusing to use it",
                os::shown(path)
            ),
            CacheError::Owner { path, uid } => write!(
                f,
                "cache directory {} belongs to uid {uid}, not to this user: refusing to use it",
                os::shown(path)
            ),
            CacheError::Loose { path, mode } => write!(
                f,
                "cache directory {} has mode {mode:03o}: other users could plant tokens in it, so it is not used; run chmod 700 {}",
                os::shown(path),
                os::shown(path)
            ),
            CacheError::Lock { path, source } => {
                write!(f, "cannot lock {}: {source}", os::shown(path))
            }
            CacheError::LockTimeout { path, waited } => {
                write!(f, "another process held {} for {} s", os::shown(path), waited.as_secs())
            }
            CacheError::Write { path, source } => {
                write!(f, "cannot write cache entry {}: {source}", os::shown(path))
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
    /// Whether another process held it when we asked.
    pub(crate) waited: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
    /// The uid that must own the directory and its files; `None` where it cannot be known.
    owner: Option<u32>,
    /// Unix seconds: entries that claim to live longer than GitHub's tokens are refused.
    now: u64,
}

impl Cache {
    pub(crate) fn new(dir: impl Into<PathBuf>, owner: Option<u32>, now: u64) -> Cache {
        Cache { dir: dir.into(), owner, now }
    }

    /// The directory, opened once and checked: refused when it is a
    /// symlink, not a directory, owned by another user, or writable by group
    /// or others (anything in it could have been planted).
    fn open_dir(&self) -> Result<PrivateDir, CacheError> {
        PrivateDir::open(&self.dir, self.owner).map_err(|refusal| {
            let path = self.dir.clone();
            match refusal {
                DirRefusal::Io(source) => CacheError::Dir { path, source },
                DirRefusal::NotADirectory => CacheError::NotADirectory { path },
                DirRefusal::Owner { uid } => CacheError::Owner { path, uid },
                DirRefusal::Writable { mode } => CacheError::Loose { path, mode },
            }
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes every token, remembered installation, failure note, clock
    /// offset and kept vault login; lock files stay (deleting one under a
    /// waiting process would split the lock).
    pub(crate) fn clear(&self) -> Result<usize, CacheError> {
        let dir = match self.open_dir() {
            Err(CacheError::Dir { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
            Ok(dir) => dir,
        };
        let mut removed = 0;
        for name in dir.names() {
            let ours = [ENTRY_PREFIX, "installations-", "clock-", "failure-", LOGIN_PREFIX]
                .iter()
                .any(|p| name.starts_with(p))
                && name.ends_with(".json");
            if ours || (name.starts_with('.') && name.contains(".json.tmp")) {
                match dir.remove(&name) {
                    Ok(gone) => removed += usize::from(gone),
                    Err(source) => return Err(CacheError::Write { path: self.dir.join(name), source }),
                }
            }
        }
        Ok(removed)
    }

    /// Creates the directory with mode 0700 and checks it; an existing one
    /// that others may write to is refused, never tightened and trusted.
    pub(crate) fn ensure_dir(&self) -> Result<(), CacheError> {
        let err = |source| CacheError::Dir { path: self.dir.clone(), source };
        if let Some(parent) = self.dir.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        crate::os::create_private_dir(&self.dir).map_err(err)?;
        self.open_dir()?.make_private().map_err(err)
    }

    fn lock_file(&self, stem: &str, timeout: Duration) -> Result<EntryLock, CacheError> {
        let name = format!("{stem}.lock");
        let path = self.dir.join(&name);
        let file = self
            .open_dir()?
            .open_lock(&name)
            .map_err(|source| CacheError::Lock { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => return Ok(EntryLock { _file: file, waited: false }),
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
            Ok(Ok(file)) => Ok(EntryLock { _file: file, waited: true }),
            Ok(Err(source)) => Err(CacheError::Lock { path, source }),
            Err(_) => Err(CacheError::LockTimeout { path, waited: timeout }),
        }
    }

    /// Writes `value` as JSON to a temp file (0600, an unpredictable name) in
    /// the same directory and renames it over `name`, so readers see the old
    /// file or the new one.
    fn replace(&self, name: &str, value: &impl Serialize) -> Result<(), CacheError> {
        let path = self.dir.join(name);
        let bytes = serde_json::to_vec(value)
            .map_err(|e| CacheError::Write { path: path.clone(), source: e.into() })?;
        self.open_dir()?.replace(name, &bytes).map_err(|source| CacheError::Write { path, source })
    }

    fn read_json<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let bytes = self.open_dir().ok()?.read(name, MAX_FILE_BYTES)?;
        serde_json::from_slice(&bytes).ok()
    }

    fn login_name(fields: &[&str]) -> String {
        format!("{LOGIN_PREFIX}{}.json", hash_hex(fields))
    }

    /// The kept vault login for `fields` (what it is keyed by), as the vault stored it.
    pub(crate) fn read_vault_login<T: DeserializeOwned>(&self, fields: &[&str]) -> Option<T> {
        self.read_json(&Self::login_name(fields))
    }

    /// Keeps a vault login for `fields` (same file rules as tokens).
    pub(crate) fn write_vault_login(
        &self,
        fields: &[&str],
        value: &impl Serialize,
    ) -> Result<(), CacheError> {
        self.replace(&Self::login_name(fields), value)
    }

    /// Drops the kept vault login for `fields`.
    pub(crate) fn remove_vault_login(&self, fields: &[&str]) {
        if let Ok(dir) = self.open_dir() {
            // Gone already is as good as removed.
            let _ = dir.remove(&Self::login_name(fields));
        }
    }
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::entry::{MAX_ENTRY_LIFETIME, StoredEntry};
    use super::*;
    use crate::secret::Secret;
    use crate::testing::TempDir;
    use crate::token::InstallationToken;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    pub(crate) const NOW: u64 = 1_700_000_000;

    pub(crate) fn key(scope: &str) -> EntryKey {
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
    fn a_written_entry_reads_back_and_files_are_private() {
        let tmp = TempDir::new("roundtrip");
        let cache = Cache::new(tmp.0.join("sub"), None, NOW);
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
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        fs::write(cache.entry_path(&key("installation")), b"{\"version\":1,\"tok").unwrap();
        assert!(cache.read(&key("installation")).is_none());
        cache.write(&key("installation"), 2, &token("ghs_two", 9)).unwrap();
        assert_eq!(cache.read(&key("installation")).unwrap().token.expose(), "ghs_two");
    }

    #[test]
    fn removing_a_token_deletes_only_the_entries_holding_it() {
        let tmp = TempDir::new("remove");
        let cache = Cache::new(&tmp.0, None, NOW);
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
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        let held = cache.lock(&key("x"), Duration::from_secs(5)).unwrap();
        let err = cache.lock(&key("x"), Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, CacheError::LockTimeout { .. }));
        drop(held);
        assert!(cache.lock(&key("x"), Duration::from_secs(5)).is_ok());
    }

    #[test]
    fn a_cache_dir_owned_by_another_user_is_refused_and_its_entries_ignored() {
        let tmp = TempDir::new("owner");
        let mine = Cache::new(&tmp.0, None, NOW);
        mine.ensure_dir().unwrap();
        mine.write(&key("k"), 2, &token("ghs_planted", 4000)).unwrap();
        let uid = fs::metadata(&tmp.0).unwrap().uid();
        let theirs = Cache::new(&tmp.0, Some(uid.wrapping_add(1)), NOW);
        assert!(theirs.read(&key("k")).is_none());
        assert!(theirs.entries().is_empty());
        assert!(matches!(theirs.ensure_dir().unwrap_err(), CacheError::Owner { .. }));
        assert!(Cache::new(&tmp.0, Some(uid), NOW).read(&key("k")).is_some());
    }

    #[test]
    fn concurrent_writers_and_readers_never_see_a_torn_or_empty_entry() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let tmp = TempDir::new("torn");
        let cache = Arc::new(Cache::new(&tmp.0, None, NOW));
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
        let link = Cache::new(tmp.0.join("link"), None, NOW);
        assert!(matches!(link.clear().unwrap_err(), CacheError::NotADirectory { .. }));
        assert!(tmp.0.join("real").join("token-planted.json").exists());
        let err = link.ensure_dir().unwrap_err();
        assert!(matches!(err, CacheError::NotADirectory { .. }));
    }

    #[test]
    fn a_directory_others_may_write_is_refused_not_tightened_and_its_entries_ignored() {
        let tmp = TempDir::new("loose");
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        cache.write(&key("k"), 2, &token("ghs_planted", 4000)).unwrap();
        fs::set_permissions(&tmp.0, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(cache.read(&key("k")).is_none());
        assert!(cache.entries().is_empty());
        let err = cache.ensure_dir().unwrap_err();
        assert!(matches!(err, CacheError::Loose { mode: 0o777, .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("run chmod 700 {}", os::shown(&tmp.0))), "{text}");
        assert_eq!(fs::metadata(&tmp.0).unwrap().permissions().mode() & 0o777, 0o777);
        assert!(cache.lock(&key("k"), Duration::from_secs(1)).is_err());
        // Read access for others is only taken away.
        fs::set_permissions(&tmp.0, fs::Permissions::from_mode(0o755)).unwrap();
        cache.ensure_dir().unwrap();
        assert_eq!(fs::metadata(&tmp.0).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(cache.read(&key("k")).is_some());
    }

    #[test]
    fn an_entry_others_may_write_or_reached_through_a_symlink_is_not_served() {
        let tmp = TempDir::new("entry-perms");
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        cache.write(&key("k"), 2, &token("ghs_planted", 4000)).unwrap();
        let entry = cache.entry_path(&key("k"));
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(cache.read(&key("k")).is_none());
        fs::rename(&entry, tmp.0.join("elsewhere")).unwrap();
        fs::set_permissions(tmp.0.join("elsewhere"), fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(tmp.0.join("elsewhere"), &entry).unwrap();
        assert!(cache.read(&key("k")).is_none());
    }

    #[test]
    fn an_entry_that_outlives_what_github_issues_is_corrupt() {
        let tmp = TempDir::new("lifetime");
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        cache.write(&key("ok"), 2, &token("ghs_ok", NOW + 3600)).unwrap();
        assert!(cache.read(&key("ok")).is_some());
        cache.write(&key("far"), 2, &token("ghs_far", NOW + MAX_ENTRY_LIFETIME + 1)).unwrap();
        assert!(cache.read(&key("far")).is_none());
        let planted = serde_json::json!({
            "version": 1, "api_url": "https://api.github.com", "app_id": "1", "installation": "2",
            "scope": "forever", "installation_id": 2, "token": "ghs_forever",
            "minted_at": u64::MAX - 10, "expires_at": u64::MAX,
        });
        fs::write(cache.entry_path(&key("forever")), planted.to_string()).unwrap();
        fs::set_permissions(cache.entry_path(&key("forever")), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.read(&key("forever")).is_none());
        // An entry without minted_at (an earlier format) is a miss, not served forever.
        let old = serde_json::json!({
            "version": 1, "api_url": "https://api.github.com", "app_id": "1", "installation": "2",
            "scope": "old", "installation_id": 2, "token": "ghs_old", "expires_at": NOW + 3000,
        });
        fs::write(cache.entry_path(&key("old")), old.to_string()).unwrap();
        fs::set_permissions(cache.entry_path(&key("old")), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.read(&key("old")).is_none());
    }

    #[test]
    fn a_fifo_at_the_lock_or_entry_path_fails_at_once_instead_of_hanging() {
        let tmp = TempDir::new("fifo");
        let cache = Cache::new(&tmp.0, None, NOW);
        cache.ensure_dir().unwrap();
        // mkfifo(1): rustix has no mknodat on macOS.
        let fifo =
            |path: &Path| assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
        fifo(&tmp.0.join(format!("{}.lock", key("k").stem())));
        fifo(&cache.entry_path(&key("k")));
        let started = std::time::Instant::now();
        assert!(cache.read(&key("k")).is_none());
        assert!(matches!(cache.lock(&key("k"), Duration::from_secs(30)), Err(CacheError::Lock { .. })));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
