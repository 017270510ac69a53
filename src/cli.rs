//! Command-line arguments. git runs `git-credential-github-app [--config PATH] <op>`
//! with the operation always last; people run the operator commands. An
//! unknown word in git's last position is ignored, so a future git operation
//! never breaks a clone.

use crate::protocol::Operation;
use std::ffi::OsString;
use std::path::PathBuf;

/// Which git config file `configure` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Global,
    System,
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// A credential-protocol operation; `None` for one we do not know (silently ignored).
    Protocol(Option<Operation>),
    Configure {
        scope: Scope,
        dry_run: bool,
    },
    Unconfigure {
        scope: Scope,
        dry_run: bool,
    },
    Token {
        target: Option<String>,
        host: Option<String>,
    },
    Explain {
        url: String,
    },
    Doctor,
    CacheList,
    CacheClear,
    Revoke {
        target: Option<String>,
    },
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    pub(crate) config: Option<PathBuf>,
    pub(crate) command: Command,
}

pub(crate) const HELP: &str = "\
git-credential-github-app: authenticate git as a GitHub App installation

Usage: git-credential-github-app [--config PATH] <command> [arguments]

Commands git runs (the operation is always the last argument):
  get                      answer with an installation token (cached, or freshly minted)
  store                    nothing to do: tokens are cached when minted
  erase                    forget the cached token git reports as rejected

Commands for people and scripts:
  configure [--global | --system | --file PATH] [--dry-run]
                           point git's credential.https://HOST.helper at this binary for every host in the config
  unconfigure [--global | --system | --file PATH] [--dry-run]
                           remove exactly what configure added
  token [URL | OWNER/REPO] [--host HOST]
                           print the token for a repository (for GH_TOKEN, curl, ...)
  explain URL              show which app, pattern, installation, scope and cache entry serve URL (offline)
  doctor                   check each app: config, key, JWT, clock, installations
  cache list               list cached tokens (never the tokens themselves)
  cache clear              delete every cached token and remembered installation
  revoke [URL]             revoke cached tokens at GitHub and delete them (end of a CI job)

Options:
  --config PATH            config file (default: $GIT_CREDENTIAL_GITHUB_APP_CONFIG, else
                           <user config dir>/git-credential-github-app/config.toml)
  -h, --help               print this help
  -V, --version            print the version

Tracing: GIT_CREDENTIAL_GITHUB_APP_TRACE=1 prints each step of a get on stderr (never a secret).
";

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[OsString]) -> Result<Invocation, String> {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    // git's form: options, then the operation as the very last argument.
    if let Some(op) = words.last().and_then(|w| Operation::parse(w)) {
        let config = global_options(&words[..words.len() - 1])?;
        return Ok(Invocation { config, command: Command::Protocol(Some(op)) });
    }
    let mut config = None;
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "-h" | "--help" => return Ok(Invocation { config, command: Command::Help }),
            "-V" | "--version" => return Ok(Invocation { config, command: Command::Version }),
            "--config" => {
                config = Some(PathBuf::from(args.get(i + 1).ok_or("--config needs a path")?));
                i += 2;
            }
            w if w.starts_with("--config=") && w.len() > "--config=".len() => {
                config = Some(PathBuf::from(&w["--config=".len()..]));
                i += 1;
            }
            w if w.starts_with('-') => return Err(format!("unknown option {w:?} (see --help)")),
            _ => break,
        }
    }
    let Some(name) = words.get(i) else {
        return Err("no command given: git runs this helper with get, store or erase (see --help)".into());
    };
    let rest = &words[i + 1..];
    let command = match name.as_str() {
        "configure" => {
            let (scope, dry_run) = scope_options(rest)?;
            Command::Configure { scope, dry_run }
        }
        "unconfigure" => {
            let (scope, dry_run) = scope_options(rest)?;
            Command::Unconfigure { scope, dry_run }
        }
        "token" => {
            let (target, host) = target_options(rest, true)?;
            Command::Token { target, host }
        }
        "explain" => match target_options(rest, false)? {
            (Some(url), _) => Command::Explain { url },
            (None, _) => return Err("explain needs a URL: explain https://HOST/OWNER/REPO".into()),
        },
        "revoke" => Command::Revoke { target: target_options(rest, false)?.0 },
        "doctor" => {
            no_more(rest)?;
            Command::Doctor
        }
        "cache" => match rest.first().map(String::as_str) {
            Some("list") => {
                no_more(&rest[1..])?;
                Command::CacheList
            }
            Some("clear") => {
                no_more(&rest[1..])?;
                Command::CacheClear
            }
            _ => return Err("cache needs list or clear".into()),
        },
        "help" => Command::Help,
        // Not a command of ours in git's last position: a future git operation.
        _ if rest.is_empty() => Command::Protocol(None),
        other => return Err(format!("unknown command {other:?} (see --help)")),
    };
    Ok(Invocation { config, command })
}

