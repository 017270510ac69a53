//! One app given entirely on the command line (`--app-id 123
//! --private-key-env GH_APP_PEM ...`), for containers and CI where writing a
//! config file is a chore. The flags fill the same raw `[[app]]` table the
//! TOML file does, through the same value types, and then go through the same
//! validation; only the messages differ: they name the flag.

use super::values::{PermissionName, RepoPattern};
use super::{
    Access, ApiUrl, AppId, ConfigError, Defaults, EnvName, Host, RawApp, RawConfig, Source, TokenScope,
    validate,
};
use crate::cli::AppFlags;
use crate::redact::looks_secret;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::Error as ValueError;
use std::collections::BTreeMap;
use std::path::Path;

/// The config for the app given by `flags`; no file is read.
pub(crate) fn from_flags(
    flags: &AppFlags,
    defaults: &Defaults,
    cwd: Option<&Path>,
) -> Result<super::Config, ConfigError> {
    let fail = |message: String| ConfigError::Flags { message };
    let typed = |flag: &str, e: String| fail(format!("{flag}: {e}"));
    // The options end up in `ps` and, through configure, in git config: none may carry a secret.
    if let Some((flag, _)) = flags.pairs().into_iter().find(|(_, value)| looks_secret(value)) {
        return Err(fail(format!(
            "{flag}: the value looks like a key or token (not shown); options are visible in `ps` and written into git config by configure: give the key by --private-key-env NAME or --private-key-path FILE"
        )));
    }
    let app_id = match &flags.app_id {
        Some(value) => app_id(value).map_err(|e| typed("--app-id", e))?,
        None => {
            return Err(fail("--app-id is required when the app is given by flags (see --help)".to_string()));
        }
    };
    let installation_id = match &flags.installation_id {
        Some(value) => Some(
            value
                .parse::<u64>()
                .ok()
                .filter(|&id| id > 0)
                .ok_or_else(|| fail("--installation-id must be a positive number".to_string()))?,
        ),
        None => None,
    };
    let host = flags.host.clone().map(Host::try_from).transpose().map_err(|e| typed("--host", e))?;
    let api_url =
        flags.api_url.clone().map(ApiUrl::try_from).transpose().map_err(|e| typed("--api-url", e))?;
    let private_key_env = flags
        .private_key_env
        .clone()
        .map(EnvName::try_from)
        .transpose()
        .map_err(|e| typed("--private-key-env", e))?;
    let token_scope = flags
        .token_scope
        .clone()
        .map(TokenScope::try_from)
        .transpose()
        .map_err(|e| typed("--token-scope", e))?;
    let repos = match flags.repos.as_slice() {
        [] => None,
        list => Some(
            list.iter()
                .map(|p| RepoPattern::try_from(p.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| typed("--repos", e))?,
        ),
    };
    let mut permissions = BTreeMap::new();
    for pair in &flags.permissions {
        let Some((name, level)) = pair.split_once('=') else {
            return Err(fail(format!(
                "--permission {} is not NAME=LEVEL (contents=read, for example)",
                crate::redact::shown(pair)
            )));
        };
        let name = PermissionName::try_from(name.to_string()).map_err(|e| typed("--permission", e))?;
        let level = Access::try_from(level.to_string()).map_err(|e| typed("--permission", e))?;
        if permissions.insert(name, level).is_some() {
            return Err(fail("--permission names the same permission twice".to_string()));
        }
    }
    let app = RawApp {
        name: None,
        app_id,
        private_key_path: flags.private_key_path.clone(),
        private_key_env,
        private_key_command: None,
        transit_key: None,
        transit_mount: None,
        sign_command: None,
        host,
        api_url,
        repos,
        installation_id,
        ca_file: flags.ca_file.clone(),
        token_scope,
        permissions: (!permissions.is_empty()).then_some(permissions),
        read_public_repos: None,
    };
    let raw = RawConfig { app: vec![app], ..RawConfig::default() };
    validate(raw, &Source::Flags { cwd }, defaults)
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
            let v = value.to_string();
            match *flag {
                "--app-id" => f.app_id = Some(v),
                "--installation-id" => f.installation_id = Some(v),
                "--private-key-path" => f.private_key_path = Some(v),
                "--private-key-env" => f.private_key_env = Some(v),
                "--repos" => f.repos.push(v),
                "--host" => f.host = Some(v),
                "--api-url" => f.api_url = Some(v),
                "--ca-file" => f.ca_file = Some(v),
                "--token-scope" => f.token_scope = Some(v),
                "--permission" => f.permissions.push(v),
                other => panic!("{other}"),
            }
        }
        f
    }

    fn config(pairs: &[(&str, &str)]) -> Result<super::super::Config, String> {
        from_flags(&flags(pairs), &Defaults::for_tests(), Some(Path::new("/work"))).map_err(|e| e.to_string())
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
            (&[("--app-id", "1")], "give exactly one of --private-key-path, --private-key-env"),
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
}
