//! SOCKS proxies on loopback for the proxy tests.
//!
//! - [`Socks5`]: the real `microsocks` (Debian package, installed by `scripts/test.sh`), with or without
//!   username/password. Clients connect to a small counting relay in front of it, which reads
//!   the SOCKS5 handshake as it passes (without changing a byte) to record each connection's
//!   target, whether it was sent as a host name (`socks5h`) or an address (`socks5`), and
//!   whether the client authenticated. microsocks speaks only SOCKS5, so
//! - [`Socks4`]: a small in-process SOCKS4/4a server (CONNECT only) recording its targets.
//!
//! Everything binds `127.0.0.1:0`; dropping a proxy kills microsocks, stops accepting and
//! shuts every open connection.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// One CONNECT as seen in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksRequest {
    /// `host:port` as the client sent it (a name for socks5h/socks4a, an address otherwise).
    pub target: String,
    /// The client sent a host name (resolution at the proxy), not an address.
    pub by_name: bool,
    /// SOCKS5: the client did the username/password sub-negotiation. SOCKS4: a user id was sent.
    pub authenticated: bool,
}

struct Relay {
    /// Where SOCKS5 connections are relayed to (microsocks); `None` for the SOCKS4 server.
    upstream: Option<SocketAddr>,
    stopped: AtomicBool,
    accepted: AtomicU64,
    requests: Mutex<Vec<SocksRequest>>,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Relay {
    fn new(upstream: Option<SocketAddr>) -> Arc<Relay> {
        Arc::new(Relay {
            upstream,
            stopped: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    fn track(&self, s: &TcpStream) -> Option<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.sockets).insert(id, s.try_clone().ok()?);
        Some(id)
    }

    fn untrack(&self, id: Option<u64>) {
        if let Some(s) = id.and_then(|id| lock(&self.sockets).remove(&id)) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn stop(&self, addr: SocketAddr) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        for (_, s) in lock(&self.sockets).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, relay: Arc<Relay>, handle: fn(&Relay, TcpStream) -> io::Result<()>) {
    for stream in listener.incoming() {
        if relay.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        relay.accepted.fetch_add(1, Ordering::SeqCst);
        let r = relay.clone();
        let _ = thread::Builder::new().name("socks-conn".into()).spawn(move || {
            let id = r.track(&stream);
            let _ = handle(&r, stream);
            r.untrack(id);
        });
    }
}

/// Copies both ways until both directions end.
fn pipe(relay: &Relay, client: TcpStream, upstream: TcpStream) -> io::Result<()> {
    let up_id = relay.track(&upstream);
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    let forward = thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = forward.join();
    relay.untrack(up_id);
    Ok(())
}

fn read_n(s: &mut TcpStream, n: usize, seen: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)?;
    seen.extend_from_slice(&buf);
    Ok(buf)
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

// ---- SOCKS5 through microsocks ----

/// The running microsocks with its counting relay.
pub struct Socks5 {
    addr: SocketAddr,
    relay: Arc<Relay>,
    child: Child,
    credentials: Option<(String, String)>,
}

impl Socks5 {
    /// microsocks without authentication.
    pub fn start() -> Socks5 {
        Socks5::launch(None)
    }

    /// microsocks requiring this username and password (`-u USER -P PASS`; they appear in
    /// microsocks' argv, which is fine for throwaway test credentials).
    pub fn start_with_auth(user: &str, pass: &str) -> Socks5 {
        Socks5::launch(Some((user.to_string(), pass.to_string())))
    }

    fn launch(credentials: Option<(String, String)>) -> Socks5 {
        let bin = microsocks_bin().unwrap_or_else(|| panic!("{}", super::missing_component("microsocks")));
        // The port is free when probed; another process could take it first, so retry when
        // microsocks exits at start-up.
        for _ in 0..3 {
            let port =
                TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
            let mut cmd = Command::new(&bin);
            cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((u, p)) = &credentials {
                cmd.args(["-u", u, "-P", p]);
            }
            let mut child = cmd
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting microsocks");
            let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if !wait_listening(&mut child, upstream) {
                let _ = child.kill();
                let _ = child.wait();
                continue;
            }
            let listener = TcpListener::bind("127.0.0.1:0").expect("binding relay");
            let addr = listener.local_addr().expect("relay addr");
            let relay = Relay::new(Some(upstream));
            let accept_relay = relay.clone();
            thread::Builder::new()
                .name("socks5-accept".into())
                .spawn(move || accept_loop(listener, accept_relay, relay_socks5))
                .expect("spawning relay accept thread");
            return Socks5 { addr, relay, child, credentials };
        }
        panic!("microsocks did not start (three attempts)");
    }

    /// `socks5://127.0.0.1:PORT` (with `user:pass@` when it requires auth).
    pub fn url(&self) -> String {
        self.url_with_scheme("socks5")
    }

    /// `socks5h://...`: the same proxy, host names resolved at the proxy.
    pub fn url_h(&self) -> String {
        self.url_with_scheme("socks5h")
    }

    fn url_with_scheme(&self, scheme: &str) -> String {
        match &self.credentials {
            Some((u, p)) => format!("{scheme}://{u}:{p}@{}", self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted, whatever happened next.
    pub fn connections(&self) -> usize {
        self.relay.accepted.load(Ordering::SeqCst) as usize
    }

    /// Every CONNECT request seen in a handshake, in order (sent to microsocks, which may still
    /// refuse it, e.g. on bad credentials).
    pub fn requests(&self) -> Vec<SocksRequest> {
        lock(&self.relay.requests).clone()
    }
}

impl Drop for Socks5 {
    fn drop(&mut self) {
        self.relay.stop(self.addr);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn microsocks_bin() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/bin")])
        .map(|d| d.join("microsocks"))
        .find(|p| p.is_file())
}

/// Polls (bounded) until `addr` accepts a connection; false when the child exits or 10 s pass.
fn wait_listening(child: &mut Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        // A SOCKS5 greeting answered with version 5: microsocks itself is listening, not
        // another process that took the freed port first.
        if let Ok(mut probe) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = probe.set_read_timeout(Some(Duration::from_millis(500)));
            let mut answer = [0u8; 2];
            if probe.write_all(&[5, 1, 0]).is_ok() && probe.read_exact(&mut answer).is_ok() && answer[0] == 5
            {
                return true;
            }
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        thread::sleep(Duration::from_millis(10)); // poll interval, not synchronisation
    }
    false
}

/// Passes the handshake through byte for byte while parsing it, records the request, then pipes.
fn relay_socks5(relay: &Relay, mut client: TcpStream) -> io::Result<()> {
    let upstream = relay.upstream.ok_or(io::ErrorKind::NotConnected)?;
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    let up_id = relay.track(&up);
    let result = (|| {
        let mut answers = up.try_clone()?;
        let mut c_write = client.try_clone()?;
        // upstream -> client from the start (microsocks answers each step).
        let back = thread::spawn(move || {
            let _ = io::copy(&mut answers, &mut c_write);
            let _ = c_write.shutdown(Shutdown::Write);
        });
        let mut seen = Vec::new();
        let parsed = (|| -> io::Result<SocksRequest> {
            let hello = read_n(&mut client, 2, &mut seen)?;
            read_n(&mut client, hello[1] as usize, &mut seen)?;
            up.write_all(&std::mem::take(&mut seen))?;
            // Next comes the username/password sub-negotiation (version 1) or the request (5).
            let authenticated = read_n(&mut client, 1, &mut seen)?[0] == 1;
            if authenticated {
                let ulen = read_n(&mut client, 1, &mut seen)?[0] as usize;
                read_n(&mut client, ulen, &mut seen)?;
                let plen = read_n(&mut client, 1, &mut seen)?[0] as usize;
                read_n(&mut client, plen, &mut seen)?;
                up.write_all(&std::mem::take(&mut seen))?;
                read_n(&mut client, 1, &mut seen)?; // the request's version, 5
            }
            let head = read_n(&mut client, 3, &mut seen)?; // cmd, rsv, atyp
            let (host, by_name) = match head[2] {
                1 => (
                    Ipv4Addr::from(<[u8; 4]>::try_from(read_n(&mut client, 4, &mut seen)?).unwrap())
                        .to_string(),
                    false,
                ),
                4 => {
                    let b = <[u8; 16]>::try_from(read_n(&mut client, 16, &mut seen)?).unwrap();
                    (format!("[{}]", Ipv6Addr::from(b)), false)
                }
                _ => {
                    let n = read_n(&mut client, 1, &mut seen)?[0] as usize;
                    (String::from_utf8_lossy(&read_n(&mut client, n, &mut seen)?).into_owned(), true)
                }
            };
            let port = be16(&read_n(&mut client, 2, &mut seen)?);
            Ok(SocksRequest { target: format!("{host}:{port}"), by_name, authenticated })
        })();
        up.write_all(&seen)?;
        if let Ok(req) = parsed {
            lock(&relay.requests).push(req);
            let _ = io::copy(&mut client, &mut up);
        }
        let _ = up.shutdown(Shutdown::Write);
        let _ = back.join();
        Ok(())
    })();
    relay.untrack(up_id);
    result
}

// ---- SOCKS4/4a in process ----

/// A SOCKS4 and SOCKS4a proxy (CONNECT only, any user id accepted).
pub struct Socks4 {
    addr: SocketAddr,
    relay: Arc<Relay>,
}

impl Socks4 {
    pub fn start() -> Socks4 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let relay = Relay::new(None);
        let accept_relay = relay.clone();
        thread::Builder::new()
            .name("socks4-accept".into())
            .spawn(move || accept_loop(listener, accept_relay, serve_socks4))
            .expect("spawning socks4 accept thread");
        Socks4 { addr, relay }
    }

    /// `socks4://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("socks4://{}", self.addr)
    }

    /// `socks4a://127.0.0.1:PORT` (names resolved at the proxy).
    pub fn url_a(&self) -> String {
        format!("socks4a://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn connections(&self) -> usize {
        self.relay.accepted.load(Ordering::SeqCst) as usize
    }

    pub fn requests(&self) -> Vec<SocksRequest> {
        lock(&self.relay.requests).clone()
    }
}

impl Drop for Socks4 {
    fn drop(&mut self) {
        self.relay.stop(self.addr);
    }
}

fn read_cstr(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b)?;
        if b[0] == 0 {
            return Ok(out);
        }
        if out.len() > 255 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        out.push(b[0]);
    }
}

/// `VN=4 CD=1 DSTPORT DSTIP USERID\0 [HOST\0 when DSTIP is 0.0.0.x]` -> `0 90 ...` then pipe;
/// `0 91` when the target cannot be reached.
fn serve_socks4(relay: &Relay, mut client: TcpStream) -> io::Result<()> {
    let mut seen = Vec::new();
    let head = read_n(&mut client, 8, &mut seen)?;
    if head[0] != 4 || head[1] != 1 {
        return client.write_all(&[0, 91, 0, 0, 0, 0, 0, 0]);
    }
    let port = be16(&head[2..4]);
    let user = read_cstr(&mut client)?;
    let (host, by_name) = if head[4..7] == [0, 0, 0] && head[7] != 0 {
        (String::from_utf8_lossy(&read_cstr(&mut client)?).into_owned(), true)
    } else {
        (Ipv4Addr::new(head[4], head[5], head[6], head[7]).to_string(), false)
    };
    let target = format!("{host}:{port}");
    lock(&relay.requests).push(SocksRequest {
        target: target.clone(),
        by_name,
        authenticated: !user.is_empty(),
    });
    use std::net::ToSocketAddrs;
    let upstream = target.to_socket_addrs().ok().and_then(|mut addrs| {
        addrs.find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).ok())
    });
    let Some(upstream) = upstream else {
        return client.write_all(&[0, 91, 0, 0, 0, 0, 0, 0]);
    };
    client.write_all(&[0, 90, 0, 0, 0, 0, 0, 0])?;
    pipe(relay, client, upstream)
}
