//! Minimal HTTP/1.1 server side: read a request (Content-Length or chunked body, answering
//! `Expect: 100-continue`), write a response with a `Content-Length`. Enough for ureq and libcurl.
//! Also [`Server`], the loopback accept loop of the small plain-HTTP fakes, and [`answer_each`],
//! their keep-alive loop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// Largest request head line or body we accept; tests never come close.
const MAX_LINE: usize = 1 << 20;
const MAX_BODY: usize = 512 << 20;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Request target as sent: path plus `?query`.
    pub target: String,
    pub version: String,
    /// Header names lower-cased, values trimmed, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body after removing chunked transfer coding (content codings like gzip are kept).
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// A query parameter's raw value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// Whether the client asked to close the connection after this exchange.
    pub fn wants_close(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.version == "HTTP/1.0" {
            !conn.contains("keep-alive")
        } else {
            conn.split(',').any(|t| t.trim() == "close")
        }
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A JSON answer with GitHub's content type.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(serde_json::to_vec(value).expect("serialising JSON"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one CRLF- (or LF-) terminated line without the terminator. `Ok(None)` on EOF before
/// any byte.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE as u64).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(bad("line too long or truncated"));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| bad("non-UTF-8 header line"))
}

/// Reads the next request from a connection. `Ok(None)` when the client closed the connection
/// cleanly between requests. Writes `100 Continue` when the client expects it.
pub fn read_request<S: Read + Write>(conn: &mut BufReader<S>) -> io::Result<Option<Request>> {
    // Tolerate stray empty lines between requests (RFC 9112 section 2.2).
    let request_line = loop {
        match read_line(conn)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("malformed request line"));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn)?.ok_or_else(|| bad("EOF in headers"))?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| bad("malformed header"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
        body: Vec::new(),
    };

    let chunked =
        req.header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match req.header("content-length") {
        Some(v) => Some(v.parse::<usize>().map_err(|_| bad("bad content-length"))?),
        None => None,
    };
    let has_body = chunked || length.is_some_and(|n| n > 0);
    if has_body && req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        let w = conn.get_mut();
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }

    if chunked {
        loop {
            let line = read_line(conn)?.ok_or_else(|| bad("EOF in chunk size"))?;
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                while !read_line(conn)?.ok_or_else(|| bad("EOF in trailers"))?.is_empty() {}
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            conn.read_exact(&mut req.body[start..])?;
            let end = read_line(conn)?.ok_or_else(|| bad("EOF after chunk"))?;
            if !end.is_empty() {
                return Err(bad("missing CRLF after chunk"));
            }
        }
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        req.body.resize(n, 0);
        conn.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes a complete response. Adds `Date` (given), `Content-Length` (unless 1xx/204/304) and
/// `Connection: close` when `close`; headers already in `resp` win over none of these.
pub fn write_response<W: Write>(w: &mut W, resp: &Response, date: &str, close: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    if !resp.has_header("date") {
        head.push_str(&format!("Date: {date}\r\n"));
    }
    head.push_str("Server: fake-github\r\n");
    for (k, v) in &resp.headers {
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let bodyless = resp.status < 200 || resp.status == 204 || resp.status == 304;
    if !bodyless {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    if !bodyless {
        w.write_all(&resp.body)?;
    }
    w.flush()
}

/// A listener on `127.0.0.1:PORT` and, where the machine has IPv6 loopback, one on
/// `[::1]:PORT`, the same port. Tests reach the fake by the name `localhost` too (proxies, the
/// /etc/hosts test), and where `localhost` resolves to `::1` first (Debian's stock /etc/hosts)
/// a SOCKS proxy, or a client resolving for one, connects there.
pub fn bind_loopback() -> (TcpListener, Option<TcpListener>) {
    for _ in 0..20 {
        let v4 = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = v4.local_addr().expect("local addr").port();
        match TcpListener::bind(("::1", port)) {
            Ok(v6) => return (v4, Some(v6)),
            // Taken on ::1 by something else: another port.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            // No IPv6 loopback here: nothing resolves localhost to ::1 either.
            Err(_) => return (v4, None),
        }
    }
    (TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0"), None)
}

/// A listener on `127.0.0.1:PORT` (and `[::1]:PORT`, [`bind_loopback`]): one accept thread
/// each (`NAME-accept`), one thread per connection (`NAME-conn`) calling the handler.
/// Dropping it stops accepting.
pub struct Server {
    addr: SocketAddr,
    addr_v6: Option<SocketAddr>,
    stopped: Arc<AtomicBool>,
}

impl Server {
    /// Binds a loopback port and hands every accepted connection to `handle` on its own thread.
    pub fn start(name: &str, handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let (listener, listener_v6) = bind_loopback();
        let addr = listener.local_addr().expect("local addr");
        let addr_v6 = listener_v6.as_ref().and_then(|l| l.local_addr().ok());
        let stopped = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        for listener in std::iter::once(listener).chain(listener_v6) {
            let (accept_stopped, handle, conn_name) =
                (stopped.clone(), handle.clone(), format!("{name}-conn"));
            thread::Builder::new()
                .name(format!("{name}-accept"))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if accept_stopped.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(stream) = stream else { continue };
                        let handle = handle.clone();
                        let _ = thread::Builder::new().name(conn_name.clone()).spawn(move || handle(stream));
                    }
                })
                .expect("spawning accept thread");
        }
        Server { addr, addr_v6, stopped }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loops so they see the flag.
        for addr in std::iter::once(self.addr).chain(self.addr_v6) {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
    }
}

/// Answers each request on `stream` with `answer(request)` until the client closes or asks to
/// close (30 s read timeout), then shuts the connection.
pub fn answer_each(stream: TcpStream, mut answer: impl FnMut(&Request) -> Response) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut conn = BufReader::new(stream);
    while let Ok(Some(req)) = read_request(&mut conn) {
        let resp = answer(&req);
        let close = req.wants_close();
        let date = super::http_date(super::unix_now());
        if write_response(conn.get_mut(), &resp, &date, close).is_err() || close {
            break;
        }
    }
    let _ = conn.get_mut().flush();
    let _ = conn.get_ref().shutdown(Shutdown::Both);
}
