//! The image service: pull, import, list, inspect, history, tag, delete, prune — one file per
//! verb. Images are recorded in the store (config, layers by chain ID, names); their blobs are in
//! the content store and their unpacked layers in the snapshots. This module holds what the
//! verbs share: the parsed image configuration and docker's name resolution
//! ([`Engine::resolve_image`]).

pub mod changes;
pub mod delete;
pub mod history;
pub mod import;
pub mod inspect;
pub mod list;
pub mod prune;
pub mod pull;
pub mod tag;

use pier_api::models::image::ImageConfig;
use pier_image::{parse_normalized, Digest, Reference};
use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Result};
use crate::store::{ImageRecord, RefKind, RefRecord};

/// An image configuration blob (OCI image config with docker's extensions), as far as pier
/// reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ImageConfig>,
    #[serde(default)]
    pub rootfs: RootFsFile,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootFsFile {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFsFile {
    fn default() -> Self {
        RootFsFile {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfigFile {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfigFile> {
        serde_json::from_slice(bytes)
            .map_err(|e| EngineError::InvalidParameter(format!("invalid image config: {e}")))
    }

    /// Unix seconds of `created` (0 when absent or unparsable).
    pub fn created_unix(&self) -> i64 {
        self.created
            .as_deref()
            .and_then(super::time::parse)
            .map_or(0, |t| t.timestamp())
    }

    pub fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.config.as_ref().and_then(|c| c.labels.as_ref())
    }
}

/// An image loaded from the store with its parsed configuration.
pub struct LoadedImage {
    pub record: ImageRecord,
    pub config: ImageConfigFile,
}

/// The name docker prints for a reference in "No such image" and "Untagged" lines.
pub(crate) fn familiar(full: &str) -> String {
    parse_normalized(full)
        .map(|r| r.familiar_string())
        .unwrap_or_else(|_| full.to_string())
}

/// A reference to a tag as the store keeps it.
pub(crate) fn tag_record(r: &Reference, image_id: &str) -> Option<RefRecord> {
    Some(RefRecord {
        name: r.repository().with_tag(r.tag()?).ok()?.to_string(),
        repo: r.name(),
        kind: RefKind::Tag,
        value: r.tag()?.to_string(),
        image_id: image_id.to_string(),
    })
}

/// A reference to a digest as the store keeps it.
pub(crate) fn digest_record(r: &Reference, digest: &Digest, image_id: &str) -> RefRecord {
    RefRecord {
        name: r.repository().with_digest(digest.clone()).to_string(),
        repo: r.name(),
        kind: RefKind::Digest,
        value: digest.to_string(),
        image_id: image_id.to_string(),
    }
}

fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Engine {
    /// docker's `GetImage`: a full ID (`sha256:…` or 64 hex), a name (`busybox`, `busybox:1`,
    /// `host:5000/x@sha256:…`), or a unique ID prefix. Names are looked up before ID prefixes.
    pub fn resolve_image(&self, name: &str) -> Result<String> {
        if is_full_id(name) {
            let id = format!("sha256:{name}");
            return match self.store.image(&id)? {
                Some(_) => Ok(id),
                None => Err(EngineError::NoSuchImage(id)),
            };
        }
        let named = parse_normalized(name)?;
        let lookup = match named.digest() {
            Some(d) => named.repository().with_digest(d.clone()),
            None => named.with_default_tag(),
        };
        if let Some(id) = self.store.resolve_ref(&lookup.to_string())? {
            return Ok(id);
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let ids = self
                .store
                .image_ids_with_prefix(&prefix.to_ascii_lowercase())?;
            if ids.len() == 1 {
                return Ok(ids.into_iter().next().expect("one id"));
            }
        }
        Err(EngineError::NoSuchImage(lookup.familiar_string()))
    }

    /// Loads an image by ID.
    pub(crate) fn load_image(&self, id: &str) -> Result<LoadedImage> {
        let record = self
            .store
            .image(id)?
            .ok_or_else(|| EngineError::NoSuchImage(id.to_string()))?;
        let config = ImageConfigFile::parse(record.config.as_bytes())?;
        Ok(LoadedImage { record, config })
    }

    /// Publishes an image event; the image's labels join the attributes, as dockerd's.
    pub(crate) fn image_event(&self, action: &str, id: &str, name: &str) {
        let mut attributes = std::collections::BTreeMap::new();
        if let Ok(Some(record)) = self.store.image(id) {
            if let Ok(cfg) = ImageConfigFile::parse(record.config.as_bytes()) {
                if let Some(labels) = cfg.labels() {
                    attributes.extend(labels.clone());
                }
            }
        }
        attributes.insert("name".to_string(), name.to_string());
        self.events.publish("image", action, id, attributes);
    }

    /// The familiar names of an image: (tags, digests), each sorted as docker sorts them.
    pub(crate) fn familiar_refs(&self, id: &str) -> Result<(Vec<String>, Vec<String>)> {
        let mut tags = Vec::new();
        let mut digests = Vec::new();
        for r in self.store.refs_of(id)? {
            match r.kind {
                RefKind::Tag => tags.push(familiar(&r.name)),
                RefKind::Digest => digests.push(familiar(&r.name)),
            }
        }
        tags.sort();
        digests.sort();
        Ok((tags, digests))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::tests::engine;
    use crate::store::{LayerRecord, NewImage};

    /// Records an image (no blobs on disk) with the given config and names.
    pub(crate) fn add_image(e: &Engine, config: &str, names: &[&str]) -> String {
        let id = Digest::sha256(config.as_bytes()).to_string();
        let cfg = ImageConfigFile::parse(config.as_bytes()).unwrap();
        let chains = pier_image::chain_ids(&cfg.rootfs.diff_ids);
        let new = NewImage {
            image: ImageRecord {
                id: id.clone(),
                config: config.to_string(),
                manifest_digest: None,
                size: 100,
                parent: String::new(),
                created: cfg.created_unix(),
                last_tag_time: None,
                added_at: 0,
            },
            layers: cfg
                .rootfs
                .diff_ids
                .iter()
                .zip(chains)
                .map(|(d, c)| LayerRecord {
                    diff_id: d.to_string(),
                    chain_id: c.to_string(),
                    size: 50,
                    blob_digest: None,
                    blob_size: None,
                    media_type: None,
                })
                .collect(),
        };
        let mut refs = Vec::new();
        for n in names {
            let r = parse_normalized(n).unwrap();
            match r.digest() {
                Some(d) => refs.push(digest_record(&r, d, &id)),
                None => refs.push(tag_record(&r.with_default_tag(), &id).unwrap()),
            }
        }
        e.store.put_image(&new, &refs).unwrap();
        id
    }

    pub(crate) fn config(created: &str, diff: &str, labels: &str) -> String {
        let diff = Digest::sha256(diff.as_bytes());
        format!(
            r#"{{"architecture":"amd64","os":"linux","created":"{created}","config":{{"Cmd":["sh"],"Labels":{labels}}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}},"history":[{{"created":"{created}","created_by":"ADD x /"}}]}}"#
        )
    }

    #[test]
    fn resolves_names_ids_and_prefixes_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = add_image(
            &e,
            &config("2024-01-01T00:00:00Z", "a", "null"),
            &["busybox", "127.0.0.1:5000/x/y:1"],
        );
        let hex = id.strip_prefix("sha256:").unwrap();
        assert_eq!(e.resolve_image("busybox").unwrap(), id);
        assert_eq!(e.resolve_image("busybox:latest").unwrap(), id);
        assert_eq!(e.resolve_image("docker.io/library/busybox").unwrap(), id);
        assert_eq!(e.resolve_image("127.0.0.1:5000/x/y:1").unwrap(), id);
        assert_eq!(e.resolve_image(&id).unwrap(), id);
        assert_eq!(e.resolve_image(hex).unwrap(), id);
        assert_eq!(e.resolve_image(&hex[..12]).unwrap(), id);
        assert_eq!(
            e.resolve_image(&format!("sha256:{}", &hex[..8])).unwrap(),
            id
        );

        let err = |n: &str| e.resolve_image(n).unwrap_err().to_string();
        assert_eq!(err("nope"), "No such image: nope:latest");
        assert_eq!(err("busybox:2"), "No such image: busybox:2");
        assert_eq!(
            err("127.0.0.1:5000/x/y"),
            "No such image: 127.0.0.1:5000/x/y:latest"
        );
        assert!(err("Busybox").contains("must be lowercase"));
        assert!(matches!(
            e.resolve_image("Busybox").unwrap_err().kind(),
            pier_api::ErrorKind::InvalidParameter
        ));
        let missing = "0".repeat(64);
        assert_eq!(err(&missing), format!("No such image: sha256:{missing}"));
    }

    #[test]
    fn ambiguous_prefix_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        // Find two configs whose ids share a first hex digit.
        let mut ids: Vec<String> = Vec::new();
        let mut i = 0;
        while ids.len() < 2 {
            let c = config("2024-01-01T00:00:00Z", &format!("l{i}"), "null");
            let id = Digest::sha256(c.as_bytes()).to_string();
            if ids.is_empty() || id[7..8] == ids[0][7..8] {
                add_image(&e, &c, &[]);
                ids.push(id);
            }
            i += 1;
        }
        assert!(e.resolve_image(&ids[0][7..8]).is_err());
        assert_eq!(e.resolve_image(&ids[0][7..20]).unwrap(), ids[0]);
    }
}
