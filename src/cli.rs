//! Command-line arguments, read into an [`Invocation`]: where the config
//! comes from and the command. git runs `git-credential-github-app [OPTIONS]
//! <op>` with the operation always last; people run the operator commands.
//! The usage rules (not both `--config` and app options, what `--host`
//! means, which command takes which option) are checked here, so `run` only
//! dispatches.
//!
//! Arguments keep their bytes: they are read with `lexopt` as `OsString`,
//! and a path (`--config`, `--file`, the app options' paths) stays one until
//! it is opened. Everything after `--` is kept as given for `exec`. An
//! unknown word in git's last place is [`Command::Unknown`] (git expects
//! silence for an operation it may add), unless it is a typo of one of our
//! commands and of none of git's: then it is a usage error with a hint.

use crate::config::{APP_OPTIONS, AppFlags, ConfigFrom, app_option};
use crate::protocol::Operation;
use crate::redact::shown;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Which git config file `configure` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Global,
    System,
    File(PathBuf),
}

/// What `configure` does to git config: add this helper, or remove it (`unconfigure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Configure,
    Unconfigure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// A credential-protocol operation git sends.
    Protocol(Operation),
    /// A word we do not know in the last place: git's future operation, or a
    /// person's word that is not a typo of a command (hinted at a terminal).
    Unknown(String),
    /// `unconfigure --all`: every entry this helper ever added, without a config.
    UnconfigureAll {
        scope: Scope,
        dry_run: bool,
    },
    /// A command people run, which needs the config.
    Operator(Operator),
    /// The help, for one command when named.
    Help(Option<&'static str>),
    Version,
}

/// The commands people and scripts run; each needs the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operator {
    Configure {
        change: Change,
        scope: Scope,
        dry_run: bool,
        /// `--rewrite-ssh`: send the hosts' SSH URLs through HTTPS.
        rewrite_ssh: bool,
    },
    Token {
        target: Option<String>,
        /// `--host` for `OWNER/REPO` when no app is given by flags.
        host: Option<String>,
        json: bool,
    },
    /// Runs `command[0]` with `command[1..]`, the token in its environment.
    Exec {
        target: Option<String>,
        host: Option<String>,
        command: Vec<OsString>,
    },
    Explain {
        url: String,
        json: bool,
    },
    Doctor {
        json: bool,
    },
    CacheList {
        json: bool,
    },
    CacheClear,
    Revoke {
        target: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    pub(crate) config: ConfigFrom,
    pub(crate) command: Command,
}

const USAGE: &str = "\
git-credential-github-app: authenticate git as a GitHub App installation

Usage: git-credential-github-app [--config PATH | APP OPTIONS] <command> [arguments]

Commands git runs (the operation is always the last argument):
  get                      answer with an installation token (cached, or freshly minted)
  store                    nothing to do: tokens are cached when minted
  erase                    forget the cached token git reports as rejected

Commands for people and scripts (each takes --help):
  configure [--global | --system | --file PATH] [--dry-run] [--rewrite-ssh]
                           point git's credential.https://HOST.helper at this binary for every host in the config
  unconfigure [--global | --system | --file PATH] [--dry-run] [--all]
                           remove what configure added (--all: every entry it ever added, no config needed)
  token [URL | OWNER/REPO] [--host HOST] [--json]
                           print the token for a repository
  exec [URL | OWNER/REPO] [--host HOST] -- COMMAND [ARGS...]
                           run COMMAND with GH_TOKEN and GITHUB_TOKEN set (gh, curl, Terraform, ...)
  explain URL [--json]     show which app, pattern, installation, scope, cache entry and git wiring serve URL (offline)
  doctor [--json]          check each app (config, key, JWT, clock, installations) and git's side of each host
  cache list [--json]      list cached tokens (never the tokens themselves)
  cache clear              delete every cached token and remembered installation
  revoke [URL]             revoke cached tokens at GitHub and delete them (end of a CI job)

Options:
  --config PATH            config file (default: $GIT_CREDENTIAL_GITHUB_APP_CONFIG, else
                           <user config dir>/git-credential-github-app/config.toml)
  -h, --help               print this help
  -V, --version            print the version

App options (one app without a config file; the same keys as an [[app]] table):
";

