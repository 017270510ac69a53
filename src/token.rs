//! An installation access token and when it expires: what a mint returns,
//! the cache keeps and git is answered with.

use crate::secret::Secret;

/// A token and its expiry in local unix seconds.
#[derive(Debug, Clone)]
pub(crate) struct InstallationToken {
    pub(crate) token: Secret<String>,
    pub(crate) expires_at: u64,
}

/// Whether `token` has the shape of a GitHub token: `[A-Za-z0-9._-]`, the
/// classic 40-character and the ~520-character stateless formats alike, at
/// most 4 KiB. Anything else is never cached or printed.
pub(crate) fn is_token_shaped(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 4096
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_githubs_token_alphabet_is_accepted() {
        assert!(is_token_shaped("ghs_16C7e42F292c6912E7710c838347Ae178B4a"));
        assert!(is_token_shaped("ghs_123_eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjQyfQ.c2ln-_x"));
        for bad in ["", "ghs_a b", "ghs_a\nhost=evil", "ghs_\u{1b}[31m", "ghs_a/b", "ghs_é"] {
            assert!(!is_token_shaped(bad), "{bad:?}");
        }
        assert!(!is_token_shaped(&"a".repeat(4097)));
    }
}
