//! The clock offset learnt from a clock-skew error, per API URL
//! (`clock-<hash>.json`), so later mints sign with GitHub's time.

use super::{Cache, CacheError, hash_hex};
use serde::Deserialize;

impl Cache {
    fn clock_name(api_url: &str) -> String {
        format!("clock-{}.json", hash_hex(&[api_url]))
    }

    /// The offset (GitHub's clock minus ours, in seconds) learnt from an
    /// earlier clock-skew error for `api_url`; 0 when none was learnt.
    pub(crate) fn clock_offset(&self, api_url: &str) -> i64 {
        #[derive(Deserialize)]
        struct Stored {
            offset_secs: i64,
        }
        self.read_json::<Stored>(&Self::clock_name(api_url)).map_or(0, |s| s.offset_secs)
    }

    /// Remembers the clock offset for `api_url` so later mints sign with GitHub's time.
    pub(crate) fn set_clock_offset(&self, api_url: &str, offset_secs: i64) -> Result<(), CacheError> {
        self.replace(
            &Self::clock_name(api_url),
            &serde_json::json!({ "api_url": api_url, "offset_secs": offset_secs }),
        )
    }
}
