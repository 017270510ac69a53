//! One app given entirely on the command line (`--app-id 123
//! --private-key-env GH_APP_PEM ...`), for containers and CI where writing a
//! config file is a chore. [`APP_OPTIONS`] is the one list of those options:
//! the parser reads them from it, `--help` prints it, and `configure` writes
//! the given ones back into the helper value in its order, so a new
//! `[[app]]` key is one row there (and its line in [`from_flags`]). The
//! values are kept as the bytes given (`OsString`): a path reaches `open`
//! unchanged. They fill the same raw `[[app]]` table the TOML file does,
//! through the same value types, and then go through the same validation;
//! only the messages differ: they name the flag.

use super::values::{PermissionName, RepoPattern};
use super::{
    Access, ApiUrl, AppId, ConfigError, Defaults, EnvName, Host, KeySource, RawApp, RawConfig, Source,
    TokenScope, validate,
};
use crate::redact::{looks_secret, shown};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::Error as ValueError;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Where the config comes from: a file (`--config PATH`, else
/// `$GIT_CREDENTIAL_GITHUB_APP_CONFIG`, else the default place), or the app
/// options, which replace the file (none is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigFrom {
    File(Option<PathBuf>),
    Flags(Box<AppFlags>),
}

/// One app given by flags: each option's values as given, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AppFlags {
    pub(crate) name: Option<OsString>,
    pub(crate) app_id: Option<OsString>,
    pub(crate) installation_id: Option<OsString>,
    pub(crate) private_key_path: Option<OsString>,
    pub(crate) private_key_env: Option<OsString>,
    pub(crate) transit_key: Option<OsString>,
    pub(crate) transit_mount: Option<OsString>,
    pub(crate) repos: Vec<OsString>,
    pub(crate) host: Option<OsString>,
    pub(crate) api_url: Option<OsString>,
    pub(crate) ca_file: Option<OsString>,
    pub(crate) token_scope: Option<OsString>,
    /// `NAME=LEVEL`, in the order given.
    pub(crate) permissions: Vec<OsString>,
    pub(crate) read_public_repos: bool,
}

/// What an option holds, for reading it back.
pub(crate) enum Given<'a> {
    /// A value given at most once.
    One(Option<&'a OsString>),
    /// A repeatable value.
    Many(&'a [OsString]),
    /// A boolean key: the flag alone turns it on.
    Switch(bool),
}

/// Where an option's value goes.
pub(crate) enum Slot<'a> {
    One(&'a mut Option<OsString>),
    Many(&'a mut Vec<OsString>),
    Switch(&'a mut bool),
}

impl<'a> From<&'a Option<OsString>> for Given<'a> {
    fn from(v: &'a Option<OsString>) -> Self {
        Given::One(v.as_ref())
    }
}
impl<'a> From<&'a Vec<OsString>> for Given<'a> {
    fn from(v: &'a Vec<OsString>) -> Self {
        Given::Many(v)
    }
}
impl<'a> From<&'a bool> for Given<'a> {
    fn from(v: &'a bool) -> Self {
        Given::Switch(*v)
    }
}
impl<'a> From<&'a mut Option<OsString>> for Slot<'a> {
    fn from(v: &'a mut Option<OsString>) -> Self {
        Slot::One(v)
    }
}
impl<'a> From<&'a mut Vec<OsString>> for Slot<'a> {
    fn from(v: &'a mut Vec<OsString>) -> Self {
        Slot::Many(v)
    }
}
impl<'a> From<&'a mut bool> for Slot<'a> {
    fn from(v: &'a mut bool) -> Self {
        Slot::Switch(v)
    }
}

/// One app option: its flag, the placeholder and line `--help` shows, and
/// the [`AppFlags`] field it fills.
pub(crate) struct AppOption {
    pub(crate) flag: &'static str,
    /// `ID`, `PATH`, ...; empty for a switch.
    pub(crate) value: &'static str,
    pub(crate) help: &'static str,
    get: for<'a> fn(&'a AppFlags) -> Given<'a>,
    set: for<'a> fn(&'a mut AppFlags) -> Slot<'a>,
}

