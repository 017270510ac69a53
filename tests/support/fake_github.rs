//! A fake GitHub Enterprise Server on `https://127.0.0.1:PORT`: the App endpoints under
//! `/api/v3` with GitHub's JWT rules, and git smart HTTP under `/{owner}/{repo}.git` served by
//! `git http-backend`, accepting only tokens this server minted.
//!
//! One accept thread, one thread per connection, HTTP/1.1 keep-alive. All state sits behind one
//! mutex and may be changed while the server runs; each request sees the state of its moment.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{Value, json};

use super::TempDir;
use super::git_backend;
use super::http::{self, Request, Response};
use super::selfsigned::ServerTls;
use super::tls::TestTls;

/// Permissions an installation is granted unless changed with `set_installation_permissions`.
pub const DEFAULT_PERMISSIONS: &[(&str, &str)] = &[("contents", "write"), ("metadata", "read")];

const DOCS_URL: &str = "https://docs.github.com/rest";
const API_PREFIX: &str = "/api/v3";
/// How long a `Fault::Hang` holds its connection when the server is not dropped first.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// Settings fixed at start; all of them can also be changed later with the setters.
#[derive(Debug, Clone)]
pub struct Options {
    /// Server clock = real clock + this many seconds (for clock-skew tests).
    pub clock_offset: i64,
    /// Lifetime of minted tokens, in seconds.
    pub token_lifetime: i64,
    /// Mint ~520-character `ghs_<appid>_...` tokens instead of `ghs_` + 36 characters.
    pub long_tokens: bool,
    /// Serve this certificate instead of a fresh test CA's leaf (see `selfsigned.rs`).
    pub tls: Option<ServerTls>,
}

impl Default for Options {
    fn default() -> Options {
        Options { clock_offset: 0, token_lifetime: 3600, long_tokens: false, tls: None }
    }
}

/// A one-shot misbehaviour for the next request matching a method and path prefix.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this canned response instead of the real one.
    Status { status: u16, headers: Vec<(String, String)>, body: String },
    /// Read the request and never answer: hold the connection until the server is dropped (or
    /// for 120 s).
    Hang,
    /// Drop the TCP connection without answering (no TLS close_notify either).
    CloseConnection,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Write these bytes as the whole response (status line, headers, body), then close the
    /// connection: for answers cut short or not UTF-8.
    Raw(Vec<u8>),
}

impl Fault {
    /// A canned GitHub-style JSON error: `{"message": ..., "documentation_url": ...}`.
    pub fn json_error(status: u16, message: &str) -> Fault {
        Fault::Status {
            status,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: json!({"message": message, "documentation_url": DOCS_URL}).to_string(),
        }
    }

    /// A canned response with extra headers (e.g. `retry-after`, `x-ratelimit-reset`) and a
    /// GitHub-style JSON error body.
    pub fn json_error_with_headers(status: u16, message: &str, headers: &[(&str, &str)]) -> Fault {
        let Fault::Status { status, headers: mut all, body } = Fault::json_error(status, message) else {
            unreachable!()
        };
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Fault::Status { status, headers: all, body }
    }

    fn kind(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "status",
            Fault::Hang => "hang",
            Fault::CloseConnection => "close",
            Fault::Delay(_) => "delay",
            Fault::Raw(_) => "raw",
        }
    }
}

/// How the server judged the credentials of a git request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitAuth {
    /// A valid token for this repository.
    Ok,
    /// No `Authorization` header: challenged with 401 (git then asks its helpers).
    Missing,
    /// Credentials presented and refused with 401 (git then sends `erase` to its helpers).
    /// The string says why (for assertion messages only).
    Rejected(String),
    /// A valid token that lacks the permission (a push with a read-only token, a private
    /// repository it does not cover): refused with 403, as GitHub does (git sends no `erase`).
    Forbidden(String),
    /// No credentials, a read of a public repository: served.
    Anonymous,
    /// No credentials, a read of a public repository while anonymous reads are limited:
    /// refused with GitHub's message.
    Limited,
}

/// What GitHub prints when it refuses an anonymous download (`set_limit_anonymous`).
pub const ANONYMOUS_LIMIT_MESSAGE: &str =
    "GitHub is temporarily limiting some unauthenticated downloads. Please retry later or authenticate.";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path with query, as sent (API paths include `/api/v3`).
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body with chunked coding removed.
    pub body: Vec<u8>,
    /// Status answered; `None` when no answer was sent (hang, close) or not yet.
    pub status: Option<u16>,
    /// For git requests: the auth outcome.
    pub git_auth: Option<GitAuth>,
    /// Which fault was applied, if any: `status`, `hang`, `close`, `delay`.
    pub fault: Option<&'static str>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A token this server minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub installation_id: u64,
    pub app_id: u64,
    pub owner: String,
    /// Repositories the token was narrowed to; `None` = whatever the installation covers.
    pub repositories: Option<Vec<String>>,
    pub permissions: BTreeMap<String, String>,
    /// Unix seconds by the server clock.
    pub expires_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
struct App {
    id: u64,
    client_id: String,
    slug: String,
    public_key_pem: String,
}

#[derive(Debug, Clone)]
struct Installation {
    id: u64,
    app_id: u64,
    owner: String,
    repos: Option<Vec<String>>,
    permissions: BTreeMap<String, String>,
}

impl Installation {
    fn covers(&self, repo: &str) -> bool {
        self.repos.as_ref().is_none_or(|list| list.iter().any(|r| r.eq_ignore_ascii_case(repo)))
    }

    fn selection(&self) -> &'static str {
        if self.repos.is_some() { "selected" } else { "all" }
    }
}

struct PendingFault {
    method: String,
    path_prefix: String,
    fault: Fault,
}