const TRACING: &str =
    "\nTracing: GIT_CREDENTIAL_GITHUB_APP_TRACE=1 prints each step of a get on stderr (never a secret).\n";

/// The commands, with the usage line and a paragraph for `COMMAND --help`.
const COMMAND_HELP: [(&str, &str); 11] = [
    (
        "get",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] get\n\n\
         git runs this: reads git's request on stdin and prints username, password and\n\
         password_expiry_utc when an app serves it; prints nothing otherwise.\n",
    ),
    (
        "store",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] store\n\n\
         git runs this after a successful request; there is nothing to do.\n",
    ),
    (
        "erase",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] erase\n\n\
         git runs this when GitHub rejected a token: the cached token is dropped (one line on\n\
         stderr says which and why it may have been rejected), so the next command mints afresh.\n",
    ),
    (
        "configure",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] configure [--global | --system | --file PATH] [--dry-run] [--rewrite-ssh]\n\n\
         Sets credential.https://HOST.helper (an empty entry, then this binary) and useHttpPath\n\
         for every host in the config, through git config. With APP OPTIONS, the helper value\n\
         carries them, so no config file is needed. For a host with read_public_repos it also\n\
         sets http.https://HOST/.proactiveAuth basic (git 2.46+). Warns when a helper that\n\
         stores tokens would run after this one. --dry-run prints the commands instead of\n\
         running them. --rewrite-ssh adds url.https://HOST/.insteadOf for git@HOST: and\n\
         ssh://git@HOST/, so SSH URLs (submodules, dependencies) go through this helper.\n",
    ),
    (
        "unconfigure",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] unconfigure [--global | --system | --file PATH] [--dry-run] [--all]\n\n\
         Removes what configure added for every host in the config and restores useHttpPath.\n\
         --all removes every entry this helper ever added to that file, for any host, and\n\
         needs no config.\n",
    ),
    (
        "token",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] token [URL | OWNER/REPO] [--host HOST] [--json]\n\n\
         Prints the token get would answer with. OWNER/REPO is on --host, else on the config's\n\
         only host, else on github.com. --json prints token, expires_at, installation_id and\n\
         the app as one JSON object. To hand a token to a program, prefer exec: it prints nothing.\n",
    ),
    (
        "exec",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] exec [URL | OWNER/REPO] [--host HOST] -- COMMAND [ARGS...]\n\n\
         Runs COMMAND with GH_TOKEN and GITHUB_TOKEN set to the token get would answer with for\n\
         that repository (on a GitHub Enterprise Server host also GH_ENTERPRISE_TOKEN and\n\
         GH_HOST). OWNER/REPO is read as for token. COMMAND never runs without a token. On Unix\n\
         the helper becomes COMMAND, so its exit status, signals and terminal are COMMAND's;\n\
         elsewhere it waits and exits with COMMAND's status. Exits 125 when the helper fails,\n\
         126 when COMMAND cannot be run, 127 when it is not found. ARGS are passed as given.\n",
    ),
    (
        "explain",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] explain URL [--json]\n\n\
         Shows, without the network, one verdict for URL: which app, pattern, installation,\n\
         token scope and cache entry serve it, and how git is wired to call this helper for it.\n",
    ),
    (
        "doctor",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] doctor [--json]\n\n\
         Checks each app end to end (key, JWT, clock, installations, repos patterns against the\n\
         installations' accounts) and git's side of each host (the helper chain, useHttpPath,\n\
         storing helpers, http.extraheader, url.insteadOf). Exits 1 when a check fails.\n",
    ),
    (
        "cache",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] cache list [--json]\n       git-credential-github-app [--config PATH | APP OPTIONS] cache clear\n\n\
         list: the cached tokens (never the tokens). clear: deletes every cached token and\n\
         remembered installation.\n",
    ),
    (
        "revoke",
        "Usage: git-credential-github-app [--config PATH | APP OPTIONS] revoke [URL]\n\n\
         Revokes cached tokens at GitHub and deletes them: the last step of a CI job.\n",
    ),
];

