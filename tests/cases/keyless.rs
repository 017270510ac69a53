//! Keyless runners: the app key stays in a real OpenBao server's Transit engine (or
//! behind a `sign_command`), and the runner authenticates with a vault token or its workload
//! identity. Real git clones, fetches and pushes through the fake GitHub with no key file and no
//! key in any environment variable: the helper's environment holds only the vault's address and
//! (for some tests) a vault token.
//!
//! Every test starts from the shared world (`support::world`) with the world's key file deleted,
//! and its own OpenBao dev server (well under a second here): sealing, stopping and policies would
//! leak between tests sharing one. The failures share one server in one test, in an order that
//! keeps each case independent (seal and stop come last).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::idp::{self, TestIdp};
use crate::support::oidc::FakeActionsOidc;
use crate::support::openbao::{OpenBao, sign_policy_name};
use crate::support::world::{Config, INSTALLATION_ID, OWNER, World, mode_of};
use crate::support::{
    RunOutput, TempDir, assert_no_secret_markers, fixture, fixture_string, run, set_mode, toml_path as qp,
    toml_string as q, write_file,
};

const KEY: &str = "github-app-acme";
const AUDIENCE: &str = "https://vault.example";

/// The shared world (fake GitHub, hermetic env) with the app's key file deleted, plus a real
/// OpenBao holding the app key in Transit with the policy `sign-KEY`.
struct Keyless {
    w: World,
    bao: OpenBao,
}

fn keyless() -> Keyless {
    let w = World::new();
    // The world copies the key in for the other tests; a keyless runner has none.
    std::fs::remove_file(&w.key).expect("removing the world's key file");
    w.fake.create_repo(OWNER, "web");
    let bao = OpenBao::start_with_transit_key(KEY, &fixture_string("app-key-pkcs1.pem"));
    Keyless { w, bao }
}

impl Keyless {
    /// The helper config: the test app with `key_lines` as its key source and a configured
    /// installation, `timeout_secs = 10`, and `[vault]` (the server's address, then `vault`).
    fn config(&self, vault: &str, key_lines: &str) -> PathBuf {
        let app = self.w.test_app().key_lines(key_lines).installation(INSTALLATION_ID);
        let vault = format!("[vault]\naddress = {}\n{vault}", q(&self.bao.addr()));
        self.w.config(Config::new().timeout_secs(10).top(&vault).app(app))
    }

    fn transit_config(&self, vault: &str) -> PathBuf {
        self.config(vault, &format!("transit_key = {}", q(KEY)))
    }

    /// `git clone` of acme/web into `dir`; must succeed.
    #[track_caller]
    fn clone(&self, dir: &str) -> RunOutput {
        let out = run(self.w.env.git(["clone", &self.w.fake.repo_url(OWNER, "web"), dir]));
        out.assert_success();
        out
    }

    /// The helper's `get` for acme/web, as git would call it.
    fn get(&self, cfg: &Path) -> RunOutput {
        self.w.get(cfg, "acme/web.git")
    }

    /// Sign calls the vault's audit device recorded for the app key.
    fn vault_signs(&self) -> usize {
        let prefix = format!("transit/sign/{KEY}");
        self.bao.audit_requests().iter().filter(|(_, p)| p.starts_with(&prefix)).count()
    }

    /// Logins the vault recorded at `auth/{mount}/login`.
    fn vault_logins(&self, mount: &str) -> usize {
        let path = format!("auth/{mount}/login");
        self.bao.audit_requests().iter().filter(|(_, p)| *p == path).count()
    }

    fn mints(&self) -> usize {
        self.w.fake.count("POST", "/app/installations/")
    }

