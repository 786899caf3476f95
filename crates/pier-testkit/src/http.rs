//! A tiny blocking HTTP/1.1 client, enough for tests: one request per connection
//! (`Connection: close`), bodies read to the end, `Transfer-Encoding: chunked` decoded.
//!
//! It speaks over any `Read + Write` stream, so the same code talks to the registry (TCP) and
//! to pierd (a unix socket). It is not a general client: no redirects, no keep-alive, no TLS.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A finished HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): status {} body {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as a stream of JSON messages (docker's progress stream: one object per line or
    /// concatenated objects).
    pub fn json_stream(&self) -> Vec<serde_json::Value> {
        serde_json::Deserializer::from_slice(&self.body)
            .into_iter::<serde_json::Value>()
            .filter_map(Result::ok)
            .collect()
    }
}

/// One request over an already-connected stream. `host` fills the Host header.
pub fn request_over<S: Read + Write>(
    mut stream: S,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Response> {
    write_request(&mut stream, host, method, path, headers, body)?;
    read_response(BufReader::new(stream), method == "HEAD")
}

fn write_request<W: Write>(
    stream: &mut W,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: pier-testkit\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn bad(m: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.to_string())
}

/// The status line and headers of the final (non-1xx) response.
fn read_head<R: BufRead>(r: &mut R) -> io::Result<(u16, Vec<(String, String)>)> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("connection closed before a response"));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            let h = h.trim_end_matches(['\r', '\n']);
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        if (100..200).contains(&status) {
            continue; // 100 Continue and friends: the real response follows
        }
        return Ok((status, headers));
    }
}

fn read_body<R: BufRead>(
    mut r: R,
    status: u16,
    headers: &[(String, String)],
    head_only: bool,
) -> io::Result<Vec<u8>> {
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if head_only || status == 204 || status == 304 {
        // no body
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            if r.read_line(&mut size)? == 0 {
                break;
            }
            let size = size.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(size, 16)
                .map_err(|_| bad(&format!("bad chunk size {size:?}")))?;
            if n == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

fn read_response<R: BufRead>(mut r: R, head_only: bool) -> io::Result<Response> {
    let (status, headers) = read_head(&mut r)?;
    let body = read_body(r, status, &headers, head_only)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// A request to the Engine API whose response headers have arrived and whose body has not: what
/// the docker CLI does with `wait` before it sends `start`, so the wait is registered before the
/// container can exit (and, with `--rm`, be gone).
pub struct Pending {
    reader: BufReader<UnixStream>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Pending {
    /// Reads the rest of the response.
    pub fn finish(self) -> io::Result<Response> {
        let body = read_body(self.reader, self.status, &self.headers, false)?;
        Ok(Response {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

/// Sends a bodyless request on the unix socket and returns once its response headers arrived.
pub fn unix_request_pending(socket: &Path, method: &str, path: &str) -> io::Result<Pending> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    write_request(&mut s, "docker", method, path, &[], None)?;
    let mut reader = BufReader::new(s);
    let (status, headers) = read_head(&mut reader)?;
    Ok(Pending {
        reader,
        status,
        headers,
    })
}

/// One request to `addr` ("127.0.0.1:PORT") over TCP.
pub fn tcp_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Response> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    request_over(s, addr, method, path, headers, body)
}

/// One request to the Engine API on a unix socket. A body is sent as JSON.
pub fn unix_request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> io::Result<Response> {
    let s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let headers: &[(&str, &str)] = if body.is_some() {
        &[("Content-Type", "application/json")]
    } else {
        &[]
    };
    request_over(s, "docker", method, path, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunked_and_skips_continue() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3\r\nabc\r\n2;ext\r\nde\r\n0\r\n\r\n";
        let r = read_response(&raw[..], false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
        assert_eq!(r.header("x-a"), Some("b"));
    }

    #[test]
    fn content_length_and_eof_bodies() {
        let r = read_response(
            &b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nhiEXTRA"[..],
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"hi"[..]));
        let r = read_response(&b"HTTP/1.0 200 OK\r\n\r\nall of it"[..], false).unwrap();
        assert_eq!(r.text(), "all of it");
        assert!(read_response(&b"garbage\r\n\r\n"[..], false).is_err());
    }

    #[test]
    fn json_stream_splits_messages() {
        let r = Response {
            status: 200,
            headers: vec![],
            body: b"{\"a\":1}\r\n{\"b\":2}{\"c\":3}\n".to_vec(),
        };
        assert_eq!(r.json_stream().len(), 3);
    }
}
