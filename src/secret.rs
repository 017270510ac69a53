//! `Secret<T>`: the one type that holds a private key, a JWT or a token (an
//! installation token, a vault token, the Actions request token) or a proxy
//! URL that may carry a password.
//!
//! It has no `Display`, its `Debug` prints `REDACTED`, and the only way to the
//! inner value is [`Secret::expose`], so every place a secret leaves the process
//! (an HTTP header, the protocol writer, the cache file) is greppable. It is
//! serialized as the bare value (`#[serde(transparent)]`, like cargo's
//! `Secret`), so a file that holds a token is read straight into one.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself. Call only where it must leave the process.
    pub(crate) fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl Secret<String> {
    /// Compares in time independent of where the first difference lies, so a
    /// caller cannot learn a cached token byte by byte through `erase`.
    pub(crate) fn ct_eq(&self, other: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), other.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_value() {
        let s = Secret::new("ghs_supersecret".to_string());
        assert_eq!(format!("{s:?}"), "REDACTED");
        assert_eq!(format!("{:?}", Some(s)), "Some(REDACTED)");
    }

    #[test]
    fn it_is_serialized_as_the_bare_value() {
        let s = Secret::new("ghs_abc".to_string());
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"ghs_abc\"");
        let back: Secret<String> = serde_json::from_str("\"ghs_abc\"").unwrap();
        assert!(back.ct_eq("ghs_abc"));
    }

    #[test]
    fn constant_time_comparison_matches_only_equal_strings() {
        let s = Secret::new("abc".to_string());
        assert!(s.ct_eq("abc"));
        assert!(!s.ct_eq("abd"));
        assert!(!s.ct_eq("ab"));
        assert!(!s.ct_eq(""));
    }
}