    /// No key material anywhere in the runner's environment (config, git's files, the cache).
    #[track_caller]
    fn assert_no_key_on_the_runner(&self) {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if std::fs::read(&path)
                    .is_ok_and(|b| String::from_utf8_lossy(&b).contains("PRIVATE KEY"))
                {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(self.w.env.root(), &mut found);
        assert!(found.is_empty(), "key material on the runner: {found:?}");
    }

    /// A failed `get` (the world's one-line rule), and the vault token (when one is given) is
    /// not on stderr.
    #[track_caller]
    fn failed(&self, out: &RunOutput, vault_token: &str) -> String {
        let line = self.w.failed(out);
        assert_no_secret_markers(&out.stderr);
        assert!(
            vault_token.is_empty() || !out.stderr.contains(vault_token),
            "the vault token leaked:\n{out}"
        );
        line
    }

    /// A served `get` (the world's rule), and the vault token (when one is given) is not on stderr.
    #[track_caller]
    fn served(&self, out: &RunOutput, vault_token: &str) -> String {
        let token = self.w.served(out);
        assert!(
            vault_token.is_empty() || !out.stderr.contains(vault_token),
            "the vault token leaked:\n{out}"
        );
        token
    }
}

/// A JWT from the test IdP as GitHub Actions would issue it for acme/web on main.
fn actions_jwt(idp: &TestIdp, repo: &str, lifetime: i64) -> String {
    idp.jwt(
        AUDIENCE,
        &idp::github_actions_sub(repo, "main"),
        &idp::github_actions_claims(repo, "main"),
        lifetime,
    )
}

#[test]
fn a_runner_with_only_a_vault_token_clones_fetches_and_pushes_through_transit() {
    let mut w = keyless();
    let token = w.bao.create_token(&[&sign_policy_name(KEY)], "1h");
    w.w.env.set_env("VAULT_TOKEN", &token);
    let cfg = w.transit_config("");
    w.w.use_helper_in_git(&cfg);

    let clone = w.clone("web");
    assert!(!clone.stderr.contains(&token), "{clone}");
    run(w.w.env.git(["-C", "web", "fetch", "origin"])).assert_success();
    std::fs::write(w.w.env.work().join("web/keyless.txt"), "signed in the vault\n").unwrap();
    run(w.w.env.git(["-C", "web", "add", "keyless.txt"])).assert_success();
    run(w.w.env.git(["-C", "web", "commit", "-q", "-m", "keyless"])).assert_success();
    let push = run(w.w.env.git(["-C", "web", "push", "origin", "main"]));
    push.assert_success();
    assert!(!push.stderr.contains(&token), "{push}");
    let local = run(w.w.env.git(["-C", "web", "rev-parse", "HEAD"]));
    assert_eq!(w.w.fake.repo_head(OWNER, "web"), local.stdout.trim());

    // One mint, one signature by the vault; every later git request used the cached token.
    assert_eq!(w.mints(), 1);
    assert_eq!(w.vault_signs(), 1);
    w.assert_no_key_on_the_runner();
}

#[test]
fn a_vault_agent_token_file_is_enough_to_clone() {
    let w = keyless();
    let token = w.bao.create_token(&[&sign_policy_name(KEY)], "1h");
    let sink = w.w.env.root().join("agent/token");
    std::fs::create_dir_all(sink.parent().unwrap()).unwrap();
    write_file(&sink, format!("{token}\n"), 0o600);
    let cfg = w.transit_config(&format!("token_path = {}", qp(&sink)));
    w.w.use_helper_in_git(&cfg);

    let out = w.clone("web");
    assert!(!out.stderr.contains(&token), "{out}");
    assert_eq!((w.mints(), w.vault_signs()), (1, 1));
    w.assert_no_key_on_the_runner();
}

#[test]
fn a_workload_identity_jwt_file_logs_in_once_and_the_login_is_kept_for_later_mints() {
    let w = keyless();
    let idp = TestIdp::github_actions();
    w.bao.enable_jwt_login(
        "jwt",
        &idp,
        "ci-runner",
        AUDIENCE,
        json!({"repository": "acme/*"}),
        &[&sign_policy_name(KEY)],
    );
    let jwt_file = w.w.env.root().join("tokens/vault");
    std::fs::create_dir_all(jwt_file.parent().unwrap()).unwrap();
    write_file(&jwt_file, actions_jwt(&idp, "acme/web", 600), 0o600);
    let login = format!("[vault.login]\nrole = \"ci-runner\"\njwt_path = {}", qp(&jwt_file));
    // Repository-scoped tokens: a second repository needs a second mint, but no second login.
    let cfg = w.config(&login, &format!("transit_key = {}\ntoken_scope = \"repository\"", q(KEY)));
    w.w.fake.create_repo(OWNER, "api");
    w.w.use_helper_in_git(&cfg);

    w.clone("web").assert_success();
    run(w.w.env.git(["clone", &w.w.fake.repo_url(OWNER, "api"), "api"])).assert_success();
    assert_eq!(w.mints(), 2);
    assert_eq!(w.vault_signs(), 2);
    assert_eq!(w.vault_logins("jwt"), 1, "{:?}", w.bao.audit_requests());

    // The kept login: one file, owner-only, in the cache dir.
    let kept = w.w.cache_files("vault-login-");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(mode_of(&kept[0]), 0o600);
    w.assert_no_key_on_the_runner();
}

#[test]
fn a_kept_login_is_not_used_for_another_workload_identity_the_role_would_refuse() {
    let w = keyless();
    let idp = TestIdp::github_actions();
    w.bao.enable_jwt_login(
        "jwt",
        &idp,
        "ci-runner",
        AUDIENCE,
        json!({"repository": "acme/web"}),
        &[&sign_policy_name(KEY)],
    );
    let jwt_file = w.w.env.root().join("tokens/vault");
    std::fs::create_dir_all(jwt_file.parent().unwrap()).unwrap();
    write_file(&jwt_file, actions_jwt(&idp, "acme/web", 600), 0o600);
    let login = format!("[vault.login]\nrole = \"ci-runner\"\njwt_path = {}", qp(&jwt_file));
    let cfg = w.config(&login, &format!("transit_key = {}\ntoken_scope = \"repository\"", q(KEY)));
    w.served(&w.get(&cfg), "");
    assert_eq!(w.vault_logins("jwt"), 1);

    // The next job on this runner (same user, same cache dir) has another repository's
    // identity, which the role's bound_claims refuse: it must not sign with the kept login.
    write_file(&jwt_file, actions_jwt(&idp, "evil/other", 600), 0o600);
    let second = w.w.get(&cfg, "acme/api.git");
    w.failed(&second, "");
    assert_eq!(w.vault_logins("jwt"), 2, "{:?}", w.bao.audit_requests());
    assert_eq!(w.vault_signs(), 1);
}

#[test]
fn a_kept_login_the_vault_revoked_is_dropped_and_the_runner_logs_in_again() {
    let w = keyless();
    let idp = TestIdp::github_actions();
    w.bao.enable_jwt_login(
        "jwt",
        &idp,
        "ci-runner",
        AUDIENCE,
        json!({"repository": "acme/*"}),
        &[&sign_policy_name(KEY)],
    );
    let jwt_file = w.w.env.root().join("tokens/vault");
    std::fs::create_dir_all(jwt_file.parent().unwrap()).unwrap();
    write_file(&jwt_file, actions_jwt(&idp, "acme/web", 600), 0o600);
    let login = format!("[vault.login]\nrole = \"ci-runner\"\njwt_path = {}", qp(&jwt_file));
    let cfg = w.config(&login, &format!("transit_key = {}\ntoken_scope = \"repository\"", q(KEY)));
    let first = w.get(&cfg);
    w.served(&first, "");
    assert_eq!(w.vault_logins("jwt"), 1);

    // Revoke the kept token behind the runner's back.
    let kept = w.w.cache_files("vault-login-").pop().expect("a kept login");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    let token = stored["token"].as_str().unwrap().to_string();
    let revoked =
        w.bao.api("POST", "auth/token/revoke", Some(w.bao.root_token()), Some(&json!({"token": token})));
    assert!((200..300).contains(&revoked.status), "{revoked:?}");

    // Another repository needs a mint: the kept token is refused, dropped, and a fresh login signs.
    let second = w.w.get(&cfg, "acme/api.git");
    w.served(&second, &token);
    assert_eq!(w.vault_logins("jwt"), 2, "{:?}", w.bao.audit_requests());
    let renewed: serde_json::Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    assert_ne!(renewed["token"], json!(token));
}

#[test]
fn a_github_actions_job_logs_in_with_its_oidc_token_for_the_configured_audience() {
    let mut w = keyless();
    let idp = TestIdp::github_actions();
    w.bao.enable_jwt_login(
        "jwt",
        &idp,
        "actions",
        AUDIENCE,
        json!({"repository": "acme/*", "ref": "refs/heads/main"}),
        &[&sign_policy_name(KEY)],
    );
    let oidc = FakeActionsOidc::start(
        idp.clone(),
        "runner-request-token",
        &idp::github_actions_sub("acme/web", "main"),
        idp::github_actions_claims("acme/web", "main"),
    );
    w.w.env.set_env("ACTIONS_ID_TOKEN_REQUEST_URL", &oidc.request_url());
    w.w.env.set_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc.request_token());
    let cfg = w.transit_config(&format!(
        "[vault.login]\nrole = \"actions\"\ngithub_actions_audience = {}",
        q(AUDIENCE)
    ));
    w.w.use_helper_in_git(&cfg);

