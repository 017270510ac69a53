//! How values that did not come from us are shown in messages: a config
//! value that may be a pasted secret is described instead of quoted, a
//! server's message that may echo a credential is withheld, a body that is not
//! JSON is described, and text from git or a server has its control characters
//! escaped (or is put on one line), so no message can leak a key or drive the
//! terminal.

use crate::os;
use std::path::Path;

/// What GitHub tokens, JWTs and HashiCorp Vault tokens start with.
const TOKEN_PREFIXES: [&str; 9] =
    ["ghs_", "ghp_", "gho_", "ghu_", "github_pat_", "eyJ", "hvs.", "hvb.", "hvr."];

/// The fewest base62 characters after an OpenBao `s.` or `b.` (its service
/// and batch tokens, and Vault's before 1.10, have 24 or more).
const BAO_TOKEN_BODY: usize = 24;

/// Whether an OpenBao (or older Vault) token starts at byte `i` of `bytes`:
/// `s.` or `b.` at the start of a word, then 24 or more base62 characters.
/// By shape, not by prefix: `s.example.com` or `hosts.allow` is no token.
fn bao_token_at(bytes: &[u8], i: usize) -> bool {
    let word_start =
        i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'.' | b'_' | b'-'));
    let body = bytes.get(i + 2..).unwrap_or_default();
    word_start
        && matches!(bytes.get(i..i + 2), Some(b"s.") | Some(b"b."))
        && body.iter().take_while(|b| b.is_ascii_alphanumeric()).count() >= BAO_TOKEN_BODY
}

/// Whether `text` holds something shaped like a credential: a GitHub token,
/// a JWT, a Vault or OpenBao token, or a `Bearer` header (in any case).
pub(crate) fn holds_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| {
        let rest = &bytes[i..];
        TOKEN_PREFIXES.iter().any(|p| rest.starts_with(p.as_bytes()))
            || bao_token_at(bytes, i)
            || (rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"bearer"))
    })
}

/// Whether `value` could be a secret pasted into the wrong place: it spans
/// lines, names a private key, starts like a GitHub token or a JWT, or holds
/// a run of 40+ base64 characters (a PEM body line, a key in base64).
pub(crate) fn looks_secret(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || b == b'\r' {
            return true;
        }
        run = if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') { run + 1 } else { 0 };
        if run >= 40 {
            return true;
        }
        let rest = &bytes[i..];
        if (b == b'p' || b == b'P') && rest.len() >= 11 && rest[..11].eq_ignore_ascii_case(b"PRIVATE KEY") {
            return true;
        }
        if matches!(b, b'g' | b'e' | b'h') && TOKEN_PREFIXES.iter().any(|p| rest.starts_with(p.as_bytes())) {
            return true;
        }
        if matches!(b, b's' | b'b') && bao_token_at(bytes, i) {
            return true;
        }
    }
    false
}

/// `value` quoted for a message, or a description when it may be a secret.
pub(crate) fn shown(value: &str) -> String {
    if looks_secret(value) {
        "(a value that looks like a key or token, not shown)".to_string()
    } else {
        format!("{:?}", truncate(value, 80))
    }
}

/// The program of a command in the config (`argv[0]`), quoted for a message:
/// a path (it has a separator) as this OS's users write it ([`os::shown`]),
/// control characters escaped. Only the program: arguments may carry a token.
pub(crate) fn program(name: &str) -> String {
    let text = if name.contains(['/', '\\']) { os::shown(Path::new(name)) } else { name.to_string() };
    format!("\"{}\"", escape(&text))
}

/// A third-party message (serde, TOML) with every quoted part that may be a
/// secret replaced, and control characters escaped.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&escape(&rest[..open]));
        let after = &rest[open + 1..];
        match after.find(quote) {
            Some(close) if looks_secret(&after[..close]) => {
                out.push_str("(a value that looks like a key or token, not shown)");
                rest = &after[close + 1..];
            }
            Some(close) => {
                out.push(quote);
                out.push_str(&escape(&after[..close]));
                out.push(quote);
                rest = &after[close + 1..];
            }
            None if looks_secret(after) => {
                out.push_str("(a value that looks like a key or token, not shown)");
                rest = "";
            }
            None => {
                out.push(quote);
                rest = after;
            }
        }
    }
    out.push_str(&escape(rest));
    out
}

/// `text` with control characters (ESC, BEL, line breaks, ...) written as
/// escapes, for values from git's request or a server's answer.
pub(crate) fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}

/// JSON text (from serde_json, which escapes only U+0000..U+001F) with DEL
/// and the C1 controls written as `\uXXXX` too. Outside strings JSON holds
/// only ASCII punctuation and whitespace, so every such character is in a
/// string, where the escape means the same character. The `--json` forms'
/// counterpart of [`escape`].
pub(crate) fn json_escape(json: &str) -> String {
    if !json.chars().any(|c| c.is_control() && !c.is_ascii_whitespace()) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            c if c.is_control() && !c.is_ascii_whitespace() => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out
}

/// What is said instead of a server's message that may echo a credential.
pub(crate) const WITHHELD: &str = "(withheld: it may echo a credential)";

/// Whether a server's answer may echo a credential (a proxy, or a wrong
/// address that echoes the request): it holds one of `sent`, the secrets the
/// request carried (a token, a JWT), or anything [`holds_token`] recognises.
/// Ask it of the whole answer, before any of it is cut or reduced to a line.
pub(crate) fn may_echo(answer: &str, sent: &[&str]) -> bool {
    sent.iter().any(|s| !s.is_empty() && answer.contains(s)) || holds_token(answer)
}

