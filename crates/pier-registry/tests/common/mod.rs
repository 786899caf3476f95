//! A scriptable HTTP server on 127.0.0.1 for client unit tests: what a real registry cannot be
//! made to do (lie about digests, answer garbage, run a token server). Each test gives a closure
//! from request to response; every request is recorded for assertions.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Handler = dyn Fn(&Seen, &str) -> Response<Body> + Send + Sync;

pub struct Stub {
    pub addr: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    /// Serve `handler(request, own "127.0.0.1:PORT")` until dropped.
    pub async fn start(
        handler: impl Fn(&Seen, &str) -> Response<Body> + Send + Sync + 'static,
    ) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, addr2) = (seen.clone(), addr.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (seen, handler, addr) = (seen2.clone(), handler.clone(), addr2.clone());
                async move {
                    let req = Seen {
                        method,
                        uri,
                        headers,
                        body: body.to_vec(),
                    };
                    seen.lock().unwrap().push(req.clone());
                    handler(&req, &addr)
                }
            },
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Stub { addr, seen, task }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self, path_prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|s| s.uri.path().starts_with(path_prefix))
            .count()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response<Body> {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.into()).unwrap()
}

pub fn json_error(status: u16, code: &str, message: &str) -> Response<Body> {
    respond(
        status,
        &[("Content-Type", "application/json")],
        format!(r#"{{"errors":[{{"code":"{code}","message":"{message}","detail":null}}]}}"#),
    )
}
