//! `docker pull`: resolve the reference at the registry (errors here are plain HTTP errors), then
//! stream docker's progress messages while layers download — three at a time, each streamed at
//! once into the content store (digest verified on commit) and into the layer unpacker (diff ID
//! verified) — and finally record the image and its names in one store transaction.
//!
//! Messages follow dockerd's order and words: `Pulling from <repository path>` (id = tag or
//! digest); per layer (id = first 12 hex of the blob digest) `Already exists` or `Pulling fs layer`,
//! `Waiting`, `Downloading` (with progress), `Verifying Checksum`, `Download complete`,
//! `Extracting`, `Pull complete` (completions in layer order); then `Digest: …` and
//! `Status: Downloaded newer image for …` / `Status: Image is up to date for …`. When the image
//! is already stored, no layer lines are sent, as dockerd.
//!
//! A failed pull records nothing; layers and blobs it wrote that no image uses are removed.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use pier_api::progress::JsonMessage;
use pier_image::{chain_ids, Digest, Reference};
use pier_registry::{AuthConfig, Descriptor, Platform, Resolved};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::{digest_record, tag_record, ImageConfigFile};
use crate::engine::{blocking, Engine, EngineError, Result};
use crate::store::{ImageRecord, LayerRecord, NewImage};

/// Layers downloaded at the same time (dockerd's default max-concurrent-downloads).
const CONCURRENT_DOWNLOADS: usize = 3;
/// Minimum time between two `Downloading` lines of one layer.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

pub struct PullRequest {
    /// Normalized, with a tag or a digest.
    pub reference: Reference,
    pub platform: Option<Platform>,
    pub auth: AuthConfig,
}

/// The progress messages of a running operation; the last one is an error line if it failed.
pub type Progress = mpsc::Receiver<JsonMessage>;

/// The sending side of [`Progress`]. A client that went away does not stop the pull.
#[derive(Clone)]
pub(crate) struct Out(mpsc::Sender<JsonMessage>);

impl Out {
    pub(crate) async fn send(&self, m: JsonMessage) {
        let _ = self.0.send(m).await;
    }
}

pub(crate) fn progress_channel() -> (Out, Progress) {
    let (tx, rx) = mpsc::channel(256);
    (Out(tx), rx)
}

