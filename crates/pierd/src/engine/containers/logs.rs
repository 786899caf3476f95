//! `GET /containers/{id}/logs`: the json-file log the shim writes (rotated files oldest first),
//! filtered by stream, since/until and tail, as docker's frames (8-byte multiplexed headers
//! without a tty, raw with one), optionally timestamped, and followed while the container runs.

use std::io::{BufRead, Seek};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::engine::{Engine, Result};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub timestamps: bool,
    /// Unix seconds (fractional) bounds.
    pub since: Option<f64>,
    pub until: Option<f64>,
    /// None: all.
    pub tail: Option<usize>,
}

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

/// Frames a chunk of one stream as docker does.
pub fn frame(stream: u8, data: &[u8], tty: bool) -> Bytes {
    if tty {
        return Bytes::copy_from_slice(data);
    }
    let mut out = Vec::with_capacity(data.len() + 8);
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    Bytes::from(out)
}

fn entry_bytes(e: &Entry, opts: &LogOptions, tty: bool) -> Option<Bytes> {
    let stream = match e.stream.as_str() {
        "stdout" if opts.stdout => 1,
        "stderr" if opts.stderr => 2,
        _ => return None,
    };
    let t = crate::engine::time::parse(&e.time)?;
    let secs = t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9;
    if opts.since.is_some_and(|s| secs < s) || opts.until.is_some_and(|u| secs > u) {
        return None;
    }
    let text = if opts.timestamps {
        format!(
            "{} {}",
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            e.log
        )
    } else {
        e.log.clone()
    };
    Some(frame(stream, text.as_bytes(), tty))
}

impl Engine {
    /// The log as a channel of frames; ends at the end of the log (or, following, when the
    /// container stopped and everything was read).
    pub fn container_logs(
        self: &Arc<Self>,
        name: &str,
        opts: LogOptions,
    ) -> Result<(mpsc::Receiver<Bytes>, bool)> {
        let c = self.container(name)?;
        let (tty, id) = {
            let r = c.rec();
            (r.config["Tty"].as_bool().unwrap_or(false), r.id.clone())
        };
        let path = self.log_path(&id);
        let (tx, rx) = mpsc::channel(64);
        let rx_notice = c.notice.subscribe();
        let ctr = c.clone();
        tokio::task::spawn_blocking(move || {
            let _keep = rx_notice;
            let mut files: Vec<std::path::PathBuf> = Vec::new();
            for n in (1..100).rev() {
                let p = std::path::PathBuf::from(format!("{}.{n}", path.display()));
                if p.exists() {
                    files.push(p);
                }
            }
            files.push(path.clone());
            let mut out: Vec<Bytes> = Vec::new();
            for f in &files {
                let Ok(file) = std::fs::File::open(f) else {
                    continue;
                };
                for line in std::io::BufReader::new(file).lines().map_while(|l| l.ok()) {
                    if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                        if let Some(b) = entry_bytes(&e, &opts, tty) {
                            out.push(b);
                        }
                    }
                }
            }
            if let Some(t) = opts.tail {
                let skip = out.len().saturating_sub(t);
                out.drain(..skip);
            }
            for b in out {
                if tx.blocking_send(b).is_err() {
                    return;
                }
            }
            if !opts.follow {
                return;
            }
            // Follow: read what is appended to the current file until the container stops.
            let mut pos = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let mut partial = String::new();
            loop {
                let running = {
                    let r = ctr.rec();
                    r.state.running || r.state.restarting
                } && !ctr.notice.borrow().removed;
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if len < pos {
                    pos = 0; // rotated
                }
                if len > pos {
                    if let Ok(mut f) = std::fs::File::open(&path) {
                        let _ = f.seek(std::io::SeekFrom::Start(pos));
                        let mut r = std::io::BufReader::new(f);
                        let mut line = String::new();
                        while let Ok(n) = r.read_line(&mut line) {
                            if n == 0 {
                                break;
                            }
                            pos += n as u64;
                            partial.push_str(&line);
                            line.clear();
                            if partial.ends_with('\n') {
                                if let Ok(e) = serde_json::from_str::<Entry>(partial.trim_end()) {
                                    if let Some(b) = entry_bytes(&e, &opts, tty) {
                                        if tx.blocking_send(b).is_err() {
                                            return;
                                        }
                                    }
                                }
                                partial.clear();
                            }
                        }
                    }
                }
                if !running {
                    return;
                }
                if tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Ok((rx, tty))
    }
}
