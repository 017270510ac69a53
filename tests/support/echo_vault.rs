//! A hostile vault (or whatever answers at the vault's address, a proxy) on
//! `http://127.0.0.1:PORT`: each request is answered by a function of it, so a test can echo
//! the `X-Vault-Token`, the login JWT or anything else the helper sent, on any status, as JSON
//! or not. For what a real vault does, the tests use real OpenBao (`openbao.rs`).
//!
//! One accept thread, one thread per connection; dropping the server stops accepting.

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::http::{self, Request, Response};

/// How the server answers a request.
pub type Answer = dyn Fn(&Request) -> Response + Send + Sync;

struct Shared {
    answer: Box<Answer>,
    requests: Mutex<Vec<Request>>,
    stopped: AtomicBool,
}

pub struct EchoVault {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl EchoVault {
    /// Answers every request with `answer(request)`.
    pub fn start(answer: impl Fn(&Request) -> Response + Send + Sync + 'static) -> EchoVault {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            answer: Box::new(answer),
            requests: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let accept = shared.clone();
        thread::Builder::new()
            .name("echo-vault-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept.stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let conn = accept.clone();
                    let _ = thread::Builder::new()
                        .name("echo-vault-conn".into())
                        .spawn(move || serve(&conn, stream));
                }
            })
            .expect("spawning accept thread");
        EchoVault { addr, shared }
    }

    /// `http://127.0.0.1:PORT` (loopback: the helper allows plain HTTP there).
    pub fn addr(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for EchoVault {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut conn = BufReader::new(stream);
    while let Ok(Some(req)) = http::read_request(&mut conn) {
        let resp = (shared.answer)(&req);
        shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(req.clone());
        let close = req.wants_close();
        let date = super::http_date(super::unix_now());
        if http::write_response(conn.get_mut(), &resp, &date, close).is_err() || close {
            break;
        }
    }
    let _ = conn.get_mut().flush();
    let _ = conn.get_ref().shutdown(Shutdown::Both);
}
