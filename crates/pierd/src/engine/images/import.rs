//! `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image.
//! The body is spooled into the content store (kept as the layer's blob), hashed uncompressed
//! for its diff ID, unpacked once as a snapshot, and given a config built like dockerd's
//! (`Imported from -` unless a message is given; `changes` applied; the daemon's or the
//! requested platform), then recorded with its name (which sets `LastTagTime`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use pier_api::models::image::ImageConfig;
use pier_image::{parse_normalized, Compression, Digest, Reference, Sha256Writer};
use pier_registry::Platform;
use tokio::sync::mpsc;

use super::changes::apply_changes;
use super::{tag_record, HistoryEntry, ImageConfigFile, RootFsFile};
use crate::engine::{blocking, time, Engine, EngineError, Result};
use crate::store::{ImageRecord, LayerRecord, NewImage};

pub struct ImportRequest {
    /// `repo` of the request (may carry a tag), empty for an unnamed image.
    pub repo: String,
    pub tag: String,
    pub message: String,
    pub changes: Vec<String>,
    pub platform: Option<Platform>,
}

impl Engine {
    /// Imports the tarball `body`; returns the new image's ID.
    pub async fn import_image<S, E>(
        self: &Arc<Self>,
        req: ImportRequest,
        mut body: S,
    ) -> Result<String>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + Unpin + 'static,
        E: std::fmt::Display,
    {
        let name = import_reference(&req.repo, &req.tag)?;
        let mut config = ImageConfig::default();
        apply_changes(&mut config, &req.changes)?;
        let platform = req.platform.clone().unwrap_or_else(Platform::host);

        // Spool the body into the content store.
        let writer = self.content.ingest(None)?;
        let (tx, mut rx) = mpsc::channel::<Bytes>(64);
        let spool = tokio::task::spawn_blocking(move || -> Result<Digest> {
            let mut writer = writer;
            while let Some(b) = rx.blocking_recv() {
                writer
                    .write_all(&b)
                    .map_err(|e| EngineError::system("writing the imported tarball", e))?;
            }
            Ok(writer.commit()?)
        });
        let mut read_error = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(b) => {
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    read_error = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        let spooled = spool
            .await
            .map_err(|e| EngineError::system("import task", e))?;
        if let Some(e) = read_error {
            if let Ok(d) = &spooled {
                let _ = self.content.delete(d);
            }
            return Err(EngineError::InvalidParameter(format!(
                "reading the tarball: {e}"
            )));
        }
        let blob = spooled?;

        let e = self.clone();
        let blob2 = blob.clone();
        let unpacked = blocking(move || e.unpack_import(&blob2)).await;
        let (diff_id, size, compression) = match unpacked {
            Ok(v) => v,
            Err(err) => {
                let _g = self.image_lock.lock().await;
                if self.store.blob_users(blob.as_str())? == 0 {
                    let _ = self.content.delete(&blob);
                }
                return Err(err);
            }
        };

        let created = time::now_rfc3339_nano();
        let comment = if req.message.is_empty() {
            "Imported from -".to_string()
        } else {
            req.message.clone()
        };
        let file = ImageConfigFile {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            os_version: None,
            created: Some(created.clone()),
            author: None,
            comment: Some(comment.clone()),
            docker_version: None,
            config: Some(config),
            rootfs: RootFsFile {
                kind: "layers".into(),
                diff_ids: vec![diff_id.clone()],
            },
            history: vec![HistoryEntry {
                created: Some(created.clone()),
                comment: Some(comment),
                ..Default::default()
            }],
        };
        let config_bytes =
            serde_json::to_vec(&file).map_err(|e| EngineError::system("image config", e))?;
        let id = Digest::sha256(&config_bytes).to_string();
        let media_type = match compression {
            Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
            Compression::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Compression::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
        };
        let blob_size = self.content.size(&blob)? as i64;
        let new = NewImage {
            image: ImageRecord {
                id: id.clone(),
                config: String::from_utf8_lossy(&config_bytes).into_owned(),
                manifest_digest: None,
                size: size as i64,
                parent: String::new(),
                created: file.created_unix(),
                last_tag_time: name.as_ref().map(|_| created.clone()),
                added_at: chrono::Utc::now().timestamp(),
            },
            layers: vec![LayerRecord {
                diff_id: diff_id.to_string(),
                chain_id: diff_id.to_string(),
                size: size as i64,
                blob_digest: Some(blob.to_string()),
                blob_size: Some(blob_size),
                media_type: Some(media_type.to_string()),
            }],
        };
        let refs: Vec<_> = name.iter().filter_map(|r| tag_record(r, &id)).collect();
        let _g = self.image_lock.lock().await;
        let e = self.clone();
        blocking(move || {
            e.content.put(&config_bytes)?;
            e.store.put_image(&new, &refs)?;
            Ok(())
        })
        .await?;
        self.image_event("import", &id, &id);
        Ok(id)
    }

    /// Hashes the spooled tarball uncompressed (its diff ID) and unpacks it as a snapshot.
    fn unpack_import(&self, blob: &Digest) -> Result<(Digest, u64, Compression)> {
        let mut input = BufReader::new(self.content.open_blob(blob)?);
        let compression = Compression::detect(
            input
                .fill_buf()
                .map_err(|e| EngineError::system("reading the tarball", e))?,
        );
        let mut decoded: Box<dyn Read> = match compression {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(input)
                    .map_err(|e| EngineError::system("zstd", e))?,
            ),
        };
        let mut hasher = Sha256Writer::new(io::sink());
        io::copy(&mut decoded, &mut hasher).map_err(|e| {
            EngineError::InvalidParameter(format!("the tarball cannot be decompressed: {e}"))
        })?;
        let (_, diff_id, _) = hasher.finish();
        let applied = self
            .snapshots
            .unpack_layer(&diff_id, &diff_id, self.content.open_blob(blob)?)
            .map_err(|e| match e {
                pier_image::SnapshotError::Layer(l) => {
                    EngineError::InvalidParameter(format!("invalid tarball: {l}"))
                }
                other => other.into(),
            })?;
        Ok((diff_id, applied.size, compression))
    }
}

