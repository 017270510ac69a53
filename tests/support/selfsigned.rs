//! Self-signed server certificates as GitHub Enterprise Server ships and admins make them with
//! `openssl req -x509`: `basicConstraints = critical, CA:TRUE`, used directly as the server's
//! certificate (no separate CA). Git (OpenSSL) accepts one named in `GIT_SSL_CAINFO`; rustls
//! refuses it (`CaUsedAsEndEntity`), which the helper accepts when that exact certificate is trusted (`tls.rs`).
//!
//! [`SelfSigned`] runs the real `openssl` CLI; [`ServerTls`] is what [`FakeGitHub`] serves
//! (`Options::tls`), so `FakeGitHub::start(Options { tls: Some(cert.server_tls()), .. })` or
//! [`SelfSigned::start_fake`] gives a fake GitHub whose `ca_pem_path()` is the certificate itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::fake_github::{FakeGitHub, Options};
use super::tls::TestTls;
use super::{TempDir, write_file};

/// What a fake GitHub serves: the PEM a client must trust and the rustls configuration.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// What clients trust: the CA for the default setup, the certificate itself when self-signed.
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

impl From<TestTls> for ServerTls {
    fn from(t: TestTls) -> ServerTls {
        ServerTls { ca_pem: t.ca_pem, server_config: t.server_config }
    }
}

/// Which self-signed certificate to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfSignedKind {
    /// `CN=127.0.0.1`, `subjectAltName=IP:127.0.0.1`, valid for 30 days.
    Valid,
    /// Same names, but `notAfter` one day before `notBefore` (expired as of now).
    Expired,
    /// Valid, but for `github.invalid` only (the server is reached as 127.0.0.1).
    WrongHost,
}

/// A self-signed `CA:TRUE` certificate and its key, also as files.
pub struct SelfSigned {
    pub kind: SelfSignedKind,
    pub cert_pem: String,
    key_pem: String,
    dir: TempDir,
}

impl SelfSigned {
    /// `openssl req -x509 -newkey rsa:2048 -nodes -keyout k -out c -subj /CN=127.0.0.1
    /// -addext subjectAltName=IP:127.0.0.1` (and the variants' equivalents).
    pub fn generate(kind: SelfSignedKind) -> SelfSigned {
        let dir = TempDir::new("selfsigned");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let (cn, san) = match kind {
            SelfSignedKind::WrongHost => ("github.invalid", "DNS:github.invalid"),
            _ => ("127.0.0.1", "IP:127.0.0.1"),
        };
        match kind {
            SelfSignedKind::Valid | SelfSignedKind::WrongHost => openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-keyout",
                path_str(&key),
                "-out",
                path_str(&cert),
                "-subj",
                &format!("/CN={cn}"),
                "-addext",
                &format!("subjectAltName={san}"),
            ]),
            SelfSignedKind::Expired => {
                // openssl 3.0's `req -x509` cannot back-date; sign a request with `-days -1`.
                let csr = dir.path().join("req.csr");
                let ext = dir.path().join("ext.cnf");
                write_file(
                    &ext,
                    format!(
                        "basicConstraints=critical,CA:TRUE\nsubjectKeyIdentifier=hash\nsubjectAltName={san}\n"
                    ),
                    0o600,
                );
                openssl(&[
                    "req",
                    "-new",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    path_str(&key),
                    "-out",
                    path_str(&csr),
                    "-subj",
                    &format!("/CN={cn}"),
                ]);
                openssl(&[
                    "x509",
                    "-req",
                    "-in",
                    path_str(&csr),
                    "-signkey",
                    path_str(&key),
                    "-days",
                    "-1",
                    "-extfile",
                    path_str(&ext),
                    "-out",
                    path_str(&cert),
                ]);
            }
        }
        let read =
            |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
        SelfSigned { kind, cert_pem: read(&cert), key_pem: read(&key), dir }
    }

    /// The certificate as a PEM file (for `GIT_SSL_CAINFO`, `http.sslCAInfo`, `ca_file`).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// A rustls server configuration presenting exactly this certificate (HTTP/1.1 only).
    pub fn server_tls(&self) -> ServerTls {
        let cert = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).expect("parsing certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("parsing key PEM");
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        ServerTls { ca_pem: self.cert_pem.clone(), server_config: Arc::new(config) }
    }

    /// A fake GitHub presenting this certificate; its `ca_pem_path()` is the certificate.
    pub fn start_fake(&self, options: Options) -> FakeGitHub {
        FakeGitHub::start(Options { tls: Some(self.server_tls()), ..options })
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}", super::spawn_error("openssl", &e)));
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}
