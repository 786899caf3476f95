//! Hijacked attach/exec streams as docker's CLI drives them: the connection upgraded by
//! `Upgrade: tcp` (see [`crate::client::Client::hijack`]) carries the container's output (raw with a
//! tty, else docker's `stdcopy` frames: 8-byte header `[stream, 0, 0, 0, size BE u32]` then payload,
//! [`Demux`]) and our stdin. With a tty the local terminal goes to raw mode ([`RawMode`], restored on
//! drop), and the detach sequence (default ctrl-p ctrl-q, `--detach-keys`) typed on stdin ends the
//! session without stopping the container ([`EscapeProxy`]). Stdin is read on a plain thread so a
//! blocked read never holds the process open.

use crate::error::{CliError, Result};
use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// docker's default detach sequence, ctrl-p ctrl-q.
pub const DEFAULT_DETACH: [u8; 2] = [16, 17];

/// Incremental `stdcopy` demultiplexer.
#[derive(Default)]
pub struct Demux {
    buf: Vec<u8>,
}

/// One frame: 0 stdin, 1 stdout, 2 stderr, 3 systemerr.
#[derive(Debug, PartialEq)]
pub struct Frame {
    pub stream: u8,
    pub data: Vec<u8>,
}

impl Demux {
    /// Feed bytes; return every complete frame. An unknown stream id is an error as in stdcopy.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Frame>> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            if self.buf.len() < 8 {
                break;
            }
            let stream = self.buf[0];
            if stream > 3 {
                return Err(CliError::Protocol(format!(
                    "Unrecognized input header: {stream}"
                )));
            }
            let size =
                u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
            if self.buf.len() < 8 + size {
                break;
            }
            let data = self.buf[8..8 + size].to_vec();
            self.buf.drain(..8 + size);
            out.push(Frame { stream, data });
        }
        Ok(out)
    }

    /// Bytes of an unfinished frame left over at end of stream.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Write demuxed frames to stdout/stderr; a systemerr frame becomes an error (as stdcopy does).
pub fn write_frames(frames: Vec<Frame>) -> Result<()> {
    for f in frames {
        match f.stream {
            0 | 1 => {
                let mut o = std::io::stdout().lock();
                o.write_all(&f.data)?;
                o.flush()?;
            }
            2 => {
                let mut e = std::io::stderr().lock();
                e.write_all(&f.data)?;
                e.flush()?;
            }
            _ => {
                return Err(CliError::Stream(
                    String::from_utf8_lossy(&f.data).into_owned(),
                ))
            }
        }
    }
    Ok(())
}

/// The local terminal in raw mode; the previous settings come back on drop.
pub struct RawMode {
    fd: std::os::fd::RawFd,
    saved: rustix::termios::Termios,
}

impl RawMode {
    /// Put `fd` (stdin) in raw mode when it is a terminal; `None` otherwise.
    pub fn enable(fd: std::os::fd::RawFd) -> Option<RawMode> {
        // SAFETY: fd 0/1 stay open for the life of the process; the borrow does not outlive this call.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if !rustix::termios::isatty(bfd) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(bfd).ok()?;
        let mut raw = saved.clone();
        // As moby/term's MakeRaw: output post-processing off too (the container's tty already
        // turned "\n" into "\r\n").
        raw.make_raw();
        rustix::termios::tcsetattr(bfd, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: as in `enable`.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let _ = rustix::termios::tcsetattr(bfd, rustix::termios::OptionalActions::Now, &self.saved);
    }
}

/// The terminal size of stdout (else stdin) as (height, width), when one is a terminal.
pub fn terminal_size() -> Option<(u16, u16)> {
    for fd in [1, 0] {
        // SAFETY: fds 0 and 1 are open for the life of the process.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if rustix::termios::isatty(bfd) {
            if let Ok(ws) = rustix::termios::tcgetwinsize(bfd) {
                return Some((ws.ws_row, ws.ws_col));
            }
        }
    }
    None
}

pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// Filters stdin for the detach sequence: bytes of a partial match are held back and released when
/// the match breaks; a full match means "detach".
pub struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

