//! Config mistakes people actually make, said in their terms. Only consulted
//! when the file did not deserialize: it re-reads the document with spans and
//! looks for `[app]` written for `[[app]]`, a top-level key written under an
//! `[[app]]`, `private_key_command` given as one string, and unknown keys
//! (the first in file order, which serde does not promise). No hint quotes a
//! value: only key names, which the user typed as keys.

use crate::redact::shown;
use toml::de::{DeTable, DeValue};

const TOP_LEVEL: [&str; 5] = ["cache_dir", "min_token_lifetime_secs", "timeout_secs", "app", "vault"];
const APP_KEYS: [&str; 16] = [
    "name",
    "app_id",
    "private_key_path",
    "private_key_env",
    "private_key_command",
    "transit_key",
    "transit_mount",
    "sign_command",
    "host",
    "api_url",
    "repos",
    "installation_id",
    "ca_file",
    "token_scope",
    "permissions",
    "read_public_repos",
];

/// `(line, message)` for the first known mistake in `text`, if any.
pub(super) fn explain(text: &str) -> Option<(usize, String)> {
    let document = DeTable::parse(text).ok()?.into_inner();
    let mut found: Vec<(usize, String)> = Vec::new();
    for (key, value) in &document {
        let name: &str = key.get_ref();
        let at = key.span().start;
        if name == "app" {
            match value.get_ref() {
                DeValue::Table(_) => found.push((
                    at,
                    "[app] must be written [[app]] (double brackets): each app is one entry of a list".into(),
                )),
                DeValue::Array(apps) => {
                    for (i, app) in apps.iter().enumerate() {
                        if let DeValue::Table(table) = app.get_ref() {
                            app_table(table, i + 1, &mut found);
                        }
                    }
                }
                _ => {}
            }
        } else if !TOP_LEVEL.contains(&name) {
            let hint = if APP_KEYS.contains(&name) {
                format!("{name} belongs in an [[app]] table, below an [[app]] line")
            } else {
                format!("unknown key {}{}", shown(name), near(name, &TOP_LEVEL))
            };
            found.push((at, hint));
        }
    }
    let (at, message) = found.into_iter().min_by_key(|(at, _)| *at)?;
    Some((line_of(text, at), message))
}

fn app_table(table: &DeTable<'_>, position: usize, found: &mut Vec<(usize, String)>) {
    for (key, value) in table {
        let name: &str = key.get_ref();
        let at = key.span().start;
        if TOP_LEVEL.contains(&name) && name != "app" {
            found.push((
                at,
                format!(
                    "{name} is a top-level key but is written under [[app]] #{position}: move it above the first [[app]]"
                ),
            ));
        } else if !APP_KEYS.contains(&name) {
            found.push((
                at,
                format!("unknown key {} in [[app]] #{position}{}", shown(name), near(name, &APP_KEYS)),
            ));
        } else if (name == "private_key_command" || name == "sign_command")
            && matches!(value.get_ref(), DeValue::String(_))
        {
            found.push((
                at,
                format!(
                    "{name} in [[app]] #{position} must be a list, [\"program\", \"arg\", ...], not one string: no shell splits it"
                ),
            ));
        } else if name == "repos" && matches!(value.get_ref(), DeValue::String(_)) {
            found.push((at, format!("repos in [[app]] #{position} must be a list: [\"OWNER/REPO\", ...]")));
        }
    }
}

/// `" (did you mean X?)"` for a key one or two typos away from a known one.
fn near(name: &str, known: &[&str]) -> String {
    crate::spelling::nearest(name, known.iter().copied().filter(|k| *k != "app"))
        .map_or_else(String::new, |k| format!(" (did you mean {k}?)"))
}

fn line_of(text: &str, offset: usize) -> usize {
    super::line_of(text, offset)
}

#[cfg(test)]
mod tests {
    use crate::config::{Defaults, parse_config};
    use std::path::Path;

    fn error(text: &str) -> String {
        parse_config(text, Path::new("/c.toml"), &Defaults::for_tests()).unwrap_err().to_string()
    }

    const APP: &str = "app_id = 1\nprivate_key_path = \"k\"\n";

    #[test]
    fn a_single_bracket_app_table_is_named_as_such() {
        let err = error(&format!("[app]\n{APP}"));
        assert!(err.contains("[app] must be written [[app]]") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn a_top_level_key_under_an_app_says_to_move_it() {
        let err = error(&format!("[[app]]\n{APP}cache_dir = \"/c\"\n"));
        assert!(err.contains("move it above the first [[app]]") && err.contains("line 4"), "{err}");
        let err = error(&format!("[[app]]\n{APP}timeout_secs = 5\n"));
        assert!(err.contains("timeout_secs is a top-level key"), "{err}");
    }

    #[test]
    fn a_command_given_as_one_string_says_it_must_be_a_list() {
        let err = error("[[app]]\napp_id = 1\nprivate_key_command = \"vault read -field=pem secret/app\"\n");
        assert!(err.contains("must be a list") && err.contains("line 3"), "{err}");
        assert!(!err.contains("vault read"), "{err}");
    }

    #[test]
    fn of_several_unknown_keys_the_first_in_the_file_is_reported() {
        let err = error(&format!("[[app]]\n{APP}zzz_later = 1\naaa_later = 2\n"));
        assert!(err.contains("\"zzz_later\"") && err.contains("line 4"), "{err}");
        let err = error(&format!("[[app]]\n{APP}instalation_id = 3\n"));
        assert!(err.contains("did you mean installation_id?"), "{err}");
        let err = error(&format!("[[app]]\n{APP}ghp_16C7e42F292c6912E7710c838347Ae178B4a = 3\n"));
        assert!(err.contains("unknown key (a value that looks like") && !err.contains("ghp_"), "{err}");
        let err = error(&format!("app_id = 1\n[[app]]\n{APP}"));
        assert!(err.contains("app_id belongs in an [[app]] table") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn the_vault_table_and_the_keyless_key_sources_are_known_keys() {
        let err = error(
            "[vault]\naddress = \"https://v\"\n[[app]]\napp_id = 1\ntransit_key = \"k\"\ntransit_mount = 5\n",
        );
        assert!(!err.contains("unknown key"), "{err}");
        let err = error("[[app]]\napp_id = 1\nsign_command = \"aws kms sign --key-id k\"\n");
        assert!(
            err.contains("sign_command in [[app]] #1 must be a list") && !err.contains("aws kms"),
            "{err}"
        );
        let err = error("valt = 1\n");
        assert!(err.contains("did you mean vault?"), "{err}");
    }
}
