//! Content digests: `sha256:<64 lowercase hex>`, the only algorithm pier stores.
//!
//! Parsing follows go-digest (what docker uses), error words included: a string without a
//! non-empty algorithm and value is "invalid checksum digest format", an algorithm other than
//! sha256 is "unsupported digest algorithm", a sha256 value of the wrong length is "invalid
//! checksum digest length", and upper-case hex is rejected as a bad format. [`Sha256Writer`] and
//! [`Sha256Reader`] hash whatever passes through them, so a stream is verified while it is
//! written or read, never by a second pass.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// Why a string is not a digest (go-digest's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid checksum digest format")]
    InvalidFormat,
    #[error("invalid checksum digest length")]
    InvalidLength,
    #[error("unsupported digest algorithm")]
    Unsupported,
}

/// A sha256 content digest, kept as its canonical string `sha256:<hex>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

const PREFIX: &str = "sha256:";

impl Digest {
    /// The digest of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest::from_bytes(Sha256::digest(data).into())
    }

    /// The digest whose raw 32 bytes are `bytes`.
    pub fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(format!("{PREFIX}{}", hex::encode(bytes)))
    }

    /// A digest from its 64 lowercase hex characters (no algorithm prefix).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        validate_sha256_hex(hex)?;
        Ok(Digest(format!("{PREFIX}{hex}")))
    }

    /// Always "sha256".
    pub fn algorithm(&self) -> &str {
        "sha256"
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }

    /// The first 12 hex characters, as docker shows IDs.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    /// The full `sha256:<hex>` string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_sha256_hex(hex: &str) -> Result<(), DigestError> {
    if hex.len() != 64 {
        return Err(DigestError::InvalidLength);
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(DigestError::InvalidFormat);
    }
    Ok(())
}

/// go-digest's generic digest grammar, used to tell a malformed digest from one with an
/// algorithm we do not implement: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn matches_generic_grammar(s: &str) -> bool {
    let Some((alg, enc)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['.', '+', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    let enc_ok = !enc.is_empty()
        && enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
    alg_ok && enc_ok
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        let Some(i) = s.find(':') else {
            return Err(DigestError::InvalidFormat);
        };
        if i == 0 || i + 1 == s.len() {
            return Err(DigestError::InvalidFormat);
        }
        let (alg, hex) = (&s[..i], &s[i + 1..]);
        if alg != "sha256" {
            return Err(if matches_generic_grammar(s) {
                DigestError::Unsupported
            } else {
                DigestError::InvalidFormat
            });
        }
        validate_sha256_hex(hex)?;
        Ok(Digest(s.to_owned()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An `io::Write` adapter that hashes and counts every byte written through it.
pub struct Sha256Writer<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Sha256Writer<W> {
    pub fn new(inner: W) -> Self {
        Sha256Writer {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The inner writer, the digest of everything written, and its length.
    pub fn finish(self) -> (W, Digest, u64) {
        let digest = Digest::from_bytes(self.hasher.finalize().into());
        (self.inner, digest, self.written)
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An `io::Read` adapter that hashes and counts every byte read through it.
pub struct Sha256Reader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Sha256Reader<R> {
    pub fn new(inner: R) -> Self {
        Sha256Reader {
            inner,
            hasher: Sha256::new(),
            read: 0,
        }
    }

    /// Bytes read so far.
    pub fn read_so_far(&self) -> u64 {
        self.read
    }

    /// The inner reader, the digest of everything read, and its length.
    pub fn finish(self) -> (R, Digest, u64) {
        let digest = Digest::from_bytes(self.hasher.finalize().into());
        (self.inner, digest, self.read)
    }
}

impl<R: Read> Read for Sha256Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(Digest::sha256(b"").as_str(), EMPTY);
        assert_eq!(
            Digest::sha256(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let d = Digest::sha256(b"");
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.short(), "e3b0c44298fc");
    }

    #[test]
    fn parse_roundtrip_and_errors() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d, Digest::sha256(b""));
        assert_eq!(Digest::from_hex(d.hex()).unwrap(), d);
        let cases: &[(&str, DigestError)] = &[
            ("", DigestError::InvalidFormat),
            ("sha256", DigestError::InvalidFormat),
            (":abc", DigestError::InvalidFormat),
            ("sha256:", DigestError::InvalidFormat),
            ("sha256:abc", DigestError::InvalidLength),
            (
                &EMPTY.to_uppercase().replace("SHA256", "sha256"),
                DigestError::InvalidFormat,
            ),
            (
                &format!("sha256:{}", "g".repeat(64)),
                DigestError::InvalidFormat,
            ),
            (
                &format!("sha512:{}", "f".repeat(128)),
                DigestError::Unsupported,
            ),
            (
                &format!("invaliddigest:{}", "f".repeat(64)),
                DigestError::Unsupported,
            ),
            (
                &format!("Bad!:{}", "f".repeat(64)),
                DigestError::InvalidFormat,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                input.parse::<Digest>().unwrap_err(),
                *want,
                "input {input:?}"
            );
        }
        assert_eq!(
            DigestError::InvalidLength.to_string(),
            "invalid checksum digest length"
        );
    }

    #[test]
    fn serde_as_string() {
        let d = Digest::sha256(b"");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY}\""));
        let back: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }

    #[test]
    fn writer_and_reader_hash_what_passes() {
        let mut w = Sha256Writer::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (buf, d, n) = w.finish();
        assert_eq!((buf.as_slice(), n), (&b"abc"[..], 3));
        assert_eq!(d, Digest::sha256(b"abc"));

        let mut r = Sha256Reader::new(&b"abc"[..]);
        io::copy(&mut r, &mut io::sink()).unwrap();
        let (_, d2, n2) = r.finish();
        assert_eq!((d2, n2), (d, 3));
    }
}
