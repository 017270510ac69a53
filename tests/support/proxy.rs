//! A minimal HTTP CONNECT proxy on `127.0.0.1:0` that records what it tunnelled.
//!
//! It reads `CONNECT host:port HTTP/1.1` and its headers, connects to the target, answers
//! `200 Connection established`, then copies bytes both ways (one thread per direction) until
//! either side closes. Anything but CONNECT gets `405`; an unreachable target gets `502`.
//! TLS passes through untouched, so the client still verifies the fake's certificate.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// The most a request head may take; a client sending more is not a proxy client.
const MAX_HEAD: usize = 16 * 1024;

struct Shared {
    stopped: AtomicBool,
    /// `host:port` of every CONNECT, in arrival order (including failed ones).
    targets: Mutex<Vec<String>>,
    /// CONNECTs answered with 200.
    tunnels: AtomicU64,
    /// Every accepted client connection.
    accepted: AtomicU64,
    /// Open sockets (both ends of each tunnel), so drop can shut them down.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn track(&self, stream: &TcpStream) -> Option<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let clone = stream.try_clone().ok()?;
        lock(&self.sockets).insert(id, clone);
        Some(id)
    }

    fn untrack(&self, id: Option<u64>) {
        if let Some(s) = id.and_then(|id| lock(&self.sockets).remove(&id)) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// The running proxy; dropping it stops accepting and shuts every open tunnel.
pub struct ConnectProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding proxy on 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy local addr");
        let shared = Arc::new(Shared {
            stopped: AtomicBool::new(false),
            targets: Mutex::new(Vec::new()),
            tunnels: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        thread::Builder::new()
            .name("connect-proxy-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawning proxy accept thread");
        ConnectProxy { addr, shared }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY` or git's `http.proxy`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `host:port` of every CONNECT received, in order.
    pub fn targets(&self) -> Vec<String> {
        lock(&self.shared.targets).clone()
    }

    /// Tunnels established (CONNECTs answered with 200).
    pub fn tunnels(&self) -> usize {
        self.shared.tunnels.load(Ordering::SeqCst) as usize
    }

    /// Client connections accepted, whatever they asked.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst) as usize
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop; it sees `stopped` and returns, closing the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for (_, s) in lock(&self.shared.sockets).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let conn_shared = shared.clone();
        let _ = thread::Builder::new()
            .name("connect-proxy-conn".into())
            .spawn(move || serve(&conn_shared, stream));
    }
}

/// Reads up to and including the blank line ending the request head, one byte at a time so
/// nothing the client sends after it (the TLS hello) is swallowed.
fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() >= MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
        match stream.read(&mut byte)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => head.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn serve(shared: &Shared, mut client: TcpStream) {
    let client_id = shared.track(&client);
    let _ = client.set_nodelay(true);
    let head = match read_head(&mut client) {
        Ok(head) => head,
        Err(_) => return shared.untrack(client_id),
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if !method.eq_ignore_ascii_case("CONNECT") || target.is_empty() {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return shared.untrack(client_id);
    }
    lock(&shared.targets).push(target.to_string());

    let upstream = match resolve_and_connect(target) {
        Ok(s) => s,
        Err(_) => {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return shared.untrack(client_id);
        }
    };
    let upstream_id = shared.track(&upstream);
    let _ = upstream.set_nodelay(true);
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        shared.untrack(upstream_id);
        return shared.untrack(client_id);
    }
    shared.tunnels.fetch_add(1, Ordering::SeqCst);

    // client -> upstream in a thread, upstream -> client here; each half-closes its writer
    // when its reader ends, so both directions drain.
    let pair = client.try_clone().and_then(|c| upstream.try_clone().map(|u| (c, u)));
    let forward = pair.ok().map(|(mut from, mut to)| {
        thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })
    });
    let (mut from, mut to) = (upstream, client);
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    if let Some(handle) = forward {
        let _ = handle.join();
    }
    shared.untrack(upstream_id);
    shared.untrack(client_id);
}

fn resolve_and_connect(target: &str) -> io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in target.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}
