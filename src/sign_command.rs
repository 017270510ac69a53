//! `sign_command`: a program that holds the key elsewhere (a cloud KMS, a
//! PKCS#11 token) signs the JWT. It runs without a shell, gets the JWT's
//! signing input on stdin and prints the RS256 signature on stdout, as raw
//! bytes (exactly an RSA modulus long) or as base64 text. Its output is never
//! repeated and only its program name appears in messages (arguments may
//! carry a credential); it is stopped at the deadline.

use crate::process::Running;
use crate::redact;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::fmt;
use std::path::Path;
use std::time::Instant;

/// A signature is at most 512 bytes (RSA-4096); base64 of it with line breaks
/// is well under this.
const MAX_OUTPUT: u64 = 16 * 1024;

/// The RSA modulus lengths (2048, 3072, 4096 bits) GitHub's RS256 accepts from us.
const MODULUS_BYTES: [usize; 3] = [256, 384, 512];

/// Why a `sign_command` gave no signature; names only the program.
#[derive(Debug)]
pub struct CommandError {
    program: String,
    /// How it failed, after the program's name.
    pub(crate) detail: String,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = redact::program(&self.program);
        write!(f, "sign_command {program} {} (run it by hand to see its messages)", self.detail)
    }
}

impl std::error::Error for CommandError {}

impl CommandError {
    /// `program` (as the config names it) could not be run, for `detail`.
    pub(crate) fn new(program: String, detail: String) -> CommandError {
        CommandError { program, detail }
    }
}

/// The RS256 signature of `input` from `argv`, run in `dir` (the config's
/// [`crate::config::Config::command_dir`]), waiting at most until `deadline`.
pub(crate) fn sign(
    argv: &[String],
    dir: &Path,
    input: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, CommandError> {
    let program = argv.first().cloned().unwrap_or_default();
    let fail = |detail: String| CommandError { program: program.clone(), detail };
    let secs = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let output =
        Running::start_with_input(&program, argv.get(1..).unwrap_or_default(), Some(dir), input, MAX_OUTPUT)
            .and_then(|running| running.finish(deadline))
            .map_err(|failure| {
                fail(failure.describe("signature", secs, "printed more than 16 KiB, which is no signature"))
            })?;
    decode_signature(&output).map_err(fail)
}

/// A raw signature (exactly a modulus long) or base64 text of one (standard
/// or URL-safe alphabet, padded or not, surrounding whitespace ignored).
fn decode_signature(output: &[u8]) -> Result<Vec<u8>, String> {
    let text: Vec<u8> = output.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let is_text = !text.is_empty()
        && text.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='));
    if is_text {
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(&text).ok());
        if let Some(bytes) = decoded.filter(|b| MODULUS_BYTES.contains(&b.len())) {
            return Ok(bytes);
        }
    }
    if MODULUS_BYTES.contains(&output.len()) {
        return Ok(output.to_vec());
    }
    Err(match output.len() {
        0 => "printed nothing".to_string(),
        n => format!(
            "printed {n} bytes, which are neither an RSA signature of 2048, 3072 or 4096 bits (256, 384 or 512 raw bytes) nor base64 of one"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::time::Duration;

    #[cfg(unix)]
    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[cfg(unix)]
    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn raw_and_base64_signatures_are_told_apart() {
        let raw: Vec<u8> = (0..=255u8).collect();
        assert_eq!(decode_signature(&raw).unwrap(), raw);
        for encoded in
            [STANDARD.encode(&raw), URL_SAFE_NO_PAD.encode(&raw), format!("{}\n", STANDARD.encode(&raw))]
        {
            assert_eq!(decode_signature(encoded.as_bytes()).unwrap(), raw, "{encoded}");
        }
        let wrapped: String = STANDARD
            .encode(&raw)
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(decode_signature(wrapped.as_bytes()).unwrap(), raw);
        let four_k = vec![7u8; 512];
        assert_eq!(decode_signature(&four_k).unwrap(), four_k);
    }

    #[test]
    fn anything_else_is_refused_without_being_repeated() {
        for bad in [&b""[..], b"ok\n", &[1u8; 255][..], STANDARD.encode([1u8; 64]).as_bytes()] {
            let err = decode_signature(bad).unwrap_err();
            assert!(err.contains("printed"), "{err}");
            assert!(!err.contains("AQEB") && !err.contains("ok"), "{err}");
        }
    }

    // Runs `sh`, `cat` and `sleep`: Unix tools (the Windows build's process
    // handling is tested in process.rs and os/windows.rs).
    #[cfg(unix)]
    #[test]
    fn the_command_gets_the_input_on_stdin_and_its_failures_name_only_the_program() {
        let input = b"header.claims";
        // A "signer" that prints base64 of 256 bytes derived from its stdin.
        let script = "head -c 13 | od -An -v -tx1 >/dev/null; head -c 256 /dev/zero | base64";
        let signature = sign(&argv(&["sh", "-c", script]), Path::new("/"), input, soon()).unwrap();
        assert_eq!(signature, vec![0u8; 256]);
        let echo = sign(&argv(&["cat"]), Path::new("/"), input, soon()).unwrap_err().to_string();
        assert!(echo.starts_with("sign_command \"cat\" printed 13 bytes"), "{echo}");
        assert!(!echo.contains("header"), "{echo}");
        let failed = sign(
            &argv(&["sh", "-c", "echo SECRET; exit 4", "--token=SECRET2"]),
            Path::new("/"),
            input,
            soon(),
        )
        .unwrap_err()
        .to_string();
        assert!(failed.contains("\"sh\"") && failed.contains('4'), "{failed}");
        assert!(!failed.contains("SECRET"), "{failed}");
        let missing =
            sign(&argv(&["/nonexistent/kms-sign"]), Path::new("/"), input, soon()).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/kms-sign") && missing.contains("cannot start"), "{missing}");
    }

    // Runs `sh`, `cat` and `sleep`: Unix tools (the Windows build's process
    // handling is tested in process.rs and os/windows.rs).
    #[cfg(unix)]
    #[test]
    fn a_command_that_hangs_is_stopped_at_the_deadline() {
        let started = Instant::now();
        let err =
            sign(&argv(&["sleep", "30"]), Path::new("/"), b"x", Instant::now() + Duration::from_millis(300))
                .unwrap_err()
                .to_string();
        assert!(err.contains("stopped"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
