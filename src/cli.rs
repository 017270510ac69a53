//! Command-line arguments. git runs `git-credential-github-app [OPTIONS] <op>`
//! with the operation always last; people run the operator commands. An
//! unknown word in git's last position is kept as [`Command::Unknown`]: `run`
//! ignores it for git (a future git operation must never break a clone) and
//! hints at the right command when a person typed it.
//!
//! Hand-written rather than with an argument crate (docs/design.md says why):
//! every option is `--name VALUE` or `--name=VALUE`, and the app options
//! ([`AppFlags`]) may stand anywhere, so one helper string can carry a whole
//! app.

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
    /// A credential-protocol operation git sends.
    Protocol(Operation),
    /// A word we do not know in the last place: git's future operation, or a typo.
    Unknown(String),
    Configure {
        scope: Scope,
        dry_run: bool,
        /// `--rewrite-ssh`: send the hosts' SSH URLs through HTTPS.
        rewrite_ssh: bool,
    },
    Unconfigure {
        scope: Scope,
        dry_run: bool,
        /// Every entry this helper ever added, whatever the config says.
        all: bool,
    },
    Token {
        target: Option<String>,
        json: bool,
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
    /// The help, for one command when named.
    Help(Option<&'static str>),
    Version,
}

/// One app given entirely on the command line, mirroring the TOML keys.
/// Values are kept as typed; `config::flags` validates them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AppFlags {
    pub(crate) app_id: Option<String>,
    pub(crate) installation_id: Option<String>,
    pub(crate) private_key_path: Option<String>,
    pub(crate) private_key_env: Option<String>,
    pub(crate) repos: Vec<String>,
    /// Also `token`'s host for `OWNER/REPO` when no app is given by flags.
    pub(crate) host: Option<String>,
    pub(crate) api_url: Option<String>,
    pub(crate) ca_file: Option<String>,
    pub(crate) token_scope: Option<String>,
    /// `NAME=LEVEL`, in the order given.
    pub(crate) permissions: Vec<String>,
}

/// The flags that describe an app, in the order `--help` and `configure` write them.
const APP_FLAGS: [&str; 10] = [
    "--app-id",
    "--installation-id",
    "--private-key-path",
    "--private-key-env",
    "--repos",
    "--host",
    "--api-url",
    "--ca-file",
    "--token-scope",
    "--permission",
];

impl AppFlags {
    /// Whether an app is given by flags (`--host` alone is `token`'s target host).
    pub(crate) fn gives_app(&self) -> bool {
        let AppFlags {
            app_id,
            installation_id,
            private_key_path,
            private_key_env,
            repos,
            host: _,
            api_url,
            ca_file,
            token_scope,
            permissions,
        } = self;
        app_id.is_some()
            || installation_id.is_some()
            || private_key_path.is_some()
            || private_key_env.is_some()
            || !repos.is_empty()
            || api_url.is_some()
            || ca_file.is_some()
            || token_scope.is_some()
            || !permissions.is_empty()
    }

