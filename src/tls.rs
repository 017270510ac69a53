//! TLS when the user named the certificates to trust (`ca_file`,
//! `GIT_SSL_CAINFO`, git's `http.sslCAInfo`): webpki's chain validation, plus
//! the one case git (OpenSSL) accepts and webpki refuses: the server presents
//! exactly a certificate from that file, such as GitHub Enterprise Server's
//! self-signed one (`openssl req -x509` marks it `CA:TRUE`). For that case the
//! host name, the validity dates and the handshake signature are still
//! checked. Never for the system store. Also: TLS failures in words.
//!
//! ureq offers no hook for a custom certificate verifier, so this module is
//! the TLS step of ureq's connector chain for such connections (see
//! [`connector`]); connections trusting the system store use ureq's own.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    SocksConnector, TcpConnector, Transport, TransportAdapter,
};

/// Accepts a chain to one of `roots` (as webpki does), or a server
/// certificate byte-equal to one of them, valid now and for the host name.
#[derive(Debug)]
pub(crate) struct ExactOrChain {
    chain: Arc<WebPkiServerVerifier>,
    trusted: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ExactOrChain {
    pub(crate) fn new(trusted: Vec<CertificateDer<'static>>) -> Result<ExactOrChain, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(trusted.iter().cloned());
        if added == 0 {
            return Err("holds no certificate that can be used".into());
        }
        let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("cannot be used: {e}"))?;
        Ok(ExactOrChain { chain, trusted, provider })
    }
}