pub enum Escaped {
    /// Bytes to forward.
    Data(Vec<u8>),
    /// The sequence was typed (bytes before it are forwarded first).
    Detach(Vec<u8>),
}

impl EscapeProxy {
    pub fn new(keys: Vec<u8>) -> EscapeProxy {
        EscapeProxy { keys, matched: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Escaped {
        let mut out = Vec::new();
        if self.keys.is_empty() {
            return Escaped::Data(input.to_vec());
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Escaped::Detach(out);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        Escaped::Data(out)
    }
}

/// How a hijacked session ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// The output side reached end of stream.
    Eof,
    /// The user typed the detach sequence.
    Detached,
}

/// Read stdin on a plain thread (never joined) into a channel; `None` marks EOF.
fn stdin_channel() -> tokio::sync::mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.blocking_send(None);
                    return;
                }
                Ok(n) => {
                    if tx.blocking_send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Pump a hijacked connection: output to stdout/stderr (demuxed unless `tty`), stdin to the
/// connection when `stdin` (closing our write half at stdin EOF, as docker's CloseWrite), until the
/// output ends or the detach sequence is typed.
pub async fn pump<S>(conn: S, tty: bool, stdin: bool, detach_keys: Vec<u8>) -> Result<Ended>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(conn);
    let mut input = if stdin { Some(stdin_channel()) } else { None };
    let mut proxy = EscapeProxy::new(if tty { detach_keys } else { Vec::new() });
    let mut demux = Demux::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        tokio::select! {
            n = rd.read(&mut buf) => {
                let n = n.map_err(|e| CliError::Protocol(format!("error reading from daemon: {e}")))?;
                if n == 0 {
                    return Ok(Ended::Eof);
                }
                if tty {
                    let mut o = std::io::stdout().lock();
                    o.write_all(&buf[..n])?;
                    o.flush()?;
                } else {
                    write_frames(demux.push(&buf[..n])?)?;
                }
            }
            msg = async { match input.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                match msg.flatten() {
                    Some(data) => match proxy.feed(&data) {
                        Escaped::Data(d) => {
                            if !d.is_empty() {
                                wr.write_all(&d).await?;
                            }
                        }
                        Escaped::Detach(d) => {
                            if !d.is_empty() {
                                wr.write_all(&d).await?;
                            }
                            return Ok(Ended::Detached);
                        }
                    },
                    None => {
                        input = None;
                        let _ = wr.shutdown().await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_splits_frames_across_chunks() {
        let mut d = Demux::default();
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
        raw.extend_from_slice(b"out");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        raw.extend_from_slice(b"er");
        let a = d.push(&raw[..5]).unwrap();
        assert!(a.is_empty());
        let b = d.push(&raw[5..12]).unwrap();
        assert_eq!(
            b,
            vec![Frame {
                stream: 1,
                data: b"out".to_vec()
            }]
        );
        let c = d.push(&raw[12..]).unwrap();
        assert_eq!(
            c,
            vec![Frame {
                stream: 2,
                data: b"er".to_vec()
            }]
        );
        assert_eq!(d.pending(), 0);
        assert!(d.push(&[9, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn escape_sequence_detaches_and_partial_matches_pass() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH.to_vec());
        match p.feed(b"ab\x10c") {
            Escaped::Data(d) => assert_eq!(d, b"ab\x10c"),
            _ => panic!("no detach expected"),
        }
        match p.feed(b"x\x10") {
            Escaped::Data(d) => assert_eq!(d, b"x"),
            _ => panic!(),
        }
        match p.feed(b"\x11rest") {
            Escaped::Detach(d) => assert!(d.is_empty()),
            _ => panic!("detach expected"),
        }
    }

    #[tokio::test]
    async fn pump_ends_at_eof() {
        let (a, mut b) = tokio::io::duplex(64);
        b.write_all(&[1, 0, 0, 0, 0, 0, 0, 0]).await.unwrap();
        drop(b);
        assert_eq!(pump(a, false, false, vec![]).await.unwrap(), Ended::Eof);
    }
}
