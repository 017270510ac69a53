//! The one way the helper builds an HTTPS client (`ureq` agent) for a
//! [`Connection`]: its proxy, its roots (a named CA file through tls.rs, or
//! the system store), statuses as answers, no redirects, the connect timeout.
//! GitHub's API (github.rs), the vault and the GitHub Actions OIDC endpoint
//! (vault/) all get their agent here. Set-up errors are one line naming the
//! file or proxy.
//!
//! It also holds the one retry policy every call follows (GitHub's, the
//! vault's): at most [`MAX_ATTEMPTS`] attempts, ~250 ms then ~500 ms apart
//! (with jitter), none that would end past the caller's deadline, and which
//! transport failures are worth another try. Each client says which answers
//! are (GitHub: 5xx and a short `Retry-After`; the vault: 5xx but 503).

use crate::files::{self, Refusal};
use crate::network::{self, Connection, Proxy, ProxyScheme, Trust};
use crate::os;
use crate::redact;
use crate::tls::{self, ExactOrChain};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER_AGENT: &str = concat!("git-credential-github-app/", env!("CARGO_PKG_VERSION"));
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The HTTP methods the helper uses (GitHub's API, the vault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        })
    }
}

/// The agent for `connection`: its proxy and roots, statuses as answers, no
/// redirects (a credential must not follow one), the connect timeout.
pub(crate) fn agent(connection: &Connection) -> Result<ureq::Agent, String> {
    let proxy = match &connection.proxy {
        Some(p) => Some(build_proxy(p)?),
        None => None,
    };
    let socks4 = connection.proxy.as_ref().is_some_and(|p| p.scheme() == ProxyScheme::Socks4);
    let resolver = Resolver { socks4_proxy: proxy.as_ref().filter(|_| socks4).map(|p| p.host().to_string()) };
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .proxy(proxy)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .max_redirects(0);
    let agent = match &connection.trust {
        // Certificates the user named: webpki, or exactly one of them (tls.rs).
        Trust::CaFile { path, origin } => {
            let trusted = read_roots(path, origin)?
                .iter()
                .map(|c| rustls_pki_types::CertificateDer::from(c.der().to_vec()))
                .collect();
            let verifier =
                ExactOrChain::new(trusted).map_err(|e| format!("{origin} {} {e}", os::shown(path)))?;
            ureq::Agent::with_parts(config.build(), tls::connector(Arc::new(verifier)), resolver)
        }
        Trust::System => {
            if let Some(path) = &connection.system_cert_file {
                check_system_cert_file(path)?;
            }
            let tls =
                ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
            ureq::Agent::with_parts(
                config.tls_config(tls).build(),
                ureq::unversioned::transport::DefaultConnector::default(),
                resolver,
            )
        }
    };
    Ok(agent)
}

/// Names resolved as ureq does (std's resolver), with the IPv4 addresses
/// first behind a `socks4://` proxy: SOCKS4 carries only an IPv4 address and
/// ureq sends the first one resolved, so a host whose IPv6 address comes first
/// (`localhost` with Debian's `::1` line) would fail. curl, and git through it,
/// also picks the first IPv4 address for SOCKS4. The proxy's own name is
/// left in the resolver's order (ureq tries each of its addresses).
#[derive(Debug)]
struct Resolver {
    /// The host of the `socks4://` proxy, when there is one.
    socks4_proxy: Option<String>,
}

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut addrs =
            ureq::unversioned::resolver::DefaultResolver::default().resolve(uri, config, timeout)?;
        if self.socks4_proxy.as_deref().is_some_and(|proxy| uri.host() != Some(proxy)) {
            ipv4_first(&mut addrs);
        }
        Ok(addrs)
    }
}

/// IPv4 addresses first, each family in the order it was resolved in.
fn ipv4_first(addrs: &mut [std::net::SocketAddr]) {
    addrs.sort_by_key(std::net::SocketAddr::is_ipv6);
}

/// The TLS error inside an I/O error, when that is what it is.
pub(crate) fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// The most a CA bundle may hold (the system bundle is about 200 KiB).
const MAX_CA_BYTES: u64 = 4 * 1024 * 1024;

fn read_roots(path: &Path, origin: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let pem = files::read_regular(path, MAX_CA_BYTES).map_err(|e| match e.refusal {
        Refusal::Io(io) => format!("cannot read {origin} {}: {io}", os::shown(path)),
        _ => format!("{origin} {e}"),
    })?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("{origin} {} holds no PEM certificate", os::shown(path)));
    }
    Ok(certs)
}

