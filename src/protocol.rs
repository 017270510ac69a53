//! git's credential-helper protocol: reading git's request, writing our answer.
//!
//! Pure: the reader takes `impl Read`, the writer `impl Write`. See
//! `git help credential` and `git help gitcredentials` for how
//! git really behaves (values may be huge, keys repeat, input may not be UTF-8).

use crate::secret::Secret;
use crate::token::InstallationToken;
use std::io::{self, BufRead, BufReader, Read, Write};

/// The longest line we look at. git's lines are short, bar `wwwauth[]`
/// headers of a few kilobytes; a longer line is skipped whole, so memory stays
/// bounded and no tail of it can pass for an attribute.
const MAX_LINE: usize = 1024 * 1024;

/// The operation git asks for: always the last argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Get,
    Store,
    Erase,
}

impl Operation {
    /// `None` for an operation we do not know: git expects silence then.
    pub(crate) fn parse(arg: &str) -> Option<Operation> {
        match arg {
            "get" => Some(Operation::Get),
            "store" => Some(Operation::Store),
            "erase" => Some(Operation::Erase),
            _ => None,
        }
    }
}

/// The attributes of git's request that a minting helper looks at.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) protocol: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret<String>>,
    /// A key we read was not UTF-8 or held a NUL: the request is not ours to answer.
    pub(crate) malformed: bool,
}

/// Reads git's request up to a blank line or end of input, line by line,
/// so a caller that sends the blank line and keeps the pipe open is answered.
///
/// Never fails on content: unknown keys, repeated `key[]` keys, CRLF line ends,
/// invalid UTF-8 and overlong lines are all tolerated. Only an I/O error on the
/// reader itself is returned.
pub(crate) fn read_request(input: impl Read) -> io::Result<Request> {
    let mut reader = BufReader::new(input);
    let mut request = Request::default();
    let mut line = Vec::new();
    let mut overlong = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !overlong {
                apply_line(&mut request, &line);
            }
            return Ok(request);
        }
        let (chunk, complete) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        if !overlong && line.len() + chunk.len() <= MAX_LINE {
            line.extend_from_slice(chunk);
        } else {
            overlong = true;
            line.clear();
        }
        let used = chunk.len() + usize::from(complete);
        reader.consume(used);
        if complete {
            if !overlong && line.strip_suffix(b"\r").unwrap_or(&line).is_empty() {
                return Ok(request);
            }
            if !overlong {
                apply_line(&mut request, &line);
            }
            line.clear();
            overlong = false;
        }
    }
}

/// Parses the bytes of a request; see [`read_request`].
#[cfg(test)]
fn parse_request(bytes: &[u8]) -> Request {
    // Reading from a slice cannot fail.
    read_request(bytes).unwrap_or_default()
}

/// Takes one `key=value` line (without its `\n`) into `request`.
fn apply_line(request: &mut Request, line: &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(eq) = line.iter().position(|&b| b == b'=') else {
        return;
    };
    let (key, value) = (&line[..eq], &line[eq + 1..]);
    let slot = match key {
        b"protocol" => &mut request.protocol,
        b"host" => &mut request.host,
        b"path" => &mut request.path,
        b"username" => &mut request.username,
        b"password" => {
            match text(value) {
                Some(v) => request.password = Some(Secret::new(v)),
                None => request.malformed = true,
            }
            return;
        }
        _ => return,
    };
    match text(value) {
        Some(v) => *slot = Some(v),
        None => request.malformed = true,
    }
}

fn text(value: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(value).ok()?;
    (!s.contains('\0')).then(|| s.to_string())
}

/// A value git would misread: it would start a new attribute or end the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UnsafeValue {
    pub(crate) key: &'static str,
    pub(crate) why: &'static str,
}

/// The credential we answer `get` with.
struct Credential<'a> {
    pub(crate) password: &'a Secret<String>,
    pub(crate) expires_at: u64,
}

/// Checks that `value` can be written as one protocol attribute.
pub(crate) fn is_safe_value(value: &str) -> bool {
    !value.is_empty() && !value.contains(['\n', '\r', '\0'])
}