struct State {
    clock_offset: i64,
    token_lifetime: i64,
    long_tokens: bool,
    apps: Vec<App>,
    installations: Vec<Installation>,
    tokens: Vec<IssuedToken>,
    requests: Vec<Recorded>,
    faults: VecDeque<PendingFault>,
    jwt_claims: Vec<Value>,
    mint_count: usize,
    /// `owner/repo`, lower-cased: readable by anyone (and by any valid token).
    public: Vec<String>,
    /// Refuse anonymous reads of public repositories with [`ANONYMOUS_LIMIT_MESSAGE`].
    limit_anonymous: bool,
    /// Git LFS storage grants handed out by the batch endpoint: `RemoteAuth` secret ->
    /// (operation, `owner/repo`, oid).
    lfs_grants: HashMap<String, (String, String, String)>,
}

struct Shared {
    state: Mutex<State>,
    /// Notified whenever a request is recorded or answered (see `wait_for_count`).
    changed: Condvar,
    stopped: AtomicBool,
    stop_lock: Mutex<()>,
    stop_cv: Condvar,
    /// Open connections, so drop can shut them down (threads blocked in read then return).
    connections: Mutex<HashMap<u64, TcpStream>>,
    tls: Arc<ServerConfig>,
    repos_root: PathBuf,
    git_home: PathBuf,
    base_url: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the whole server down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a request (method, path) matches a fault/count filter. API requests match on the
/// path relative to `/api/v3` as well as the full path; git requests on the full path. Method
/// `""` or `"*"` matches any method. The prefix is compared with the path including its query.
fn matches(filter_method: &str, filter_prefix: &str, method: &str, path: &str) -> bool {
    let method_ok =
        filter_method.is_empty() || filter_method == "*" || filter_method.eq_ignore_ascii_case(method);
    let relative = path.strip_prefix(API_PREFIX).filter(|r| r.is_empty() || r.starts_with('/'));
    method_ok && (path.starts_with(filter_prefix) || relative.is_some_and(|r| r.starts_with(filter_prefix)))
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"message": message, "documentation_url": DOCS_URL}))
}

fn not_found() -> Response {
    error(404, "Not Found")
}

fn random_alnum(len: usize, alphabet: &[u8]) -> String {
    let rng = SystemRandom::new();
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes).expect("system random");
    bytes.iter().map(|b| alphabet[*b as usize % alphabet.len()] as char).collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The running server. Dropping it stops accepting, shuts open connections and deletes its
/// temp dir (repositories included).
pub struct FakeGitHub {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// The same port on `[::1]`, when this machine has IPv6 loopback (see
    /// [`super::http::bind_loopback`]).
    addr_v6: Option<SocketAddr>,
    ca_pem: String,
    ca_pem_path: PathBuf,
    // Last: removed after the server has been stopped in Drop::drop.
    dir: TempDir,
}

impl FakeGitHub {
    /// Panics if `text` holds a PEM, a JWT, a token, anything this server was
    /// sent as a credential, or panic text: what no helper output may carry.
    #[track_caller]
    pub fn assert_no_secrets(&self, text: &str) {
        super::assert_no_secret_markers(text);
        for issued in self.issued_tokens() {
            assert!(!text.contains(&issued.token), "a token in:\n{text}");
        }
        for r in self.requests() {
            if let Some(auth) = r.header("authorization") {
                let secret = auth.split_once(' ').map_or(auth, |(_, v)| v);
                assert!(!text.contains(secret), "credentials from a request in:\n{text}");
            }
        }
    }