/// Refuses an `SSL_CERT_FILE` that is a FIFO, a device or too large, which
/// the system store would open blocking or read whole; a missing or
/// unreadable one is left to the store, as before.
fn check_system_cert_file(path: &Path) -> Result<(), String> {
    match files::open_regular(path, MAX_CA_BYTES) {
        Err(e) if !matches!(e.refusal, Refusal::Io(_)) => Err(format!("SSL_CERT_FILE {e}")),
        _ => Ok(()),
    }
}

fn build_proxy(proxy: &Proxy) -> Result<ureq::Proxy, String> {
    let protocol = match proxy.scheme() {
        ProxyScheme::Http => ureq::ProxyProtocol::Http,
        ProxyScheme::Https => ureq::ProxyProtocol::Https,
        ProxyScheme::Socks4 => ureq::ProxyProtocol::Socks4,
        ProxyScheme::Socks4a => ureq::ProxyProtocol::Socks4A,
        ProxyScheme::Socks5 => ureq::ProxyProtocol::Socks5,
        ProxyScheme::Socks5h => ureq::ProxyProtocol::Socks5h,
        ProxyScheme::Unsupported(scheme) => {
            return Err(format!(
                "proxy {} from {} uses the scheme {:?}, which the helper does not support: use {}",
                proxy.shown(),
                proxy.origin,
                redact::escape(&scheme),
                network::SUPPORTED_PROXY_SCHEMES
            ));
        }
    };
    let bad = |_| format!("proxy {} from {} is not a valid URL", proxy.shown(), proxy.origin);
    let parsed = ureq::Proxy::new(&proxy.url_for_ureq()).map_err(bad)?;
    // ureq picks where names are resolved from the protocol, as curl does:
    // locally for socks4 and socks5, at the proxy for socks4a and socks5h.
    let mut builder = ureq::Proxy::builder(protocol).host(parsed.host()).port(parsed.port());
    if let Some(user) = parsed.username() {
        builder = builder.username(user);
    }
    if let Some(password) = parsed.password() {
        builder = builder.password(password);
    }
    builder.build().map_err(bad)
}

/// How long to wait before attempt `attempt + 1`, when the failed attempt
/// `attempt` asked for another after `wait`: none after [`MAX_ATTEMPTS`], nor
/// when the wait would end past `deadline`.
pub(crate) fn retry_wait(attempt: u32, wait: Option<Duration>, deadline: Instant) -> Option<Duration> {
    wait.filter(|&wait| attempt < MAX_ATTEMPTS && Instant::now() + wait < deadline)
}

/// Failures worth another try; TLS and set-up errors are not. A POST (a
/// mint) is retried only when it surely never reached the server: the name
/// did not resolve or the connection was never made.
pub(crate) fn is_retryable(method: Method, error: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    let before_sending = match error {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => return true,
        ureq::Error::Io(e) => {
            if tls_error(e).is_some() {
                return false;
            }
            matches!(
                e.kind(),
                K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable
            )
        }
        ureq::Error::Protocol(_) => false,
        _ => return false,
    };
    before_sending || method != Method::Post
}

/// ~250 ms, then ~500 ms, each ±25 % at random, so many runners hitting
/// the same hiccup do not retry in lockstep.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let mut byte = [0u8; 1];
    let random =
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte).map_or(128, |()| byte[0]);
    base * 3 / 4 + base / 2 * u32::from(random) / 255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_socks4_ipv4_addresses_come_first_each_family_in_its_order() {
        let addr = |a: &str| a.parse::<std::net::SocketAddr>().unwrap();
        let mut addrs = [addr("[::1]:1"), addr("10.0.0.2:1"), addr("[fd00::2]:1"), addr("10.0.0.1:1")];
        ipv4_first(&mut addrs);
        assert_eq!(addrs, [addr("10.0.0.2:1"), addr("10.0.0.1:1"), addr("[::1]:1"), addr("[fd00::2]:1")]);
    }

    #[test]
    fn backoff_starts_near_250_ms_and_doubles() {
        for _ in 0..20 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(187) && first <= Duration::from_millis(313), "{first:?}");
            let second = backoff(2);
            assert!(
                second >= Duration::from_millis(375) && second <= Duration::from_millis(625),
                "{second:?}"
            );
        }
    }
}