/// docker's import naming: `repo` (which may carry a tag) plus `tag`; a digest is refused.
fn import_reference(repo: &str, tag: &str) -> Result<Option<Reference>> {
    if repo.is_empty() {
        return Ok(None);
    }
    let r = parse_normalized(repo)?;
    if r.digest().is_some() {
        return Err(EngineError::InvalidParameter(
            "cannot import digest reference".into(),
        ));
    }
    Ok(Some(if tag.is_empty() {
        r.with_default_tag()
    } else {
        r.with_tag(tag)?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::engine;

    fn tarball() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let data = b"hello\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "etc/hello", &data[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn body(
        data: Vec<u8>,
    ) -> impl Stream<Item = std::result::Result<Bytes, String>> + Send + Unpin {
        futures::stream::iter(
            data.chunks(3)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        )
    }

    fn req(repo: &str, changes: &[&str]) -> ImportRequest {
        ImportRequest {
            repo: repo.into(),
            tag: String::new(),
            message: String::new(),
            changes: changes.iter().map(|s| s.to_string()).collect(),
            platform: None,
        }
    }

    #[tokio::test]
    async fn imports_plain_and_gzip_tarballs() {
        let dir = tempfile::tempdir().unwrap();
        let e = Arc::new(engine(dir.path()));
        let tar = tarball();
        let diff_id = Digest::sha256(&tar);
        let id = e
            .import_image(req("imported:1", &[r#"CMD ["sh"]"#]), body(tar.clone()))
            .await
            .unwrap();
        let v = e.inspect_image("imported:1").unwrap();
        assert_eq!(v.id, id);
        assert_eq!(v.repo_tags, vec!["imported:1"]);
        assert!(v.repo_digests.is_empty());
        assert_eq!(v.root_fs.layers, vec![diff_id.to_string()]);
        assert_eq!(v.config.image_config().cmd, Some(vec!["sh".to_string()]));
        assert_eq!(v.comment, "Imported from -");
        assert_eq!(v.os, "linux");
        assert_eq!(v.size, 6);
        assert_ne!(v.metadata.last_tag_time, time::ZERO);
        let layer = e.snapshots.layer_dir(&diff_id);
        assert_eq!(std::fs::read(layer.join("etc/hello")).unwrap(), b"hello\n");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let id2 = e
            .import_image(req("", &[]), body(gz.finish().unwrap()))
            .await
            .unwrap();
        let v2 = e.inspect_image(&id2).unwrap();
        assert_eq!(v2.root_fs.layers, vec![diff_id.to_string()]);
        assert!(v2.repo_tags.is_empty());
    }

    #[tokio::test]
    async fn bad_input_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = Arc::new(engine(dir.path()));
        let err = e
            .import_image(req("x", &["RUN true"]), body(tarball()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), pier_api::ErrorKind::InvalidParameter);
        let err = e
            .import_image(req("Bad", &[]), body(tarball()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), pier_api::ErrorKind::InvalidParameter);
        let mut garbage = vec![0x1f, 0x8b];
        garbage.extend_from_slice(b"not really gzip at all");
        let err = e
            .import_image(req("x", &[]), body(garbage))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), pier_api::ErrorKind::InvalidParameter, "{err}");
        assert!(e.content.list().unwrap().is_empty());
        assert_eq!(e.store.count_images().unwrap(), 0);
    }
}