impl ServerCertVerifier for ExactOrChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused =
            match self.chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Ok(verified) => return Ok(verified),
                Err(e) => e,
            };
        if !self.trusted.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Err(refused);
        }
        // The user trusts exactly this certificate, as git does: it needs no
        // issuer, but it must be for this host and valid today. The handshake
        // signature is checked against its key below, as for any certificate.
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        check_validity(end_entity.as_ref(), now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Refuses a certificate outside its notBefore..notAfter window at `now`.
fn check_validity(der: &[u8], now: UnixTime) -> Result<(), rustls::Error> {
    let (not_before, not_after) =
        validity(der).ok_or(rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = now.as_secs();
    if now < not_before {
        return Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if now > not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// One DER element: (tag, contents, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A certificate's (notBefore, notAfter) in unix seconds (RFC 5280 4.1).
fn validity(cert: &[u8]) -> Option<(u64, u64)> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, certificate, _) = der(cert)? else { return None };
    let (SEQUENCE, tbs, _) = der(certificate)? else { return None };
    let (tag, _, mut rest) = der(tbs)?;
    // [0] EXPLICIT version is optional; then serialNumber.
    if tag == 0xa0 {
        rest = der(rest)?.2;
    }
    let rest = der(rest)?.2; // signature AlgorithmIdentifier
    let rest = der(rest)?.2; // issuer
    let (SEQUENCE, window, _) = der(rest)? else { return None };
    let (tag_before, before, rest) = der(window)?;
    let (tag_after, after, _) = der(rest)?;
    Some((asn1_time(tag_before, before)?, asn1_time(tag_after, after)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn asn1_time(tag: u8, value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_suffix('Z')?;
    let full = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: u32 = digits[..2].parse().ok()?;
            format!("{}{digits}", if yy >= 50 { "19" } else { "20" })
        }
        (0x18, 14) => digits.to_string(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    crate::time::parse_timestamp(&iso)
}

/// ureq's connector chain (SOCKS, CONNECT proxy, TCP) ending in TLS that
/// trusts `verifier`: the same steps as ureq's default, with our verifier.
pub(crate) fn connector(verifier: Arc<ExactOrChain>) -> impl Connector {
    let provider = verifier.provider.clone();
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth());
    ().chain(SocksConnector::default())
        .chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(TlsConnector { config: config.map(Arc::new).ok() })
}

/// Wraps the connection in TLS when the URL is https.
struct TlsConnector {
    /// `None` only if ring offers no safe protocol version (it always does).
    config: Option<Arc<ClientConfig>>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConnector")
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let config = self.config.clone().ok_or(ureq::Error::Tls("no TLS protocol version available"))?;
        let host = details.uri.host().ok_or(ureq::Error::Tls("the URL has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name =
            ServerName::try_from(host.to_string()).map_err(|_| ureq::Error::Tls("invalid host name"))?;
        let mut conn = ClientConnection::new(config, name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers =
            LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn, sock } })))
    }
}

struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// A TLS refusal in words a user can act on; `trust` names what was trusted.
pub(crate) fn describe(error: &rustls::Error, trust_is_file: bool) -> String {
    use rustls::Error as E;
    let cert = match error {
        E::InvalidCertificate(c) => c,
        E::NoCertificatesPresented => return "the server presented no certificate".into(),
        E::AlertReceived(alert) => return format!("the server ended the handshake ({alert:?})"),
        E::PeerIncompatible(_) | E::PeerMisbehaved(_) => {
            return "the server speaks no TLS version or cipher the helper accepts".into();
        }
        _ => return "the TLS handshake failed".into(),
    };
    match cert {
        CertificateError::UnknownIssuer if trust_is_file => {
            "its certificate is not issued by a certificate in that file (unknown issuer); if it is self-signed, put exactly that certificate in the file".into()
        }
        CertificateError::UnknownIssuer => "its certificate is issued by an unknown issuer".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "its certificate has expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "its certificate is not valid yet (check this machine's clock)".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "its certificate is for another host name (wrong host name)".into()
        }
        CertificateError::Revoked => "its certificate is revoked".into(),
        CertificateError::BadSignature | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
            "its certificate has a bad or unsupported signature".into()
        }
        CertificateError::BadEncoding => "its certificate cannot be parsed".into(),
        CertificateError::Other(other)
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)) =>
        {
            "its certificate is a CA certificate (CA:TRUE) used by the server itself; it is accepted only when exactly that certificate is in ca_file, GIT_SSL_CAINFO or http.sslCAInfo (self-signed certificate not in ca_file)".into()
        }
        _ => "its certificate was refused".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A self-signed certificate for `names`, `CA:TRUE` as `openssl req -x509` makes it.
    fn self_signed(names: &[&str], from: i32, until: i32) -> CertificateDer<'static> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn at_year(year: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs((year - 1970) * 31_557_600))
    }

    fn verify(
        v: &ExactOrChain,
        cert: &CertificateDer<'_>,
        name: &str,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(name.to_string()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], now).map(|_| ())
    }

    #[test]
    fn the_validity_window_is_read_from_the_certificate() {
        let cert = self_signed(&["127.0.0.1"], 2020, 2040);
        assert_eq!(validity(cert.as_ref()), Some((1_577_836_800, 2_208_988_800)));
        assert_eq!(asn1_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(asn1_time(0x18, b"20300101000000Z"), Some(1_893_456_000));
        assert_eq!(asn1_time(0x17, b"2030010100Z"), None);
        assert_eq!(validity(b"\x30\x03\x02\x01"), None);
        assert_eq!(validity(&[]), None);
    }

    #[test]
    fn exactly_a_trusted_ca_true_certificate_is_accepted_for_its_name_while_valid() {
        let cert = self_signed(&["127.0.0.1", "ghe.example"], 2020, 2040);
        let v = ExactOrChain::new(vec![cert.clone()]).unwrap();
        assert!(verify(&v, &cert, "127.0.0.1", at_year(2030)).is_ok());
        assert!(verify(&v, &cert, "ghe.example", at_year(2030)).is_ok());
        let wrong_name = verify(&v, &cert, "other.example", at_year(2030)).unwrap_err();
        assert!(describe(&wrong_name, true).contains("wrong host name"), "{wrong_name:?}");
        let expired = verify(&v, &cert, "127.0.0.1", at_year(2041)).unwrap_err();
        assert!(describe(&expired, true).contains("expired"), "{expired:?}");
        let early = verify(&v, &cert, "127.0.0.1", at_year(2019)).unwrap_err();
        assert!(describe(&early, true).contains("not valid yet"), "{early:?}");
    }

    #[test]
    fn a_self_signed_certificate_not_in_the_file_is_refused_and_named() {
        let trusted = self_signed(&["127.0.0.1"], 2020, 2040);
        let presented = self_signed(&["127.0.0.1"], 2020, 2040);
        let v = ExactOrChain::new(vec![trusted]).unwrap();
        let refused = verify(&v, &presented, "127.0.0.1", at_year(2030)).unwrap_err();
        let words = describe(&refused, true);
        assert!(words.contains("self-signed certificate not in ca_file"), "{refused:?}: {words}");
    }

    #[test]
    fn typed_tls_errors_are_named_in_words() {
        let e = |c| rustls::Error::InvalidCertificate(c);
        assert!(describe(&e(CertificateError::UnknownIssuer), true).contains("unknown issuer"));
        assert!(describe(&e(CertificateError::UnknownIssuer), false).contains("unknown issuer"));
        assert!(describe(&e(CertificateError::Revoked), true).contains("revoked"));
        assert!(describe(&rustls::Error::NoCertificatesPresented, true).contains("no certificate"));
        assert!(!describe(&e(CertificateError::BadEncoding), true).contains("BadEncoding"));
    }

    #[test]
    fn a_file_without_a_usable_certificate_is_refused() {
        let junk = CertificateDer::from(vec![0x30, 0x00]);
        assert!(ExactOrChain::new(vec![junk]).is_err());
    }
}
