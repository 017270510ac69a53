//! The app's PEM private key: read from a file, an environment variable or a
//! command's stdout when a JWT must be signed, parsed (PKCS#1 or PKCS#8) and
//! used to sign with `ring`.
//!
//! A key file must not be readable or writable by group or others (the rule
//! ssh applies to its keys): a key others can read is a leaked key. A command
//! runs without a shell, with a deadline; its output is never repeated.

use crate::config::KeySource;
use crate::files::{self, FileError, Refusal};
use crate::os;
use crate::process::Running;
use crate::redact;
use crate::secret::Secret;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// PEM files are a few kilobytes; refuse to slurp something huge by mistake.
const MAX_KEY_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub enum KeyError {
    Read {
        path: PathBuf,
        source: io::Error,
        /// Where the path was set (`private_key_path on line 4 of config file F`), once known.
        setting: Option<String>,
    },
    Permissions {
        path: PathBuf,
        mode: u32,
    },
    TooLarge {
        path: PathBuf,
    },
    /// Not a regular file.
    File(FileError),
    EnvUnset {
        name: String,
    },
    /// The command failed; `detail` says how, never what it printed.
    Command {
        program: String,
        detail: String,
    },
    /// What was read is not an RSA private key in PEM form; `source` names where it came from.
    NotAnRsaKey {
        source: String,
    },
    /// `ring` refused the RSA key (such as one under 2048 bits).
    Unusable {
        source: String,
    },
    /// A public key where the private key belongs.
    PublicKey {
        source: String,
    },
}

impl KeyError {
    /// The error, naming where the key file's path was set when it could not be read.
    pub(crate) fn set_by(self, where_set: String) -> KeyError {
        match self {
            KeyError::Read { path, source, .. } => KeyError::Read { path, source, setting: Some(where_set) },
            other => other,
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An RSA key ready to sign (its bytes are wiped when dropped, by `ring`).
pub(crate) struct PemKey {
    pair: RsaKeyPair,
}

impl fmt::Debug for PemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PemKey(REDACTED)")
    }
}

impl PemKey {
    /// Reads and parses the key at `source`; a command runs in `dir` (the
    /// config's [`crate::config::Config::command_dir`]) until `deadline`.
    pub(crate) fn load(
        source: &KeySource,
        var: fn(&str) -> Option<String>,
        dir: &Path,
        deadline: Instant,
    ) -> Result<PemKey, KeyError> {
        let pem = load(source, var, dir, deadline)?;
        PemKey::parse(&pem, &source.to_string())
    }

    /// Parses PEM text; `source` names it in errors.
    pub(crate) fn parse(pem: &Secret<Vec<u8>>, source: &str) -> Result<PemKey, KeyError> {
        let not_rsa = || KeyError::NotAnRsaKey { source: source.to_string() };
        let pem = normalise(pem);
        if is_public_key(pem.expose()) {
            return Err(KeyError::PublicKey { source: source.to_string() });
        }
        let der = PrivateKeyDer::from_pem_slice(pem.expose()).map_err(|_| not_rsa())?;
        let pair = match &der {
            PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()),
            _ => return Err(not_rsa()),
        };
        let pair = pair.map_err(|_| KeyError::Unusable { source: source.to_string() })?;
        Ok(PemKey { pair })
    }

    /// The RS256 signature (RSASSA-PKCS1-v1_5, SHA-256) of `input`.
    pub(crate) fn sign(&self, input: &[u8]) -> Result<Vec<u8>, ring::error::Unspecified> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut signature)?;
        Ok(signature)
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read { path, source, setting: Some(setting) } => {
                write!(f, "cannot read private key file {} (set by {setting}): {source}", os::shown(path))
            }
            KeyError::Read { path, source, setting: None } => {
                write!(f, "cannot read private key file {}: {source}", os::shown(path))
            }
            KeyError::Permissions { path, mode } => write!(
                f,
                "private key file {} has mode {mode:03o} and is accessible by other users: run chmod 600 on it",
                os::shown(path)
            ),
            KeyError::TooLarge { path } => {
                write!(f, "private key file {} is larger than 64 KiB: is it the right file", os::shown(path))
            }
            KeyError::File(e) => write!(f, "private key file {e}"),
            KeyError::EnvUnset { name } => {
                write!(f, "private_key_env names ${name}, which is not set or empty in git's environment")
            }
            KeyError::Command { program, detail } => {
                let program = redact::program(program);
                write!(f, "private_key_command {program} {detail} (run it by hand to see its messages)")
            }
            KeyError::NotAnRsaKey { source } => {
                write!(f, "{source} is not an RSA private key in PEM form (PKCS#1 or PKCS#8)")
            }
            KeyError::PublicKey { source } => write!(
                f,
                "{source} is a public key: the app signs with its private key (the .pem file GitHub downloads when you generate a private key in the app's settings)"
            ),
            KeyError::Unusable { source } => {
                write!(f, "{source} cannot sign with this RSA key (is it at least 2048 bits?)")
            }
        }
    }
}