/// The help text for `topic` (a command), or the general help with every app option.
pub(crate) fn help(topic: Option<&str>) -> String {
    if let Some((_, text)) = COMMAND_HELP.iter().find(|(name, _)| Some(*name) == topic) {
        return (*text).to_string();
    }
    let mut text = USAGE.to_string();
    for option in APP_OPTIONS {
        let left = format!("{} {}", option.flag, option.value);
        let _ = writeln!(text, "  {:<24} {}", left.trim_end(), option.help);
    }
    text.push_str(TRACING);
    text
}

/// The switches besides the app options, with their canonical names.
const SWITCHES: [(&str, &str); 10] = [
    ("--help", "--help"),
    ("-h", "--help"),
    ("--version", "--version"),
    ("-V", "--version"),
    ("--json", "--json"),
    ("--dry-run", "--dry-run"),
    ("--global", "--global"),
    ("--system", "--system"),
    ("--all", "--all"),
    ("--rewrite-ssh", "--rewrite-ssh"),
];

/// What the options said, before the command decides what they mean.
#[derive(Default)]
struct Read {
    config: Option<PathBuf>,
    file: Option<PathBuf>,
    app: AppFlags,
    switches: Vec<&'static str>,
    positional: Vec<OsString>,
}

/// A value-taking option's value: given, and not empty.
fn value(parser: &mut lexopt::Parser, flag: &str) -> Result<OsString, String> {
    match parser.value() {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("{flag} needs a value (see --help)")),
    }
}

/// Sets `slot` once.
fn once(slot: &mut Option<PathBuf>, flag: &str, value: OsString) -> Result<(), String> {
    match slot.replace(value.into()) {
        Some(_) => Err(format!("{flag} is given twice")),
        None => Ok(()),
    }
}