/// Renders the answer to `get`: exactly `username`, `password` and
/// `password_expiry_utc`, never `protocol`/`host`/`path`/`url` (git would let
/// them overwrite its own context).
fn render_credential(credential: &Credential<'_>) -> Result<Vec<u8>, UnsafeValue> {
    let password = credential.password.expose();
    if !is_safe_value(password) {
        return Err(UnsafeValue { key: "password", why: "containing a line break or NUL" });
    }
    // Only GitHub's token alphabet is ever handed to git.
    if !crate::token::is_token_shaped(password) {
        return Err(UnsafeValue { key: "password", why: "that is not shaped like a GitHub token" });
    }
    // git reads 0 as "never expires".
    if credential.expires_at == 0 {
        return Err(UnsafeValue {
            key: "password_expiry_utc",
            why: "of 0 (git would read it as never expiring)",
        });
    }
    let mut out = Vec::with_capacity(password.len() + 80);
    out.extend_from_slice(b"username=x-access-token\npassword=");
    out.extend_from_slice(password.as_bytes());
    out.extend_from_slice(format!("\npassword_expiry_utc={}\n", credential.expires_at).as_bytes());
    Ok(out)
}

/// Writes the answer to `get` for `token`.
pub(crate) fn write_token(output: impl Write, token: &InstallationToken) -> io::Result<()> {
    write_credential(output, &Credential { password: &token.token, expires_at: token.expires_at })
}