    let out = w.clone("web");
    assert!(!out.stderr.contains("runner-request-token"), "{out}");
    let asked = oidc.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].audience.as_deref(), Some(AUDIENCE));
    assert_eq!(asked[0].authorization.as_deref(), Some("bearer runner-request-token"));
    assert_eq!((w.vault_logins("jwt"), w.vault_signs(), w.mints()), (1, 1, 1));
    w.assert_no_key_on_the_runner();
}

#[test]
fn a_sign_command_signs_with_a_key_the_helper_never_sees() {
    let w = keyless();
    // The "KMS": openssl with a key outside the runner's environment (the fixture directory).
    let key = fixture("app-key-pkcs1.pem");
    let kms = TempDir::new("kms");
    let kms_key = kms.path().join("key.pem");
    std::fs::copy(&key, &kms_key).unwrap();
    set_mode(&kms_key, 0o600);
    let argv = format!("sign_command = [\"openssl\", \"dgst\", \"-sha256\", \"-sign\", {}]", qp(&kms_key));
    let cfg = w.config("", &argv);
    w.w.use_helper_in_git(&cfg);

    w.clone("web").assert_success();
    assert_eq!(w.mints(), 1);
    assert_eq!(w.vault_signs(), 0);
    w.assert_no_key_on_the_runner();
}

