//! The helper value: the string `configure` writes into git's
//! `credential.https://HOST.helper`, how its words are quoted for the shell
//! git runs it through, and how a value found in git config is recognised as
//! this helper's. A leaf: `configure` writes values with it, `wiring` reads
//! them with it, and neither imports the other.

use crate::os::{self, Platform};
use crate::redact::escape;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// This binary's name, as git's `credential-NAME` short form resolves it.
pub(crate) const BINARY: &str = "git-credential-github-app";

/// The helper string git runs: this binary's absolute path, plus `--config`
/// or the app's flags (`--private-key-env NAME` or a path: never a key,
/// which the flags cannot hold). git runs a value starting with `/` through
/// the shell as it is, and one starting with `!` as the shell command after
/// the `!`; a path the shell would split or expand (spaces, quotes,
/// non-ASCII, `$`) is quoted after a `!`, since a value starting with a quote
/// would be read as a helper name. On Windows the binary's and the config's
/// paths are written with forward slashes (`!'C:/Program Files/...'`), which
/// Git for Windows' shell runs.
///
/// A path or value that is not UTF-8 is refused (the message names it)
/// rather than written changed: git would run the helper with a look-alike.
pub(crate) fn helper_value(
    exe: &Path,
    config: Option<&Path>,
    flags: &[(&str, Option<OsString>)],
) -> Result<String, String> {
    helper_value_on(os::PLATFORM, exe, config, flags)
}

/// [`helper_value`] for `platform`.
fn helper_value_on(
    platform: Platform,
    exe: &Path,
    config: Option<&Path>,
    flags: &[(&str, Option<OsString>)],
) -> Result<String, String> {
    let text = |what: &str, value: &OsStr| {
        value.to_str().map(str::to_string).ok_or_else(|| {
            format!(
                "{what} {} is not UTF-8: git config cannot be given it unchanged; use a UTF-8 path",
                escape(&os::shown(Path::new(value)))
            )
        })
    };
    let for_shell = |path: String| os::path_for_git_shell(platform, Path::new(&path));
    let exe = for_shell(text("this binary's path", exe.as_os_str())?);
    let quoted = shell_quote(&exe);
    let mut value = if quoted == exe && exe.starts_with('/') { quoted } else { format!("!{quoted}") };
    if let Some(config) = config {
        value.push_str(" --config ");
        value.push_str(&shell_quote(&for_shell(text("--config", config.as_os_str())?)));
    }
    for (flag, arg) in flags {
        value.push(' ');
        value.push_str(flag);
        if let Some(arg) = arg {
            value.push(' ');
            value.push_str(&shell_quote(&text(flag, arg)?));
        }
    }
    Ok(value)
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

/// Whether a helper string runs some install of this binary: a path to it
/// (`.exe` on Windows), or git's short form `github-app`, which git runs as `git credential-github-app`.
pub(crate) fn is_ours(value: &str) -> bool {
    let program = program_of(value);
    let name = program.rsplit(['/', '\\']).next().unwrap_or("");
    program == "github-app" || name == BINARY || name.strip_suffix(".exe") == Some(BINARY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_values_are_quoted_for_the_shell() {
        assert_eq!(
            helper_value(Path::new("/usr/bin/git-credential-github-app"), None, &[]).unwrap(),
            "/usr/bin/git-credential-github-app"
        );
        assert_eq!(
            helper_value(
                Path::new("/opt/my tools/git-credential-github-app"),
                Some(Path::new("/etc/it's.toml")),
                &[]
            )
            .unwrap(),
            "!'/opt/my tools/git-credential-github-app' --config '/etc/it'\\''s.toml'"
        );
        assert_eq!(
            helper_value(
                Path::new("/usr/bin/git-credential-github-app"),
                None,
                &[
                    ("--app-id", Some("123".into())),
                    ("--private-key-env", Some("GH_APP_PEM".into())),
                    ("--repos", Some("acme/*".into())),
                    ("--read-public-repos", None)
                ]
            )
            .unwrap(),
            "/usr/bin/git-credential-github-app --app-id 123 --private-key-env GH_APP_PEM --repos 'acme/*' --read-public-repos"
        );
        assert_eq!(
            helper_value(Path::new("/opt/Übung \"q\"/git-credential-github-app"), None, &[]).unwrap(),
            "!'/opt/Übung \"q\"/git-credential-github-app'"
        );
        assert!(is_ours("!'/opt/my tools/git-credential-github-app' --config x"));
        assert!(is_ours("'/opt/my tools/git-credential-github-app' --config x"));
        assert!(!is_ours("store"));
        assert!(is_ours("github-app --config /c.toml"));
        assert!(!is_ours(""));
    }
}

#[cfg(test)]
mod windows_values {
    use super::*;

    #[test]
    fn on_windows_the_value_is_one_git_for_windows_shell_runs_and_is_recognised_as_ours() {
        let exe = Path::new(r"C:\Program Files\gcga\git-credential-github-app.exe");
        let config = Path::new(r"C:\Users\ci\gcga.toml");
        let value = helper_value_on(Platform::Windows, exe, Some(config), &[]).unwrap();
        assert_eq!(
            value,
            "!'C:/Program Files/gcga/git-credential-github-app.exe' --config C:/Users/ci/gcga.toml"
        );
        assert!(is_ours(&value));
        let tools = Path::new(r"C:\tools\git-credential-github-app.exe");
        let plain = helper_value_on(Platform::Windows, tools, None, &[]).unwrap();
        assert_eq!(plain, "!C:/tools/git-credential-github-app.exe");
        assert!(is_ours(&plain));
        assert!(!is_ours("manager") && !is_ours("!C:/tools/git-credential-manager.exe"));
    }
}

#[cfg(all(test, unix))]
mod bytes {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn a_path_that_is_not_utf8_is_refused_not_written_as_a_look_alike() {
        let odd = OsString::from_vec(b"/keys/app\xff.pem".to_vec());
        let exe = Path::new("/usr/bin/git-credential-github-app");
        let err = helper_value(exe, None, &[("--private-key-path", Some(odd.clone()))]).unwrap_err();
        assert!(err.starts_with("--private-key-path ") && err.contains("not UTF-8"), "{err}");
        let err = helper_value(exe, Some(Path::new(&odd)), &[]).unwrap_err();
        assert!(err.starts_with("--config "), "{err}");
    }
}
