//! Fuzzing, in the normal test suite: the parsers that take bytes from outside
//! (git's request, the TOML config, GitHub's and the vault's bodies) are
//! fed arbitrary bytes and JSON-shaped noise by proptest, a bounded number of
//! cases each, and must never panic; what they say about the input must be
//! one line, without control characters or an echoed credential. A crash input
//! found here is kept below as a regression test.

use crate::config::{Defaults, parse_config};
use crate::error::Error;
use crate::github::{github_message, parse_token};
use crate::protocol::read_request;
use crate::vault::error_message;
use proptest::prelude::*;
use std::path::Path;

/// A token the bodies may echo: none of it may reach a message.
const ECHOED: [&str; 5] = [
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjQyfQ.c2ln",
    "hvs.CAESIJ2xQfakefakefakefake",
    "s.AbCdEfGhIjKlMnOpQrStUvWx",
    "b.AbCdEfGhIjKlMnOpQrStUvWxYz01",
];

/// Text for a message: one line, nothing that drives a terminal.
fn printable(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.chars().any(char::is_control), "{:?}", message);
    Ok(())
}

/// A JSON string value: anything, control characters and echoed tokens included.
fn json_string() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        proptest::sample::select(ECHOED.to_vec()).prop_map(str::to_string),
        (any::<String>(), proptest::sample::select(ECHOED.to_vec())).prop_map(|(a, t)| format!("{a} {t}")),
        Just("2030-01-01T00:00:00Z".to_string()),
    ]
    .prop_map(serde_json::Value::String)
}

/// JSON values shaped like GitHub's and the vault's answers, with noise.
fn json_body() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        json_string(),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
        ]
    });
    proptest::collection::vec((key(), value), 0..5)
        .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect()).to_string())
}

/// Keys the parsers look for, and one they do not.
fn key() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "token",
        "expires_at",
        "message",
        "errors",
        "data",
        "auth",
        "client_token",
        "signature",
        "value",
        "id",
        "account",
        "login",
        "other",
    ])
    .prop_map(str::to_string)
}

/// A body: arbitrary bytes (as the helper reads them: UTF-8, else refused), or JSON noise.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        json_body(),
    ]
}

/// TOML-shaped noise: the config's sections and keys with arbitrary values.
fn toml_body() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just("[[app]]".to_string()),
        Just("[vault]".to_string()),
        Just("[vault.login]".to_string()),
        (key_name(), any::<String>()).prop_map(|(k, v)| format!("{k} = {v:?}")),
        (key_name(), proptest::collection::vec(any::<String>(), 0..3))
            .prop_map(|(k, v)| format!("{k} = {v:?}")),
        (key_name(), any::<i64>()).prop_map(|(k, v)| format!("{k} = {v}")),
        any::<String>(),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n").into_bytes()),
    ]
}

fn key_name() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "app_id",
        "private_key_path",
        "private_key_command",
        "sign_command",
        "transit_key",
        "address",
        "namespace",
        "role",
        "jwt_path",
        "host",
        "api_url",
        "repos",
        "ca_file",
        "cache_dir",
        "permissions",
        "timeout_secs",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_gits_request_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_request(&bytes[..]);
    }

    #[test]
    fn arbitrary_bytes_as_the_config_never_panic_and_fail_in_one_clean_line(bytes in toml_body()) {
        // As the loader reads the file: UTF-8 or refused before parsing.
        if let Ok(text) = String::from_utf8(bytes) {
            let parsed = parse_config(&text, Path::new("/etc/gh/config.toml"), &Defaults::for_tests());
            if let Err(e) = parsed {
                let line = Error::from(e).to_string();
                printable(&line)?;
                for token in ECHOED {
                    prop_assert!(!line.contains(token), "{}", line);
                }
            }
        }
    }

    #[test]
    fn a_github_body_never_panics_and_is_quoted_clean(body in body()) {
        match parse_token(&body) {
            Ok(token) => prop_assert!(crate::token::is_token_shaped(token.token.expose())),
            Err(detail) => printable(&detail)?,
        }
        let message = github_message(&body);
        printable(&message)?;
        prop_assert!(message.chars().count() <= 320, "{}", message);
        for token in ECHOED {
            prop_assert!(!message.contains(token), "{}", message);
        }
    }

    #[test]
    fn a_vault_body_never_panics_and_never_quotes_what_was_sent(body in body(), sent in "[A-Za-z0-9]{8,30}") {
        // The secret sent, echoed somewhere in the body or not.
        let body = if sent.len() % 2 == 0 { body.replacen('a', &sent, 1) } else { body };
        let message = error_message(&body, &[&sent]);
        printable(&message)?;
        prop_assert!(message.chars().count() <= 320, "{}", message);
        prop_assert!(!message.contains(&sent), "{}", message);
        for token in ECHOED {
            prop_assert!(!message.contains(token), "{}", message);
        }
    }
}