impl Engine {
    /// Resolves `req.reference` and starts the pull; resolution errors are returned, later
    /// errors end the progress stream.
    pub async fn pull(self: &Arc<Self>, req: PullRequest) -> Result<Progress> {
        let platform = req.platform.clone().unwrap_or_else(Platform::host);
        let resolved = self
            .registry
            .resolve(&req.reference, &platform, &req.auth)
            .await?;
        let (out, rx) = progress_channel();
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.pull_resolved(&req, resolved, &out).await {
                tracing::warn!(reference = %req.reference, error = %e, "pull failed");
                out.send(JsonMessage::error(e.to_string())).await;
            }
        });
        Ok(rx)
    }

    async fn pull_resolved(
        self: &Arc<Self>,
        req: &PullRequest,
        resolved: Resolved,
        out: &Out,
    ) -> Result<()> {
        let r = &req.reference;
        let tag_or_digest = match (r.tag(), r.digest()) {
            (Some(t), _) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "latest".to_string(),
        };
        out.send(JsonMessage::status_id(
            tag_or_digest,
            format!("Pulling from {}", r.path()),
        ))
        .await;

        let image_id = resolved.config.digest.to_string();
        let known = self.store.image(&image_id)?.is_some();
        let changed = if known {
            let e = self.clone();
            let (r, resolved) = (r.clone(), resolved.clone());
            let _g = self.image_lock.lock().await;
            blocking(move || e.record_names(&r, &resolved, None)).await?
        } else {
            let config_bytes = self
                .registry
                .fetch_blob_bytes(r, &resolved.config, &req.auth)
                .await?;
            let config = ImageConfigFile::parse(&config_bytes)?;
            if config.rootfs.diff_ids.len() != resolved.layers.len() {
                return Err(EngineError::System(format!(
                    "invalid image {}: its config lists {} layers, its manifest {}",
                    r.familiar_string(),
                    config.rootfs.diff_ids.len(),
                    resolved.layers.len()
                )));
            }
            let chains = chain_ids(&config.rootfs.diff_ids);
            let result = self
                .pull_layers(r, &resolved, &config, &chains, &req.auth, out)
                .await;
            let _g = self.image_lock.lock().await;
            let recorded = match result {
                Ok(layers) => {
                    let e = self.clone();
                    let (r, resolved) = (r.clone(), resolved.clone());
                    let new = NewImage {
                        image: ImageRecord {
                            id: image_id.clone(),
                            config: String::from_utf8_lossy(&config_bytes).into_owned(),
                            manifest_digest: Some(resolved.manifest_digest.to_string()),
                            size: layers.iter().map(|l| l.size).sum(),
                            parent: String::new(),
                            created: config.created_unix(),
                            last_tag_time: None,
                            added_at: chrono::Utc::now().timestamp(),
                        },
                        layers,
                    };
                    blocking(move || {
                        e.put_blob(&config_bytes, &resolved.config.digest)?;
                        e.record_names(&r, &resolved, Some(&new))
                    })
                    .await
                }
                Err(err) => Err(err),
            };
            match recorded {
                Ok(changed) => changed,
                Err(err) => {
                    let e = self.clone();
                    let mut touched: Vec<(Digest, Option<Digest>)> = chains
                        .iter()
                        .cloned()
                        .zip(resolved.layers.iter().map(|l| Some(l.digest.clone())))
                        .collect();
                    touched.push((resolved.config.digest.clone(), None));
                    if let Err(c) = blocking(move || e.drop_unused(&touched)).await {
                        tracing::warn!(error = %c, "cleaning up after a failed pull");
                    }
                    return Err(err);
                }
            }
        };

        let shown = r.familiar_string();
        self.events.publish(
            "image",
            "pull",
            &shown,
            std::collections::BTreeMap::from([("name".to_string(), shown.clone())]),
        );
        out.send(JsonMessage::status(format!("Digest: {}", resolved.digest)))
            .await;
        let status = if changed {
            "Downloaded newer image for"
        } else {
            "Image is up to date for"
        };
        out.send(JsonMessage::status(format!(
            "Status: {status} {}",
            r.familiar_string()
        )))
        .await;
        Ok(())
    }

    /// Stores `bytes` in the content store, checking they are `expected`.
    fn put_blob(&self, bytes: &[u8], expected: &Digest) -> Result<()> {
        let got = self.content.put(bytes)?;
        if &got != expected {
            return Err(EngineError::System(format!(
                "blob verification failed: expected {expected}, got {got}"
            )));
        }
        Ok(())
    }

    /// Stores the manifest (and index) blobs, then records `new` (if given) with the names of
    /// the pull; returns whether the name pulled now points somewhere new.
    fn record_names(
        &self,
        r: &Reference,
        resolved: &Resolved,
        new: Option<&NewImage>,
    ) -> Result<bool> {
        if let Some(new) = new {
            // A failed pull sharing a layer may have removed it after we found it present;
            // recording and that cleanup are serialized (image_lock), so checking here is enough.
            for l in &new.layers {
                let chain: Digest = l
                    .chain_id
                    .parse()
                    .map_err(|e| EngineError::system("chain id", e))?;
                if !self.snapshots.has_layer(&chain) {
                    return Err(EngineError::System(format!(
                        "layer {} was removed while this pull ran (a concurrent pull failed); pull again",
                        l.chain_id
                    )));
                }
            }
        }
        self.put_blob(&resolved.manifest, &resolved.manifest_digest)?;
        if let Some((_, index)) = &resolved.index {
            self.put_blob(index, &resolved.digest)?;
        }
        let id = resolved.config.digest.to_string();
        let mut refs = Vec::new();
        if let Some(t) = tag_record(r, &id) {
            refs.push(t);
        }
        refs.push(digest_record(r, &resolved.digest, &id));
        let changed = match new {
            Some(new) => self.store.put_image(new, &refs)?,
            None => refs
                .iter()
                .map(|rf| {
                    self.store
                        .set_ref(rf, None)
                        .map(|prev| prev.as_deref() != Some(id.as_str()))
                })
                .collect::<std::result::Result<Vec<bool>, _>>()?,
        };
        // The name the user pulled: the tag if there was one, else the digest.
        Ok(changed.first().copied().unwrap_or(false))
    }

    /// Removes what a failed pull wrote that no image uses: for each (chain, blob) the unpacked
    /// layer and the blob; a config blob comes as (config digest, None) and is removed unless
    /// an image has that ID.
    fn drop_unused(&self, touched: &[(Digest, Option<Digest>)]) -> Result<()> {
        for (chain_or_config, blob) in touched {
            match blob {
                Some(blob) => {
                    let chain = chain_or_config;
                    if self.store.chain_users(chain.as_str())? == 0
                        && self.snapshots.has_layer(chain)
                    {
                        self.snapshots.remove_layer(chain)?;
                    }
                    if self.store.blob_users(blob.as_str())? == 0 && self.content.exists(blob) {
                        self.content.delete(blob)?;
                    }
                }
                None => {
                    let config = chain_or_config;
                    if self.store.image(config.as_str())?.is_none() && self.content.exists(config) {
                        self.content.delete(config)?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn pull_layers(
        self: &Arc<Self>,
        r: &Reference,
        resolved: &Resolved,
        config: &ImageConfigFile,
        chains: &[Digest],
        auth: &AuthConfig,
        out: &Out,
    ) -> Result<Vec<LayerRecord>> {
        let sem = Arc::new(Semaphore::new(CONCURRENT_DOWNLOADS));
        let mut prev_done: Option<oneshot::Receiver<()>> = None;
        let mut tasks = FuturesUnordered::new();
        for (i, desc) in resolved.layers.iter().enumerate() {
            let id = desc.digest.short().to_string();
            let present = self.snapshots.has_layer(&chains[i]);
            let mut permit = None;
            if present {
                out.send(JsonMessage::action(&id, "Already exists")).await;
            } else {
                out.send(JsonMessage::action(&id, "Pulling fs layer")).await;
                match sem.clone().try_acquire_owned() {
                    Ok(p) => permit = Some(p),
                    Err(_) => out.send(JsonMessage::action(&id, "Waiting")).await,
                }
            }
            let (done_tx, done_rx) = oneshot::channel();
            let task = LayerPull {
                engine: self.clone(),
                reference: r.clone(),
                desc: desc.clone(),
                chain: chains[i].clone(),
                diff_id: config.rootfs.diff_ids[i].clone(),
                auth: auth.clone(),
                out: out.clone(),
                present,
                id,
            };
            let sem = sem.clone();
            let wait_prev = prev_done.replace(done_rx);
            let handle = tokio::spawn(task.run(sem, permit, wait_prev, done_tx));
            tasks.push(async move { (i, handle.await) });
        }
        let mut layers: Vec<Option<LayerRecord>> = vec![None; resolved.layers.len()];
        let mut handles_failed = None;
        while let Some((i, joined)) = tasks.next().await {
            match joined {
                Ok(Ok(l)) => layers[i] = Some(l),
                Ok(Err(e)) => {
                    handles_failed = Some(e);
                    break;
                }
                Err(e) => {
                    handles_failed = Some(EngineError::system("layer download task", e));
                    break;
                }
            }
        }
        if let Some(e) = handles_failed {
            // Dropping the remaining futures does not stop spawned tasks: wait for them so
            // the cleanup that follows sees their final state.
            while tasks.next().await.is_some() {}
            return Err(e);
        }
        Ok(layers
            .into_iter()
            .map(|l| l.expect("every layer"))
            .collect())
    }
}

/// One layer of a pull.
struct LayerPull {
    engine: Arc<Engine>,
    reference: Reference,
    desc: Descriptor,
    chain: Digest,
    diff_id: Digest,
    auth: AuthConfig,
    out: Out,
    present: bool,
    id: String,
}

impl LayerPull {
    async fn run(
        self,
        sem: Arc<Semaphore>,
        permit: Option<OwnedSemaphorePermit>,
        wait_prev: Option<oneshot::Receiver<()>>,
        done: oneshot::Sender<()>,
    ) -> Result<LayerRecord> {
        let e = &self.engine;
        let mut downloaded = false;
        let size = if self.present {
            e.snapshots.layer_size(&self.chain)?
        } else {
            let _permit = match permit {
                Some(p) => p,
                None => sem
                    .acquire_owned()
                    .await
                    .map_err(|e| EngineError::system("download slot", e))?,
            };
            let lock = e.layer_lock(&self.chain);
            let _unpacking = lock.lock().await;
            if e.snapshots.has_layer(&self.chain) {
                self.out
                    .send(JsonMessage::action(&self.id, "Already exists"))
                    .await;
                e.snapshots.layer_size(&self.chain)?
            } else {
                downloaded = true;
                self.download_and_unpack().await?
            }
        };
        if let Some(prev) = wait_prev {
            // An earlier layer that failed drops its sender; the pull is failing anyway.
            let _ = prev.await;
        }
        if downloaded {
            self.out
                .send(JsonMessage::progress(
                    &self.id,
                    "Extracting",
                    self.desc.size,
                    self.desc.size,
                ))
                .await;
            self.out
                .send(JsonMessage::action(&self.id, "Pull complete"))
                .await;
        }
        let _ = done.send(());
        let kept = e.content.exists(&self.desc.digest);
        Ok(LayerRecord {
            diff_id: self.diff_id.to_string(),
            chain_id: self.chain.to_string(),
            size: size as i64,
            blob_digest: kept.then(|| self.desc.digest.to_string()),
            blob_size: kept.then_some(self.desc.size as i64),
            media_type: Some(self.desc.media_type.clone()),
        })
    }

    /// Streams the blob into the content store and into the unpacker at once — two blocking
    /// threads fed the same chunks, so hashing and writing the blob runs beside decompressing,
    /// hashing and extracting the layer. Returns the unpacked size.
    async fn download_and_unpack(&self) -> Result<u64> {
        let e = &self.engine;
        let mut stream = e
            .registry
            .fetch_blob(&self.reference, &self.desc, &self.auth)
            .await?;
        let total = self.desc.size;
        let writer = e.content.ingest(Some(self.desc.digest.clone()))?;
        let (store_tx, mut store_rx) = mpsc::channel::<Chunk>(64);
        let store = tokio::task::spawn_blocking(move || -> Result<()> {
            let mut writer = writer;
            while let Some(chunk) = store_rx.blocking_recv() {
                // On an aborted download the writer is dropped, which removes its temp file.
                let b = chunk.map_err(EngineError::System)?;
                writer
                    .write_all(&b)
                    .map_err(|e| EngineError::system("writing blob", e))?;
            }
            writer.commit()?;
            Ok(())
        });
        let (unpack_tx, unpack_rx) = mpsc::channel::<Chunk>(64);
        let snapshots = e.snapshots.clone();
        let (chain, diff_id) = (self.chain.clone(), self.diff_id.clone());
        let unpack = tokio::task::spawn_blocking(move || -> Result<u64> {
            let mut reader = ChannelReader {
                rx: unpack_rx,
                cur: Bytes::new(),
            };
            let applied = snapshots.unpack_layer(&chain, &diff_id, &mut reader)?;
            Ok(applied.size)
        });

        let mut current = 0u64;
        let mut last: Option<Instant> = None;
        let mut failed = None;
        let mut unpack_open = true;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => {
                    current += b.len() as u64;
                    // An unpacker that stopped early (bad tar) gets no more; the blob is still
                    // downloaded whole so its digest check reports on the content itself.
                    if unpack_open && unpack_tx.send(Ok(b.clone())).await.is_err() {
                        unpack_open = false;
                    }
                    if store_tx.send(Ok(b)).await.is_err() {
                        break; // the blob writer failed: its error says why
                    }
                    if last.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL) {
                        last = Some(Instant::now());
                        self.out
                            .send(JsonMessage::progress(
                                &self.id,
                                "Downloading",
                                current,
                                total,
                            ))
                            .await;
                    }
                }
                Err(err) => {
                    let _ = store_tx.send(Err(err.to_string())).await;
                    let _ = unpack_tx.send(Err(err.to_string())).await;
                    failed = Some(EngineError::from(err));
                    break;
                }
            }
        }
        drop(store_tx);
        drop(unpack_tx);
        let join = |e| EngineError::system("layer task", e);
        if let Some(err) = failed {
            let _ = store.await;
            let _ = unpack.await;
            return Err(err);
        }
        self.out
            .send(JsonMessage::action(&self.id, "Verifying Checksum"))
            .await;
        let stored = store.await.map_err(join)?;
        let unpacked = unpack.await.map_err(join)?;
        stored?;
        let size = unpacked?;
        self.out
            .send(JsonMessage::action(&self.id, "Download complete"))
            .await;
        Ok(size)
    }
}

type Chunk = std::result::Result<Bytes, String>;

/// Reads the chunks of a download as they arrive; an error chunk aborts the reader.
struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(msg)) => return Err(io::Error::other(msg)),
                Some(Ok(b)) => self.cur = b,
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}
