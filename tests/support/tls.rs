//! The test CA and the server's TLS configuration (rustls with the ring provider, HTTP/1.1).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A fresh CA and a server certificate for `127.0.0.1` and `localhost` signed by it.
pub struct TestTls {
    /// The CA certificate, PEM: what clients must trust.
    pub ca_pem: String,
    /// The CA certificate, DER.
    pub ca_der: CertificateDer<'static>,
    /// rustls server configuration serving the leaf certificate.
    pub server_config: Arc<ServerConfig>,
}

impl TestTls {
    pub fn generate() -> TestTls {
        let ca_key = KeyPair::generate().expect("generating CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "git-credential-github-app test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-signing CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().expect("generating server key");
        let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
        leaf_params.distinguished_name.push(DnType::CommonName, "fake github");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).expect("signing server certificate");

        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        // Explicit ring provider: never depend on a process-wide default (and no aws-lc-rs).
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(vec![leaf_cert.der().clone()], key_der)
                .expect("server certificate");
        // HTTP/1.1 only: libcurl offers h2 too and would use it if we accepted.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        TestTls { ca_pem: ca_cert.pem(), ca_der: ca_cert.der().clone(), server_config: Arc::new(config) }
    }
}
