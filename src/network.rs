//! Where API calls go and whom they trust: the proxy and the root
//! certificates for one API URL, from the config, the environment and, on the
//! mint path only, git's own `http.*` settings for that URL (the helper runs
//! inside git, so a proxy or CA set up for git should work for us too).
//!
//! Precedence, highest first:
//! - proxy: `https_proxy`/`HTTPS_PROXY`/`all_proxy`/`ALL_PROXY`, then git's `http.proxy`;
//!   `no_proxy`/`NO_PROXY`, read as curl reads it ([`crate::no_proxy`]), applies to both;
//! - trust: the app's `ca_file`, then `GIT_SSL_CAINFO`, then git's `http.sslCAInfo`,
//!   then the system trust store (which honours `SSL_CERT_FILE`/`SSL_CERT_DIR`;
//!   an `SSL_CERT_FILE` that is a FIFO, a device or too large is refused first).

use crate::diag::Diag;
use crate::no_proxy;
use crate::os;
use crate::process::{Failure, Running};
use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Network settings `main` reads from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkEnv {
    /// The first of `https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY`
    /// that is set: it may hold `user:password@`.
    pub proxy: Option<Secret<String>>,
    /// `no_proxy` or `NO_PROXY`.
    pub no_proxy: Option<String>,
    /// `GIT_SSL_CAINFO`.
    pub git_ssl_cainfo: Option<PathBuf>,
    /// `SSL_CERT_FILE`, which the system trust store reads.
    pub ssl_cert_file: Option<PathBuf>,
    /// Whether to ask `git config` for `http.*` settings (off in unit tests).
    pub use_git_config: bool,
}

/// The roots a connection trusts, and where that choice came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trust {
    /// PEM certificates from a file; `origin` names the setting that chose it.
    CaFile { path: PathBuf, origin: &'static str },
    /// The operating system's store (with `SSL_CERT_FILE`/`SSL_CERT_DIR` on Linux).
    System,
}

impl std::fmt::Display for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trust::CaFile { path, origin } => write!(f, "{origin} {}", os::shown(path)),
            Trust::System => f.write_str("the system trust store"),
        }
    }
}

/// A proxy and where it was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    /// As configured: may hold `user:password@`; show it only through [`Proxy::shown`].
    pub(crate) url: Secret<String>,
    pub(crate) origin: &'static str,
}

/// The proxy schemes the helper speaks, for messages and docs.
pub(crate) const SUPPORTED_PROXY_SCHEMES: &str = "http://, https://, socks4://, socks4a://, socks5:// or socks5h:// (socks:// means socks4://, as in curl)";

/// A proxy's protocol, from its URL's scheme (none means http, as in curl and git).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProxyScheme {
    Http,
    Https,
    /// The target's name is resolved here, its address sent to the proxy.
    Socks4,
    /// The target's name is resolved by the proxy.
    Socks4a,
    /// The target's name is resolved here, its address sent to the proxy.
    Socks5,
    /// The target's name is resolved by the proxy.
    Socks5h,
    Unsupported(String),
}

impl Proxy {
    /// The scheme (lower case; `http` when the URL has none) and the rest.
    fn split(&self) -> (String, &str) {
        match self.url.expose().split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_string(), self.url.expose().as_str()),
        }
    }

    pub(crate) fn scheme(&self) -> ProxyScheme {
        match self.split().0.as_str() {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            // curl reads a bare socks:// as SOCKS4; so does git through it.
            "socks" | "socks4" => ProxyScheme::Socks4,
            "socks4a" => ProxyScheme::Socks4a,
            "socks5" => ProxyScheme::Socks5,
            "socks5h" => ProxyScheme::Socks5h,
            other => ProxyScheme::Unsupported(other.to_string()),
        }
    }

    /// The URL as ureq reads it: with a scheme, `socks` spelled `socks4`.
    pub(crate) fn url_for_ureq(&self) -> String {
        match self.split() {
            (scheme, rest) if scheme == "socks" => format!("socks4://{rest}"),
            (scheme, rest) => format!("{scheme}://{rest}"),
        }
    }

    /// The proxy for messages: `scheme://host:port` as the connection would
    /// use them, never a user name, password, path or query. A URL that
    /// cannot be parsed is not shown at all.
    pub(crate) fn shown(&self) -> String {
        let (scheme, rest) = self.split();
        let supported = !matches!(self.scheme(), ProxyScheme::Unsupported(_));
        let url = if supported { self.url_for_ureq() } else { format!("http://{rest}") };
        match ureq::Proxy::new(&url) {
            Ok(parsed) if supported => {
                crate::redact::escape(&format!("{scheme}://{}:{}", parsed.host(), parsed.port()))
            }
            Ok(parsed) => crate::redact::escape(&format!("{scheme}://{}", parsed.host())),
            Err(_) => format!("{}://(an address that cannot be parsed)", crate::redact::escape(&scheme)),
        }
    }
}

