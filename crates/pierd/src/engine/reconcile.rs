//! Startup reconciliation: after a crash (or kill -9) the disk and the store may disagree. The
//! store is written last in every operation, so the rules are simple:
//! - half-written blobs (content ingest) and half-unpacked layers (snapshot temp dirs) are
//!   removed;
//! - an image whose config blob or one of whose layers is missing is dropped from the store;
//! - blobs and unpacked layers no image references (left by an interrupted pull or delete) are
//!   removed.

use std::collections::HashSet;

use pier_image::Digest;

use super::{Engine, Result};

impl Engine {
    pub(crate) fn reconcile(&self) -> Result<()> {
        // Directories of removed containers whose deletion a crash interrupted.
        let _ = std::fs::remove_dir_all(self.containers_trash());
        let ingest = self.content.clean_ingest()?;
        let temp = self.snapshots.clean_temp()?;
        if ingest + temp > 0 {
            tracing::info!(
                blobs = ingest,
                layers = temp,
                "removed unfinished writes left by an earlier crash"
            );
        }

        for image in self.store.images()? {
            let config_ok = image
                .id
                .parse::<Digest>()
                .is_ok_and(|d| self.content.exists(&d));
            let layers = self.store.layers(&image.id)?;
            let layers_ok = layers.iter().all(|l| {
                l.chain_id
                    .parse::<Digest>()
                    .is_ok_and(|c| self.snapshots.has_layer(&c))
            });
            if !config_ok || !layers_ok {
                tracing::warn!(image = %image.id, config_ok, layers_ok, "image data missing on disk; dropping its record");
                self.store.delete_image(&image.id)?;
            }
        }

        let used: HashSet<String> = self.store.used_chains()?;
        for chain in self.snapshots.list()? {
            if !used.contains(chain.as_str()) {
                tracing::info!(%chain, "removing a layer no image uses");
                self.snapshots.remove_layer(&chain)?;
            }
        }
        let referenced = self.store.referenced_blobs()?;
        for blob in self.content.list()? {
            if !referenced.contains(blob.as_str()) {
                tracing::info!(%blob, "removing a blob no image references");
                self.content.delete(&blob)?;
            }
        }
        Ok(())
    }
}
