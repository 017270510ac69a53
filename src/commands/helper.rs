//! The helper value: the string `configure` writes into git's
//! `credential.https://HOST.helper`, how its words are quoted for the shell
//! git runs it through, and how a value found in git config is recognised as
//! this helper's. A leaf: `configure` writes values with it, `wiring` reads
//! them with it, and neither imports the other.

use std::path::Path;

/// This binary's name, as git's `credential-NAME` short form resolves it.
pub(crate) const BINARY: &str = "git-credential-github-app";

/// The helper string git runs: this binary's absolute path, plus `--config`
/// or the app's flags (`--private-key-env NAME` or a path: never a key,
/// which the flags cannot hold). git runs a value starting with `/` through
/// the shell as it is, and one starting with `!` as the shell command after
/// the `!`; a path the shell would split or expand (spaces, quotes,
/// non-ASCII, `$`) is quoted after a `!`, since a value starting with a quote
/// would be read as a helper name.
pub(crate) fn helper_value(exe: &Path, config: Option<&Path>, flags: &[(&str, String)]) -> String {
    let exe = exe.to_string_lossy();
    let quoted = shell_quote(&exe);
    let mut value = if quoted == exe && exe.starts_with('/') { quoted } else { format!("!{quoted}") };
    if let Some(config) = config {
        value.push_str(" --config ");
        value.push_str(&shell_quote(&config.to_string_lossy()));
    }
    for (flag, arg) in flags {
        value.push(' ');
        value.push_str(flag);
        value.push(' ');
        value.push_str(&shell_quote(arg));
    }
    value
}

/// git runs helper strings through the shell: quote what the shell would split.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '=' | '@' | '+' | ',')
        });
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

/// The program a helper string runs (its first shell word).
pub(crate) fn program_of(value: &str) -> String {
    let value = value.trim_start();
    // `!` makes git run the rest as a shell command (how awkward paths are written).
    let value = value.strip_prefix('!').unwrap_or(value).trim_start();
    match value.strip_prefix('\'') {
        Some(quoted) => quoted.split('\'').next().unwrap_or("").to_string(),
        None => value.split(' ').next().unwrap_or("").to_string(),
    }
}

/// Whether a helper string runs some install of this binary: a path to it,
/// or git's short form `github-app`, which git runs as `git credential-github-app`.
pub(crate) fn is_ours(value: &str) -> bool {
    let program = program_of(value);
    program == "github-app" || Path::new(&program).file_name().is_some_and(|name| name == BINARY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_values_are_quoted_for_the_shell() {
        assert_eq!(
            helper_value(Path::new("/usr/bin/git-credential-github-app"), None, &[]),
            "/usr/bin/git-credential-github-app"
        );
        assert_eq!(
            helper_value(
                Path::new("/opt/my tools/git-credential-github-app"),
                Some(Path::new("/etc/it's.toml")),
                &[]
            ),
            "!'/opt/my tools/git-credential-github-app' --config '/etc/it'\\''s.toml'"
        );
        assert_eq!(
            helper_value(
                Path::new("/usr/bin/git-credential-github-app"),
                None,
                &[
                    ("--app-id", "123".into()),
                    ("--private-key-env", "GH_APP_PEM".into()),
                    ("--repos", "acme/*".into())
                ]
            ),
            "/usr/bin/git-credential-github-app --app-id 123 --private-key-env GH_APP_PEM --repos 'acme/*'"
        );
        assert_eq!(
            helper_value(Path::new("/opt/Übung \"q\"/git-credential-github-app"), None, &[]),
            "!'/opt/Übung \"q\"/git-credential-github-app'"
        );
        assert!(is_ours("!'/opt/my tools/git-credential-github-app' --config x"));
        assert!(is_ours("'/opt/my tools/git-credential-github-app' --config x"));
        assert!(!is_ours("store"));
        assert!(is_ours("github-app --config /c.toml"));
        assert!(!is_ours(""));
    }
}
