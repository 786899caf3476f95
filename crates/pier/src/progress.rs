//! docker's `jsonmessage` renderer for JSON progress streams (pull, push, import, load): on a terminal,
//! one line per layer id redrawn in place with ANSI cursor moves (`ESC[nA`, `ESC[2K`, `ESC[nB`) and a
//! progress bar `[====>    ]  1.2MB/4.2MB 2s`; elsewhere each status line is printed once and
//! byte-progress updates are dropped. An `errorDetail`/`error` in the stream ends rendering with that
//! message as the error, as docker does. `aux` messages go to a callback (push digests, build ids).

use crate::error::CliError;
use crate::format::units::human_size;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Default, Deserialize, Clone)]
pub struct Progress {
    #[serde(default)]
    pub current: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub start: i64,
    #[serde(default, rename = "hidecounts")]
    pub hide_counts: bool,
    #[serde(default)]
    pub units: String,
}

#[derive(Debug, Default, Deserialize, Clone)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Default, Deserialize, Clone)]
pub struct JsonMessage {
    #[serde(default)]
    pub stream: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, rename = "progressDetail")]
    pub progress: Option<Progress>,
    #[serde(default, rename = "progress")]
    pub progress_message: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub time: i64,
    #[serde(default, rename = "timeNano")]
    pub time_nano: i64,
    #[serde(default, rename = "errorDetail")]
    pub error: Option<ErrorDetail>,
    #[serde(default, rename = "error")]
    pub error_message: String,
    #[serde(default)]
    pub aux: Option<serde_json::Value>,
}

impl Progress {
    /// `JSONProgress.String()` for a terminal `width` at time `now` (Unix seconds, fractional).
    pub fn render(&self, width: usize, now: f64) -> String {
        if self.current <= 0 && self.total <= 0 {
            return String::new();
        }
        if self.total <= 0 {
            return if self.units.is_empty() {
                format!("{:>8}", human_size(self.current as f64))
            } else {
                format!("{} {}", self.current, self.units)
            };
        }
        let mut percentage = ((self.current as f64 / self.total as f64 * 100.0) as i64) / 2;
        if percentage > 50 {
            percentage = 50;
        }
        let mut pb = String::new();
        if width > 110 {
            let spaces = (50 - percentage).max(0) as usize;
            pb = format!(
                "[{}>{}] ",
                "=".repeat(percentage.max(0) as usize),
                " ".repeat(spaces)
            );
        }
        let numbers = if self.hide_counts {
            String::new()
        } else if self.units.is_empty() {
            let current = human_size(self.current as f64);
            if self.current > self.total {
                format!("{current:>8}")
            } else {
                format!("{current:>8}/{}", human_size(self.total as f64))
            }
        } else if self.current > self.total {
            format!("{} {}", self.current, self.units)
        } else {
            format!("{}/{} {}", self.current, self.total, self.units)
        };
        let mut left = String::new();
        if width > 50 && self.current > 0 && self.start > 0 && percentage < 50 {
            let from_start = (now - self.start as f64).max(0.0);
            let per_entry = from_start / self.current as f64;
            let remaining = ((self.total - self.current) as f64 * per_entry).round() as i64;
            left = format!(" {}", go_duration(remaining));
        }
        format!("{pb}{numbers}{left}")
    }
}