/// How to reach one API URL: through which proxy, trusting which roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    pub(crate) proxy: Option<Proxy>,
    pub(crate) trust: Trust,
    /// `SSL_CERT_FILE`, which the system store reads with a blocking open:
    /// checked first (a FIFO there would hang the helper past its deadline).
    pub(crate) system_cert_file: Option<PathBuf>,
}

/// git's `http.*` settings that apply to one URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GitHttpConfig {
    /// `http.proxy`: it may hold `user:password@`.
    pub proxy: Option<Secret<String>>,
    pub(crate) ssl_ca_info: Option<PathBuf>,
}

/// Whether git's settings could still decide anything: the environment and
/// the config leave the proxy or the trust store open.
pub(crate) fn wants_git(ca_file: Option<&Path>, env: &NetworkEnv) -> bool {
    env.use_git_config && (env.proxy.is_none() || (ca_file.is_none() && env.git_ssl_cainfo.is_none()))
}

/// Decides proxy and trust for `url`, an API URL; `git` is asked only when
/// [`wants_git`] says it could matter.
pub(crate) fn resolve(
    url: &str,
    ca_file: Option<&Path>,
    env: &NetworkEnv,
    git: impl FnOnce() -> GitHttpConfig,
) -> Connection {
    let from_git = if wants_git(ca_file, env) { git() } else { GitHttpConfig::default() };
    let proxy = match (&env.proxy, from_git.proxy) {
        (Some(url), _) => Some(Proxy { url: with_scheme(url.expose()), origin: "environment" }),
        (None, Some(url)) => Some(Proxy { url: with_scheme(url.expose()), origin: "git config http.proxy" }),
        (None, None) => None,
    };
    let proxy = proxy.filter(|_| !exempt(url, env));
    let trust = if let Some(path) = ca_file {
        Trust::CaFile { path: path.to_path_buf(), origin: "ca_file" }
    } else if let Some(path) = &env.git_ssl_cainfo {
        Trust::CaFile { path: path.clone(), origin: "GIT_SSL_CAINFO" }
    } else if let Some(path) = from_git.ssl_ca_info {
        Trust::CaFile { path, origin: "git config http.sslCAInfo" }
    } else {
        Trust::System
    };
    let system_cert_file = (trust == Trust::System).then(|| env.ssl_cert_file.clone()).flatten();
    Connection { proxy, trust, system_cert_file }
}

/// Whether `no_proxy` exempts `url`'s host from the proxy.
pub(crate) fn exempt(url: &str, env: &NetworkEnv) -> bool {
    env.no_proxy.as_deref().is_some_and(|list| no_proxy::covers(list, host_of(url)))
}

/// The `[user@]host[:port]` of `scheme://[user@]host[:port]/...`; empty without a scheme.
pub(crate) fn authority(url: &str) -> &str {
    url.split("://").nth(1).and_then(|rest| rest.split(['/', '?', '#']).next()).unwrap_or("")
}

/// The host of `scheme://[user@]host[:port]/...`: a name, an IPv4 address or
/// `[an IPv6 address]`; empty without a scheme.
pub(crate) fn host_of(url: &str) -> &str {
    let authority = authority(url);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    }
}

/// git, like curl, takes `host:port` for an http proxy (so does the environment).
fn with_scheme(url: &str) -> Secret<String> {
    Secret::new(if url.contains("://") { url.to_string() } else { format!("http://{url}") })
}

/// `git config --null --get-urlmatch http <url>` running in the background,
/// so the mint can sign its JWT meanwhile. A failure means "nothing set",
/// except a git that is still running at the deadline. A git that cannot be
/// started at all (none on `PATH`; the Windows build run under Wine, which
/// cannot start Linux git) also means "nothing set", said in one trace line.
pub(crate) struct GitHttpQuery {
    url: String,
    running: Result<Running, Failure>,
}

impl GitHttpQuery {
    pub(crate) fn start(url: &str) -> GitHttpQuery {
        GitHttpQuery::start_program("git", url)
    }

    fn start_program(program: &str, url: &str) -> GitHttpQuery {
        let args = ["config", "--null", "--get-urlmatch", "http", url].map(String::from);
        GitHttpQuery { url: url.to_string(), running: Running::start(program, &args, None, 1024 * 1024) }
    }

