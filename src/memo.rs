//! The route memo: for a large config, remembers which cache entry answers a
//! request, so a cached `get` reads the config without parsing thousands of
//! `[[app]]` tables.
//!
//! A memo holds only where the token is (cache dir, entry key, minimum
//! lifetime), never the token. It applies only to the exact config bytes
//! (their SHA-256), the same request routing fields, the same home and cache
//! directories and this version of the binary: any change gives another memo
//! name or a mismatch, and the config is parsed as usual. A small config never
//! uses one, since parsing it costs less than reading a memo.

use crate::cache::{Cache, EntryKey, hash_hex, is_fresh};
use crate::config::{APP_DIR, Config, Defaults};
use crate::github::InstallationToken;
use crate::protocol::Request;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Configs at least this large (about 200 `[[app]]` tables) use a memo.
pub const THRESHOLD: usize = 32 * 1024;
const VERSION: u32 = 1;

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    version: u32,
    config_sha256: String,
    cache_dir: PathBuf,
    key: EntryKey,
    min_token_lifetime_secs: u64,
}

/// The memo slot of one request against one config text.
#[derive(Debug)]
pub struct Memo {
    dir: Cache,
    name: String,
    config_sha256: String,
    uid: Option<u32>,
}

impl Memo {
    /// The slot for `request`, or `None` when a memo does not apply (small
    /// config, malformed request, no user cache directory).
    pub fn for_request(
        config_text: &str,
        config_path: &Path,
        request: &Request,
        defaults: &Defaults,
        uid: Option<u32>,
    ) -> Option<Memo> {
        if config_text.len() < THRESHOLD || request.malformed {
            return None;
        }
        let user_cache = defaults.user_cache_dir.as_ref()?;
        let text = |p: Option<&Path>| p.map_or(String::new(), |p| p.to_string_lossy().into_owned());
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        let name = hash_hex(&[
            env!("CARGO_PKG_VERSION"),
            &text(Some(config_path)),
            &text(defaults.home.as_deref()),
            &text(Some(user_cache)),
            &field(&request.protocol),
            &field(&request.host),
            &field(&request.path),
            &field(&request.username),
        ]);
        let digest = ring::digest::digest(&ring::digest::SHA256, config_text.as_bytes());
        Some(Memo {
            dir: Cache::new(user_cache.join(APP_DIR), uid),
            name: format!("route-{name}.json"),
            config_sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
            uid,
        })
    }

    /// The fresh token the memo points at, if the memo matches this config.
    pub fn answer(&self, now: u64) -> Option<InstallationToken> {
        let stored: Stored = self.dir.read_named(&self.name)?;
        if stored.version != VERSION || stored.config_sha256 != self.config_sha256 {
            return None;
        }
        let entry = Cache::new(&stored.cache_dir, self.uid).read(&stored.key)?;
        is_fresh(entry.expires_at, now, stored.min_token_lifetime_secs)
            .then_some(InstallationToken { token: entry.token, expires_at: entry.expires_at })
    }

    /// Remembers that `key` in `config`'s cache answers this request; writes
    /// only when the memo is missing or different. Failing to write costs
    /// only a parse next time.
    pub fn remember(&self, config: &Config, key: &EntryKey) {
        let stored = Stored {
            version: VERSION,
            config_sha256: self.config_sha256.clone(),
            cache_dir: config.cache_dir.clone(),
            key: key.clone(),
            min_token_lifetime_secs: config.min_token_lifetime_secs,
        };
        if self.dir.read_named::<Stored>(&self.name).as_ref() != Some(&stored) {
            let _ = self.dir.write_named(&self.name, &stored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use crate::secret::Secret;
    use std::fs;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn big_config(cache: &Path) -> String {
        let mut text = format!("cache_dir = {:?}\n", cache.display().to_string());
        for i in 1..=500 {
            text.push_str(&format!(
                "[[app]]\napp_id = {i}\nprivate_key_path = \"/k{i}.pem\"\nrepos = [\"org{i}/*\"]\ninstallation_id = {i}\n"
            ));
        }
        text
    }

    fn request(path: &str) -> Request {
        Request {
            protocol: Some("https".into()),
            host: Some("github.com".into()),
            path: Some(path.into()),
            ..Request::default()
        }
    }

    #[test]
    fn a_memo_answers_only_for_the_same_config_bytes_and_request() {
        let root = Dir(std::env::temp_dir().join(format!("gcga-memo-{}", std::process::id())));
        let defaults = Defaults { home: Some(root.0.clone()), user_cache_dir: Some(root.0.join("cache")) };
        let tokens = root.0.join("tokens");
        let text = big_config(&tokens);
        let config = parse_config(&text, Path::new("/c.toml"), &defaults).unwrap();
        let key = EntryKey {
            api_url: "https://api.github.com".into(),
            app_id: "7".into(),
            installation: "7".into(),
            scope: "installation".into(),
        };
        let cache = Cache::new(&tokens, None);
        cache.ensure_dir().unwrap();
        let token = InstallationToken { token: Secret::new("ghs_memo".into()), expires_at: 10_000 };
        cache.write(&key, 7, &token).unwrap();

        let memo =
            Memo::for_request(&text, Path::new("/c.toml"), &request("org7/web"), &defaults, None).unwrap();
        assert!(memo.answer(1_000).is_none(), "no memo yet");
        memo.remember(&config, &key);
        assert_eq!(memo.answer(1_000).unwrap().token.expose(), "ghs_memo");
        assert!(memo.answer(9_500).is_none(), "a token under the minimum lifetime is not served");

        let edited = format!("{text}# a comment changes the bytes\n");
        let other =
            Memo::for_request(&edited, Path::new("/c.toml"), &request("org7/web"), &defaults, None).unwrap();
        assert!(other.answer(1_000).is_none());
        let other =
            Memo::for_request(&text, Path::new("/c.toml"), &request("org8/web"), &defaults, None).unwrap();
        assert!(other.answer(1_000).is_none());
        assert!(
            Memo::for_request("[[app]]", Path::new("/c.toml"), &request("org7/web"), &defaults, None)
                .is_none()
        );
    }
}