/// A server's message, unless it [`may_echo`] a credential.
pub(crate) fn withhold(message: String, sent: &[&str]) -> String {
    if may_echo(&message, sent) { WITHHELD.to_string() } else { message }
}

/// What a body that should have been JSON is instead, for a message:
/// empty, HTML (`html_cause` guesses who sent it), or its first 60
/// characters on one line unless they may hold a credential.
pub(crate) fn describe_non_json(body: &str, html_cause: &str) -> String {
    let trimmed = body.trim_start();
    if trimmed.is_empty() {
        "the body is empty".to_string()
    } else if trimmed.starts_with('<') {
        format!("the body is HTML, not JSON ({html_cause})")
    } else {
        let start = truncate(&one_line(trimmed), 60);
        match looks_secret(&start) {
            true => "the body is not JSON (its start is withheld: it may echo a credential)".to_string(),
            false => format!("the body is not JSON: {:?}", withhold(start, &[])),
        }
    }
}

/// `s` cut to at most `max` characters, with `...` when it was longer.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// `s` on one line: runs of whitespace and control characters become one
/// space, for a server's or a library's message.
pub(crate) fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM_LINE: &str = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun";

    #[test]
    fn a_commands_program_is_quoted_with_a_path_in_it_as_the_os_writes_it() {
        assert_eq!(program("aws"), r#""aws""#);
        assert_eq!(
            program("/etc/gh/bin/fetch-key"),
            format!("\"{}\"", os::shown(Path::new("/etc/gh/bin/fetch-key")))
        );
        assert_eq!(program("fetch\x1b[2Jkey"), r#""fetch\u{1b}[2Jkey""#);
        if cfg!(windows) {
            // `~/bin/k.exe` resolved against the profile: one kind of separator, no doubled `\`.
            assert_eq!(program(r"C:\Users\ci/bin/k.exe"), r#""C:\Users\ci\bin\k.exe""#);
        } else {
            assert_eq!(program("/opt/a b/k"), r#""/opt/a b/k""#);
        }
    }

    #[test]
    fn keys_tokens_and_multi_line_values_are_never_quoted() {
        for secret in [
            "-----BEGIN RSA PRIVATE KEY-----",
            PEM_LINE,
            "a\nb",
            "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
            "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjQyLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDYwMH0.sig",
            "hvs.CAESIJ2xQ",
        ] {
            assert!(!shown(secret).contains(&secret[..secret.len().min(10)]), "{secret}");
        }
        assert_eq!(
            shown("/home/ci/.config/git-credential-github-app/key.pem"),
            "\"/home/ci/.config/git-credential-github-app/key.pem\""
        );
        assert_eq!(shown("acme/*"), "\"acme/*\"");
    }

    #[test]
    fn quoted_secrets_in_third_party_messages_are_replaced() {
        let m = format!("unknown variant `{PEM_LINE}`, expected one of `read`, `write`");
        let s = scrub(&m);
        assert!(!s.contains("MIIE") && s.contains("`read`"), "{s}");
        assert_eq!(scrub("invalid type: string \"x\""), "invalid type: string \"x\"");
        assert!(!scrub(&format!("unterminated \"{PEM_LINE}")).contains("MIIE"));
    }

    #[test]
    fn a_message_that_may_echo_a_credential_is_withheld() {
        let token = "s.Abc123def";
        assert!(withhold("bad token s.Abc123def".into(), &[token]).contains("withheld"));
        assert!(withhold("jwt eyJhbGciOi is expired".into(), &[]).contains("withheld"));
        assert!(withhold("jwt x.y.z is expired".into(), &["nope", "x.y.z"]).contains("withheld"));
        assert_eq!(withhold("permission denied".into(), &[token]), "permission denied");
        assert!(withhold("bearer abc".into(), &[]).contains("withheld"), "any case");
        assert!(withhold("BEARER abc".into(), &[]).contains("withheld"), "any case");
    }

    #[test]
    fn openbao_and_vault_tokens_are_recognised_by_shape() {
        for token in [
            "s.AbCdEfGhIjKlMnOpQrStUvWx",
            "b.AAAAAQJ2xQfakefakefakefake1234",
            "hvs.CAESIJ2xQ",
            "hvb.AAAAAQ",
            "hvr.x",
            "error: token (s.AbCdEfGhIjKlMnOpQrStUvWx) is invalid",
            "[b.AbCdEfGhIjKlMnOpQrStUvWxYz]",
        ] {
            assert!(holds_token(token), "{token}");
            assert!(looks_secret(token), "{token}");
        }
        for text in [
            "s.example.com",
            "https://s.example.com:8200/v1/transit/sign/k",
            "no handler for route \"transit/keys/s.something\"",
            "hosts.AbCdEfGhIjKlMnOpQrStUvWxYz",
            "s.AbCdEfGhIjKlMnOpQrStUvW",
            "permission denied",
        ] {
            assert!(!holds_token(text), "{text}");
        }
    }

    #[test]
    fn json_text_keeps_its_meaning_without_raw_del_or_c1() {
        let value = serde_json::json!({"path": "/a\u{7f}b\u{9b}c\u{1b}"});
        let text = json_escape(&serde_json::to_string_pretty(&value).unwrap());
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("evil\u{1b}[31mhost\u{7}"), "evil\\u{1b}[31mhost\\u{7}");
        assert_eq!(escape("plain"), "plain");
    }
}