/// Writes the answer to `get` in one `write_all`, so git never sees half of it.
fn write_credential(mut output: impl Write, credential: &Credential<'_>) -> io::Result<()> {
    let bytes = render_credential(credential).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("refusing to print a {} {}", e.key, e.why))
    })?;
    output.write_all(&bytes)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Request {
        read_request(s).unwrap()
    }

    #[test]
    fn a_clone_request_from_git_is_parsed() {
        let r = parse(
            b"capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=github.com\npath=acme/web.git\nusername=x-access-token\nwwwauth[]=Basic realm=\"GitHub\"\n",
        );
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("github.com"));
        assert_eq!(r.path.as_deref(), Some("acme/web.git"));
        assert_eq!(r.username.as_deref(), Some("x-access-token"));
        assert!(!r.malformed);
    }

    #[test]
    fn crlf_line_ends_are_accepted() {
        let r = parse(b"protocol=https\r\nhost=github.com\r\n");
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("github.com"));
    }

    #[test]
    fn reading_stops_at_the_first_blank_line() {
        let r = parse(b"protocol=https\n\nhost=evil.example\n");
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host, None);
    }

    #[test]
    fn the_value_is_everything_after_the_first_equals_sign() {
        let r = parse(b"wwwauth[]=Basic realm=\"host=evil\"\npath=a/b=c\n");
        assert_eq!(r.path.as_deref(), Some("a/b=c"));
        assert_eq!(r.host, None);
    }

    #[test]
    fn empty_input_is_an_empty_request() {
        assert_eq!(parse(b""), Request::default());
    }

    #[test]
    fn invalid_utf8_in_a_key_we_use_marks_the_request_malformed() {
        let r = parse(b"protocol=https\nhost=git\xffhub.com\n");
        assert!(r.malformed);
        assert_eq!(r.host, None);
    }

    #[test]
    fn invalid_utf8_in_an_unknown_key_is_ignored() {
        let r = parse(b"wwwauth[]=\xff\xfe\nprotocol=https\n");
        assert!(!r.malformed);
        assert_eq!(r.protocol.as_deref(), Some("https"));
    }

    #[test]
    fn a_megabyte_value_is_read_without_trouble() {
        let mut input = b"wwwauth[]=".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 << 20));
        input.extend_from_slice(b"\nhost=github.com\n");
        assert_eq!(parse(&input).host.as_deref(), Some("github.com"));
    }

    #[test]
    fn an_overlong_line_is_skipped_whole_and_reading_goes_on() {
        let mut input = b"wwwauth[]=".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE));
        input.extend_from_slice(b"host=evil.example\nhost=github.com\n");
        let r = parse_request(&input);
        assert_eq!(r.host.as_deref(), Some("github.com"));
    }

    #[test]
    fn reading_stops_at_the_blank_line_without_waiting_for_end_of_input() {
        /// Yields the request, then fails: a reader past the blank line would see the error.
        struct ThenFail(&'static [u8]);
        impl Read for ThenFail {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("read past the blank line"));
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let r = read_request(ThenFail(b"protocol=https\r\nhost=github.com\r\n\r\n")).unwrap();
        assert_eq!(r.host.as_deref(), Some("github.com"));
    }

    #[test]
    fn the_credential_is_exactly_three_lines() {
        let token = Secret::new("ghs_abc".to_string());
        let mut out = Vec::new();
        write_credential(&mut out, &Credential { password: &token, expires_at: 1700000000 }).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "username=x-access-token\npassword=ghs_abc\npassword_expiry_utc=1700000000\n"
        );
    }

    #[test]
    fn a_password_with_a_line_break_or_nul_is_never_written() {
        for bad in ["a\nhost=evil", "a\rb", "a\0b", ""] {
            let token = Secret::new(bad.to_string());
            let mut out = Vec::new();
            let result = write_credential(&mut out, &Credential { password: &token, expires_at: 1 });
            assert!(result.is_err());
            assert!(out.is_empty());
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Values git could send or we could be handed: anything printable plus the separators.
        fn value() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![any::<char>(), Just('='), Just('\n'), Just('\r'), Just('\0')],
                0..64,
            )
            .prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
                let _ = parse_request(&bytes);
            }

            #[test]
            fn arbitrary_lines_of_keys_never_panic_the_reader(lines in proptest::collection::vec((prop_oneof![
                Just("protocol"), Just("host"), Just("path"), Just("username"), Just("password"), Just("wwwauth[]")
            ], value()), 0..12)) {
                let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                let _ = parse_request(text.as_bytes());
            }

            #[test]
            fn a_written_credential_reads_back_as_written(password in "[A-Za-z0-9._-]{1,600}", expires_at in 1..u64::MAX) {
                let token = Secret::new(password.clone());
                let bytes = render_credential(&Credential { password: &token, expires_at }).unwrap();
                let read = parse_request(&bytes);
                prop_assert_eq!(read.username.as_deref(), Some("x-access-token"));
                prop_assert_eq!(read.password.map(|p| p.expose().clone()), Some(password));
                let text = String::from_utf8(bytes).unwrap();
                prop_assert_eq!(text.lines().count(), 3);
                let expiry = format!("password_expiry_utc={expires_at}");
                prop_assert_eq!(text.lines().nth(2), Some(expiry.as_str()));
            }

            #[test]
            fn no_written_value_ever_holds_a_line_break_or_nul(password in value(), expires_at in any::<u64>()) {
                let token = Secret::new(password);
                if let Ok(bytes) = render_credential(&Credential { password: &token, expires_at }) {
                    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        prop_assert!(!line.contains(&b'\r') && !line.contains(&0));
                    }
                    prop_assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
                }
            }
        }
    }

    #[test]
    fn a_password_outside_the_token_alphabet_or_an_expiry_of_0_is_never_written() {
        for bad in ["ghs_a b", "ghs_\u{1b}[31m", "ghs_a=b", "ghs_é"] {
            let token = Secret::new(bad.to_string());
            assert!(render_credential(&Credential { password: &token, expires_at: 1 }).is_err(), "{bad:?}");
        }
        let token = Secret::new("ghs_ok".to_string());
        let err = render_credential(&Credential { password: &token, expires_at: 0 }).unwrap_err();
        assert_eq!(err.key, "password_expiry_utc");
        assert!(render_credential(&Credential { password: &token, expires_at: 1 }).is_ok());
    }

    #[test]
    fn operations_are_recognised_by_name_only() {
        assert_eq!(Operation::parse("get"), Some(Operation::Get));
        assert_eq!(Operation::parse("store"), Some(Operation::Store));
        assert_eq!(Operation::parse("erase"), Some(Operation::Erase));
        assert_eq!(Operation::parse("GET"), None);
        assert_eq!(Operation::parse("capabilities"), None);
    }
}