    pub fn start(options: Options) -> FakeGitHub {
        let dir = TempDir::new("fake-github");
        let repos_root = dir.path().join("repos");
        let git_home = dir.path().join("home");
        std::fs::create_dir_all(&repos_root).expect("creating repos root");
        std::fs::create_dir_all(&git_home).expect("creating server home");

        let tls = options.tls.clone().unwrap_or_else(|| TestTls::generate().into());
        let ca_pem_path = dir.path().join("ca.pem");
        std::fs::write(&ca_pem_path, &tls.ca_pem).expect("writing CA PEM");

        let (listener, listener_v6) = super::http::bind_loopback();
        let addr = listener.local_addr().expect("local addr");
        let addr_v6 = listener_v6.as_ref().and_then(|l| l.local_addr().ok());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                clock_offset: options.clock_offset,
                token_lifetime: options.token_lifetime,
                long_tokens: options.long_tokens,
                apps: Vec::new(),
                installations: Vec::new(),
                tokens: Vec::new(),
                requests: Vec::new(),
                faults: VecDeque::new(),
                jwt_claims: Vec::new(),
                mint_count: 0,
                public: Vec::new(),
                limit_anonymous: false,
                lfs_grants: HashMap::new(),
            }),
            changed: Condvar::new(),
            stopped: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
            connections: Mutex::new(HashMap::new()),
            tls: tls.server_config.clone(),
            repos_root,
            git_home,
            base_url: format!("https://{addr}"),
        });

        for listener in std::iter::once(listener).chain(listener_v6) {
            let accept_shared = shared.clone();
            thread::Builder::new()
                .name("fake-github-accept".into())
                .spawn(move || accept_loop(listener, accept_shared))
                .expect("spawning accept thread");
        }

        FakeGitHub { shared, addr, addr_v6, ca_pem: tls.ca_pem, ca_pem_path, dir }
    }

    /// `127.0.0.1:PORT`, what git sends as `host=`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `https://127.0.0.1:PORT/api/v3` (GitHub Enterprise Server layout).
    pub fn api_url(&self) -> String {
        format!("{}{API_PREFIX}", self.shared.base_url)
    }

    /// `https://127.0.0.1:PORT/{owner}/{repo}.git`.
    pub fn repo_url(&self, owner: &str, repo: &str) -> String {
        format!("{}/{owner}/{repo}.git", self.shared.base_url)
    }

    /// The test CA certificate (PEM file) that signed the server certificate.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server's temp dir (holds `ca.pem`, `repos/`, `home/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn repos_root(&self) -> &Path {
        &self.shared.repos_root
    }

    // ---- clock and token settings ----

    pub fn set_clock_offset(&self, secs: i64) {
        lock(&self.shared.state).clock_offset = secs;
    }

    /// Unix seconds by the server clock (real time + offset).
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    pub fn set_token_lifetime(&self, secs: i64) {
        lock(&self.shared.state).token_lifetime = secs;
    }

    pub fn set_long_tokens(&self, long: bool) {
        lock(&self.shared.state).long_tokens = long;
    }

    // ---- apps and installations ----

    pub fn add_app(&self, app_id: u64, client_id: &str, slug: &str, public_key_pem: &str) {
        let mut st = lock(&self.shared.state);
        st.apps.retain(|a| a.id != app_id);
        st.apps.push(App {
            id: app_id,
            client_id: client_id.to_string(),
            slug: slug.to_string(),
            public_key_pem: public_key_pem.to_string(),
        });
    }

    /// `repos`: `None` = all repositories of `owner`; `Some` = only these names.
    pub fn add_installation(
        &self,
        installation_id: u64,
        app_id: u64,
        owner: &str,
        repos: Option<Vec<String>>,
    ) {
        let mut st = lock(&self.shared.state);
        st.installations.retain(|i| i.id != installation_id);
        st.installations.push(Installation {
            id: installation_id,
            app_id,
            owner: owner.to_string(),
            repos,
            permissions: DEFAULT_PERMISSIONS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        });
    }

    pub fn set_installation_permissions(&self, installation_id: u64, permissions: &[(&str, &str)]) {
        let mut st = lock(&self.shared.state);
        let inst = st
            .installations
            .iter_mut()
            .find(|i| i.id == installation_id)
            .expect("set_installation_permissions: no such installation");
        inst.permissions = permissions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    }

    pub fn remove_installation(&self, installation_id: u64) {
        lock(&self.shared.state).installations.retain(|i| i.id != installation_id);
    }

    // ---- public repositories ----

    /// Makes `owner/repo` public: anyone may read it (anonymously, or with any valid token);
    /// pushing still needs a token with write access to it.
    pub fn set_public(&self, owner: &str, repo: &str) {
        let name = format!("{owner}/{repo}").to_ascii_lowercase();
        let mut st = lock(&self.shared.state);
        if !st.public.contains(&name) {
            st.public.push(name);
        }
    }

    /// While on, anonymous reads of public repositories are refused with
    /// [`ANONYMOUS_LIMIT_MESSAGE`] (as GitHub does since September 2026).
    pub fn set_limit_anonymous(&self, on: bool) {
        lock(&self.shared.state).limit_anonymous = on;
    }

    /// Git requests refused with 403: a valid token lacking the permission.
    pub fn git_forbidden(&self) -> usize {
        self.git_count(|a| matches!(a, Some(GitAuth::Forbidden(_))))
    }

    /// Anonymous git requests served (public repositories).
    pub fn git_anonymous(&self) -> usize {
        self.git_count(|a| matches!(a, Some(GitAuth::Anonymous)))
    }

    /// Anonymous git requests refused by the limit.
    pub fn git_limited(&self) -> usize {
        self.git_count(|a| matches!(a, Some(GitAuth::Limited)))
    }

    /// The Git LFS objects (oids) stored for `owner/repo`, sorted.
    pub fn lfs_objects(&self, owner: &str, repo: &str) -> Vec<String> {
        let dir = self.shared.lfs_dir(owner, repo);
        let mut oids: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        oids.sort();
        oids
    }

    // ---- faults ----

    /// Queue a one-shot fault for the next request matching `method` (`"*"` = any) and
    /// `path_prefix` (relative to `/api/v3` for API requests, e.g. `/app/installations/`, or a
    /// full path; git paths like `/acme/web.git/info/refs`). Faults for the same request are
    /// consumed in the order pushed.
    pub fn push_fault(&self, method: &str, path_prefix: &str, fault: Fault) {
        lock(&self.shared.state).faults.push_back(PendingFault {
            method: method.to_string(),
            path_prefix: path_prefix.to_string(),
            fault,
        });
    }

    /// Faults pushed and not yet consumed.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.state).faults.len()
    }

    // ---- recording ----

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.state).requests.clone()
    }

    /// Requests matching `method` (`"*"` = any) and `path_prefix` (same rule as `push_fault`).
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        lock(&self.shared.state)
            .requests
            .iter()
            .filter(|r| matches(method, path_prefix, &r.method, &r.path))
            .count()
    }

    /// Blocks until at least `n` requests match `method`/`path_prefix` (as in `count`), or
    /// `timeout` passes; returns whether the count was reached. Use it instead of sleeping when
    /// a request is in flight on another thread (e.g. to know a `Fault::Hang` has been hit).
    pub fn wait_for_count(&self, method: &str, path_prefix: &str, n: usize, timeout: Duration) -> bool {
        let guard = lock(&self.shared.state);
        let (guard, _) = self
            .shared
            .changed
            .wait_timeout_while(guard, timeout, |st| {
                st.requests.iter().filter(|r| matches(method, path_prefix, &r.method, &r.path)).count() < n
            })
            .unwrap_or_else(|e| e.into_inner());
        guard.requests.iter().filter(|r| matches(method, path_prefix, &r.method, &r.path)).count() >= n
    }

    /// Successful (201) token mints.
    pub fn mint_count(&self) -> usize {
        lock(&self.shared.state).mint_count
    }

    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        lock(&self.shared.state).tokens.clone()
    }

    /// Mark an issued token revoked (as if deleted on GitHub); git then refuses it.
    pub fn revoke_token(&self, token: &str) {
        for t in lock(&self.shared.state).tokens.iter_mut() {
            if t.token == token {
                t.revoked = true;
            }
        }
    }

    /// Claims of every JWT whose payload could be decoded, in arrival order (recorded before
    /// the signature and time checks, so rejected JWTs are included).
    pub fn jwt_claims(&self) -> Vec<Value> {
        lock(&self.shared.state).jwt_claims.clone()
    }

    /// All git (non-API) requests.
    pub fn git_requests(&self) -> usize {
        self.git_count(|a| a.is_some())
    }

    /// Git requests that presented credentials and were refused with 401 (each makes git
    /// send `erase`).
    pub fn git_auth_failures(&self) -> usize {
        self.git_count(|a| matches!(a, Some(GitAuth::Rejected(_))))
    }

    /// Git requests without credentials, answered with a 401 challenge.
    pub fn git_auth_challenges(&self) -> usize {
        self.git_count(|a| matches!(a, Some(GitAuth::Missing)))
    }

    /// Git requests let through with a valid token.
    pub fn git_authorized(&self) -> usize {
        self.git_count(|a| matches!(a, Some(GitAuth::Ok)))
    }

    fn git_count(&self, pred: impl Fn(&Option<GitAuth>) -> bool) -> usize {
        lock(&self.shared.state).requests.iter().filter(|r| pred(&r.git_auth)).count()
    }

    // ---- repositories ----

    /// A bare repository `<root>/<owner>/<repo>.git` with one commit on `main`, pushable.
    pub fn create_repo(&self, owner: &str, repo: &str) {
        git_backend::create_bare_repo(&self.shared.repos_root, &self.shared.git_home, owner, repo);
    }

    /// Commit id of `refs/heads/main` in the bare repository.
    pub fn repo_head(&self, owner: &str, repo: &str) -> String {
        git_backend::rev_parse(&self.shared.repos_root, &self.shared.git_home, owner, repo, "refs/heads/main")
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        {
            let _g = lock(&self.shared.stop_lock);
            self.shared.stop_cv.notify_all();
        }
        // Wake the accept loops; each sees `stopped` and returns, closing its listener.
        for addr in std::iter::once(self.addr).chain(self.addr_v6) {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
        for (_, conn) in lock(&self.shared.connections).drain() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    for stream in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.connections).insert(id, clone);
        }
        let conn_shared = shared.clone();
        let spawned = thread::Builder::new().name(format!("fake-github-conn-{id}")).spawn(move || {
            serve_connection(&conn_shared, stream, peer);
            if let Some(s) = lock(&conn_shared.connections).remove(&id) {
                let _ = s.shutdown(Shutdown::Both);
            }
        });
        if spawned.is_err() {
            lock(&shared.connections).remove(&id);
        }
    }
}