impl AppOption {
    /// Whether the option takes a value (`--flag VALUE`) or is a switch.
    pub(crate) fn takes_value(&self) -> bool {
        !self.value.is_empty()
    }
}

/// A row of [`APP_OPTIONS`]: `option!(flag, VALUE, help, field)`.
macro_rules! option {
    ($flag:literal, $value:literal, $help:literal, $field:ident) => {
        AppOption {
            flag: $flag,
            value: $value,
            help: $help,
            get: {
                fn get(f: &AppFlags) -> Given<'_> {
                    Given::from(&f.$field)
                }
                get
            },
            set: {
                fn set(f: &mut AppFlags) -> Slot<'_> {
                    Slot::from(&mut f.$field)
                }
                set
            },
        }
    };
}

/// Every scalar `[[app]]` key as a flag, in the order `--help` shows them and
/// `configure` writes them.
pub(crate) const APP_OPTIONS: &[AppOption] = &[
    option!("--app-id", "ID", "the App ID or client ID (required)", app_id),
    option!("--installation-id", "ID", "the installation (default: discovered per owner)", installation_id),
    option!("--private-key-path", "PATH", "the PEM file, or", private_key_path),
    option!("--private-key-env", "NAME", "the environment variable holding the PEM, or", private_key_env),
    option!(
        "--transit-key",
        "NAME",
        "the vault Transit key that signs ($VAULT_ADDR, $VAULT_TOKEN)",
        transit_key
    ),
    option!("--transit-mount", "PATH", "the Transit engine's mount (default: transit)", transit_mount),
    option!("--repos", "OWNER/REPO", "a repository pattern, repeatable (default: */*)", repos),
    option!("--host", "HOST", "the GitHub host (default: github.com)", host),
    option!("--api-url", "URL", "the API base URL (default: derived from --host)", api_url),
    option!(
        "--ca-file",
        "PATH",
        "the only roots trusted for API calls (replaces GIT_SSL_CAINFO,\n                           http.sslCAInfo and the system store)",
        ca_file
    ),
    option!("--token-scope", "SCOPE", "installation (default) or repository", token_scope),
    option!("--permission", "NAME=LEVEL", "narrow the token, repeatable (read, write, admin)", permissions),
    option!(
        "--read-public-repos",
        "",
        "read-only tokens for the host's repositories no --repos pattern\n                           matches (public dependencies; see configure)",
        read_public_repos
    ),
    option!("--name", "LABEL", "a label for messages (default: the App ID)", name),
];

/// The option whose flag is `flag` (`--app-id`).
pub(crate) fn app_option(flag: &str) -> Option<&'static AppOption> {
    APP_OPTIONS.iter().find(|o| o.flag == flag)
}

impl AppFlags {
    /// Records one option; `value` is `None` for a switch.
    pub(crate) fn set(&mut self, option: &AppOption, value: Option<OsString>) -> Result<(), String> {
        let flag = option.flag;
        match ((option.set)(self), value) {
            (Slot::One(slot), Some(value)) => match slot.replace(value) {
                Some(_) => Err(format!("{flag} is given twice")),
                None => Ok(()),
            },
            (Slot::Many(list), Some(value)) => {
                list.push(value);
                Ok(())
            }
            (Slot::Switch(on), None) if !*on => {
                *on = true;
                Ok(())
            }
            (Slot::Switch(_), None) => Err(format!("{flag} is given twice")),
            (Slot::Switch(_), Some(_)) => Err(format!("{flag} takes no value")),
            (_, None) => Err(format!("{flag} needs a value (see --help)")),
        }
    }

    /// Whether an app is given by flags (`--host` alone is `token`'s and `exec`'s host).
    pub(crate) fn gives_app(&self) -> bool {
        self.pairs().iter().any(|(flag, _)| *flag != "--host")
    }

