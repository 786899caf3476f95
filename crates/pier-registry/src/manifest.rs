//! Manifest media types and the parts of manifests and indexes the client reads.
//!
//! Parsing is deliberately partial and strict where it matters: an image manifest must have a
//! config descriptor and a layer list whose digests parse; an index must have a manifest list.
//! The raw bytes are what count (the digest is over them), so nothing is re-serialized here.

use serde::{Deserialize, Serialize};

use pier_image::digest::Digest;

use crate::platform::Platform;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The Accept header for manifest requests: the four kinds we understand, and schema 1 last
/// so that a schema-1-only image gets a clear "not supported" rather than "not found".
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1";

/// A content descriptor: what a manifest says about a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: Vec::new(),
        }
    }
}

/// What kind of document some manifest bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Index,
    Image,
    Schema1,
}

/// Classify by media type (header first, then the document's own `mediaType`, then its shape).
pub fn kind_of(header_media_type: Option<&str>, bytes: &[u8]) -> Result<(Kind, String), String> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(rename = "schemaVersion", default)]
        schema_version: Option<i64>,
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
        #[serde(default)]
        config: Option<serde_json::Value>,
    }
    let peek: Peek = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let header = header_media_type
        .map(|m| m.split(';').next().unwrap_or("").trim().to_string())
        .filter(|m| !m.is_empty());
    let shape = match (&peek.manifests, &peek.config) {
        (Some(_), _) => Some(OCI_INDEX.to_string()),
        (None, Some(_)) => Some(OCI_MANIFEST.to_string()),
        _ if peek.schema_version == Some(1) => Some(DOCKER_SCHEMA1.to_string()),
        _ => None,
    };
    let known = |mt: &str| match mt {
        OCI_INDEX | DOCKER_LIST => Some(Kind::Index),
        OCI_MANIFEST | DOCKER_MANIFEST => Some(Kind::Image),
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Some(Kind::Schema1),
        _ => None,
    };
    // The Content-Type decides when it names a manifest kind; a generic one (application/json,
    // octet-stream from a static file server) defers to the document's own mediaType, then to its
    // shape.
    let candidates = [header.clone(), peek.media_type.clone(), shape];
    for mt in candidates.iter().flatten() {
        if let Some(kind) = known(mt) {
            return Ok((kind, mt.clone()));
        }
    }
    let shown = peek
        .media_type
        .or(header)
        .unwrap_or_else(|| "none".to_string());
    Err(format!("unsupported manifest media type: {shown}"))
}

/// An entry of an index / manifest list.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    pub manifests: Vec<IndexEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageManifest {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

pub fn parse_index(bytes: &[u8]) -> Result<Index, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

pub fn parse_image(bytes: &[u8]) -> Result<ImageManifest, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(kind_of(None, idx).unwrap(), (Kind::Index, OCI_INDEX.into()));
        assert_eq!(kind_of(Some(DOCKER_LIST), idx).unwrap().0, Kind::Index);
        let img = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{}}"#;
        assert_eq!(
            kind_of(Some("application/json"), img).unwrap(),
            (Kind::Image, DOCKER_MANIFEST.into())
        );
        let s1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert_eq!(kind_of(None, s1).unwrap().0, Kind::Schema1);
        assert_eq!(
            kind_of(Some(DOCKER_SCHEMA1_SIGNED), s1).unwrap().0,
            Kind::Schema1
        );
        assert!(kind_of(None, b"<html>").is_err());
        assert_eq!(
            kind_of(Some("application/x-foo"), b"{}").unwrap_err(),
            "unsupported manifest media type: application/x-foo"
        );
        let odd = br#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#;
        assert_eq!(
            kind_of(Some("application/octet-stream"), odd).unwrap_err(),
            "unsupported manifest media type: application/vnd.example+json"
        );
        // A generic Content-Type defers to the document.
        assert_eq!(
            kind_of(Some("application/octet-stream"), idx).unwrap().0,
            Kind::Index
        );
        // Headers that name a kind win over the shape.
        assert_eq!(kind_of(Some(OCI_MANIFEST), idx).unwrap().0, Kind::Image);
    }

    #[test]
    fn truncated_and_mutated_documents_do_not_panic() {
        let d = Digest::sha256(b"x");
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":3,"platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}}]}}"#
        );
        let bytes = doc.as_bytes();
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            let _ = kind_of(None, part);
            let _ = parse_index(part);
            let _ = parse_image(part);
            let mut flipped = bytes.to_vec();
            flipped[cut] ^= 0x20;
            let _ = kind_of(Some(OCI_INDEX), &flipped);
            let _ = parse_index(&flipped);
        }
        assert_eq!(parse_index(bytes).unwrap().manifests.len(), 1);
    }

    #[test]
    fn parses_image_manifest() {
        let d = Digest::sha256(b"x");
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{d}","size":1}},"layers":[{{"mediaType":"l","digest":"{d}","size":1}}]}}"#
        );
        let m = parse_image(m.as_bytes()).unwrap();
        assert_eq!(m.config.digest, d);
        assert_eq!(m.layers.len(), 1);
        assert!(parse_image(br#"{"config":{"digest":"sha256:zz","size":1}}"#).is_err());
    }
}