fn serve_connection(shared: &Shared, tcp: TcpStream, peer: SocketAddr) {
    let Ok(conn) = ServerConnection::new(shared.tls.clone()) else {
        return;
    };
    let mut stream = BufReader::new(StreamOwned::new(conn, tcp));
    loop {
        // Any read error (client gone, TLS alert, garbage) just ends the connection.
        let Ok(Some(req)) = http::read_request(&mut stream) else {
            return;
        };
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let (index, fault) = shared.record_and_take_fault(&req);
        let (resp, git_auth) = match fault {
            Some(Fault::Hang) => {
                shared.wait_for_stop(HANG_LIMIT);
                return;
            }
            Some(Fault::CloseConnection) => return,
            Some(Fault::Raw(bytes)) => {
                let s = stream.get_mut();
                let _ = s.write_all(&bytes).and_then(|()| s.flush());
                s.conn.send_close_notify();
                let _ = s.flush();
                return;
            }
            Some(Fault::Status { status, headers, body }) => {
                let mut r = Response::new(status).body(body);
                r.headers = headers;
                (r, None)
            }
            Some(Fault::Delay(d)) => {
                shared.wait_for_stop(d);
                shared.handle(&req, peer)
            }
            None => shared.handle(&req, peer),
        };
        {
            let mut st = lock(&shared.state);
            if let Some(rec) = st.requests.get_mut(index) {
                rec.status = Some(resp.status);
                if git_auth.is_some() {
                    rec.git_auth = git_auth;
                }
            }
            shared.changed.notify_all();
        }
        let close = req.wants_close();
        let date = super::http_date(shared.now());
        if http::write_response(stream.get_mut(), &resp, &date, close).is_err() {
            return;
        }
        if close {
            let s = stream.get_mut();
            s.conn.send_close_notify();
            let _ = s.flush();
            return;
        }
    }
}

impl Shared {
    fn now(&self) -> i64 {
        super::unix_now() + lock(&self.state).clock_offset
    }

    /// Sleep up to `limit`, returning early when the server is dropped.
    fn wait_for_stop(&self, limit: Duration) {
        let guard = lock(&self.stop_lock);
        let _ = self.stop_cv.wait_timeout_while(guard, limit, |_| !self.stopped.load(Ordering::SeqCst));
    }

    fn record_and_take_fault(&self, req: &Request) -> (usize, Option<Fault>) {
        let mut st = lock(&self.state);
        let fault = st
            .faults
            .iter()
            .position(|f| matches(&f.method, &f.path_prefix, &req.method, &req.target))
            .and_then(|i| st.faults.remove(i))
            .map(|f| f.fault);
        st.requests.push(Recorded {
            method: req.method.clone(),
            path: req.target.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            status: None,
            git_auth: None,
            fault: fault.as_ref().map(Fault::kind),
        });
        self.changed.notify_all();
        (st.requests.len() - 1, fault)
    }

    fn handle(&self, req: &Request, peer: SocketAddr) -> (Response, Option<GitAuth>) {
        let path = req.path();
        if path == API_PREFIX || path.starts_with("/api/v3/") {
            let relative = &path[API_PREFIX.len()..];
            (self.api(req, relative), None)
        } else {
            let (resp, auth) = self.git(req, peer);
            (resp, Some(auth))
        }
    }

