//! What differs by OS but is pure: where the config may live, how a path is
//! written for the shell git runs helpers through, and how it is shown to
//! people in messages. Taking the platform as
//! a parameter, every OS's rule is tested on any OS; [`super::PLATFORM`] is
//! this build's.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The OS families whose conventions differ here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the other Unixes: the XDG base directories.
    Unix,
    /// macOS: command-line users expect `~/.config`; Apple's place is `~/Library/Application Support`.
    MacOs,
    /// Windows: `%APPDATA%`, and Git for Windows' shell for helper values.
    Windows,
}

/// A directory that may hold `git-credential-github-app/config.toml`, and
/// how it was found, as `doctor` and `explain` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDir {
    pub dir: PathBuf,
    /// `$XDG_CONFIG_HOME`, `~/.config`, `~/Library/Application Support` or `%APPDATA%`.
    pub from: &'static str,
}

/// The directories to look for the config in, first match wins:
/// - Unix: `$XDG_CONFIG_HOME` when absolute, else `~/.config` (the XDG rule);
/// - macOS: `$XDG_CONFIG_HOME` when absolute, then `~/.config`, then
///   `platform_dir` (`~/Library/Application Support`, what `dirs` gives there);
/// - Windows: `platform_dir` (`%APPDATA%`, what `dirs` gives there).
pub fn config_dirs(
    platform: Platform,
    xdg_config_home: Option<&OsStr>,
    home: Option<&Path>,
    platform_dir: Option<&Path>,
) -> Vec<ConfigDir> {
    let xdg = xdg_config_home
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .map(|dir| ConfigDir { dir, from: "$XDG_CONFIG_HOME" });
    let dot_config = home.map(|home| ConfigDir { dir: home.join(".config"), from: "~/.config" });
    let platform_dir = |from| platform_dir.map(|dir| ConfigDir { dir: dir.to_path_buf(), from });
    match platform {
        Platform::Unix => xdg.or(dot_config).into_iter().collect(),
        Platform::MacOs => {
            [xdg, dot_config, platform_dir("~/Library/Application Support")].into_iter().flatten().collect()
        }
        Platform::Windows => platform_dir("%APPDATA%").into_iter().collect(),
    }
}

/// `path` as the shell git runs helpers through can run it: on Windows, Git
/// for Windows' MSYS shell takes `C:/Program Files/...` (forward slashes;
/// a backslash would be an escape outside quotes), elsewhere it is unchanged.
pub(crate) fn path_for_git_shell(platform: Platform, path: &Path) -> String {
    let text = path.to_string_lossy();
    match platform {
        Platform::Windows => text.replace('\\', "/"),
        Platform::Unix | Platform::MacOs => text.into_owned(),
    }
}

