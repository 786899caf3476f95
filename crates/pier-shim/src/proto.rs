//! The socket protocol (docs/CONTRACTS.md): one request per connection, a JSON line; the reply is
//! a JSON line; `attach` and `exec` then turn the connection into the process's stream — docker's
//! 8-byte multiplexed frames without a terminal, raw bytes with one; bytes the client sends are
//! the process's stdin.

use oci_spec::runtime::Process;
use serde::Deserialize;

/// A request line.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Start,
    State,
    Kill {
        signal: i32,
        #[serde(default)]
        all: bool,
    },
    Pause,
    Resume,
    Resize {
        height: u16,
        width: u16,
        #[serde(default)]
        exec_id: Option<String>,
    },
    Wait,
    Attach {
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        stdout: bool,
        #[serde(default)]
        stderr: bool,
    },
    Exec {
        exec_id: String,
        process: Box<Process>,
        #[serde(default)]
        stdin: bool,
    },
    ExecWait {
        exec_id: String,
    },
    Delete,
}

/// Stream ids of docker's multiplexed frames.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// Append one multiplexed frame (`[stream, 0, 0, 0, len as u32 BE]` + payload).
pub fn frame(out: &mut Vec<u8>, stream: u8, data: &[u8]) {
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// The JSON line of an error reply.
pub fn error_line(msg: &str) -> Vec<u8> {
    line(&serde_json::json!({ "error": msg }))
}

/// A JSON value as a reply line.
pub fn line(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_vec(v).expect("serializable");
    s.push(b'\n');
    s
}

/// Exec ids name files of the `--runtime` binary path: a safe charset only.
pub fn valid_exec_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !id.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let r: Request = serde_json::from_str(r#"{"op":"kill","signal":15}"#).unwrap();
        assert!(matches!(
            r,
            Request::Kill {
                signal: 15,
                all: false
            }
        ));
        let r: Request =
            serde_json::from_str(r#"{"op":"attach","stdin":true,"stdout":true}"#).unwrap();
        assert!(matches!(
            r,
            Request::Attach {
                stdin: true,
                stdout: true,
                stderr: false
            }
        ));
        let r: Request = serde_json::from_str(
            r#"{"op":"exec","exec_id":"e1","process":{"args":["echo","x"],"cwd":"/","user":{"uid":0,"gid":0}},"stdin":false}"#,
        )
        .unwrap();
        match r {
            Request::Exec {
                exec_id, process, ..
            } => {
                assert_eq!(exec_id, "e1");
                assert_eq!(process.args().as_ref().unwrap()[0], "echo");
            }
            _ => panic!(),
        }
        assert!(serde_json::from_str::<Request>(r#"{"op":"nope"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"op":"resize","height":1}"#).is_err());
    }

    #[test]
    fn frames_and_ids() {
        let mut out = Vec::new();
        frame(&mut out, STDERR, b"hi");
        assert_eq!(out, vec![2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        assert!(valid_exec_id("abc-1_2.x"));
        assert!(!valid_exec_id("../x") && !valid_exec_id("") && !valid_exec_id("a/b"));
    }
}
