//! A throttling TCP proxy on a free loopback port, to make transfers slow enough that a test
//! can interrupt them (e.g. kill pierd mid-pull). Upstream→client bytes are paced to a rate and
//! counted; dropping the proxy stops accepting and closes live connections.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// See the module docs.
pub struct SlowProxy {
    addr: String,
    stop: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl SlowProxy {
    /// Forward `127.0.0.1:<new port>` to `upstream`, serving at most `bytes_per_sec` downstream
    /// per connection.
    pub fn start(upstream: &str, bytes_per_sec: u64) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let upstream = upstream.to_string();
        let (s, b, c) = (stop.clone(), bytes.clone(), conns.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        if let (Ok(c1), Ok(c2)) = (client.try_clone(), server.try_clone()) {
                            c.lock().unwrap().extend([c1, c2]);
                        }
                        spawn_pipe(
                            client.try_clone().unwrap(),
                            server.try_clone().unwrap(),
                            None,
                            None,
                        );
                        spawn_pipe(server, client, Some(bytes_per_sec), Some(b.clone()));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SlowProxy {
            addr,
            stop,
            bytes,
            conns,
        }
    }

    /// "127.0.0.1:PORT"
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Bytes forwarded from upstream to clients so far.
    pub fn bytes_down(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

fn spawn_pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    rate: Option<u64>,
    count: Option<Arc<AtomicU64>>,
) {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut sent: u64 = 0;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(c) = &count {
                c.fetch_add(n as u64, Ordering::Relaxed);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n as u64;
            if let Some(rate) = rate {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tcp_request;

    #[test]
    fn forwards_and_paces() {
        let backend = TcpListener::bind("127.0.0.1:0").unwrap();
        let baddr = backend.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = backend.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let body = vec![b'x'; 100_000];
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        });
        let p = SlowProxy::start(&baddr, 400_000);
        let t = Instant::now();
        let r = tcp_request(p.addr(), "GET", "/", &[], None).unwrap();
        assert_eq!(r.body.len(), 100_000);
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "not paced: {:?}",
            t.elapsed()
        );
        assert!(p.bytes_down() > 100_000);
    }
}