    // ---- API ----

    fn api(&self, req: &Request, relative: &str) -> Response {
        let segments: Vec<&str> = relative.trim_matches('/').split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["app", "installations", id, "access_tokens"]) => {
                self.with_app(req, |st, app, now| self.mint(st, app, id, &req.body, now))
            }
            ("GET", ["repos", owner, repo, "installation"]) => {
                self.with_app(req, |st, app, _| find_installation(st, app, owner, Some(repo), &self.base_url))
            }
            ("GET", ["users" | "orgs", owner, "installation"]) => {
                self.with_app(req, |st, app, _| find_installation(st, app, owner, None, &self.base_url))
            }
            ("GET", ["app"]) => self.with_app(req, |st, app, _| {
                let app = st.apps.iter().find(|a| a.id == app).expect("app exists");
                Response::json(
                    200,
                    &json!({
                        "id": app.id,
                        "slug": app.slug,
                        "client_id": app.client_id,
                        "name": app.slug,
                        "html_url": format!("{}/apps/{}", self.base_url, app.slug),
                    }),
                )
            }),
            ("GET", ["app", "installations"]) => {
                self.with_app(req, |st, app, _| self.list_installations(st, app, req))
            }
            ("DELETE", ["installation", "token"]) => self.revoke(req),
            _ => not_found(),
        }
    }

    /// Runs `f` with the state locked and the app id the request's JWT proves, or answers
    /// GitHub's 401.
    fn with_app(&self, req: &Request, f: impl FnOnce(&mut State, u64, i64) -> Response) -> Response {
        let mut st = lock(&self.state);
        let now = super::unix_now() + st.clock_offset;
        match authenticate_jwt(&mut st, req, now) {
            Ok(app) => f(&mut st, app, now),
            Err(resp) => resp,
        }
    }

    fn mint(&self, st: &mut State, app: u64, id: &str, body: &[u8], now: i64) -> Response {
        let Some(inst) = id
            .parse::<u64>()
            .ok()
            .and_then(|id| st.installations.iter().find(|i| i.id == id && i.app_id == app))
            .cloned()
        else {
            return not_found();
        };
        let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return error(400, "Problems parsing JSON"),
            }
        };

        let repositories = match request.get("repositories") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut names = Vec::new();
                for item in items {
                    let Some(name) = item.as_str() else {
                        return error(
                            422,
                            "Invalid request.\n\nFor 'properties/repositories', items must be strings.",
                        );
                    };
                    if !inst.covers(name) {
                        return error(
                            422,
                            "There is at least one repository that does not exist or is not accessible to the parent installation.",
                        );
                    }
                    // The installation's spelling, as GitHub answers with the real name.
                    let canonical = inst
                        .repos
                        .as_ref()
                        .and_then(|l| l.iter().find(|r| r.eq_ignore_ascii_case(name)))
                        .map_or(name, String::as_str);
                    names.push(canonical.to_string());
                }
                Some(names)
            }
            Some(_) => {
                return error(422, "Invalid request.\n\nFor 'properties/repositories', must be an array.");
            }
        };

        let permissions = match request.get("permissions") {
            None | Some(Value::Null) => inst.permissions.clone(),
            Some(Value::Object(map)) => {
                let mut granted = BTreeMap::new();
                for (name, level) in map {
                    let Some(level) = level.as_str().filter(|l| level_rank(l).is_some()) else {
                        return error(
                            422,
                            &format!(
                                "Invalid request.\n\nFor 'properties/{name}', {level} is not a valid permission level."
                            ),
                        );
                    };
                    let allowed = inst.permissions.get(name).and_then(|l| level_rank(l));
                    if allowed.is_none_or(|a| level_rank(level) > Some(a)) {
                        return error(422, "The permissions requested are not granted to this installation.");
                    }
                    granted.insert(name.clone(), level.to_string());
                }
                granted
            }
            Some(_) => {
                return error(422, "Invalid request.\n\nFor 'permissions', must be an object.");
            }
        };

        let token = if st.long_tokens {
            let prefix = format!("ghs_{app}_");
            let rest = random_alnum(520 - prefix.len(), URL_SAFE);
            format!("{prefix}{rest}")
        } else {
            format!("ghs_{}", random_alnum(36, ALNUM))
        };
        let expires_at = now + st.token_lifetime;
        st.tokens.push(IssuedToken {
            token: token.clone(),
            installation_id: inst.id,
            app_id: app,
            owner: inst.owner.clone(),
            repositories: repositories.clone(),
            permissions: permissions.clone(),
            expires_at,
            revoked: false,
        });
        st.mint_count += 1;

        let mut answer = json!({
            "token": token,
            "expires_at": super::iso8601(expires_at),
            "permissions": permissions,
            "repository_selection": if repositories.is_some() { "selected" } else { inst.selection() },
        });
        if let Some(names) = &repositories {
            answer["repositories"] = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    json!({
                        "id": inst.id * 1000 + i as u64,
                        "name": name,
                        "full_name": format!("{}/{}", inst.owner, name),
                        "private": true,
                    })
                })
                .collect();
        }
        Response::json(201, &answer)
    }

    fn list_installations(&self, st: &State, app: u64, req: &Request) -> Response {
        let per_page =
            req.query_param("per_page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
        let page = req.query_param("page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
        let mut mine: Vec<&Installation> = st.installations.iter().filter(|i| i.app_id == app).collect();
        mine.sort_by_key(|i| i.id);
        let last = mine.len().div_ceil(per_page).max(1);
        let items: Vec<Value> = mine
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|i| installation_json(i, st, &self.base_url))
            .collect();
        let link_to = |p: usize| {
            format!("<{}{API_PREFIX}/app/installations?per_page={per_page}&page={p}>", self.base_url)
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
            links.push(format!("{}; rel=\"last\"", link_to(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
            links.push(format!("{}; rel=\"first\"", link_to(1)));
        }
        let mut resp = Response::json(200, &Value::Array(items));
        if !links.is_empty() {
            resp = resp.header("Link", &links.join(", "));
        }
        resp
    }

    fn revoke(&self, req: &Request) -> Response {
        let token = req.header("authorization").and_then(|a| {
            let (scheme, value) = a.split_once(' ')?;
            (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
                .then(|| value.trim().to_string())
        });
        let mut st = lock(&self.state);
        let now = super::unix_now() + st.clock_offset;
        match token.and_then(|t| st.tokens.iter_mut().find(|i| i.token == t)) {
            Some(t) if !t.revoked && t.expires_at > now => {
                t.revoked = true;
                Response::new(204)
            }
            _ => error(401, "Bad credentials"),
        }
    }

    // ---- git ----

    fn git(&self, req: &Request, peer: SocketAddr) -> (Response, GitAuth) {
        let path = req.path();
        let mut segments = path.trim_start_matches('/').splitn(3, '/');
        let (Some(owner), Some(repo_seg)) = (segments.next(), segments.next()) else {
            return (not_found(), GitAuth::Rejected("not a repository path".into()));
        };
        let rest = segments.next().unwrap_or("");
        if owner.is_empty() || repo_seg.is_empty() {
            return (not_found(), GitAuth::Rejected("not a repository path".into()));
        }
        if owner == LFS_STORAGE {
            return self.lfs_storage(req, repo_seg, rest);
        }
        let repo = repo_seg.strip_suffix(".git").unwrap_or(repo_seg);
        if let Some(lfs) = rest.strip_prefix("info/lfs/") {
            return self.lfs(req, owner, repo, lfs);
        }

        let push = rest == "git-receive-pack" || req.query().contains("service=git-receive-pack");
        let auth = self.check_git_auth(req, owner, repo, push);
        match &auth {
            GitAuth::Ok | GitAuth::Anonymous => {}
            GitAuth::Limited => {
                // GitHub answers with an ERR packet, which git prints as `remote error: ...`.
                let mut body = pkt_line("# service=git-upload-pack\n");
                body.extend_from_slice(b"0000");
                body.extend(pkt_line(&format!("ERR {ANONYMOUS_LIMIT_MESSAGE}")));
                let resp = Response::new(200)
                    .header("Content-Type", "application/x-git-upload-pack-advertisement")
                    .body(body);
                return (resp, auth);
            }
            GitAuth::Forbidden(_) => {
                let slug = self.bot_name(req);
                let resp = Response::new(403)
                    .header("Content-Type", "text/plain; charset=utf-8")
                    .body(format!("Permission to {owner}/{repo}.git denied to {slug}.\n"));
                return (resp, auth);
            }
            GitAuth::Missing | GitAuth::Rejected(_) => {
                let resp = Response::new(401)
                    .header("WWW-Authenticate", "Basic realm=\"GitHub\"")
                    .header("Content-Type", "text/plain; charset=utf-8")
                    .body("Invalid username or token. Password authentication is not supported for Git operations.\n");
                return (resp, auth);
            }
        }
        // GitHub serves `owner/repo` and `owner/repo.git` alike; on disk it is `repo.git`.
        let path_info = format!("/{owner}/{repo}.git/{rest}");
        let resp = git_backend::run_http_backend(
            &self.repos_root,
            &self.git_home,
            req,
            &path_info,
            &peer.ip().to_string(),
        );
        (resp, auth)
    }

    /// `app-slug[bot]` for the token a request carries (what GitHub names in a 403).
    fn bot_name(&self, req: &Request) -> String {
        let st = lock(&self.state);
        let password = req
            .header("authorization")
            .and_then(|h| h.split_once(' '))
            .and_then(|(_, v)| super::base64_decode(v.trim()))
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|d| d.split_once(':').map(|(_, p)| p.to_string()));
        let app = password
            .and_then(|p| st.tokens.iter().find(|t| t.token == p).map(|t| t.app_id))
            .and_then(|id| st.apps.iter().find(|a| a.id == id));
        app.map_or("x-access-token".to_string(), |a| format!("{}[bot]", a.slug))
    }

    /// Whether `owner/repo` is public.
    fn is_public(&self, owner: &str, repo: &str) -> bool {
        let name = format!("{owner}/{repo}").to_ascii_lowercase();
        lock(&self.state).public.contains(&name)
    }

    /// GitHub's rules for a git request: an anonymous read of a public repository is served
    /// (unless the limit is on); anything else needs a valid token (401 otherwise). A valid
    /// token reads a public repository, or a repository of its installation with at least
    /// `contents: read`; it writes only a repository of its installation with `contents:
    /// write`. A valid token refused is a 403.
    fn check_git_auth(&self, req: &Request, owner: &str, repo: &str, write: bool) -> GitAuth {
        let public = self.is_public(owner, repo);
        let Some(header) = req.header("authorization") else {
            return match (public && !write, lock(&self.state).limit_anonymous) {
                (true, false) => GitAuth::Anonymous,
                (true, true) => GitAuth::Limited,
                (false, _) => GitAuth::Missing,
            };
        };
        let rejected = |why: &str| GitAuth::Rejected(why.to_string());
        let Some(("Basic" | "basic", encoded)) = header.split_once(' ') else {
            return rejected("not basic auth");
        };
        let Some(decoded) = super::base64_decode(encoded.trim()).and_then(|b| String::from_utf8(b).ok())
        else {
            return rejected("bad base64");
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return rejected("no colon in basic auth");
        };
        if user != "x-access-token" {
            return rejected("username is not x-access-token");
        }
        let st = lock(&self.state);
        let now = super::unix_now() + st.clock_offset;
        let Some(token) = st.tokens.iter().find(|t| t.token == password) else {
            return rejected("unknown token");
        };
        if token.revoked {
            return rejected("revoked token");
        }
        if token.expires_at <= now {
            return rejected("expired token");
        }
        let forbidden = |why: &str| GitAuth::Forbidden(why.to_string());
        let level = token.permissions.get("contents").and_then(|l| level_rank(l)).unwrap_or(0);
        let own = token.owner.eq_ignore_ascii_case(owner)
            && match &token.repositories {
                Some(list) => list.iter().any(|r| r.eq_ignore_ascii_case(repo)),
                None => st
                    .installations
                    .iter()
                    .find(|i| i.id == token.installation_id)
                    .is_some_and(|i| i.covers(repo)),
            };
        match (write, own, public) {
            (_, false, false) if !token.owner.eq_ignore_ascii_case(owner) => {
                forbidden("token is for another owner")
            }
            (_, false, false) => forbidden("repository not covered by token"),
            (true, false, true) => forbidden("push to a public repository the token does not cover"),
            (true, true, _) if level < 2 => forbidden("token cannot write contents"),
            (false, true, false) if level < 1 => forbidden("token cannot read contents"),
            _ => GitAuth::Ok,
        }
    }
}

/// The first path segment of Git LFS object storage URLs (no GitHub account can be named so).
const LFS_STORAGE: &str = "_lfs";
const LFS_JSON: &str = "application/vnd.git-lfs+json";

fn lfs_error(status: u16, message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/lfs"});
    Response::json(status, &body).header("Content-Type", LFS_JSON)
}

impl Shared {
    fn lfs_dir(&self, owner: &str, repo: &str) -> PathBuf {
        let root = self.repos_root.parent().unwrap_or(&self.repos_root);
        root.join("lfs").join(owner.to_ascii_lowercase()).join(repo.to_ascii_lowercase())
    }

    /// The Git LFS API under `OWNER/REPO.git/info/lfs/` (the batch API and lock verification,
    /// as git-lfs's docs/api specify): credentials as for git (401 with `LFS-Authenticate`
    /// when missing, 403 when the token lacks the permission), then actions whose `href` is
    /// this server's object storage with a one-off `Authorization` header, as GitHub hands
    /// out signed storage URLs.
    fn lfs(&self, req: &Request, owner: &str, repo: &str, rest: &str) -> (Response, GitAuth) {
        if req.method != "POST" {
            return (lfs_error(405, "Method not allowed"), GitAuth::Rejected("not POST".into()));
        }
        if !req.header("accept").is_some_and(|a| a.contains(LFS_JSON)) {
            return (
                lfs_error(406, "Accept must be application/vnd.git-lfs+json"),
                GitAuth::Rejected("accept".into()),
            );
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let write = match rest {
            "objects/batch" => body.get("operation").and_then(Value::as_str) == Some("upload"),
            "locks/verify" => true,
            _ => return (lfs_error(404, "Not Found"), GitAuth::Rejected("unknown LFS path".into())),
        };
        let auth = self.check_git_auth(req, owner, repo, write);
        match &auth {
            GitAuth::Ok | GitAuth::Anonymous => {}
            GitAuth::Limited => return (lfs_error(429, ANONYMOUS_LIMIT_MESSAGE), auth),
            GitAuth::Forbidden(_) => return (lfs_error(403, "You do not have push access"), auth),
            GitAuth::Missing | GitAuth::Rejected(_) => {
                let resp =
                    lfs_error(401, "Credentials needed").header("LFS-Authenticate", "Basic realm=\"GitHub\"");
                return (resp, auth);
            }
        }
        if rest == "locks/verify" {
            let resp = Response::json(200, &json!({"ours": [], "theirs": [], "next_cursor": ""}));
            return (resp.header("Content-Type", LFS_JSON), auth);
        }
        if body.get("hash_algo").is_some_and(|h| h.as_str() != Some("sha256")) {
            return (lfs_error(409, "Unsupported hash algorithm"), auth);
        }
        let (Some(operation), Some(objects)) =
            (body.get("operation").and_then(Value::as_str), body.get("objects").and_then(Value::as_array))
        else {
            return (lfs_error(422, "Validation failed: operation and objects are required"), auth);
        };
        let dir = self.lfs_dir(owner, repo);
        let mut answers = Vec::new();
        for object in objects {
            let (Some(oid), Some(size)) =
                (object.get("oid").and_then(Value::as_str), object.get("size").and_then(Value::as_u64))
            else {
                return (lfs_error(422, "Validation failed: each object needs oid and size"), auth);
            };
            if oid.len() != 64 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                return (lfs_error(422, "Validation failed: oid is not a SHA-256"), auth);
            }
            let stored = std::fs::metadata(dir.join(oid)).ok().map(|m| m.len());
            let mut answer = json!({"oid": oid, "size": size});
            let action = match (operation, stored) {
                ("download", Some(_)) => Some("download"),
                ("download", None) => {
                    answer["error"] = json!({"code": 404, "message": "Object does not exist"});
                    None
                }
                // Already stored: no action, as the spec says.
                ("upload", Some(len)) if len == size => None,
                ("upload", _) => Some("upload"),
                _ => {
                    return (lfs_error(422, "Validation failed: operation must be upload or download"), auth);
                }
            };
            if let Some(action) = action {
                let secret = random_alnum(32, ALNUM);
                let full = format!("{owner}/{repo}").to_ascii_lowercase();
                lock(&self.state)
                    .lfs_grants
                    .insert(secret.clone(), (action.to_string(), full.clone(), oid.into()));
                answer["authenticated"] = json!(true);
                answer["actions"] = json!({ action: {
                    "href": format!("{}/{LFS_STORAGE}/{full}/{oid}", self.base_url),
                    "header": {"Authorization": format!("RemoteAuth {secret}")},
                    "expires_in": 3600,
                }});
            }
            answers.push(answer);
        }
        let answer = json!({"transfer": "basic", "objects": answers, "hash_algo": "sha256"});
        (Response::json(200, &answer).header("Content-Type", LFS_JSON), auth)
    }

    /// Object storage: `GET`/`PUT /_lfs/OWNER/REPO/OID` with a grant from the batch answer.
    fn lfs_storage(&self, req: &Request, owner: &str, rest: &str) -> (Response, GitAuth) {
        let refused = |why: &str| (lfs_error(403, "Forbidden"), GitAuth::Forbidden(why.into()));
        let Some((repo, oid)) = rest.split_once('/') else {
            return (lfs_error(404, "Not Found"), GitAuth::Rejected("storage path".into()));
        };
        let secret = req.header("authorization").and_then(|h| h.strip_prefix("RemoteAuth ")).unwrap_or("");
        let grant = lock(&self.state).lfs_grants.get(secret).cloned();
        let wanted = match req.method.as_str() {
            "GET" => "download",
            "PUT" => "upload",
            _ => return refused("storage method"),
        };
        if grant != Some((wanted.to_string(), format!("{owner}/{repo}"), oid.to_string())) {
            return refused("no storage grant");
        }
        let dir = self.lfs_dir(owner, repo);
        if wanted == "download" {
            return match std::fs::read(dir.join(oid)) {
                Ok(bytes) => (
                    Response::new(200).header("Content-Type", "application/octet-stream").body(bytes),
                    GitAuth::Ok,
                ),
                Err(_) => (lfs_error(404, "Object does not exist"), GitAuth::Ok),
            };
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &req.body);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        if hex != oid {
            return (lfs_error(422, "The object's content does not match its oid"), GitAuth::Ok);
        }
        std::fs::create_dir_all(&dir).expect("creating LFS storage");
        std::fs::write(dir.join(oid), &req.body).expect("storing an LFS object");
        (Response::new(200), GitAuth::Ok)
    }
}

/// One pkt-line of git's protocol: four hex digits of length, then the data.
fn pkt_line(data: &str) -> Vec<u8> {
    format!("{:04x}{data}", data.len() + 4).into_bytes()
}

fn level_rank(level: &str) -> Option<u8> {
    match level {
        "read" => Some(1),
        "write" => Some(2),
        "admin" => Some(3),
        _ => None,
    }
}

fn installation_json(inst: &Installation, st: &State, base_url: &str) -> Value {
    let slug = st.apps.iter().find(|a| a.id == inst.app_id).map_or("", |a| a.slug.as_str());
    json!({
        "id": inst.id,
        "account": {"login": inst.owner, "type": "Organization"},
        "app_id": inst.app_id,
        "app_slug": slug,
        "target_type": "Organization",
        "repository_selection": inst.selection(),
        "permissions": inst.permissions,
        "access_tokens_url": format!("{base_url}{API_PREFIX}/app/installations/{}/access_tokens", inst.id),
    })
}

fn find_installation(st: &State, app: u64, owner: &str, repo: Option<&str>, base_url: &str) -> Response {
    st.installations
        .iter()
        .find(|i| i.app_id == app && i.owner.eq_ignore_ascii_case(owner) && repo.is_none_or(|r| i.covers(r)))
        .map_or_else(not_found, |i| Response::json(200, &installation_json(i, st, base_url)))
}

/// GitHub's JWT rules, checked against the server clock `now`. Returns the app id.
fn authenticate_jwt(st: &mut State, req: &Request, now: i64) -> Result<u64, Response> {
    const UNDECODABLE: &str = "A JSON web token could not be decoded";
    let Some(header) = req.header("authorization") else {
        return Err(error(401, "Requires authentication"));
    };
    let jwt = match header.split_once(' ') {
        Some((scheme, value)) if scheme.eq_ignore_ascii_case("bearer") => value.trim(),
        _ => return Err(error(401, UNDECODABLE)),
    };
    match jsonwebtoken::decode_header(jwt) {
        Ok(h) if h.alg == Algorithm::RS256 => {}
        _ => return Err(error(401, UNDECODABLE)),
    }
    let mut unverified = Validation::new(Algorithm::RS256);
    unverified.insecure_disable_signature_validation();
    relax(&mut unverified);
    let claims = jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_secret(&[]), &unverified)
        .map_err(|_| error(401, UNDECODABLE))?
        .claims;
    st.jwt_claims.push(claims.clone());

    let app = match claims.get("iss") {
        Some(Value::Number(n)) => n.as_u64().and_then(|id| st.apps.iter().find(|a| a.id == id)),
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(id) => st.apps.iter().find(|a| a.id == id),
            Err(_) => st.apps.iter().find(|a| a.client_id == *s),
        },
        _ => None,
    }
    .ok_or_else(|| error(401, "Integration not found"))?;

    let key =
        DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes()).expect("the app's public key PEM is valid");
    let mut verified = Validation::new(Algorithm::RS256);
    relax(&mut verified);
    jsonwebtoken::decode::<Value>(jwt, &key, &verified).map_err(|_| error(401, UNDECODABLE))?;

    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now => {}
        _ => {
            return Err(error(
                401,
                "'Issued at' claim ('iat') must be an Integer representing a time in the past",
            ));
        }
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {
            if exp - now > 600 {
                return Err(error(401, "'Expiration time' claim ('exp') is too far in the future"));
            }
        }
        _ => {
            return Err(error(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the future time",
            ));
        }
    }
    Ok(app.id)
}

/// We check the time claims ourselves, against the server clock, as GitHub does.
fn relax(v: &mut Validation) {
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.leeway = 0;
}
