//! `docker image inspect`: the full inspect object, in dockerd 28.2's shape for API 1.50
//! (the API layer adapts `Config` for older versions). `GraphDriver` is overlay2's shape over
//! pier's snapshots: `UpperDir` is the top layer's directory, `LowerDir` the others, topmost
//! first.

use std::collections::BTreeMap;

use pier_api::models::image::{GraphDriver, ImageInspect, ImageMetadata, InspectConfig, RootFs};
use pier_image::Digest;

use super::super::time;
use crate::engine::{Engine, EngineError, Result};

impl Engine {
    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let id = self.resolve_image(name)?;
        let img = self.load_image(&id)?;
        let (repo_tags, repo_digests) = self.familiar_refs(&id)?;
        let layers = self.store.layers(&id)?;
        let dirs: Vec<std::path::PathBuf> = layers
            .iter()
            .map(|l| {
                l.chain_id
                    .parse::<Digest>()
                    .map(|c| self.snapshots.layer_dir(&c))
                    .map_err(|e| EngineError::system("stored chain id", e))
            })
            .collect::<Result<_>>()?;
        let mut data = BTreeMap::new();
        if let Some((top, lower)) = dirs.split_last() {
            let home = top.parent().unwrap_or(top);
            if !lower.is_empty() {
                let lower: Vec<String> = lower
                    .iter()
                    .rev()
                    .map(|p| p.display().to_string())
                    .collect();
                data.insert("LowerDir".to_string(), lower.join(":"));
            }
            data.insert(
                "MergedDir".to_string(),
                home.join("merged").display().to_string(),
            );
            data.insert("UpperDir".to_string(), top.display().to_string());
            data.insert(
                "WorkDir".to_string(),
                home.join("work").display().to_string(),
            );
        }
        let c = &img.config;
        let created = c.created.as_deref().map(|s| match time::parse(s) {
            Some(t) => time::rfc3339_nano(&t),
            None => s.to_string(),
        });
        Ok(ImageInspect {
            id: id.clone(),
            repo_tags,
            repo_digests,
            parent: img.record.parent.clone(),
            comment: c.comment.clone().unwrap_or_default(),
            created,
            docker_version: c.docker_version.clone().unwrap_or_default(),
            author: c.author.clone().unwrap_or_default(),
            config: InspectConfig::Current(c.config.clone().unwrap_or_default()),
            architecture: c.architecture.clone(),
            variant: c.variant.clone().unwrap_or_default(),
            os: c.os.clone(),
            os_version: c.os_version.clone().unwrap_or_default(),
            size: img.record.size,
            virtual_size: None,
            graph_driver: GraphDriver {
                data,
                name: "overlay2".into(),
            },
            root_fs: RootFs {
                kind: "layers".into(),
                layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
            },
            metadata: ImageMetadata {
                last_tag_time: img
                    .record
                    .last_tag_time
                    .clone()
                    .unwrap_or_else(|| time::ZERO.to_string()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{add_image, config};
    use crate::engine::tests::engine;

    #[test]
    fn inspect_has_docker_fields() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = add_image(
            &e,
            &config("2024-09-26T21:31:42.123400Z", "a", r#"{"a":"1"}"#),
            &[
                "busybox:1",
                "busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            ],
        );
        let v = serde_json::to_value(e.inspect_image("busybox:1").unwrap()).unwrap();
        assert_eq!(v["Id"], id.as_str());
        assert_eq!(v["RepoTags"], serde_json::json!(["busybox:1"]));
        assert_eq!(
            v["RepoDigests"][0],
            "busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111"
        );
        assert_eq!(v["Created"], "2024-09-26T21:31:42.1234Z");
        assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(v["Config"]["Labels"]["a"], "1");
        assert!(v["Config"].get("Hostname").is_none());
        assert_eq!(v["Parent"], "");
        assert_eq!(v["GraphDriver"]["Name"], "overlay2");
        assert!(v["GraphDriver"]["Data"]["UpperDir"]
            .as_str()
            .unwrap()
            .ends_with("/fs"));
        assert!(v["GraphDriver"]["Data"].get("LowerDir").is_none());
        assert_eq!(v["RootFS"]["Type"], "layers");
        assert_eq!(v["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
        assert!(e.inspect_image("nope").is_err());
    }
}
