//! `docker image prune`: remove dangling images (no tag), or with `dangling=false` every image
//! (containers will protect theirs), filtered by `label`, `label!` and `until`. Each image goes
//! through the same delete as `docker rmi`; images that cannot be deleted are skipped.
//! `SpaceReclaimed` counts the layers removed.

use std::sync::Arc;

use chrono::Utc;
use pier_api::models::image::PruneReport;

use super::ImageConfigFile;
use crate::engine::filters::{self, Filters};
use crate::engine::{blocking, time, Engine, Result};
use crate::store::RefKind;

const ALLOWED: &[&str] = &["dangling", "label", "label!", "until"];

impl Engine {
    pub async fn prune_images(self: &Arc<Self>, f: Filters) -> Result<PruneReport> {
        let _g = self.image_lock.lock().await;
        let e = self.clone();
        blocking(move || e.prune_images_locked(&f)).await
    }

    fn prune_images_locked(&self, f: &Filters) -> Result<PruneReport> {
        filters::check_keys(f, ALLOWED)?;
        let dangling_only = filters::bool_value(f, "dangling", true)?;
        let mut until = None;
        for v in f.get("until").into_iter().flatten() {
            until = Some(filters::parse_timestamp(v, Utc::now())?);
        }
        let labels = f.get("label").cloned().unwrap_or_default();
        let not_labels = f.get("label!").cloned().unwrap_or_default();

        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for record in self.store.images()? {
            if self.store.image(&record.id)?.is_none() {
                continue; // removed with an earlier one
            }
            let config = ImageConfigFile::parse(record.config.as_bytes())?;
            if let (Some(u), Some(c)) = (until, config.created.as_deref().and_then(time::parse)) {
                if c > u {
                    continue;
                }
            }
            if !filters::labels_match(&labels, config.labels()) {
                continue;
            }
            if !not_labels.is_empty()
                && not_labels
                    .iter()
                    .any(|l| filters::labels_match(std::slice::from_ref(l), config.labels()))
            {
                continue;
            }
            if !self.store.children(&record.id)?.is_empty() {
                continue;
            }
            let refs = self.store.refs_of(&record.id)?;
            let targets: Vec<String> = if refs.is_empty() {
                vec![record.id["sha256:".len()..].to_string()]
            } else if !dangling_only || !refs.iter().any(|r| r.kind == RefKind::Tag) {
                refs.into_iter().map(|r| r.name).collect()
            } else {
                continue;
            };
            for t in targets {
                match self.delete_image_locked(&t, false, true) {
                    Ok(d) => {
                        deleted.extend(d.items);
                        reclaimed += d.reclaimed;
                    }
                    Err(e) => tracing::debug!(image = %t, error = %e, "prune skips an image"),
                }
            }
        }
        self.events.publish(
            "image",
            "prune",
            "",
            std::collections::BTreeMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok(PruneReport {
            images_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{add_image, config};
    use super::*;
    use crate::engine::tests::engine;
    use pier_api::models::image::DeleteItem;

    #[tokio::test]
    async fn prunes_dangling_by_default_and_all_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let e = Arc::new(engine(dir.path()));
        let tagged = add_image(&e, &config("2024-01-01T00:00:00Z", "a", "null"), &["a:1"]);
        let dangling = add_image(&e, &config("2024-01-02T00:00:00Z", "b", "null"), &[]);

        let r = e.prune_images(Filters::new()).await.unwrap();
        let items = r.images_deleted.unwrap();
        assert!(items.contains(&DeleteItem::Deleted(dangling.clone())));
        assert!(!items.contains(&DeleteItem::Deleted(tagged.clone())));
        assert_eq!(r.space_reclaimed, 50);

        let r = e.prune_images(Filters::new()).await.unwrap();
        assert_eq!(r.images_deleted, None);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ImagesDeleted":null,"SpaceReclaimed":0}"#
        );

        let mut f = Filters::new();
        f.insert("dangling".into(), vec!["false".into()]);
        let r = e.prune_images(f).await.unwrap();
        let items = r.images_deleted.unwrap();
        assert_eq!(items[0], DeleteItem::Untagged("a:1".into()));
        assert!(items.contains(&DeleteItem::Deleted(tagged)));
        assert_eq!(e.store.count_images().unwrap(), 0);
    }
}
