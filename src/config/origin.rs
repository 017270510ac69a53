//! Where a setting came from, for messages that say what to change: the line of an app's key
//! setting in the file (or the flag that gave it), and the web page of the docs of this version
//! (a release binary comes without the repository's docs).

use super::{App, Config, KeySource};

/// The web page of `docs/PAGE` for this version, for messages: a release binary comes without
/// the repository's docs. Derived from `repository` in Cargo.toml and the version's tag.
pub(crate) fn docs_url(page: &str) -> String {
    format!("{}/blob/v{}/docs/{page}", env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_VERSION"))
}

impl App {
    /// Where the app's key source is set, for messages: `private_key_path on line 4 of config
    /// file F` (`private_key_path of app 1 (#1 in the config) in config file F` when the line is
    /// not found), or `--private-key-path`.
    pub(crate) fn key_setting(&self, config: &Config) -> String {
        let key = self.key.setting();
        if config.from_flags {
            return format!("--{}", key.replace('_', "-"));
        }
        // Looked up only here, on the error path, from the file as it is now: finding it for
        // every app while loading scanned the file once per `[[app]]`, which made the cached
        // `get` of a large config quadratic (1000 apps: 7 ms -> 238 ms).
        let line = crate::files::read_regular(&config.path, super::MAX_CONFIG_BYTES)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| app_key_line(&text, self.position, key));
        match line {
            Some(line) => format!("{key} on line {line} of {}", config.describe()),
            None => format!("{key} of {} in {}", self.label(), config.describe()),
        }
    }
}

impl KeySource {
    /// The config key that sets this source.
    pub(super) fn setting(&self) -> &'static str {
        match self {
            KeySource::Path(_) => "private_key_path",
            KeySource::Env(_) => "private_key_env",
            KeySource::Command(_) => "private_key_command",
            KeySource::Transit { .. } => "transit_key",
            KeySource::SignCommand(_) => "sign_command",
        }
    }
}

/// The line of `key = ...` in `[[app]]` #`position` (a plain key line of that table).
fn app_key_line(text: &str, position: usize, key: &str) -> Option<usize> {
    let start = super::app_table_line(text, position)?;
    text.lines()
        .enumerate()
        .skip(start)
        .take_while(|(_, line)| !line.trim_start().starts_with('['))
        .find(|(_, line)| {
            line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::app_key_line;

    #[test]
    fn the_key_line_is_found_in_its_own_app_table_only() {
        let text = "cache_dir = \"c\"\n[[app]]\napp_id = 1\nprivate_key_path = \"k\"\n\n[[app]] # two\napp_id = 2\n  private_key_path= \"j\"\n[vault]\n";
        assert_eq!(app_key_line(text, 1, "private_key_path"), Some(4));
        assert_eq!(app_key_line(text, 2, "private_key_path"), Some(8));
        assert_eq!(app_key_line(text, 3, "private_key_path"), None);
        assert_eq!(app_key_line(text, 1, "private_key_env"), None);
        // A longer key that starts with the name is not it.
        assert_eq!(app_key_line("[[app]]\nprivate_key_path_x = 1\n", 1, "private_key_path"), None);
    }
}
