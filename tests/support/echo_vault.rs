//! A hostile vault (or whatever answers at the vault's address, a proxy) on
//! `http://127.0.0.1:PORT`: each request is answered by a function of it, so a test can echo
//! the `X-Vault-Token`, the login JWT or anything else the helper sent, on any status, as JSON
//! or not. For what a real vault does, the tests use real OpenBao (`openbao.rs`).
//!
//! One accept thread, one thread per connection; dropping the server stops accepting.

use std::sync::{Arc, Mutex};

use super::http::{self, Request, Response, Server};

/// How the server answers a request.
pub type Answer = dyn Fn(&Request) -> Response + Send + Sync;

struct Shared {
    answer: Box<Answer>,
    requests: Mutex<Vec<Request>>,
}

pub struct EchoVault {
    server: Server,
    shared: Arc<Shared>,
}

impl EchoVault {
    /// Answers every request with `answer(request)`.
    pub fn start(answer: impl Fn(&Request) -> Response + Send + Sync + 'static) -> EchoVault {
        let shared = Arc::new(Shared { answer: Box::new(answer), requests: Mutex::new(Vec::new()) });
        let conn = shared.clone();
        let server = Server::start("echo-vault", move |stream| {
            http::answer_each(stream, |req| {
                let resp = (conn.answer)(req);
                conn.requests.lock().unwrap_or_else(|e| e.into_inner()).push(req.clone());
                resp
            })
        });
        EchoVault { server, shared }
    }

    /// `http://127.0.0.1:PORT` (loopback: the helper allows plain HTTP there).
    pub fn addr(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