    /// The options given, in [`APP_OPTIONS`] order, as `(flag, value)`
    /// (`None` for a switch that is on).
    pub(crate) fn pairs(&self) -> Vec<(&'static str, Option<&OsString>)> {
        let mut pairs = Vec::new();
        for option in APP_OPTIONS {
            match (option.get)(self) {
                Given::One(Some(value)) => pairs.push((option.flag, Some(value))),
                Given::Many(values) => pairs.extend(values.iter().map(|v| (option.flag, Some(v)))),
                Given::Switch(true) => pairs.push((option.flag, None)),
                Given::One(None) | Given::Switch(false) => {}
            }
        }
        pairs
    }
}

/// The config for the app given by `flags`; no file is read.
pub(crate) fn from_flags(
    flags: &AppFlags,
    defaults: &Defaults,
    cwd: Option<&Path>,
) -> Result<super::Config, ConfigError> {
    let fail = |message: String| ConfigError::Flags { message };
    let typed = |flag: &str, e: String| fail(format!("{flag}: {e}"));
    // The options end up in `ps` and, through configure, in git config: none may carry a secret.
    let secret = |v: &OsString| looks_secret(&v.to_string_lossy());
    if let Some((flag, _)) = flags.pairs().into_iter().find(|(_, value)| value.is_some_and(secret)) {
        return Err(fail(format!(
            "{flag}: the value looks like a key or token (not shown); options are visible in `ps` and written into git config by configure: give the key by --private-key-env NAME or --private-key-path FILE"
        )));
    }
    // Every value but a path is text; a path keeps its bytes (see `os_path`).
    let text = |flag: &str, value: &Option<OsString>| -> Result<Option<String>, ConfigError> {
        value.as_deref().map(|v| utf8(flag, v).map_err(fail)).transpose()
    };
    let app_id = match text("--app-id", &flags.app_id)? {
        Some(value) => app_id(&value).map_err(|e| typed("--app-id", e))?,
        None => {
            return Err(fail("--app-id is required when the app is given by flags (see --help)".to_string()));
        }
    };
    let installation_id = match text("--installation-id", &flags.installation_id)? {
        Some(value) => Some(
            value
                .parse::<u64>()
                .ok()
                .filter(|&id| id > 0)
                .ok_or_else(|| fail("--installation-id must be a positive number".to_string()))?,
        ),
        None => None,
    };
    let host =
        text("--host", &flags.host)?.map(Host::try_from).transpose().map_err(|e| typed("--host", e))?;
    let api_url = text("--api-url", &flags.api_url)?
        .map(ApiUrl::try_from)
        .transpose()
        .map_err(|e| typed("--api-url", e))?;
    let private_key_env = text("--private-key-env", &flags.private_key_env)?
        .map(EnvName::try_from)
        .transpose()
        .map_err(|e| typed("--private-key-env", e))?;
    let token_scope = text("--token-scope", &flags.token_scope)?
        .map(TokenScope::try_from)
        .transpose()
        .map_err(|e| typed("--token-scope", e))?;
    let repos = match flags.repos.as_slice() {
        [] => None,
        list => Some(
            list.iter()
                .map(|p| RepoPattern::try_from(utf8("--repos", p)?))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| typed("--repos", e))?,
        ),
    };
    let mut permissions = BTreeMap::new();
    for pair in &flags.permissions {
        let pair = utf8("--permission", pair).map_err(fail)?;
        let Some((name, level)) = pair.split_once('=') else {
            return Err(fail(format!(
                "--permission {} is not NAME=LEVEL (contents=read, for example)",
                shown(&pair)
            )));
        };
        let name = PermissionName::try_from(name.to_string()).map_err(|e| typed("--permission", e))?;
        let level = Access::try_from(level.to_string()).map_err(|e| typed("--permission", e))?;
        if permissions.insert(name, level).is_some() {
            return Err(fail("--permission names the same permission twice".to_string()));
        }
    }
    // Validation sees the paths as text (its checks: empty, a pasted key,
    // `~`); the resolved paths are then taken from the bytes given.
    let lossy = |v: &Option<OsString>| v.as_ref().map(|v| v.to_string_lossy().into_owned());
    let name = text("--name", &flags.name)?;
    let transit_key = text("--transit-key", &flags.transit_key)?;
    let transit_mount = text("--transit-mount", &flags.transit_mount)?;
    let app = RawApp {
        name,
        app_id,
        private_key_path: lossy(&flags.private_key_path),
        private_key_env,
        private_key_command: None,
        transit_key,
        transit_mount,
        sign_command: None,
        host,
        api_url,
        repos,
        installation_id,
        ca_file: lossy(&flags.ca_file),
        token_scope,
        permissions: (!permissions.is_empty()).then_some(permissions),
        read_public_repos: flags.read_public_repos.then_some(true),
    };
    let raw = RawConfig { app: vec![app], ..RawConfig::default() };
    let mut config = validate(raw, &Source::Flags { cwd }, defaults)?;
    let home = defaults.home.as_deref();
    for app in &mut config.apps {
        // Position 0: given by flags, not a table in a file.
        app.position = 0;
        if let (KeySource::Path(path), Some(given)) = (&mut app.key, &flags.private_key_path) {
            *path = os_path(given, path, cwd, home);
        }
        if let (Some(path), Some(given)) = (&mut app.ca_file, &flags.ca_file) {
            *path = os_path(given, path, cwd, home);
        }
    }
    Ok(config)
}