fn read_options(args: &[OsString]) -> Result<Read, String> {
    use lexopt::Arg;
    let mut read = Read::default();
    let mut parser = lexopt::Parser::from_args(args.iter().cloned());
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => return Ok(read),
            Err(lexopt::Error::UnexpectedValue { option, .. }) => {
                return Err(format!("{option} takes no value (see --help)"));
            }
            Err(_) => return Err("cannot read the arguments (see --help)".into()),
        };
        // The option as written: `--name` or `-c`.
        let flag = match arg {
            Arg::Value(word) => {
                read.positional.push(word);
                continue;
            }
            Arg::Long(name) => format!("--{name}"),
            Arg::Short(c) => format!("-{c}"),
        };
        if let Some((_, canonical)) = SWITCHES.iter().find(|(n, _)| *n == flag) {
            read.switches.push(canonical);
            continue;
        }
        match flag.as_str() {
            "--config" => once(&mut read.config, "--config", value(&mut parser, "--config")?)?,
            "--file" => once(&mut read.file, "--file", value(&mut parser, "--file")?)?,
            _ => {
                let Some(option) = app_option(&flag) else {
                    return Err(format!("unknown option {} (see --help)", shown(&flag)));
                };
                let given = if option.takes_value() { Some(value(&mut parser, option.flag)?) } else { None };
                read.app.set(option, given)?;
            }
        }
    }
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[OsString]) -> Result<Invocation, String> {
    // Everything after the first `--` is another program's command line.
    let (options, raw) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], Some(&args[i + 1..])),
        None => (args, None),
    };
    let Read { config, file, app, switches, positional } = read_options(options)?;
    let words: Vec<String> = positional.iter().map(|w| w.to_string_lossy().into_owned()).collect();
    let has = |s: &str| switches.contains(&s);
    let name = words.first().map(String::as_str);
    let topic = |name: Option<&str>| COMMAND_HELP.iter().map(|(n, _)| *n).find(|n| Some(*n) == name);
    let by_flags = app.gives_app();
    let config = match (config, by_flags) {
        (Some(_), true) => {
            return Err("give either --config or the app flags (--app-id ...), not both".into());
        }
        (path, false) => ConfigFrom::File(path),
        (None, true) => ConfigFrom::Flags(Box::new(app.clone())),
    };
    let done = |command| Ok(Invocation { config: config.clone(), command });
    if has("--help") || name == Some("help") {
        let named = if name == Some("help") { words.get(1).map(String::as_str) } else { name };
        return done(Command::Help(topic(named)));
    }
    if has("--version") {
        return done(Command::Version);
    }
    let Some(name) = name else {
        return Err("no command given: git runs this helper with get, store or erase (see --help)".into());
    };
    let rest = &positional[1..];
    let allowed: &[&str] = match name {
        "configure" => &["--global", "--system", "--dry-run", "--rewrite-ssh"],
        "unconfigure" => &["--global", "--system", "--dry-run", "--all"],
        "token" | "explain" | "doctor" | "cache" => &["--json"],
        _ => &[],
    };
    let known = topic(Some(name)).is_some();
    if !known {
        return unknown(name, rest).and_then(done);
    }
    if let Some(s) = switches.iter().find(|s| !allowed.contains(s)) {
        return Err(format!("{name} does not take {s} (see {name} --help)"));
    }
    if file.is_some() && !matches!(name, "configure" | "unconfigure") {
        return Err(format!("{name} does not take --file (see {name} --help)"));
    }
    if raw.is_some() && name != "exec" {
        return Err(format!("{name} does not take -- COMMAND (only exec does; see --help)"));
    }
    // `--host` without an app is the host of `OWNER/REPO` for token and exec.
    let host = match (&app.host, by_flags) {
        (Some(host), false) => {
            if !matches!(name, "token" | "exec") {
                return Err("--host describes an app: give --app-id and a key flag too (see --help)".into());
            }
            Some(text("--host", host)?)
        }
        _ => None,
    };
    let json = has("--json");
    let command: Command = match name {
        "get" | "store" | "erase" => {
            no_more(rest)?;
            Command::Protocol(Operation::parse(name).ok_or("unknown operation")?)
        }
        "configure" | "unconfigure" => {
            no_more(rest)?;
            let scope = scope(has("--global"), has("--system"), file)?;
            let dry_run = has("--dry-run");
            match (name, has("--all")) {
                ("configure", _) => {
                    let rewrite_ssh = has("--rewrite-ssh");
                    Operator::Configure { change: Change::Configure, scope, dry_run, rewrite_ssh }.into()
                }
                (_, true) => Command::UnconfigureAll { scope, dry_run },
                (_, false) => {
                    Operator::Configure { change: Change::Unconfigure, scope, dry_run, rewrite_ssh: false }
                        .into()
                }
            }
        }
        "token" => Operator::Token { target: one_target(rest)?, host, json }.into(),
        "exec" => match raw {
            Some([program, ..]) if !program.is_empty() => {
                Operator::Exec { target: one_target(rest)?, host, command: raw.unwrap_or_default().to_vec() }
                    .into()
            }
            _ => return Err("exec needs the command to run: exec [OWNER/REPO] -- COMMAND [ARGS...]".into()),
        },
        "explain" => match one_target(rest)? {
            Some(url) => Operator::Explain { url, json }.into(),
            None => return Err("explain needs a URL: explain https://HOST/OWNER/REPO".into()),
        },
        "revoke" => Operator::Revoke { target: one_target(rest)? }.into(),
        "doctor" => {
            no_more(rest)?;
            Operator::Doctor { json }.into()
        }
        _ => match words.get(1).map(String::as_str) {
            Some("list") => {
                no_more(&rest[1..])?;
                Operator::CacheList { json }.into()
            }
            Some("clear") if !json => {
                no_more(&rest[1..])?;
                Operator::CacheClear.into()
            }
            Some("clear") => return Err("cache clear does not take --json".into()),
            _ => return Err("cache needs list or clear".into()),
        },
    };
    done(command)
}

impl From<Operator> for Command {
    fn from(operator: Operator) -> Command {
        Command::Operator(operator)
    }
}

/// git's operations and the words a typo away from them: never an error
/// (`set` and `put` are a typo away from `get`).
const GIT_WORDS: [&str; 4] = ["get", "store", "erase", "capabilities"];

/// The commands a person types.
const OPERATOR_COMMANDS: [&str; 9] =
    ["configure", "unconfigure", "token", "exec", "explain", "doctor", "cache", "revoke", "help"];

