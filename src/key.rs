//! Where an app's private key comes from, read only when a JWT must be signed.
//!
//! A key file must not be readable or writable by group or others (the rule
//! ssh applies to its keys): a key others can read is a leaked key.

use crate::secret::Secret;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// PEM files are a few kilobytes; refuse to slurp something huge by mistake.
const MAX_KEY_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub enum KeyError {
    Read { path: PathBuf, source: io::Error },
    Permissions { path: PathBuf, mode: u32 },
    TooLarge { path: PathBuf },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read { path, source } => {
                write!(
                    f,
                    "cannot read private key file {}: {source}",
                    path.display()
                )
            }
            KeyError::Permissions { path, mode } => write!(
                f,
                "private key file {} has mode {mode:03o} and is accessible by other users: run chmod 600 on it",
                path.display()
            ),
            KeyError::TooLarge { path } => {
                write!(
                    f,
                    "private key file {} is larger than 64 KiB: is it the right file",
                    path.display()
                )
            }
        }
    }
}

/// Reads a PEM key file after checking that only its owner can use it.
pub fn read_key_file(path: &Path) -> Result<Secret<Vec<u8>>, KeyError> {
    let read_err = |source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    check_permissions(path, &meta)?;
    let mut pem = Vec::with_capacity(4096);
    file.take(MAX_KEY_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(read_err)?;
    if pem.len() as u64 > MAX_KEY_BYTES {
        return Err(KeyError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(pem))
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path, _: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_key(mode: u32) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "gcga-key-test-{}-{mode:o}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn a_key_only_its_owner_can_read_is_accepted() {
        let (dir, path) = temp_key(0o600);
        assert!(read_key_file(&path).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_key_readable_by_others_is_refused_with_the_fix() {
        let (dir, path) = temp_key(0o644);
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("644") && err.contains("chmod 600"), "{err}");
        assert!(!err.contains("BEGIN"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_key_names_the_path() {
        let err = read_key_file(Path::new("/nonexistent/k.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/k.pem"), "{err}");
    }
}