/// The options git's helper string may carry before the operation.
fn global_options(words: &[String]) -> Result<Option<PathBuf>, String> {
    let mut config = None;
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "--config" => config = Some(PathBuf::from(rest.next().ok_or("--config needs a path")?)),
            w if w.starts_with("--config=") && w.len() > "--config=".len() => {
                config = Some(PathBuf::from(&w["--config=".len()..]));
            }
            w => return Err(format!("unknown option {w:?} before the operation (see --help)")),
        }
    }
    Ok(config)
}

fn scope_options(words: &[String]) -> Result<(Scope, bool), String> {
    let (mut scope, mut dry_run) = (None, false);
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        let next = match word.as_str() {
            "--global" => Scope::Global,
            "--system" => Scope::System,
            "--file" => Scope::File(PathBuf::from(rest.next().ok_or("--file needs a path")?)),
            "--dry-run" => {
                dry_run = true;
                continue;
            }
            w => return Err(format!("unexpected {w:?}: give --global, --system, --file PATH or --dry-run")),
        };
        if scope.replace(next).is_some() {
            return Err("give only one of --global, --system, --file".into());
        }
    }
    Ok((scope.unwrap_or(Scope::Global), dry_run))
}

/// `[URL | OWNER/REPO] [--host HOST]`.
fn target_options(words: &[String], host_allowed: bool) -> Result<(Option<String>, Option<String>), String> {
    let (mut target, mut host) = (None, None);
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "--host" if host_allowed => host = Some(rest.next().ok_or("--host needs a host name")?.clone()),
            w if w.starts_with('-') => return Err(format!("unknown option {w:?} (see --help)")),
            w if target.is_none() => target = Some(w.to_string()),
            w => return Err(format!("unexpected argument {w:?}")),
        }
    }
    Ok((target, host))
}

fn no_more(words: &[String]) -> Result<(), String> {
    match words.first() {
        Some(w) => Err(format!("unexpected argument {w:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(list: &[&str]) -> Result<Invocation, String> {
        parse(&list.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn command(list: &[&str]) -> Command {
        parse_words(list).unwrap().command
    }

    #[test]
    fn the_operation_is_the_last_argument() {
        let inv = parse_words(&["--config", "/etc/gh.toml", "get"]).unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/etc/gh.toml")));
        assert_eq!(inv.command, Command::Protocol(Some(Operation::Get)));
        let inv = parse_words(&["--config=/x.toml", "erase"]).unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/x.toml")));
        assert_eq!(inv.command, Command::Protocol(Some(Operation::Erase)));
        assert_eq!(command(&["store"]), Command::Protocol(Some(Operation::Store)));
    }

    #[test]
    fn an_unknown_word_in_the_last_place_is_an_unknown_operation_not_an_error() {
        assert_eq!(command(&["capabilities"]), Command::Protocol(None));
        assert_eq!(command(&["--config", "/x", "frobnicate"]), Command::Protocol(None));
    }

    #[test]
    fn help_and_version_are_recognised() {
        assert_eq!(command(&["--help"]), Command::Help);
        assert_eq!(command(&["-V"]), Command::Version);
        assert_eq!(command(&["--config", "/x", "--version"]), Command::Version);
    }

    #[test]
    fn operator_commands_take_their_arguments() {
        assert_eq!(command(&["configure"]), Command::Configure { scope: Scope::Global, dry_run: false });
        assert_eq!(
            command(&["configure", "--file", "/tmp/g", "--dry-run"]),
            Command::Configure { scope: Scope::File("/tmp/g".into()), dry_run: true }
        );
        assert_eq!(
            command(&["unconfigure", "--system"]),
            Command::Unconfigure { scope: Scope::System, dry_run: false }
        );
        assert_eq!(
            command(&["token", "acme/web", "--host", "ghe.example"]),
            Command::Token { target: Some("acme/web".into()), host: Some("ghe.example".into()) }
        );
        assert_eq!(command(&["token"]), Command::Token { target: None, host: None });
        assert_eq!(
            command(&["--config", "/c.toml", "explain", "https://github.com/acme/web"]),
            Command::Explain { url: "https://github.com/acme/web".into() }
        );
        assert_eq!(command(&["cache", "list"]), Command::CacheList);
        assert_eq!(command(&["cache", "clear"]), Command::CacheClear);
        assert_eq!(command(&["revoke"]), Command::Revoke { target: None });
        assert_eq!(command(&["doctor"]), Command::Doctor);
    }

    #[test]
    fn mistakes_are_usage_errors_that_say_what_is_wrong() {
        assert!(parse_words(&["--verbose", "get"]).unwrap_err().contains("--verbose"));
        assert!(parse_words(&["--config"]).is_err());
        assert!(parse_words(&[]).is_err());
        assert!(parse_words(&["configure", "--global", "--system"]).unwrap_err().contains("only one"));
        assert!(parse_words(&["explain"]).unwrap_err().contains("URL"));
        assert!(parse_words(&["cache"]).is_err());
        assert!(parse_words(&["token", "a/b", "c/d"]).is_err());
        assert!(parse_words(&["tokne", "acme/web"]).unwrap_err().contains("tokne"));
    }
}