/// `path` as its OS's users write it, for messages. On Windows: backslashes
/// (a config may say `C:/keys/app.pem` or `~/keys/app.pem`, and Wine gives
/// Unix paths), without the `\\?\` of a verbatim
/// path (`\\?\UNC\server\share` is `\\server\share`). Elsewhere as it is
/// (bytes that are not UTF-8 as U+FFFD).
pub(crate) fn path_for_people(platform: Platform, path: &Path) -> String {
    let text = path.to_string_lossy();
    match platform {
        Platform::Windows => {
            let text = text.replace('/', "\\");
            match text.strip_prefix(r"\\?\") {
                Some(rest) => {
                    match rest.get(..4).filter(|p| p.eq_ignore_ascii_case(r"UNC\")).and(rest.get(4..)) {
                        Some(share) => format!(r"\\{share}"),
                        None => rest.to_string(),
                    }
                }
                None => text,
            }
        }
        Platform::Unix | Platform::MacOs => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn dirs(platform: Platform, xdg: Option<&str>) -> Vec<(PathBuf, &'static str)> {
        config_dirs(
            platform,
            xdg.map(OsStr::new),
            Some(Path::new("/Users/ci")),
            Some(Path::new("/Users/ci/Library/Application Support")),
        )
        .into_iter()
        .map(|d| (d.dir, d.from))
        .collect()
    }

    // `/x` is an absolute path only on Unix (Windows paths need a drive).
    #[test]
    #[cfg(unix)]
    fn on_unix_the_config_is_under_xdg_config_home_else_dot_config() {
        assert_eq!(dirs(Platform::Unix, Some("/x")), [("/x".into(), "$XDG_CONFIG_HOME")]);
        assert_eq!(dirs(Platform::Unix, None), [("/Users/ci/.config".into(), "~/.config")]);
        // A relative XDG_CONFIG_HOME is invalid by the XDG rule and ignored, as `dirs` does.
        assert_eq!(dirs(Platform::Unix, Some("rel")), [("/Users/ci/.config".into(), "~/.config")]);
    }

    #[test]
    #[cfg(unix)]
    fn on_macos_xdg_config_home_then_dot_config_then_application_support() {
        assert_eq!(
            dirs(Platform::MacOs, Some("/x")),
            [
                ("/x".into(), "$XDG_CONFIG_HOME"),
                ("/Users/ci/.config".into(), "~/.config"),
                ("/Users/ci/Library/Application Support".into(), "~/Library/Application Support"),
            ]
        );
        assert_eq!(
            dirs(Platform::MacOs, None),
            [
                ("/Users/ci/.config".into(), "~/.config"),
                ("/Users/ci/Library/Application Support".into(), "~/Library/Application Support"),
            ]
        );
    }

    #[test]
    fn on_windows_the_config_is_under_appdata_whatever_xdg_says() {
        let appdata = Path::new(r"C:\Users\ci\AppData\Roaming");
        let found = config_dirs(
            Platform::Windows,
            Some(OsStr::new("/x")),
            Some(Path::new(r"C:\Users\ci")),
            Some(appdata),
        );
        assert_eq!(found, [ConfigDir { dir: appdata.to_path_buf(), from: "%APPDATA%" }]);
        assert_eq!(config_dirs(Platform::Windows, None, None, None), []);
    }

    #[test]
    fn git_for_windows_gets_forward_slashes_and_unix_paths_are_unchanged() {
        let exe = Path::new(r"C:\Program Files\gcga\git-credential-github-app.exe");
        assert_eq!(
            path_for_git_shell(Platform::Windows, exe),
            "C:/Program Files/gcga/git-credential-github-app.exe"
        );
        assert_eq!(path_for_git_shell(Platform::Unix, Path::new(r"/opt/a\b")), r"/opt/a\b");
        assert_eq!(path_for_git_shell(Platform::MacOs, Path::new("/usr/local/bin/x")), "/usr/local/bin/x");
    }

    #[test]
    fn messages_show_windows_paths_with_backslashes_and_without_the_verbatim_prefix() {
        let shown = |path: &str| path_for_people(Platform::Windows, Path::new(path));
        assert_eq!(shown("C:/keys/app.pem"), r"C:\keys\app.pem");
        assert_eq!(shown(r"C:\Users\ci/.config/gcga\config.toml"), r"C:\Users\ci\.config\gcga\config.toml");
        assert_eq!(shown("Z:/tmp/t/config.toml"), r"Z:\tmp\t\config.toml");
        assert_eq!(shown(r"\\?\C:\keys\app.pem"), r"C:\keys\app.pem");
        assert_eq!(shown(r"\\?\UNC\server\share\app.pem"), r"\\server\share\app.pem");
        assert_eq!(shown(r"\\?\unc\server\share"), r"\\server\share");
        assert_eq!(shown(r"\\server\share\k.pem"), r"\\server\share\k.pem");
        assert_eq!(shown("keys/app.pem"), r"keys\app.pem");
    }

    #[test]
    fn messages_show_unix_and_macos_paths_as_they_are() {
        assert_eq!(path_for_people(Platform::Unix, Path::new(r"/opt/a\b")), r"/opt/a\b");
        assert_eq!(
            path_for_people(Platform::MacOs, Path::new("/Users/ci/Library/Application Support/x")),
            "/Users/ci/Library/Application Support/x"
        );
    }
}