/// The PEM text in the forms secret stores and env files hand it over: as
/// is, surrounded by quotes, with its line breaks written as `\n` (docker
/// `--env-file`, many CI secret stores), or base64-encoded as a whole.
fn normalise(pem: &Secret<Vec<u8>>) -> Secret<Vec<u8>> {
    let text = pem.expose().trim_ascii();
    let text = match text {
        [b'"', inner @ .., b'"'] | [b'\'', inner @ .., b'\''] => inner.trim_ascii(),
        _ => text,
    };
    if text.starts_with(b"-----BEGIN") && !text.contains(&b'\n') {
        let mut out = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some((&byte, tail)) = rest.split_first() {
            match (byte, tail.first()) {
                (b'\\', Some(b'n')) => {
                    out.push(b'\n');
                    rest = &tail[1..];
                }
                (b'\\', Some(b'r')) => rest = &tail[1..],
                _ => {
                    out.push(byte);
                    rest = tail;
                }
            }
        }
        return Secret::new(out);
    }
    if !text.starts_with(b"-----") && !text.is_empty() {
        use base64::Engine;
        let compact: Secret<Vec<u8>> =
            Secret::new(text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect());
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(compact.expose()) {
            let decoded = Secret::new(decoded);
            if decoded.expose().trim_ascii_start().starts_with(b"-----BEGIN") {
                return decoded;
            }
        }
    }
    Secret::new(text.to_vec())
}

/// A public key (PEM or OpenSSH) given for the private key.
fn is_public_key(text: &[u8]) -> bool {
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    (has(b"PUBLIC KEY-----") && !has(b"PRIVATE KEY-----")) || text.starts_with(b"ssh-rsa ")
}

/// Reads the PEM from `source`. `var` looks up an environment variable;
/// a command runs in `dir` until `deadline`.
fn load(
    source: &KeySource,
    var: fn(&str) -> Option<String>,
    dir: &Path,
    deadline: Instant,
) -> Result<Secret<Vec<u8>>, KeyError> {
    match source {
        KeySource::Path(path) => read_key_file(path),
        KeySource::Env(name) => var(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| Secret::new(v.into_bytes()))
            .ok_or_else(|| KeyError::EnvUnset { name: name.to_string() }),
        KeySource::Command(argv) => run_key_command(argv, dir, deadline),
        // These sign elsewhere; the signer never asks for their PEM.
        KeySource::Transit { .. } | KeySource::SignCommand(_) => {
            Err(KeyError::NotAnRsaKey { source: source.to_string() })
        }
    }
}

/// Runs `argv` (no shell) in `dir` and returns its stdout. stdin is closed and stderr
/// discarded: neither git's request nor the command's chatter may carry the key.
fn run_key_command(argv: &[String], dir: &Path, deadline: Instant) -> Result<Secret<Vec<u8>>, KeyError> {
    let program = argv.first().cloned().unwrap_or_default();
    let fail = |detail: String| KeyError::Command { program: program.clone(), detail };
    let secs = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let output = Running::start(&program, argv.get(1..).unwrap_or_default(), Some(dir), MAX_KEY_BYTES)
        .and_then(|running| running.finish(deadline))
        .map_err(|failure| fail(failure.describe("key", secs, "printed more than 64 KiB")))?;
    let pem = Secret::new(output);
    if pem.expose().iter().all(u8::is_ascii_whitespace) {
        return Err(fail("printed nothing".into()));
    }
    Ok(pem)
}

/// Reads a PEM key file after checking that it is a regular file (a FIFO
/// never blocks) and that only its owner can use it.
fn read_key_file(path: &Path) -> Result<Secret<Vec<u8>>, KeyError> {
    let refused = |e: FileError| match e.refusal {
        Refusal::Io(source) => KeyError::Read { path: path.to_path_buf(), source, setting: None },
        Refusal::TooLarge { .. } => KeyError::TooLarge { path: path.to_path_buf() },
        _ => KeyError::File(e),
    };
    let (file, meta) = files::open_regular(path, MAX_KEY_BYTES).map_err(refused)?;
    check_permissions(path, &meta)?;
    files::read_capped(file, path, MAX_KEY_BYTES).map(Secret::new).map_err(refused)
}