/// A word that is none of our commands. Alone in git's last place it is
/// [`Command::Unknown`]: git may add operations, and expects silence. A
/// typo of an operator command (and of no git operation) is an error
/// wherever it comes from, as git never sends one: a script's `confgure`
/// must fail, not exit 0. So is any unknown word with arguments after it.
fn unknown(word: &str, rest: &[OsString]) -> Result<Command, String> {
    let lower = word.to_ascii_lowercase();
    let meant = match crate::spelling::nearest(&lower, GIT_WORDS) {
        Some(_) => None,
        None => crate::spelling::nearest(&lower, OPERATOR_COMMANDS),
    };
    match meant {
        Some(meant) => Err(format!("unknown command {}: did you mean `{meant}`? (see --help)", shown(word))),
        None if rest.is_empty() => Ok(Command::Unknown(word.to_string())),
        None => Err(format!("unknown command {} (see --help)", shown(word))),
    }
}

/// Whether the arguments name `exec` (before any `--`): its usage errors exit 125.
pub(crate) fn names_exec(args: &[OsString]) -> bool {
    args.iter().take_while(|a| *a != "--").any(|a| a == "exec")
}

/// The usage error for a word a person typed that is none of our commands.
pub(crate) fn hint(word: &str) -> String {
    match suggest(word) {
        Some(meant) => format!("unknown command {}: did you mean `{meant}`? (see --help)", shown(word)),
        None => format!("unknown command {} (see --help)", shown(word)),
    }
}

/// The command a word most likely meant, for a person's hint at a terminal
/// (the typos [`parse`] already refuses, and other words people try).
pub(crate) fn suggest(word: &str) -> Option<&'static str> {
    const ALIASES: [(&str, &str); 9] = [
        ("status", "doctor"),
        ("check", "doctor"),
        ("install", "configure"),
        ("setup", "configure"),
        ("uninstall", "unconfigure"),
        ("remove", "unconfigure"),
        ("list", "cache list"),
        ("clear", "cache clear"),
        ("show", "explain"),
    ];
    let word = word.to_ascii_lowercase();
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == word) {
        return Some(to);
    }
    crate::spelling::nearest(&word, OPERATOR_COMMANDS.into_iter().chain(["get"]))
}

fn scope(global: bool, system: bool, file: Option<PathBuf>) -> Result<Scope, String> {
    match (global, system, file) {
        (false, false, None) | (true, false, None) => Ok(Scope::Global),
        (false, true, None) => Ok(Scope::System),
        (false, false, Some(path)) => Ok(Scope::File(path)),
        _ => Err("give only one of --global, --system, --file".into()),
    }
}

/// A value that is read as text (a URL, a host).
fn text(what: &str, word: &OsString) -> Result<String, String> {
    word.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} {} is not UTF-8 text", shown(&word.to_string_lossy())))
}

/// `[URL | OWNER/REPO]`.
fn one_target(words: &[OsString]) -> Result<Option<String>, String> {
    match words {
        [] => Ok(None),
        [one] => text("argument", one).map(Some),
        [_, extra, ..] => Err(format!("unexpected argument {}", shown(&extra.to_string_lossy()))),
    }
}