#[test]
fn a_cached_get_makes_no_vault_request_even_when_the_vault_is_down() {
    let mut w = keyless();
    let token = w.bao.create_token(&[&sign_policy_name(KEY)], "1h");
    w.w.env.set_env("VAULT_TOKEN", &token);
    let cfg = w.transit_config("");
    let first = w.get(&cfg);
    let minted = w.served(&first, &token);
    let requests_after_mint = w.bao.audit_requests().len();
    let again = w.get(&cfg);
    assert_eq!(w.served(&again, &token), minted);
    assert_eq!(w.bao.audit_requests().len(), requests_after_mint, "a cached get reached the vault");
    w.bao.stop();
    assert_eq!(w.served(&w.get(&cfg), &token), minted);
    assert_eq!(w.mints(), 1);
}

#[test]
fn vault_failures_are_each_one_clear_line_within_timeout_secs_and_print_no_secret() {
    let mut w = keyless();
    let idp = TestIdp::github_actions();
    w.bao.enable_jwt_login(
        "jwt",
        &idp,
        "ci-runner",
        AUDIENCE,
        json!({"repository": "acme/*"}),
        &[&sign_policy_name(KEY)],
    );
    let jwt_file = w.w.env.root().join("tokens/vault");
    std::fs::create_dir_all(jwt_file.parent().unwrap()).unwrap();
    let login = |role: &str| format!("[vault.login]\nrole = {}\njwt_path = {}", q(role), qp(&jwt_file));
    // A role that does not exist.
    write_file(&jwt_file, actions_jwt(&idp, "acme/web", 600), 0o600);
    let cfg = w.transit_config(&login("no-such-role"));
    check(
        &w,
        "wrong role",
        &cfg,
        "",
        &["POST /v1/auth/jwt/login", "HTTP 400", "login role rejected", "no-such-role"],
    );

    // A claim outside the role's bounds.
    write_file(&jwt_file, actions_jwt(&idp, "evil/web", 600), 0o600);
    let cfg = w.transit_config(&login("ci-runner"));
    check(&w, "claims", &cfg, "", &["HTTP 400", "login role rejected", "bound_claims"]);

    // An expired login JWT.
    write_file(
        &jwt_file,
        idp.expired_jwt(
            AUDIENCE,
            &idp::github_actions_sub("acme/web", "main"),
            &idp::github_actions_claims("acme/web", "main"),
            120,
        ),
        0o600,
    );
    check(&w, "expired", &cfg, "", &["HTTP 400", "has expired", &jwt_file.display().to_string()]);

    // A token whose policy lacks the capability.
    w.bao.write_policy("nothing", "path \"sys/nothing\" { capabilities = [\"read\"] }\n");
    // With the default policy (as tokens of a login or a Vault Agent have), so it may look itself up.
    let weak = w.bao.api(
        "POST",
        "auth/token/create",
        Some(w.bao.root_token()),
        Some(&json!({"policies": ["nothing"], "ttl": "1h"})),
    );
    let weak = weak.body["auth"]["client_token"].as_str().expect("client_token").to_string();
    let token_file = w.w.env.root().join("agent-token");
    write_file(&token_file, &weak, 0o600);
    let cfg = w.transit_config(&format!("token_path = {}", qp(&token_file)));
    let line = check(
        &w,
        "capability",
        &cfg,
        &weak,
        &[
            &format!("POST /v1/transit/sign/{KEY}/sha2-256"),
            "HTTP 403",
            "permission denied",
            &format!("`update` capability on transit/sign/{KEY}/sha2-256"),
        ],
    );
    assert!(!line.contains("invalid or expired"), "{line}");

    // A token that is not (or no longer) valid.
    write_file(&token_file, "s.NotAValidToken0000", 0o600);
    check(&w, "dead token", &cfg, "s.NotAValidToken0000", &["HTTP 403", "invalid or expired", "token_path"]);

    // A transit key that does not exist.
    w.bao.write_policy("sign-any", "path \"transit/sign/*\" { capabilities = [\"update\"] }\n");
    let good = w.bao.create_token(&["sign-any"], "1h");
    write_file(&token_file, &good, 0o600);
    let cfg = w.config(&format!("token_path = {}", qp(&token_file)), "transit_key = \"no-such-key\"");
    check(&w, "missing key", &cfg, &good, &["HTTP 400", "no transit key \"no-such-key\""]);

    // A key that signs, but not RSA (GitHub needs RS256).
    let made = w.bao.api(
        "POST",
        "transit/keys/ec-key",
        Some(w.bao.root_token()),
        Some(&json!({"type": "ecdsa-p256"})),
    );
    assert!((200..300).contains(&made.status), "{made:?}");
    let cfg = w.config(&format!("token_path = {}", qp(&token_file)), "transit_key = \"ec-key\"");
    check(
        &w,
        "not RSA",
        &cfg,
        &good,
        &["transit key \"ec-key\"", "-byte signature", "not an RSA key of 2048 bits", "RS256"],
    );

    // Sealed.
    let cfg = w.transit_config(&format!("token_path = {}", qp(&token_file)));
    w.bao.seal();
    check(&w, "sealed", &cfg, &good, &["HTTP 503", "sealed", "unseal"]);

    // Down.
    w.bao.stop();
    check(&w, "down", &cfg, &good, &["failed", "is the vault running"]);

    assert_eq!(w.mints(), 0);
}

