//! The container log in docker's json-file format.
//!
//! Output is cut into lines as docker's log copier does: one entry per `\n`-terminated line; a
//! line longer than 16 KiB is written as 16 KiB entries without a newline (docker's partial
//! messages) followed by the rest; at the end of a stream an unterminated last line is written
//! with a `\n` added (docker adds it too). Each entry is
//! `{"log":"...","stream":"stdout|stderr","time":"RFC3339Nano"}\n`, escaped as docker's jsonlog
//! does (`<`, `>`, `&` and control characters as `\u00XX`, invalid UTF-8 as `\ufffd`).
//!
//! Rotation as docker's `LogFile`: before an entry is written, if the file has reached
//! `max_size` it is rotated — `FILE.(n-2)` → `FILE.(n-1)`, ..., `FILE` → `FILE.1` with
//! `n = max_file` — or, with `max_file == 1`, truncated.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Docker's maximum entry size before a line is split.
pub const MAX_LINE: usize = 16 * 1024;

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Cuts a byte stream into log entries. Feed it chunks; it calls back with each entry and
/// whether it is complete (ends with `\n`).
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Split `data`, emitting every complete line and every full 16 KiB chunk.
    pub fn feed(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            let room = MAX_LINE - self.pending.len();
            let window = &data[..data.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    if self.pending.is_empty() {
                        emit(&window[..=i]);
                    } else {
                        self.pending.extend_from_slice(&window[..=i]);
                        emit(&self.pending);
                        self.pending.clear();
                    }
                    data = &data[i + 1..];
                }
                None => {
                    self.pending.extend_from_slice(window);
                    data = &data[window.len()..];
                    if self.pending.len() == MAX_LINE {
                        emit(&self.pending);
                        self.pending.clear();
                    }
                }
            }
        }
        if self.pending.capacity() > MAX_LINE && self.pending.is_empty() {
            self.pending = Vec::new();
        }
    }

    /// End of stream: emit the unterminated rest, if any, with a newline added.
    pub fn flush(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            emit(&self.pending);
        }
        self.pending = Vec::new();
    }
}

/// Append one entry's JSON (with the trailing newline) to `out`.
pub fn encode_entry(out: &mut Vec<u8>, line: &[u8], stream: Stream, time: &str) {
    out.extend_from_slice(b"{\"log\":\"");
    escape_into(out, line);
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// JSON string escaping as docker's jsonlog (Go's encoding/json with HTML escaping).
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                    let b = c as u8;
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
}

/// The json-file log of one container, with rotation.
#[derive(Debug)]
pub struct JsonLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    pending: Vec<u8>,
}

impl JsonLog {
    /// Open (append to) the log at `path`.
    pub fn open(path: &Path, max_size: Option<u64>, max_file: u32) -> std::io::Result<JsonLog> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
            pending: Vec::new(),
        })
    }

    /// Queue one entry (written by [`flush`](Self::flush) or when rotation needs it).
    pub fn push(&mut self, line: &[u8], stream: Stream, time: &str) {
        if let Some(max) = self.max_size {
            if self.size + self.pending.len() as u64 >= max {
                self.flush();
                if let Err(e) = self.rotate() {
                    eprintln!("pier-shim: rotate log {}: {e}", self.path.display());
                }
            }
        }
        encode_entry(&mut self.pending, line, stream, time);
    }

    /// Write what is queued. A failed write (disk full) drops the entries, as docker does, so
    /// the container is never blocked by its log.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.file.write_all(&self.pending) {
            Ok(()) => self.size += self.pending.len() as u64,
            Err(e) => eprintln!("pier-shim: write log {}: {e}", self.path.display()),
        }
        self.pending.clear();
        if self.pending.capacity() > 256 * 1024 {
            self.pending = Vec::new();
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.max_file < 2 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let name = |i: u32| {
            let mut s = self.path.clone().into_os_string();
            s.push(format!(".{i}"));
            PathBuf::from(s)
        };
        for i in (1..self.max_file - 1).rev() {
            match std::fs::rename(name(i), name(i + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, name(1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| out.push(l.to_vec()));
        }
        s.flush(&mut |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn lines_partial_and_long() {
        assert_eq!(
            split(&[b"a\nb", b"c\n", b"d"]),
            vec![b"a\n".to_vec(), b"bc\n".to_vec(), b"d\n".to_vec()]
        );
        assert!(split(&[b""]).is_empty());
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut data = long.clone();
        data.push(b'\n');
        let out = split(&[&data[..100], &data[100..]]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1].len(), MAX_LINE);
        assert_eq!(out[2], b"xxxxxxxxxx\n".to_vec());
        // A line of exactly MAX_LINE bytes plus its newline: one full chunk, then a lone "\n".
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        let out = split(&[&exact]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], b"\n".to_vec());
    }

    #[test]
    fn escaping_like_docker() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\"b\\<&>\t\u{1}é\u{2028}".as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"a\"b\\\u003c\u0026\u003e\t\u0001é\u2028"#
        );
        let mut out = Vec::new();
        escape_into(&mut out, b"ok\xff\xfe!");
        assert_eq!(String::from_utf8(out).unwrap(), r"ok\ufffd\ufffd!");
        let mut e = Vec::new();
        encode_entry(&mut e, b"hi\n", Stream::Stderr, "2024-01-01T00:00:00Z");
        assert_eq!(
            e,
            b"{\"log\":\"hi\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-01T00:00:00Z\"}\n"
        );
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(v["log"], "hi\n");
    }

    #[test]
    fn rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut log = JsonLog::open(&p, Some(200), 3).unwrap();
        for i in 0..40 {
            log.push(
                format!("line {i}\n").as_bytes(),
                Stream::Stdout,
                "2024-01-01T00:00:00Z",
            );
            log.flush();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let names: Vec<_> = ["c.log", "c.log.1", "c.log.2"]
            .iter()
            .map(|n| dir.path().join(n))
            .collect();
        assert!(!dir.path().join("c.log.3").exists());
        for n in &names[1..] {
            // Rotated files hold at least max_size bytes and at most one entry more.
            let len = read(n).len();
            assert!((200..260).contains(&len), "{} {len}", n.display());
        }
        assert!(read(&names[0]).contains("line 39"));
        assert!(read(&names[2]).lines().next().is_some());
        // Truncation with max_file 1.
        let q = dir.path().join("d.log");
        let mut log = JsonLog::open(&q, Some(100), 1).unwrap();
        for i in 0..10 {
            log.push(format!("line {i}\n").as_bytes(), Stream::Stdout, "t");
            log.flush();
        }
        assert!(read(&q).len() < 200);
        assert!(!dir.path().join("d.log.1").exists());
        assert!(read(&q).contains("line 9"));
    }
}