/// Refuses a key file group or others may read or write. Windows has no
/// modes ([`crate::os::mode_of`]): the profile's ACL protects the key there.
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    if let Some(mode) = crate::os::mode_of(meta).map(|mode| mode & 0o777)
        && mode & 0o077 != 0
    {
        return Err(KeyError::Permissions { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn temp_key(mode: u32) -> (TempDir, PathBuf) {
        let dir = TempDir::new("key-test");
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn a_key_only_its_owner_can_read_is_accepted() {
        let (_dir, path) = temp_key(0o600);
        assert!(read_key_file(&path).is_ok());
    }

    #[test]
    fn a_key_readable_by_others_is_refused_with_the_fix() {
        let (_dir, path) = temp_key(0o644);
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("644") && err.contains("chmod 600"), "{err}");
        assert!(!err.contains("BEGIN"), "{err}");
    }

    fn no_vars(_: &str) -> Option<String> {
        None
    }

    fn pem_var(name: &str) -> Option<String> {
        (name == "PEM").then(|| "-----BEGIN PRIVATE KEY-----".to_string())
    }

    #[test]
    fn an_environment_variable_gives_the_pem_text() {
        let env = |name: &str| KeySource::Env(name.to_string().try_into().unwrap());
        let pem =
            load(&env("PEM"), pem_var, Path::new("/"), Instant::now() + Duration::from_secs(1)).unwrap();
        assert_eq!(pem.expose(), b"-----BEGIN PRIVATE KEY-----");
        let err = load(&env("MISSING"), no_vars, Path::new("/"), Instant::now() + Duration::from_secs(1))
            .unwrap_err();
        assert!(err.to_string().contains("$MISSING"));
    }

    #[test]
    fn a_command_gives_its_stdout_and_its_failure_names_it_without_its_output() {
        let argv = |v: &[&str]| KeySource::Command(v.iter().map(|s| s.to_string()).collect());
        let pem = load(
            &argv(&["printf", "PEM-TEXT"]),
            no_vars,
            Path::new("/"),
            Instant::now() + Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(pem.expose(), b"PEM-TEXT");
        let err = load(
            &argv(&["sh", "-c", "echo SECRET-OUT; echo SECRET-ERR >&2; exit 3"]),
            no_vars,
            Path::new("/"),
            Instant::now() + Duration::from_secs(10),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"sh\"") && err.contains("3"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
        let err = load(
            &argv(&["/nonexistent/vault"]),
            no_vars,
            Path::new("/"),
            Instant::now() + Duration::from_secs(10),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/vault") && err.contains("cannot start"), "{err}");
    }

    #[test]
    fn a_command_that_hangs_is_stopped_at_the_deadline() {
        let argv = KeySource::Command(vec!["sleep".into(), "30".into()]);
        let started = Instant::now();
        let err = load(&argv, no_vars, Path::new("/"), Instant::now() + Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(err.contains("stopped"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn text_that_is_not_a_key_is_refused_without_echoing_it() {
        let pem = Secret::new(
            b"-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n".to_vec(),
        );
        let err = PemKey::parse(&pem, "private key file /k.pem").unwrap_err();
        assert!(matches!(err, KeyError::NotAnRsaKey { .. }));
        assert!(!err.to_string().contains("base64"), "{err}");
    }

    #[test]
    fn pkcs1_and_pkcs8_keys_sign_verifiably() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let public = std::fs::read_to_string(dir.join("app-key.pub.pem")).unwrap();
        let spki = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(public.as_bytes()).unwrap();
        // The SubjectPublicKeyInfo wraps the PKCS#1 RSAPublicKey ring verifies with: skip its header.
        let rsa_public = &spki.as_ref()[24..];
        for name in ["app-key-pkcs1.pem", "app-key-pkcs8.pem"] {
            let pem = Secret::new(std::fs::read(dir.join(name)).unwrap());
            let key = PemKey::parse(&pem, name).unwrap();
            let signature = key.sign(b"header.claims").unwrap();
            let verifier = ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                rsa_public,
            );
            assert!(verifier.verify(b"header.claims", &signature).is_ok(), "{name}");
        }
    }

    #[test]
    fn escaped_quoted_and_base64_keys_are_accepted() {
        use base64::Engine;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for name in ["app-key-pkcs1.pem", "app-key-pkcs8.pem"] {
            let pem = std::fs::read_to_string(dir.join(name)).unwrap();
            let escaped = pem.trim_end().replace('\n', "\\n");
            let encoded = base64::engine::general_purpose::STANDARD.encode(&pem);
            let wrapped: String =
                encoded.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c) + "\n").collect();
            for form in [escaped.clone(), format!("\"{escaped}\""), encoded, wrapped, format!("{pem}\n\n")] {
                assert!(PemKey::parse(&Secret::new(form.into_bytes()), name).is_ok(), "{name}");
            }
        }
    }

    #[test]
    fn a_public_key_is_named_as_such_and_not_echoed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let public = std::fs::read(dir.join("app-key.pub.pem")).unwrap();
        let err = PemKey::parse(&Secret::new(public), "private key in $PEM").unwrap_err();
        assert!(matches!(err, KeyError::PublicKey { .. }));
        let text = err.to_string();
        assert!(text.contains("$PEM is a public key") && !text.contains("MII"), "{text}");
    }

    #[test]
    fn a_missing_key_names_the_path() {
        let err = read_key_file(Path::new("/nonexistent/k.pem")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/k.pem"), "{err}");
    }
}