/// Runs a `get` that must fail within `timeout_secs` (10) plus start-up slack, with one line
/// naming the vault's address and holding every `expect`ed part.
#[track_caller]
fn check(w: &Keyless, what: &str, cfg: &Path, vault_token: &str, expect: &[&str]) -> String {
    let started = Instant::now();
    let out = w.get(cfg);
    let line = w.failed(&out, vault_token);
    assert!(started.elapsed() < Duration::from_secs(15), "{what}: took {:?}", started.elapsed());
    assert!(line.contains(&format!("vault {}", w.bao.addr())), "{what}: {line}");
    for needle in expect {
        assert!(line.contains(needle), "{what}: {needle:?} missing in: {line}");
    }
    line
}

#[test]
fn doctor_checks_a_vault_backed_app_end_to_end_and_explain_names_the_key_source() {
    let mut w = keyless();
    let token = w.bao.create_token(&[&sign_policy_name(KEY)], "1h");
    w.w.env.set_env("VAULT_TOKEN", &token);
    let cfg = w.transit_config("");
    // doctor also checks git's side: git must ask this helper.
    w.w.use_helper_in_git(&cfg);
    let mut doctor = w.w.env.helper(["--config"]);
    doctor.arg(&cfg).arg("doctor");
    let out = run(doctor);
    out.assert_success();
    assert!(out.stdout.contains(&format!("[ ok ] key: transit key \"{KEY}\"")), "{out}");
    assert!(
        out.stdout.contains("token from $VAULT_TOKEN") && out.stdout.contains("logged in and signed"),
        "{out}"
    );
    assert!(out.stdout.contains("[ ok ] JWT: accepted by GitHub"), "{out}");
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token), "{out}");
    assert!(w.vault_signs() >= 2);

    let mut explain = w.w.env.helper(["--config"]);
    explain.arg(&cfg).arg("explain").arg(w.w.fake.repo_url(OWNER, "web"));
    let out = run(explain);
    out.assert_success();
    let line = out.stdout.lines().find(|l| l.starts_with("key:")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&format!("transit key \"{KEY}\"")) && line.contains(&w.bao.addr()), "{line}");
    assert!(
        line.contains("token from $VAULT_TOKEN") && line.contains("only when a token is minted"),
        "{line}"
    );
    let mut json = w.w.env.helper(["--config"]);
    json.arg(&cfg).arg("explain").arg(w.w.fake.repo_url(OWNER, "web")).arg("--json");
    let out = run(json);
    out.assert_success();
    let parsed: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(parsed["key"].as_str(), line.strip_prefix("key:").map(str::trim), "{out}");
}