/// Go's `time.Duration.String()` for whole seconds: "0s", "45s", "1m5s", "2h0m3s".
pub fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let (neg, s) = (secs < 0, secs.unsigned_abs());
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    let body = if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's RFC3339NanoFixed in UTC-or-local as docker prints event times.
fn fixed_time(nanos: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local
        .timestamp_opt(
            nanos.div_euclid(1_000_000_000),
            nanos.rem_euclid(1_000_000_000) as u32,
        )
        .single()
    {
        Some(t) => {
            let s = t.format("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string();
            s.replace("+00:00", "Z")
        }
        None => String::new(),
    }
}

/// Streams of messages rendered to a writer, keeping the per-id line positions between messages.
pub struct Renderer<W: Write> {
    out: W,
    terminal: bool,
    width: usize,
    ids: HashMap<String, usize>,
    now: Box<dyn Fn() -> f64>,
}

impl<W: Write> Renderer<W> {
    pub fn new(out: W, terminal: bool, width: usize) -> Self {
        Renderer {
            out,
            terminal,
            width,
            ids: HashMap::new(),
            now: Box::new(|| chrono::Utc::now().timestamp_millis() as f64 / 1000.0),
        }
    }

    /// Fix the clock (tests).
    #[cfg(test)]
    pub fn with_clock(mut self, now: f64) -> Self {
        self.now = Box::new(move || now);
        self
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Render one message (`DisplayJSONMessagesStream`'s loop body). Returns the stream's error, if
    /// this message carries one.
    pub fn message(
        &mut self,
        jm: &JsonMessage,
        aux: &mut dyn FnMut(&serde_json::Value),
    ) -> Result<(), CliError> {
        if let Some(a) = &jm.aux {
            aux(a);
            return Ok(());
        }
        let mut diff = 0usize;
        if !jm.id.is_empty() && (jm.progress.is_some() || !jm.progress_message.is_empty()) {
            let line = match self.ids.get(&jm.id) {
                Some(l) => *l,
                None => {
                    let l = self.ids.len();
                    self.ids.insert(jm.id.clone(), l);
                    if self.terminal {
                        self.w("\n");
                    }
                    l
                }
            };
            diff = self.ids.len() - line;
            if self.terminal && diff > 0 {
                self.w(&format!("\x1b[{diff}A"));
            }
        } else {
            self.ids.clear();
        }
        let r = self.display(jm);
        if !jm.id.is_empty() && self.terminal && diff > 0 {
            self.w(&format!("\x1b[{diff}B"));
        }
        let _ = self.out.flush();
        r
    }

    fn w(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    fn display(&mut self, jm: &JsonMessage) -> Result<(), CliError> {
        if let Some(e) = &jm.error {
            return Err(CliError::Stream(e.message.clone()));
        }
        if !jm.error_message.is_empty() && jm.error.is_none() {
            // A bare "error" without errorDetail: docker's decoder leaves Error nil and prints status.
        }
        let now = (self.now)();
        let mut endl = "";
        if self.terminal && jm.stream.is_empty() && jm.progress.is_some() {
            self.w("\x1b[2K\r");
            endl = "\r";
        } else if let Some(p) = &jm.progress {
            if !p.render(self.width, now).is_empty() {
                return Ok(());
            }
        }
        if jm.time_nano != 0 {
            let t = fixed_time(jm.time_nano);
            self.w(&format!("{t} "));
        } else if jm.time != 0 {
            let t = fixed_time(jm.time * 1_000_000_000);
            self.w(&format!("{t} "));
        }
        if !jm.id.is_empty() {
            self.w(&format!("{}: ", jm.id));
        }
        if !jm.from.is_empty() {
            self.w(&format!("(from {}) ", jm.from));
        }
        let line = match &jm.progress {
            Some(p) if self.terminal => {
                format!("{} {}{}", jm.status, p.render(self.width, now), endl)
            }
            _ if !jm.progress_message.is_empty() => {
                format!("{} {}{}", jm.status, jm.progress_message, endl)
            }
            _ if !jm.stream.is_empty() => format!("{}{}", jm.stream, endl),
            _ => format!("{}{}\n", jm.status, endl),
        };
        self.w(&line);
        Ok(())
    }
}

/// Incremental splitter of a body into JSON messages (docker decodes a stream of concatenated
/// values, with or without newlines between them).
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<JsonMessage>, CliError> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut consumed = 0;
        {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<JsonMessage>();
            loop {
                match it.next() {
                    Some(Ok(m)) => {
                        out.push(m);
                        consumed = it.byte_offset();
                    }
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(e)) => return Err(CliError::Protocol(e.to_string())),
                    None => {
                        consumed = self.buf.len();
                        break;
                    }
                }
            }
        }
        self.buf.drain(..consumed);
        Ok(out)
    }

    /// What is left at the end of the body: whitespace, or an error.
    pub fn finish(&self) -> Result<(), CliError> {
        if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
            Ok(())
        } else {
            Err(CliError::Protocol("unexpected EOF".into()))
        }
    }
}

/// Terminal width of stdout, or docker's 200 when it has none.
pub fn stdout_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .map(|w| w.ws_col as usize)
        .ok()
        .filter(|w| *w > 0)
        .unwrap_or(200)
}