    /// What git said, waiting at most until `deadline`. A git that did not
    /// finish by then (a config that includes a FIFO) used up the time the
    /// mint needed: the error says so, rather than let the mint fail as if
    /// GitHub had not answered.
    pub(crate) fn finish(self, deadline: Instant, diag: &Diag<'_>) -> Result<GitHttpConfig, String> {
        match self.running.map(|running| running.finish(deadline)) {
            Ok(Ok(out)) => Ok(parse_git_http_config(&String::from_utf8_lossy(&out))),
            Ok(Err(Failure::NoOutput | Failure::NoExit)) => Err(format!(
                "git config --get-urlmatch http {} did not finish within timeout_secs (does a git config file include a FIFO?)",
                self.url
            )),
            Err(Failure::Start(e)) => {
                diag.trace(|| format!("git cannot be run ({e}): no git http.* settings apply"));
                Ok(GitHttpConfig::default())
            }
            _ => Ok(GitHttpConfig::default()),
        }
    }
}

/// Parses `--null` output: `key\nvalue\0` records.
fn parse_git_http_config(output: &str) -> GitHttpConfig {
    let mut config = GitHttpConfig::default();
    for record in output.split('\0') {
        let Some((key, value)) = record.split_once('\n') else {
            continue;
        };
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "http.proxy" => config.proxy = (!value.is_empty()).then(|| Secret::new(value.to_string())),
            "http.sslcainfo" => config.ssl_ca_info = (!value.is_empty()).then(|| PathBuf::from(value)),
            _ => {}
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> NetworkEnv {
        NetworkEnv { use_git_config: true, ..Default::default() }
    }

    #[test]
    fn a_git_that_cannot_be_run_means_no_git_settings_in_one_trace_line() {
        let out = std::cell::RefCell::new(Vec::new());
        let diag = Diag::new(&out, true);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let query = GitHttpQuery::start_program("gcga-no-such-git-program", "https://api.github.com");
        assert_eq!(query.finish(deadline, &diag), Ok(GitHttpConfig::default()));
        let said = String::from_utf8(out.take()).unwrap();
        assert_eq!(said.lines().count(), 1, "{said}");
        assert!(said.starts_with("git-credential-github-app: trace: git cannot be run ("), "{said}");
        assert!(said.ends_with("): no git http.* settings apply\n"), "{said}");
        // Without tracing: nothing said, still no settings.
        let query = GitHttpQuery::start_program("gcga-no-such-git-program", "https://api.github.com");
        assert_eq!(query.finish(deadline, &Diag::new(&out, false)), Ok(GitHttpConfig::default()));
        assert!(out.take().is_empty());
    }

    const API: &str = "https://ghe.corp.example/api/v3";

    #[test]
    fn no_proxy_covering_the_api_host_drops_the_proxy_from_either_source() {
        let covered = |no_proxy: &str| NetworkEnv { no_proxy: Some(no_proxy.into()), ..env() };
        for list in ["corp.example", ".corp.example", "ghe.corp.example", "*"] {
            assert_eq!(resolve(API, None, &covered(list), git_sets_both).proxy, None, "{list}");
            let with_env_proxy = NetworkEnv { proxy: Some("http://p:3128".into()), ..covered(list) };
            assert_eq!(resolve(API, None, &with_env_proxy, git_sets_both).proxy, None, "{list}");
        }
        assert!(resolve(API, None, &covered("other.example"), git_sets_both).proxy.is_some());
        let by_address = "https://10.1.2.3:8443/api/v3";
        assert_eq!(resolve(by_address, None, &covered("10.0.0.0/8"), git_sets_both).proxy, None);
        assert!(resolve(by_address, None, &covered("10.0.0.0/16"), git_sets_both).proxy.is_some());
    }

    #[test]
    fn the_host_of_a_url_is_found_without_port_user_or_path() {
        assert_eq!(host_of("https://ghe.corp:8443/api/v3"), "ghe.corp");
        assert_eq!(host_of("https://u:p@ghe.corp/api"), "ghe.corp");
        assert_eq!(host_of("https://[fd00::1]:8200/v1"), "[fd00::1]");
        assert_eq!(host_of("https://api.github.com"), "api.github.com");
        assert_eq!(host_of("api.github.com"), "");
    }

    fn git_sets_both() -> GitHttpConfig {
        GitHttpConfig { proxy: Some("proxy.corp:3128".into()), ssl_ca_info: Some("/git/ca.pem".into()) }
    }

    #[test]
    fn git_settings_apply_when_the_environment_and_config_leave_them_open() {
        let connection = resolve(API, None, &env(), git_sets_both);
        let proxy = connection.proxy.unwrap();
        assert_eq!(proxy.url.expose(), "http://proxy.corp:3128");
        assert_eq!(proxy.origin, "git config http.proxy");
        assert_eq!(
            connection.trust,
            Trust::CaFile { path: "/git/ca.pem".into(), origin: "git config http.sslCAInfo" }
        );
    }

    #[test]
    fn a_proxy_password_never_reaches_a_debug_print() {
        let network = NetworkEnv { proxy: Some("http://alice:hunter2@envproxy:8080".into()), ..env() };
        let git = || GitHttpConfig {
            proxy: Some("socks5h://bob:s3cret@gitproxy:1080".into()),
            ..Default::default()
        };
        let from_env = resolve(API, None, &network, git);
        let from_git = resolve(API, None, &env(), git);
        let vault = crate::context::VaultEnv {
            token: Some(("$VAULT_TOKEN", "s.vaulttoken".into())),
            actions_request_token: Some("actionsrequesttoken".into()),
            ..Default::default()
        };
        let printed = format!("{network:?} {from_env:?} {from_git:?} {:?} {vault:?}", git());
        for secret in ["hunter2", "s3cret", "s.vaulttoken", "actionsrequesttoken"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert_eq!(from_git.proxy.map(|p| p.shown()).as_deref(), Some("socks5h://gitproxy:1080"));
    }

    #[test]
    fn the_environment_wins_over_git_config() {
        let e = NetworkEnv {
            proxy: Some("http://envproxy:8080".into()),
            git_ssl_cainfo: Some("/env/ca.pem".into()),
            ..env()
        };
        let connection = resolve(API, None, &e, || panic!("git need not be asked"));
        assert_eq!(connection.proxy.unwrap().url.expose(), "http://envproxy:8080");
        assert_eq!(connection.trust, Trust::CaFile { path: "/env/ca.pem".into(), origin: "GIT_SSL_CAINFO" });
    }

    #[test]
    fn ca_file_wins_over_everything_and_the_system_store_is_the_fallback() {
        let connection = resolve(API, Some(Path::new("/app/ca.pem")), &env(), git_sets_both);
        assert_eq!(connection.trust, Trust::CaFile { path: "/app/ca.pem".into(), origin: "ca_file" });
        let connection = resolve(API, None, &env(), GitHttpConfig::default);
        assert_eq!(connection.trust, Trust::System);
        assert_eq!(connection.proxy, None);
    }

    #[test]
    fn git_is_not_asked_when_disabled() {
        let e = NetworkEnv { use_git_config: false, ..Default::default() };
        let connection = resolve(API, None, &e, || panic!("git must not be asked"));
        assert_eq!(connection.trust, Trust::System);
    }

    #[test]
    fn null_separated_git_output_is_parsed() {
        let parsed = parse_git_http_config(
            "http.proxy\nhttp://p:1\0http.sslcainfo\n/x/ca.pem\0http.sslverify\ntrue\0",
        );
        assert_eq!(parsed.proxy.as_ref().map(|p| p.expose().as_str()), Some("http://p:1"));
        assert_eq!(parsed.ssl_ca_info, Some(PathBuf::from("/x/ca.pem")));
        assert_eq!(parse_git_http_config(""), GitHttpConfig::default());
    }

    fn proxy(url: &str) -> Proxy {
        Proxy { url: url.into(), origin: "environment" }
    }

    #[test]
    fn proxies_are_shown_as_scheme_host_and_port_only() {
        assert_eq!(proxy("http://alice:pw@proxy.corp:3128/path?token=abc").shown(), "http://proxy.corp:3128");
        assert_eq!(proxy("alice:pw@proxy.corp:3128").shown(), "http://proxy.corp:3128");
        assert_eq!(proxy("socks5h://bob:s3cret@127.0.0.1:1080").shown(), "socks5h://127.0.0.1:1080");
        assert_eq!(proxy("SOCKS5://127.0.0.1").shown(), "socks5://127.0.0.1:1080");
        assert_eq!(proxy("quic://u:p@relay:443").shown(), "quic://relay");
        let broken = proxy("http://u:pa/ss@host").shown();
        assert!(!broken.contains("pa") && !broken.contains("ss"), "{broken}");
        assert_eq!(proxy("http://ev\u{1b}il:1").shown(), "http://(an address that cannot be parsed)");
    }

    #[test]
    fn proxy_schemes_are_read_as_curl_reads_them() {
        assert_eq!(proxy("proxy:3128").scheme(), ProxyScheme::Http);
        assert_eq!(proxy("socks://p:1080").scheme(), ProxyScheme::Socks4);
        assert_eq!(proxy("socks://p:1080").url_for_ureq(), "socks4://p:1080");
        assert_eq!(proxy("socks4a://p").scheme(), ProxyScheme::Socks4a);
        assert_eq!(proxy("Socks5h://p").scheme(), ProxyScheme::Socks5h);
        assert_eq!(proxy("socks5://p").scheme(), ProxyScheme::Socks5);
        assert_eq!(proxy("https://p").scheme(), ProxyScheme::Https);
        assert_eq!(proxy("ftp://p").scheme(), ProxyScheme::Unsupported("ftp".into()));
    }
}
