//! Detach keys, as dockerd applies them to a client attached with a tty: the client's stdin is
//! watched for the sequence (`detachKeys` of attach, `DetachKeys` of an exec; default
//! ctrl-p,ctrl-q); when it arrives the attach ends and the container keeps running. As
//! dockerd's escape proxy, a key only counts when it arrives alone (one byte per read, as a
//! keystroke does), so pasted or piped data that happens to contain the bytes passes through;
//! a partial sequence followed by anything else is passed on whole.

use crate::engine::{EngineError, Result};

/// ctrl-p, ctrl-q.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

/// docker's key list (`ctrl-a,x`, `ctrl-@`, `ctrl-[`, `DEL`, single characters) → bytes;
/// empty → [`DEFAULT`]; anything else is dockerd's 400.
pub fn parse(keys: &str) -> Result<Vec<u8>> {
    if keys.is_empty() {
        return Ok(DEFAULT.to_vec());
    }
    let mut out = Vec::new();
    for k in keys.split(',') {
        let b = k.as_bytes();
        let code = match (b.len(), k.strip_prefix("ctrl-")) {
            (1, _) => Some(b[0]),
            (_, Some(c)) if c.len() == 1 => match c.as_bytes()[0] {
                b'@' => Some(0),
                x @ b'a'..=b'z' => Some(x - b'a' + 1),
                x @ b'['..=b'_' => Some(x - b'[' + 27),
                _ => None,
            },
            _ if k == "DEL" => Some(127),
            _ => None,
        };
        match code {
            Some(c) => out.push(c),
            None => {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid detach keys ({keys}) provided"
                )))
            }
        }
    }
    Ok(out)
}

/// Watches a client's stdin for the sequence.
#[derive(Debug)]
pub struct Escape {
    keys: Vec<u8>,
    matched: usize,
}

impl Escape {
    pub fn new(keys: Vec<u8>) -> Escape {
        Escape { keys, matched: 0 }
    }

    /// One read of the client: appends what goes on to the container to `out`; true when the
    /// sequence completed (the read's bytes are then swallowed).
    pub fn feed(&mut self, read: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(read);
            return false;
        }
        if read.len() == 1 && read[0] == self.keys[self.matched] {
            self.matched += 1;
            if self.matched == self.keys.len() {
                self.matched = 0;
                return true;
            }
            return false;
        }
        out.extend_from_slice(&self.keys[..self.matched]);
        self.matched = 0;
        out.extend_from_slice(read);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_key_lists() {
        assert_eq!(parse("").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse("ctrl-@,ctrl-[,ctrl-_,DEL").unwrap(), [0, 27, 31, 127]);
        assert_eq!(
            parse("ctrl-foo").unwrap_err().to_string(),
            "Invalid detach keys (ctrl-foo) provided"
        );
        assert!(parse("ctrl-A").is_err());
        assert!(parse("a,,b").is_err());
    }

    #[test]
    fn detaches_on_keystrokes_only() {
        let mut e = Escape::new(vec![1, b'x']);
        let mut out = Vec::new();
        assert!(!e.feed(b"ls\n", &mut out));
        assert!(!e.feed(&[1], &mut out));
        assert_eq!(out, b"ls\n");
        // Not the sequence: the held key goes on with what followed.
        assert!(!e.feed(b"y", &mut out));
        assert_eq!(out, b"ls\n\x01y");
        out.clear();
        // Inside a longer read (a paste) it is data.
        assert!(!e.feed(b"a\x01xb", &mut out));
        assert_eq!(out, b"a\x01xb");
        out.clear();
        assert!(!e.feed(&[1], &mut out));
        assert!(e.feed(b"x", &mut out));
        assert!(out.is_empty());
    }
}