/// A value that must be text.
fn utf8(flag: &str, value: &OsStr) -> Result<String, String> {
    value.to_str().map(str::to_string).ok_or_else(|| format!("{flag}: the value is not UTF-8 text"))
}

/// The path `given` names: `validated` (what validation made of its text)
/// when it is UTF-8, else the same resolution (`~`, relative to `cwd`) on
/// its bytes, so a non-UTF-8 name is never swapped for a look-alike with
/// U+FFFD, which another user could create.
fn os_path(given: &OsStr, validated: &Path, cwd: Option<&Path>, home: Option<&Path>) -> PathBuf {
    if given.to_str().is_some() {
        return validated.to_path_buf();
    }
    let given = Path::new(given);
    match (given.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ if given.is_absolute() => given.to_path_buf(),
        _ => cwd.map_or_else(|| given.to_path_buf(), |cwd| cwd.join(given)),
    }
}

/// An App ID (digits) or a client ID, read as the TOML value would be.
fn app_id(value: &str) -> Result<AppId, String> {
    let result: Result<AppId, ValueError> = match value.parse::<u64>() {
        Ok(number) => AppId::deserialize(number.into_deserializer()),
        Err(_) => AppId::deserialize(value.into_deserializer()),
    };
    result.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeySource;
    use std::path::PathBuf;

    fn flags(pairs: &[(&str, &str)]) -> AppFlags {
        let mut f = AppFlags::default();
        for (flag, value) in pairs {
            f.set(app_option(flag).unwrap(), Some(value.into())).unwrap();
        }
        f
    }

    fn config(pairs: &[(&str, &str)]) -> Result<super::super::Config, String> {
        from_flags(&flags(pairs), &Defaults::for_tests(), Some(Path::new("/work"))).map_err(|e| e.to_string())
    }

    // Unix paths: `/etc/gh` and `/home/ci` are not absolute on Windows.
    #[cfg(unix)]
    #[test]
    fn commands_of_an_app_given_by_flags_run_in_the_home_directory_never_the_working_directory() {
        let c = config(&[("--app-id", "1"), ("--private-key-path", "k.pem")]).unwrap();
        assert_eq!(c.command_dir, PathBuf::from("/home/ci"));
        let no_home = Defaults { home: None, ..Defaults::for_tests() };
        let flags = flags(&[("--app-id", "1"), ("--private-key-path", "/k.pem")]);
        let c = from_flags(&flags, &no_home, Some(Path::new("/work"))).unwrap();
        assert_eq!(c.command_dir, PathBuf::from("/"));
    }

    #[test]
    fn flags_build_the_same_app_as_the_toml_keys() {
        let c = config(&[
            ("--app-id", "123"),
            ("--private-key-path", "keys/app.pem"),
            ("--installation-id", "42"),
            ("--repos", "acme/*"),
            ("--repos", "beta/web.git"),
            ("--host", "GHE.example:443"),
            ("--token-scope", "repository"),
            ("--permission", "contents=read"),
            ("--permission", "pull_requests=write"),
        ])
        .unwrap();
        assert!(c.from_flags);
        assert_eq!(c.describe(), "the app given by command-line flags");
        let toml = crate::config::parse_config(
            "[[app]]\napp_id = 123\nprivate_key_path = \"/work/keys/app.pem\"\ninstallation_id = 42\n\
             repos = [\"acme/*\", \"beta/web.git\"]\nhost = \"GHE.example:443\"\ntoken_scope = \"repository\"\n\
             permissions = { contents = \"read\", pull_requests = \"write\" }\n",
            Path::new("/etc/c.toml"),
            &Defaults::for_tests(),
        )
        .unwrap();
        let (a, b) = (&c.apps[0], &toml.apps[0]);
        assert_eq!(a.key, KeySource::Path(PathBuf::from("/work/keys/app.pem")));
        assert_eq!(a.key, b.key);
        assert_eq!((&a.app_id, &a.host, &a.api_url), (&b.app_id, &b.host, &b.api_url));
        assert_eq!(a.repos, b.repos);
        assert_eq!((a.installation_id, a.token_scope), (b.installation_id, b.token_scope));
        assert_eq!(a.permissions, b.permissions);
        assert_eq!((c.cache_dir, c.timeout), (toml.cache_dir, toml.timeout));
    }

    #[test]
    fn a_client_id_and_an_environment_key_are_accepted() {
        let c = config(&[("--app-id", "Iv23liABC"), ("--private-key-env", "GH_APP_PEM")]).unwrap();
        assert_eq!(c.apps[0].app_id, AppId::ClientId("Iv23liABC".into()));
        assert_eq!(c.apps[0].key, KeySource::Env(EnvName::try_from("GH_APP_PEM".to_string()).unwrap()));
        assert_eq!(&*c.apps[0].host, "github.com");
    }

    #[test]
    fn mistakes_name_the_flag_not_a_file() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[("--private-key-env", "PEM")], "--app-id is required"),
            (&[("--app-id", "0"), ("--private-key-env", "PEM")], "--app-id"),
            (
                &[("--app-id", "1")],
                "give exactly one of --private-key-path, --private-key-env, --transit-key",
            ),
            (&[("--app-id", "1"), ("--private-key-env", "PEM"), ("--private-key-path", "/k")], "exactly one"),
            (
                &[("--app-id", "1"), ("--private-key-env", "PEM"), ("--installation-id", "x")],
                "--installation-id",
            ),
            (
                &[("--app-id", "1"), ("--private-key-env", "PEM"), ("--repos", "acme")],
                "--repos: repos pattern",
            ),
            (&[("--app-id", "1"), ("--private-key-env", "PEM"), ("--host", "a b")], "--host"),
            (&[("--app-id", "1"), ("--private-key-env", "PEM"), ("--permission", "contents")], "NAME=LEVEL"),
            (
                &[("--app-id", "1"), ("--private-key-env", "PEM"), ("--permission", "contents=all")],
                "--permission",
            ),
        ];
        for (pairs, expected) in cases {
            let err = config(pairs).unwrap_err();
            assert!(err.starts_with("command line: ") && err.contains(expected), "{err}");
            assert!(!err.contains("config file"), "{err}");
        }
    }

    #[test]
    fn a_key_pasted_into_a_flag_is_never_quoted() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun";
        for flag in ["--private-key-env", "--private-key-path", "--host", "--api-url", "--app-id", "--repos"]
        {
            let mut pairs = vec![("--app-id", "1"), ("--private-key-env", "PEM")];
            pairs.retain(|(f, _)| *f != flag);
            pairs.push((flag, pem));
            let err = config(&pairs).unwrap_err();
            assert!(!err.contains("MIIE") && !err.contains("BEGIN"), "{flag}: {err}");
        }
    }

    #[test]
    fn a_token_in_any_flag_is_refused_so_configure_never_writes_it() {
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let owner_token = format!("{token}/web");
        let repo_token = format!("acme/{token}");
        for (flag, value) in [
            ("--private-key-env", token),
            ("--repos", owner_token.as_str()),
            ("--repos", repo_token.as_str()),
        ] {
            let err = config(&[("--app-id", "1"), ("--private-key-path", "/k.pem"), (flag, value)])
                .map(|_| String::from("accepted"))
                .unwrap_or_else(|e| e);
            assert!(err.contains(&format!("{flag}: the value looks like a key or token")), "{flag}: {err}");
            assert!(!err.contains("ghp_"), "{flag}: {err}");
        }
    }

    #[test]
    fn every_scalar_app_key_is_a_row_of_the_one_table_and_each_row_is_read_back() {
        let flags: Vec<&str> = APP_OPTIONS.iter().map(|o| o.flag).collect();
        for key in [
            "name",
            "app_id",
            "private_key_path",
            "private_key_env",
            "transit_key",
            "transit_mount",
            "host",
            "api_url",
            "installation_id",
            "ca_file",
            "token_scope",
        ] {
            assert!(flags.contains(&format!("--{}", key.replace('_', "-")).as_str()), "{key}");
        }
        assert!(flags.contains(&"--repos") && flags.contains(&"--permission"));
        let mut all = AppFlags::default();
        for option in APP_OPTIONS {
            all.set(option, option.takes_value().then(|| OsString::from("v"))).unwrap();
            assert!(all.set(option, None).is_err(), "{}", option.flag);
        }
        let read: Vec<&str> = all.pairs().into_iter().map(|(flag, _)| flag).collect();
        assert_eq!(read, flags);
    }

    #[test]
    fn a_transit_key_and_a_name_can_be_given_by_flags() {
        let mut defaults = Defaults::for_tests();
        defaults.vault.address = Some(("$VAULT_ADDR", "https://vault.example:8200".into()));
        let flags = flags(&[("--app-id", "7"), ("--transit-key", "gh-app"), ("--name", "ci")]);
        let c = from_flags(&flags, &defaults, None).unwrap();
        assert_eq!(c.apps[0].key, KeySource::Transit { key: "gh-app".into(), mount: "transit".into() });
        assert_eq!(c.apps[0].label(), "app \"ci\" (7, given by command-line flags)");
        let err =
            config(&[("--app-id", "7"), ("--transit-mount", "t"), ("--private-key-env", "PEM")]).unwrap_err();
        assert!(err.contains("--transit-mount is set but --transit-key is not"), "{err}");
    }

    #[test]
    fn the_app_given_by_flags_is_not_called_an_app_of_the_config() {
        let c = config(&[("--app-id", "4242"), ("--private-key-env", "PEM")]).unwrap();
        assert_eq!(c.apps[0].label(), "app 4242 (given by command-line flags)");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_or_ca_path_that_is_not_utf8_keeps_its_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let mut f = flags(&[("--app-id", "1")]);
        f.private_key_path = Some(OsString::from_vec(b"keys/k\xff.pem".to_vec()));
        f.ca_file = Some(OsString::from_vec(b"~/ca\xfe.pem".to_vec()));
        let c = from_flags(&f, &Defaults::for_tests(), Some(Path::new("/work"))).unwrap();
        let key = PathBuf::from(OsString::from_vec(b"/work/keys/k\xff.pem".to_vec()));
        assert_eq!(c.apps[0].key, KeySource::Path(key));
        let ca = PathBuf::from(OsString::from_vec(b"/home/ci/ca\xfe.pem".to_vec()));
        assert_eq!(c.apps[0].ca_file, Some(ca));
    }
}