    /// The flags again, as `(flag, value)` pairs, for the helper value `configure` writes.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        fn one<'a>(
            flag: &'static str,
            v: &'a Option<String>,
        ) -> impl Iterator<Item = (&'static str, String)> + 'a {
            v.iter().map(move |v| (flag, v.clone()))
        }
        fn many<'a>(
            flag: &'static str,
            v: &'a [String],
        ) -> impl Iterator<Item = (&'static str, String)> + 'a {
            v.iter().map(move |v| (flag, v.clone()))
        }
        one("--app-id", &self.app_id)
            .chain(one("--installation-id", &self.installation_id))
            .chain(one("--private-key-path", &self.private_key_path))
            .chain(one("--private-key-env", &self.private_key_env))
            .chain(many("--repos", &self.repos))
            .chain(one("--host", &self.host))
            .chain(one("--api-url", &self.api_url))
            .chain(one("--ca-file", &self.ca_file))
            .chain(one("--token-scope", &self.token_scope))
            .chain(many("--permission", &self.permissions))
            .collect()
    }

    /// Records `flag`'s value; `false` when `flag` is not an app flag.
    fn set(&mut self, flag: &str, value: String) -> Result<bool, String> {
        let once = |slot: &mut Option<String>, value: String| {
            if slot.replace(value).is_some() {
                return Err(format!("{flag} is given twice"));
            }
            Ok(true)
        };
        match flag {
            "--app-id" => once(&mut self.app_id, value),
            "--installation-id" => once(&mut self.installation_id, value),
            "--private-key-path" => once(&mut self.private_key_path, value),
            "--private-key-env" => once(&mut self.private_key_env, value),
            "--host" => once(&mut self.host, value),
            "--api-url" => once(&mut self.api_url, value),
            "--ca-file" => once(&mut self.ca_file, value),
            "--token-scope" => once(&mut self.token_scope, value),
            "--repos" => {
                self.repos.push(value);
                Ok(true)
            }
            "--permission" => {
                self.permissions.push(value);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    pub(crate) config: Option<PathBuf>,
    pub(crate) app: AppFlags,
    pub(crate) command: Command,
}

const HELP: &str = "\
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
                           print the token for a repository (for GH_TOKEN, curl, ...)
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
  --app-id ID              the App ID or client ID (required)
  --private-key-path PATH  the PEM file, or
  --private-key-env NAME   the environment variable holding the PEM
  --installation-id ID     the installation (default: discovered per owner)
  --repos OWNER/REPO       a repository pattern, repeatable (default: */*)
  --host HOST              the GitHub host (default: github.com)
  --api-url URL            the API base URL (default: derived from --host)
  --ca-file PATH           extra CA certificates for the API
  --token-scope SCOPE      installation (default) or repository
  --permission NAME=LEVEL  narrow the token, repeatable (read, write, admin)

Tracing: GIT_CREDENTIAL_GITHUB_APP_TRACE=1 prints each step of a get on stderr (never a secret).
";

/// The commands, with the usage line and a paragraph for `COMMAND --help`.
const COMMAND_HELP: [(&str, &str); 10] = [
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
         the app as one JSON object.\n",
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

/// The help text for `topic` (a command), or the general help.
pub(crate) fn help(topic: Option<&str>) -> &'static str {
    COMMAND_HELP.iter().find(|(name, _)| Some(*name) == topic).map_or(HELP, |(_, text)| text)
}

/// Options that take a value, besides the app flags.
const VALUE_OPTIONS: [&str; 2] = ["--config", "--file"];

/// One word of the command line, read.
enum Word {
    /// `--name VALUE`, `--name=VALUE`.
    Value(&'static str, String),
    /// `--json`, `-h`, ...: the flag's canonical name.
    Switch(&'static str),
    Positional(String),
}

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

fn read_words(words: &[String]) -> Result<Vec<Word>, String> {
    let mut out = Vec::with_capacity(words.len());
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        if let Some((_, canonical)) = SWITCHES.iter().find(|(name, _)| name == word) {
            out.push(Word::Switch(canonical));
            continue;
        }
        if !word.starts_with('-') || word == "-" {
            out.push(Word::Positional(word.clone()));
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (word.as_str(), None),
        };
        let Some(flag) = APP_FLAGS.iter().chain(VALUE_OPTIONS.iter()).find(|f| **f == name) else {
            return Err(format!("unknown option {} (see --help)", shown(name)));
        };
        let value = match inline {
            Some(value) => value,
            None => rest.next().cloned().ok_or_else(|| format!("{flag} needs a value (see --help)"))?,
        };
        if value.is_empty() {
            return Err(format!("{flag} needs a value (see --help)"));
        }
        out.push(Word::Value(flag, value));
    }
    Ok(out)
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[OsString]) -> Result<Invocation, String> {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut config = None;
    let mut app = AppFlags::default();
    let mut switches = Vec::new();
    let mut file = None;
    let mut positional = Vec::new();
    for word in read_words(&words)? {
        match word {
            Word::Value("--config", v) => config = Some(PathBuf::from(v)),
            Word::Value("--file", v) => file = Some(PathBuf::from(v)),
            Word::Value(flag, v) => {
                app.set(flag, v)?;
            }
            Word::Switch(s) => switches.push(s),
            Word::Positional(p) => positional.push(p),
        }
    }
    // A relative --config must be the file the user meant: keep the
    // original OsString so a non-UTF-8 path survives.
    if let Some(i) = args.iter().position(|a| a == "--config") {
        config = args.get(i + 1).map(PathBuf::from).or(config);
    }
    let has = |s: &str| switches.contains(&s);
    let done = |command| Ok(Invocation { config: config.clone(), app: app.clone(), command });
    let name = positional.first().map(String::as_str);
    let topic = |name: Option<&str>| COMMAND_HELP.iter().map(|(n, _)| *n).find(|n| Some(*n) == name);
    if has("--help") || name == Some("help") {
        let named = if name == Some("help") { positional.get(1).map(String::as_str) } else { name };
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
    if let Some(s) = switches.iter().find(|s| !allowed.contains(s)) {
        return Err(format!("{name} does not take {s} (see {name} --help)"));
    }
    if file.is_some() && !matches!(name, "configure" | "unconfigure") {
        return Err(format!("{name} does not take --file (see {name} --help)"));
    }
    let json = has("--json");
    let command = match name {
        "get" | "store" | "erase" => {
            no_more(rest)?;
            Command::Protocol(Operation::parse(name).ok_or("unknown operation")?)
        }
        "configure" | "unconfigure" => {
            no_more(rest)?;
            let scope = scope(has("--global"), has("--system"), file)?;
            let dry_run = has("--dry-run");
            if name == "configure" {
                Command::Configure { scope, dry_run, rewrite_ssh: has("--rewrite-ssh") }
            } else {
                Command::Unconfigure { scope, dry_run, all: has("--all") }
            }
        }
        "token" => Command::Token { target: one_target(rest)?, json },
        "explain" => match one_target(rest)? {
            Some(url) => Command::Explain { url, json },
            None => return Err("explain needs a URL: explain https://HOST/OWNER/REPO".into()),
        },
        "revoke" => Command::Revoke { target: one_target(rest)? },
        "doctor" => {
            no_more(rest)?;
            Command::Doctor { json }
        }
        "cache" => match rest.first().map(String::as_str) {
            Some("list") => {
                no_more(&rest[1..])?;
                Command::CacheList { json }
            }
            Some("clear") if !json => {
                no_more(&rest[1..])?;
                Command::CacheClear
            }
            Some("clear") => return Err("cache clear does not take --json".into()),
            _ => return Err("cache needs list or clear".into()),
        },
        // Not a command of ours in git's last position: a future git
        // operation (or a typo, which `run` hints at for a person).
        other if rest.is_empty() => Command::Unknown(other.to_string()),
        other => return Err(format!("unknown command {} (see --help)", shown(other))),
    };
    done(command)
}

/// The command a mistyped word most likely meant, for a person's hint.
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
    const COMMANDS: [&str; 9] =
        ["configure", "unconfigure", "token", "explain", "doctor", "cache", "revoke", "help", "get"];
    let word = word.to_ascii_lowercase();
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == word) {
        return Some(to);
    }
    crate::spelling::nearest(&word, COMMANDS)
}

fn scope(global: bool, system: bool, file: Option<PathBuf>) -> Result<Scope, String> {
    match (global, system, file) {
        (false, false, None) | (true, false, None) => Ok(Scope::Global),
        (false, true, None) => Ok(Scope::System),
        (false, false, Some(path)) => Ok(Scope::File(path)),
        _ => Err("give only one of --global, --system, --file".into()),
    }
}

/// `[URL | OWNER/REPO]`.
fn one_target(words: &[String]) -> Result<Option<String>, String> {
    match words {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        [_, extra, ..] => Err(format!("unexpected argument {}", shown(extra))),
    }
}

fn no_more(words: &[String]) -> Result<(), String> {
    match words.first() {
        Some(w) => Err(format!("unexpected argument {}", shown(w))),
        None => Ok(()),
    }
}

use crate::redact::shown;

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
    fn a_key_or_token_given_as_an_argument_is_never_quoted_back() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun==";
        let token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
        for words in [
            vec!["--app-id", "1", pem, "get"],
            vec!["get", token],
            vec![token, "extra"],
            vec!["cache", "list", token],
            vec!["token", "acme/web", token],
        ] {
            let err = parse_words(&words).unwrap_err();
            assert!(!err.contains("MIIE") && !err.contains("BEGIN") && !err.contains("16C7e42F"), "{err}");
        }
        assert_eq!(parse_words(&["get", "x"]).unwrap_err(), "unexpected argument \"x\"");
    }

    #[test]
    fn the_operation_is_the_last_argument() {
        let inv = parse_words(&["--config", "/etc/gh.toml", "get"]).unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/etc/gh.toml")));
        assert_eq!(inv.command, Command::Protocol(Operation::Get));
        let inv = parse_words(&["--config=/x.toml", "erase"]).unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/x.toml")));
        assert_eq!(inv.command, Command::Protocol(Operation::Erase));
        assert_eq!(command(&["store"]), Command::Protocol(Operation::Store));
    }

    #[test]
    fn an_unknown_word_in_the_last_place_is_an_unknown_operation_not_an_error() {
        assert_eq!(command(&["capabilities"]), Command::Unknown("capabilities".into()));
        assert_eq!(command(&["--config", "/x", "frobnicate"]), Command::Unknown("frobnicate".into()));
        assert_eq!(
            command(&["--app-id", "1", "--private-key-env", "PEM", "capabilities"]),
            Command::Unknown("capabilities".into())
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
        for name in
            ["get", "store", "erase", "configure", "unconfigure", "token", "explain", "doctor", "revoke"]
        {
            assert_eq!(command(&[name, "--help"]), Command::Help(Some(name)), "{name}");
            assert!(help(Some(name)).contains(name), "{name}");
        }
        assert_eq!(command(&["cache", "list", "--help"]), Command::Help(Some("cache")));
        assert_eq!(command(&["help", "doctor"]), Command::Help(Some("doctor")));
        assert_eq!(command(&["-h", "explain"]), Command::Help(Some("explain")));
        assert_eq!(help(None), HELP);
    }

    #[test]
    fn operator_commands_take_their_arguments() {
        assert_eq!(
            command(&["configure"]),
            Command::Configure { scope: Scope::Global, dry_run: false, rewrite_ssh: false }
        );
        assert_eq!(
            command(&["configure", "--file", "/tmp/g", "--dry-run"]),
            Command::Configure { scope: Scope::File("/tmp/g".into()), dry_run: true, rewrite_ssh: false }
        );
        assert_eq!(
            command(&["unconfigure", "--system"]),
            Command::Unconfigure { scope: Scope::System, dry_run: false, all: false }
        );
        assert_eq!(
            command(&["unconfigure", "--all", "--file=/g"]),
            Command::Unconfigure { scope: Scope::File("/g".into()), dry_run: false, all: true }
        );
        let inv = parse_words(&["token", "acme/web", "--host", "ghe.example"]).unwrap();
        assert_eq!(inv.command, Command::Token { target: Some("acme/web".into()), json: false });
        assert_eq!(inv.app.host.as_deref(), Some("ghe.example"));
        assert!(!inv.app.gives_app());
        assert_eq!(command(&["token", "--json"]), Command::Token { target: None, json: true });
        assert_eq!(
            command(&["--config", "/c.toml", "explain", "https://github.com/acme/web", "--json"]),
            Command::Explain { url: "https://github.com/acme/web".into(), json: true }
        );
        assert_eq!(command(&["cache", "list"]), Command::CacheList { json: false });
        assert_eq!(command(&["cache", "list", "--json"]), Command::CacheList { json: true });
        assert_eq!(command(&["cache", "clear"]), Command::CacheClear);
        assert_eq!(command(&["revoke"]), Command::Revoke { target: None });
        assert_eq!(command(&["doctor"]), Command::Doctor { json: false });
        assert_eq!(command(&["doctor", "--json"]), Command::Doctor { json: true });
    }

    #[test]
    fn an_app_given_by_flags_is_read_wherever_the_flags_stand() {
        let inv = parse_words(&[
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
        ])
        .unwrap();
        assert_eq!(inv.command, Command::Protocol(Operation::Get));
        assert!(inv.app.gives_app());
        assert_eq!(inv.app.app_id.as_deref(), Some("123"));
        assert_eq!(inv.app.private_key_env.as_deref(), Some("GH_APP_PEM"));
        assert_eq!(inv.app.repos, ["acme/*", "beta/web"]);
        assert_eq!(inv.app.permissions, ["contents=read"]);
        let inv = parse_words(&["doctor", "--app-id", "1", "--private-key-path", "/k.pem"]).unwrap();
        assert_eq!(inv.command, Command::Doctor { json: false });
        assert_eq!(inv.app.private_key_path.as_deref(), Some("/k.pem"));
        assert_eq!(
            inv.app.pairs(),
            [("--app-id", "1".to_string()), ("--private-key-path", "/k.pem".to_string())]
        );
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
        assert!(parse_words(&["revoke", "--json"]).unwrap_err().contains("--json"));
        assert!(parse_words(&["configure", "--all"]).unwrap_err().contains("--all"));
        assert!(parse_words(&["--app-id", "1", "--app-id", "2", "get"]).unwrap_err().contains("twice"));
        assert!(parse_words(&["--app-id=", "get"]).unwrap_err().contains("--app-id"));
        assert!(parse_words(&["doctor", "--file", "/x"]).is_err());
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