fn no_more(words: &[OsString]) -> Result<(), String> {
    match words.first() {
        Some(w) => Err(format!("unexpected argument {}", shown(&w.to_string_lossy()))),
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

    fn flags(list: &[&str]) -> AppFlags {
        match parse_words(list).unwrap().config {
            ConfigFrom::Flags(flags) => *flags,
            other => panic!("{other:?}"),
        }
    }

    fn os(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_key_or_token_given_as_an_argument_is_never_quoted_back() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun==";
        let token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
        for words in [
            vec!["--app-id", "1", pem, "get"],
            vec!["get", token],
            vec![token, "extra"],
            vec!["cache", "list", token],
            vec!["token", "acme/web", token],
            vec!["--json=ghs_16C7e42F292c6912E7710c838347Ae178B4a", "doctor"],
        ] {
            let err = parse_words(&words).unwrap_err();
            assert!(!err.contains("MIIE") && !err.contains("BEGIN") && !err.contains("16C7e42F"), "{err}");
        }
        assert_eq!(parse_words(&["get", "x"]).unwrap_err(), "unexpected argument \"x\"");
    }

    #[test]
    fn the_operation_is_the_last_argument() {
        let inv = parse_words(&["--config", "/etc/gh.toml", "get"]).unwrap();
        assert_eq!(inv.config, ConfigFrom::File(Some(PathBuf::from("/etc/gh.toml"))));
        assert_eq!(inv.command, Command::Protocol(Operation::Get));
        let inv = parse_words(&["--config=/x.toml", "erase"]).unwrap();
        assert_eq!(inv.config, ConfigFrom::File(Some(PathBuf::from("/x.toml"))));
        assert_eq!(inv.command, Command::Protocol(Operation::Erase));
        assert_eq!(command(&["store"]), Command::Protocol(Operation::Store));
        assert_eq!(parse_words(&["get"]).unwrap().config, ConfigFrom::File(None));
    }

    #[test]
    fn an_unknown_word_in_the_last_place_is_an_unknown_operation_not_an_error() {
        assert_eq!(command(&["capabilities"]), Command::Unknown("capabilities".into()));
        assert_eq!(command(&["--config", "/x", "frobnicate"]), Command::Unknown("frobnicate".into()));
        assert_eq!(
            command(&["--app-id", "1", "--private-key-env", "PEM", "capabilities"]),
            Command::Unknown("capabilities".into())
        );
        // git's operations and the words a typo away from them stay silent.
        for word in ["set", "put", "gets", "stor", "erse", "capability", "status"] {
            assert_eq!(command(&[word]), Command::Unknown(word.into()), "{word}");
        }
    }

    #[test]
    fn a_typo_of_an_operator_command_is_an_error_with_the_likely_command() {
        for (words, meant) in [
            (&["confgure"][..], "configure"),
            (&["doctr"], "doctor"),
            (&["--app-id", "1", "docter"], "doctor"),
            (&["tokne", "acme/web"], "token"),
            (&["--config", "/c.toml", "unconfgure", "--all"], "unconfigure"),
            (&["exce", "--", "gh"], "exec"),
        ] {
            let err = parse_words(words).unwrap_err();
            assert!(err.contains(&format!("did you mean `{meant}`?")), "{words:?}: {err}");
        }
        assert_eq!(
            parse_words(&["frobnicate", "x"]).unwrap_err(),
            "unknown command \"frobnicate\" (see --help)"
        );
    }

    #[test]
    fn help_and_version_are_recognised() {
        assert_eq!(command(&["--help"]), Command::Help(None));
        assert_eq!(command(&["-V"]), Command::Version);
        assert_eq!(command(&["--config", "/x", "--version"]), Command::Version);
    }

    #[test]
    fn every_command_takes_help() {
        for name in [
            "get",
            "store",
            "erase",
            "configure",
            "unconfigure",
            "token",
            "exec",
            "explain",
            "doctor",
            "revoke",
        ] {
            assert_eq!(command(&[name, "--help"]), Command::Help(Some(name)), "{name}");
            assert!(help(Some(name)).contains(name), "{name}");
        }
        assert_eq!(command(&["cache", "list", "--help"]), Command::Help(Some("cache")));
        assert_eq!(command(&["help", "doctor"]), Command::Help(Some("doctor")));
        assert_eq!(command(&["-h", "explain"]), Command::Help(Some("explain")));
        assert_eq!(command(&["exec", "--help", "--", "gh"]), Command::Help(Some("exec")));
        assert!(help(None).starts_with(USAGE));
    }

    #[test]
    fn the_help_lists_every_app_option_from_the_one_table() {
        let text = help(None);
        for option in APP_OPTIONS {
            let line = text.lines().find(|l| l.trim_start().starts_with(option.flag)).unwrap_or_default();
            assert!(line.contains(option.help.lines().next().unwrap()), "{}: {line}", option.flag);
        }
        let ca = text.lines().find(|l| l.contains("--ca-file")).unwrap();
        assert!(!ca.contains("extra") && ca.contains("only roots trusted"), "{ca}");
    }

    #[test]
    fn operator_commands_take_their_arguments() {
        let configure = |scope, dry_run| {
            Command::Operator(Operator::Configure {
                change: Change::Configure,
                scope,
                dry_run,
                rewrite_ssh: false,
            })
        };
        assert_eq!(command(&["configure"]), configure(Scope::Global, false));
        assert_eq!(
            command(&["configure", "--file", "/tmp/g", "--dry-run"]),
            configure(Scope::File("/tmp/g".into()), true)
        );
        assert_eq!(
            command(&["unconfigure", "--system"]),
            Command::Operator(Operator::Configure {
                change: Change::Unconfigure,
                scope: Scope::System,
                dry_run: false,
                rewrite_ssh: false
            })
        );
        assert_eq!(
            command(&["unconfigure", "--all", "--file=/g"]),
            Command::UnconfigureAll { scope: Scope::File("/g".into()), dry_run: false }
        );
        let inv = parse_words(&["token", "acme/web", "--host", "ghe.example"]).unwrap();
        assert_eq!(
            inv.command,
            Command::Operator(Operator::Token {
                target: Some("acme/web".into()),
                host: Some("ghe.example".into()),
                json: false
            })
        );
        assert_eq!(inv.config, ConfigFrom::File(None), "--host alone is no app");
        assert_eq!(
            command(&["token", "--json"]),
            Command::Operator(Operator::Token { target: None, host: None, json: true })
        );
        assert_eq!(
            command(&["--config", "/c.toml", "explain", "https://github.com/acme/web", "--json"]),
            Command::Operator(Operator::Explain { url: "https://github.com/acme/web".into(), json: true })
        );
        assert_eq!(command(&["cache", "list"]), Command::Operator(Operator::CacheList { json: false }));
        assert_eq!(
            command(&["cache", "list", "--json"]),
            Command::Operator(Operator::CacheList { json: true })
        );
        assert_eq!(command(&["cache", "clear"]), Command::Operator(Operator::CacheClear));
        assert_eq!(command(&["revoke"]), Command::Operator(Operator::Revoke { target: None }));
        assert_eq!(command(&["doctor"]), Command::Operator(Operator::Doctor { json: false }));
        assert_eq!(command(&["doctor", "--json"]), Command::Operator(Operator::Doctor { json: true }));
    }

    #[test]
    fn exec_keeps_everything_after_the_double_dash_as_given() {
        let args = os(&["exec", "acme/web", "--host", "ghe.example", "--", "gh", "--json", "--", "-x"]);
        let inv = parse(&args).unwrap();
        assert_eq!(
            inv.command,
            Command::Operator(Operator::Exec {
                target: Some("acme/web".into()),
                host: Some("ghe.example".into()),
                command: os(&["gh", "--json", "--", "-x"])
            })
        );
        assert_eq!(
            command(&["exec", "--", "env"]),
            Command::Operator(Operator::Exec { target: None, host: None, command: os(&["env"]) })
        );
        assert!(parse_words(&["exec", "acme/web"]).unwrap_err().contains("-- COMMAND"));
        assert!(parse_words(&["exec", "--"]).unwrap_err().contains("-- COMMAND"));
        assert!(parse_words(&["token", "--", "gh"]).unwrap_err().contains("only exec"));
        assert!(parse_words(&["exec", "--json", "--", "gh"]).unwrap_err().contains("--json"));
    }

    #[test]
    fn an_app_given_by_flags_is_read_wherever_the_flags_stand() {
        let app = flags(&[
            "--app-id",
            "123",
            "--private-key-env=GH_APP_PEM",
            "--repos",
            "acme/*",
            "--repos",
            "beta/web",
            "--permission",
            "contents=read",
            "get",
        ]);
        assert!(app.gives_app());
        assert_eq!(app.app_id.as_deref(), Some("123".as_ref()));
        assert_eq!(app.private_key_env.as_deref(), Some("GH_APP_PEM".as_ref()));
        assert_eq!(app.repos, os(&["acme/*", "beta/web"]));
        assert_eq!(app.permissions, os(&["contents=read"]));
        let inv = parse_words(&["doctor", "--app-id", "1", "--private-key-path", "/k.pem"]).unwrap();
        assert_eq!(inv.command, Command::Operator(Operator::Doctor { json: false }));
        let ConfigFrom::Flags(app) = inv.config else { panic!("no flags") };
        let pairs: Vec<(&str, Option<String>)> =
            app.pairs().into_iter().map(|(f, v)| (f, v.map(|v| v.to_string_lossy().into_owned()))).collect();
        assert_eq!(
            pairs,
            [("--app-id", Some("1".to_string())), ("--private-key-path", Some("/k.pem".to_string()))]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_path_keeps_its_bytes_from_the_argument_to_the_invocation() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(b"/tmp/k\xff.pem".to_vec());
        for flag in ["--private-key-path", "--ca-file"] {
            let mut joined = OsString::from(format!("{flag}="));
            joined.push(&odd);
            for args in [
                vec![OsString::from("--app-id"), "1".into(), flag.into(), odd.clone(), "get".into()],
                vec![OsString::from("--app-id"), "1".into(), joined, "get".into()],
            ] {
                let ConfigFrom::Flags(app) = parse(&args).unwrap().config else { panic!("no flags") };
                let given = if flag == "--ca-file" { app.ca_file } else { app.private_key_path };
                assert_eq!(given.as_ref(), Some(&odd), "{flag}");
            }
        }
        let mut config = OsString::from("--config=");
        config.push(&odd);
        let inv = parse(&[config, "get".into()]).unwrap();
        assert_eq!(inv.config, ConfigFrom::File(Some(PathBuf::from(&odd))));
        let inv = parse(&["configure".into(), "--file".into(), odd.clone()]).unwrap();
        assert_eq!(
            inv.command,
            Command::Operator(Operator::Configure {
                change: Change::Configure,
                scope: Scope::File(PathBuf::from(&odd)),
                dry_run: false,
                rewrite_ssh: false
            })
        );
    }

    #[test]
    fn mistakes_are_usage_errors_that_say_what_is_wrong() {
        assert!(parse_words(&["--verbose", "get"]).unwrap_err().contains("--verbose"));
        assert!(parse_words(&["-x", "get"]).unwrap_err().contains("-x"));
        assert!(parse_words(&["--h", "get"]).unwrap_err().contains("--h"));
        assert!(parse_words(&["-json", "doctor"]).unwrap_err().contains("-j"));
        assert!(parse_words(&["--config"]).is_err());
        assert!(parse_words(&[]).is_err());
        assert!(parse_words(&["configure", "--global", "--system"]).unwrap_err().contains("only one"));
        assert!(parse_words(&["explain"]).unwrap_err().contains("URL"));
        assert!(parse_words(&["cache"]).is_err());
        assert!(parse_words(&["token", "a/b", "c/d"]).is_err());
        assert!(parse_words(&["tokne", "acme/web"]).unwrap_err().contains("tokne"));
        assert!(parse_words(&["revoke", "--json"]).unwrap_err().contains("--json"));
        assert!(parse_words(&["configure", "--all"]).unwrap_err().contains("--all"));
        assert!(parse_words(&["--app-id", "1", "--app-id", "2", "get"]).unwrap_err().contains("twice"));
        assert!(parse_words(&["--app-id=", "get"]).unwrap_err().contains("--app-id"));
        assert!(parse_words(&["doctor", "--file", "/x"]).is_err());
        assert!(parse_words(&["--json=1", "doctor"]).unwrap_err().contains("takes no value"));
    }

    #[test]
    fn usage_rules_are_parse_errors() {
        let both = parse_words(&["--config", "/c.toml", "--app-id", "1", "doctor"]).unwrap_err();
        assert!(both.contains("not both"), "{both}");
        let twice = parse_words(&["--config", "/a.toml", "--config=/b.toml", "get"]).unwrap_err();
        assert_eq!(twice, "--config is given twice");
        assert!(parse_words(&["configure", "--file", "/a", "--file", "/b"]).unwrap_err().contains("twice"));
        let host = parse_words(&["--host", "ghe.example", "doctor"]).unwrap_err();
        assert!(host.contains("--host describes an app"), "{host}");
        // With an app, --host is the app's host, for every command.
        assert_eq!(
            flags(&["--app-id", "1", "--host", "ghe.example", "doctor"]).host,
            Some("ghe.example".into())
        );
        assert_eq!(command(&["--host", "h", "--help"]), Command::Help(None));
    }

    #[test]
    fn a_misspelt_command_has_a_likely_meaning() {
        assert_eq!(suggest("doctr"), Some("doctor"));
        assert_eq!(suggest("status"), Some("doctor"));
        assert_eq!(suggest("confgure"), Some("configure"));
        assert_eq!(suggest("tokn"), Some("token"));
        assert_eq!(suggest("capabilities"), None);
    }
}