#[test]
fn the_vaults_tls_roots_come_from_its_ca_file_then_vault_cacert_and_are_never_githubs() {
    // An https "vault" that is really the fake GitHub's TLS server (test CA): a trusted
    // handshake reaches it and gets an HTTP answer (the fake's 401 for an unknown path); an
    // untrusted one fails with the TLS hint.
    let mut w = keyless();
    w.w.env.set_env("VAULT_TOKEN", "s.TlsTestToken0000");
    let ca = w.w.fake.ca_pem_path().to_path_buf();
    let app = w.w.test_app().key_lines(&format!("transit_key = {}", q(KEY))).installation(INSTALLATION_ID);
    let vault = |extra: &str| format!("[vault]\naddress = {}\n{extra}", q(&w.w.fake.base_url()));
    let with_ca_file = w.w.config(
        Config::new().timeout_secs(10).top(&vault(&format!("ca_file = {}", qp(&ca)))).app(app.clone()),
    );
    let line = w.failed(&w.w.get(&with_ca_file, "acme/web.git"), "s.TlsTestToken0000");
    assert!(line.contains("sha2-256 answered HTTP 401"), "{line}");

    // Without [vault] ca_file: not the app's ca_file, not GIT_SSL_CAINFO (set by the world).
    let without = w.w.config(Config::new().timeout_secs(10).top(&vault("")).app(app));
    let line = w.failed(&w.w.get(&without, "acme/web.git"), "s.TlsTestToken0000");
    assert!(
        line.contains("TLS failure (trusting the system trust store)") && line.contains("$VAULT_CACERT"),
        "{line}"
    );

    w.w.env.set_env("VAULT_CACERT", ca.to_str().unwrap());
    let line = w.failed(&w.w.get(&without, "acme/web.git"), "s.TlsTestToken0000");
    assert!(line.contains("sha2-256 answered HTTP 401"), "{line}");
    assert_eq!(w.mints(), 0);
}