/// Render a daemon's JSON progress response to stdout (docker's `jsonstream.Display`); with `quiet`
/// the stream is consumed and only errors surface.
pub async fn render_response(
    resp: http::Response<hyper::body::Incoming>,
    quiet: bool,
) -> Result<(), CliError> {
    use http_body_util::BodyExt;
    use std::io::IsTerminal;
    let terminal = !quiet && std::io::stdout().is_terminal();
    let width = if terminal { stdout_width() } else { 200 };
    let out: Box<dyn Write> = if quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stdout())
    };
    let mut r = Renderer::new(out, terminal, width);
    let mut dec = Decoder::default();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| CliError::Protocol(format!("error reading response: {e}")))?;
        if let Ok(data) = frame.into_data() {
            for m in dec.push(&data)? {
                r.message(&m, &mut |_| {})?;
            }
        }
    }
    dec.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pull stream as dockerd 20.10 sent it for `127.0.0.1:5055/test/multi:v1` (two layers, one of
    /// them already present), abridged.
    const PULL: &str = r#"{"status":"Pulling from test/multi","id":"v1"}
{"status":"Already exists","progressDetail":{},"id":"57b77e24cc41"}
{"status":"Pulling fs layer","progressDetail":{},"id":"5909dfe7445b"}
{"status":"Downloading","progressDetail":{"current":1048576,"total":8390000},"progress":"[=====\u003e      ]  1.049MB/8.39MB","id":"5909dfe7445b"}
{"status":"Verifying Checksum","progressDetail":{},"id":"5909dfe7445b"}
{"status":"Download complete","progressDetail":{},"id":"5909dfe7445b"}
{"status":"Extracting","progressDetail":{"current":8390000,"total":8390000},"progress":"[==\u003e]  8.39MB/8.39MB","id":"5909dfe7445b"}
{"status":"Pull complete","progressDetail":{},"id":"5909dfe7445b"}
{"status":"Digest: sha256:c51f9e2bcad464724c62c8a741a154172fca3ce8f836fad6b56e6f13ab65dc3c"}
{"status":"Status: Downloaded newer image for 127.0.0.1:5055/test/multi:v1"}
"#;

    fn render(terminal: bool, width: usize) -> (String, Result<(), CliError>) {
        let mut r = Renderer::new(Vec::new(), terminal, width).with_clock(0.0);
        let mut d = Decoder::default();
        let mut res = Ok(());
        for m in d.push(PULL.as_bytes()).unwrap() {
            if let Err(e) = r.message(&m, &mut |_| {}) {
                res = Err(e);
                break;
            }
        }
        (String::from_utf8(r.into_inner()).unwrap(), res)
    }

    #[test]
    fn non_terminal_prints_each_status_once() {
        let (out, res) = render(false, 200);
        res.unwrap();
        assert_eq!(
            out,
            "v1: Pulling from test/multi\n57b77e24cc41: Already exists\n5909dfe7445b: Pulling fs layer\n\
             5909dfe7445b: Verifying Checksum\n5909dfe7445b: Download complete\n5909dfe7445b: Pull complete\n\
             Digest: sha256:c51f9e2bcad464724c62c8a741a154172fca3ce8f836fad6b56e6f13ab65dc3c\n\
             Status: Downloaded newer image for 127.0.0.1:5055/test/multi:v1\n"
        );
    }

    #[test]
    fn terminal_redraws_lines_in_place() {
        let (out, res) = render(true, 120);
        res.unwrap();
        let expected = concat!(
            "v1: Pulling from test/multi\n",
            "\n\x1b[1A\x1b[2K\r57b77e24cc41: Already exists \r\x1b[1B",
            "\n\x1b[1A\x1b[2K\r5909dfe7445b: Pulling fs layer \r\x1b[1B",
            "\x1b[1A\x1b[2K\r5909dfe7445b: Downloading [======>                                            ]  1.049MB/8.39MB\r\x1b[1B",
            "\x1b[1A\x1b[2K\r5909dfe7445b: Verifying Checksum \r\x1b[1B",
            "\x1b[1A\x1b[2K\r5909dfe7445b: Download complete \r\x1b[1B",
            "\x1b[1A\x1b[2K\r5909dfe7445b: Extracting [==================================================>]   8.39MB/8.39MB\r\x1b[1B",
            "\x1b[1A\x1b[2K\r5909dfe7445b: Pull complete \r\x1b[1B",
            "Digest: sha256:c51f9e2bcad464724c62c8a741a154172fca3ce8f836fad6b56e6f13ab65dc3c\n",
            "Status: Downloaded newer image for 127.0.0.1:5055/test/multi:v1\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn stream_error_is_returned() {
        let mut r = Renderer::new(Vec::new(), false, 200);
        let mut d = Decoder::default();
        let msgs = d
            .push(br#"{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}"#)
            .unwrap();
        let e = r.message(&msgs[0], &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "manifest unknown");
    }

    #[test]
    fn decoder_handles_split_chunks() {
        let mut d = Decoder::default();
        assert!(d.push(br#"{"status":"a"}{"sta"#).unwrap().len() == 1);
        let m = d.push(b"tus\":\"b\"}\r\n").unwrap();
        assert_eq!(m[0].status, "b");
        d.finish().unwrap();
    }

    #[test]
    fn progress_bar_and_counts() {
        let p = Progress {
            current: 1_048_576,
            total: 8_390_000,
            start: 0,
            ..Default::default()
        };
        assert_eq!(p.render(80, 0.0), " 1.049MB/8.39MB");
        let p = Progress {
            current: 500,
            total: 1000,
            start: 100,
            ..Default::default()
        };
        assert_eq!(
            p.render(200, 110.0),
            "[=========================>                         ]     500B/1kB 10s"
        );
        assert_eq!(go_duration(65), "1m5s");
    }
}
