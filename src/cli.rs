//! Command-line arguments. git runs `git-credential-github-app [OPTIONS] <op>`
//! with the operation always last; anything we do not know is ignored so a
//! future git operation never breaks a clone.

use crate::protocol::Operation;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A credential-protocol operation; `None` for one we do not know (silently ignored).
    Protocol(Option<Operation>),
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub config: Option<PathBuf>,
    pub command: Command,
}

pub const HELP: &str = "\
git-credential-github-app: a git credential helper that authenticates as a GitHub App

Usage: git-credential-github-app [--config PATH] <command>

Commands (git runs the first three; the operation is always the last argument):
  get        answer git's request with an installation token (cached or freshly minted)
  store      ignored: tokens are cached when minted
  erase      forget the cached token git reports as rejected

Options:
  --config PATH   config file (default: $GIT_CREDENTIAL_GITHUB_APP_CONFIG, else
                  <user config dir>/git-credential-github-app/config.toml)
  -h, --help      print this help
  -V, --version   print the version

Set up: git config --global credential.https://github.com.helper github-app
        git config --global credential.https://github.com.useHttpPath true
";

/// Parses the arguments after the program name.
pub fn parse(args: &[OsString]) -> Result<Invocation, String> {
    let Some((last, options)) = args.split_last() else {
        return Err("no operation given: git runs this helper with get, store or erase (see --help)".into());
    };
    let mut config = None;
    let mut rest = options.iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        match text.as_ref() {
            "-h" | "--help" => {
                return Ok(Invocation { config, command: Command::Help });
            }
            "-V" | "--version" => {
                return Ok(Invocation { config, command: Command::Version });
            }
            "--config" => {
                let path = rest.next().ok_or("--config needs a path")?;
                config = Some(PathBuf::from(path));
            }
            _ => match text.strip_prefix("--config=") {
                Some(path) if !path.is_empty() => config = Some(PathBuf::from(path)),
                _ => return Err(format!("unknown option {text:?} (see --help)")),
            },
        }
    }
    let command = match last.to_str() {
        Some("-h" | "--help") => Command::Help,
        Some("-V" | "--version") => Command::Version,
        Some("--config") => return Err("--config needs a path".into()),
        op => Command::Protocol(op.and_then(Operation::parse)),
    };
    Ok(Invocation { config, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_operation_is_the_last_argument() {
        let inv = parse(&args(&["--config", "/etc/gh.toml", "get"])).unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/etc/gh.toml")));
        assert_eq!(inv.command, Command::Protocol(Some(Operation::Get)));
        let inv = parse(&args(&["--config=/x.toml", "erase"])).unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/x.toml")));
        assert_eq!(inv.command, Command::Protocol(Some(Operation::Erase)));
    }

    #[test]
    fn an_unknown_operation_is_recognised_as_unknown_not_as_an_error() {
        let inv = parse(&args(&["capabilities"])).unwrap();
        assert_eq!(inv.command, Command::Protocol(None));
    }

    #[test]
    fn help_and_version_are_recognised() {
        assert_eq!(parse(&args(&["--help"])).unwrap().command, Command::Help);
        assert_eq!(parse(&args(&["-V"])).unwrap().command, Command::Version);
    }

    #[test]
    fn unknown_options_and_missing_values_are_usage_errors() {
        assert!(parse(&args(&["--verbose", "get"])).unwrap_err().contains("--verbose"));
        assert!(parse(&args(&["get", "--config"])).is_err());
        assert!(parse(&args(&[])).is_err());
    }
}
