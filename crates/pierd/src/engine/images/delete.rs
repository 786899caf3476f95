//! `docker rmi`: untag versus delete, exactly as dockerd decides it.
//!
//! - By name (`busybox`, `busybox:1`, `x@sha256:…`): that reference is removed ("Untagged");
//!   when it was the last tag of its repository, the repository's digest references go too.
//!   If other references remain, that is all; otherwise the image is deleted.
//! - By ID (or ID prefix): when the image has a single name (one tag plus digests of the same
//!   repository) those names are removed and the image deleted; with names in several
//!   repositories this is a conflict unless `force`.
//! - Deleting removes the image, its remaining names, and every layer (chain) no other image
//!   uses ("Deleted: <image id>", then "Deleted: <chain id>" top down), with their blobs.
//!
//! Conflicts are dockerd's 409s, checked in its order: "conflict: unable to delete <short id>
//! (cannot be forced) - image has dependent child images", "(cannot be forced) - image is being
//! used by running container <short id>", "(must be forced) - image is referenced in multiple
//! repositories", "(must be forced) - image is being used by stopped container <short id>"; and,
//! for the last name of an image a container uses, "conflict: unable to remove repository
//! reference "<name>" (must force) - container <short id> is using its referenced image <short
//! id>". As in dockerd, a forced delete of an image stopped containers use removes the image
//! record but not the layers those containers stand on (their create-time chain, see
//! `store::containers`): they still start, and removing the last of them releases the layers.

use std::collections::HashSet;
use std::sync::Arc;

use pier_api::models::image::DeleteItem;
use pier_image::{parse_normalized, Digest};

use super::familiar;
use crate::engine::{blocking, Engine, EngineError, Result};
use crate::store::{RefKind, RefRecord};

/// What a delete did: the response items and the bytes of layers removed.
#[derive(Debug)]
pub struct Deleted {
    pub items: Vec<DeleteItem>,
    pub reclaimed: u64,
}

struct Conflict {
    hard: bool,
    /// A container uses the image (dockerd's `used`).
    used: bool,
    message: String,
}

/// dockerd's conflict kinds, as a mask.
const CHILD: u8 = 1;
const RUNNING: u8 = 2;
const REFERENCE: u8 = 4;
const STOPPED: u8 = 8;
const HARD: u8 = CHILD | RUNNING;
const SOFT: u8 = REFERENCE | STOPPED;

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

impl Engine {
    /// `DELETE /images/{name}`.
    pub async fn delete_image(
        self: &Arc<Self>,
        name: &str,
        force: bool,
        prune: bool,
    ) -> Result<Vec<DeleteItem>> {
        let _g = self.image_lock.lock().await;
        let e = self.clone();
        let name = name.to_string();
        blocking(move || e.delete_image_locked(&name, force, prune).map(|d| d.items)).await
    }

    /// The delete itself, with its events; the caller holds `image_lock`.
    pub(crate) fn delete_image_locked(
        &self,
        name: &str,
        force: bool,
        prune: bool,
    ) -> Result<Deleted> {
        let id = self.resolve_image(name)?;
        let deleted = self.delete_resolved(name, &id, force, prune)?;
        for item in &deleted.items {
            match item {
                DeleteItem::Untagged(_) => self.image_event("untag", &id, &id),
                DeleteItem::Deleted(d) if *d == id => self.image_event("delete", &id, &id),
                DeleteItem::Deleted(_) => {}
            }
        }
        Ok(deleted)
    }

    fn delete_resolved(&self, name: &str, id: &str, force: bool, _prune: bool) -> Result<Deleted> {
        let id = id.to_string();
        let mut items = Vec::new();
        let refs = self.store.refs_of(&id)?;
        let by_id = id.starts_with(name) || id["sha256:".len()..].starts_with(name);
        let mut removed_repository_ref = false;
        if !by_id {
            if !force && is_single_reference(&refs) {
                if let Some(c) = self.container_using(&id, |_| true) {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                        short(&c),
                        short(&id)
                    )));
                }
            }
            let parsed = parse_normalized(name)?;
            let lookup = match parsed.digest() {
                Some(d) => parsed.repository().with_digest(d.clone()),
                None => parsed.with_default_tag(),
            };
            self.store.remove_ref(&lookup.to_string())?;
            items.push(DeleteItem::Untagged(lookup.familiar_string()));
            let mut remaining = self.store.refs_of(&id)?;
            if lookup.digest().is_none() {
                let repo = lookup.name();
                let tag_left = remaining
                    .iter()
                    .any(|r| r.kind == RefKind::Tag && r.repo == repo);
                if !tag_left {
                    let (same_repo, others): (Vec<RefRecord>, Vec<RefRecord>) = remaining
                        .into_iter()
                        .partition(|r| r.kind == RefKind::Digest && r.repo == repo);
                    for r in same_repo {
                        self.store.remove_ref(&r.name)?;
                        items.push(DeleteItem::Untagged(familiar(&r.name)));
                    }
                    remaining = others;
                }
            }
            if !remaining.is_empty() {
                return Ok(Deleted {
                    items,
                    reclaimed: 0,
                });
            }
            removed_repository_ref = true;
        } else if is_single_reference(&refs) {
            let mask = if force {
                HARD
            } else {
                HARD | (SOFT & !REFERENCE)
            };
            if let Some(c) = self.delete_conflict(&id, mask)? {
                return Err(conflict_error(&id, &c));
            }
            for r in &refs {
                self.store.remove_ref(&r.name)?;
                items.push(DeleteItem::Untagged(familiar(&r.name)));
            }
        }

        let mask = if force { HARD } else { HARD | SOFT };
        if let Some(c) = self.delete_conflict(&id, mask)? {
            let dangling = self.store.refs_of(&id)?.is_empty();
            if removed_repository_ref && (!dangling || c.used) {
                return Ok(Deleted {
                    items,
                    reclaimed: 0,
                });
            }
            return Err(conflict_error(&id, &c));
        }
        for r in self.store.refs_of(&id)? {
            self.store.remove_ref(&r.name)?;
            items.push(DeleteItem::Untagged(familiar(&r.name)));
        }
        let reclaimed = self.remove_image(&id, &mut items)?;
        Ok(Deleted { items, reclaimed })
    }

    /// docker's `checkImageDeleteConflict` for the kinds in `mask`, in its order.
    fn delete_conflict(&self, id: &str, mask: u8) -> Result<Option<Conflict>> {
        let conflict = |hard, used, message: String| {
            Ok(Some(Conflict {
                hard,
                used,
                message,
            }))
        };
        if mask & CHILD != 0 && !self.store.children(id)?.is_empty() {
            return conflict(true, false, "image has dependent child images".into());
        }
        if mask & RUNNING != 0 {
            if let Some(c) = self.container_using(id, |s| s.running) {
                return conflict(
                    true,
                    true,
                    format!("image is being used by running container {}", short(&c)),
                );
            }
        }
        if mask & REFERENCE != 0 && !self.store.refs_of(id)?.is_empty() {
            return conflict(
                false,
                false,
                "image is referenced in multiple repositories".into(),
            );
        }
        if mask & STOPPED != 0 {
            if let Some(c) = self.container_using(id, |s| !s.running) {
                return conflict(
                    false,
                    true,
                    format!("image is being used by stopped container {}", short(&c)),
                );
            }
        }
        Ok(None)
    }

    /// The ID of a container made from image `id` whose state matches `pred` (the oldest).
    fn container_using(
        &self,
        id: &str,
        pred: impl Fn(&crate::engine::containers::State) -> bool,
    ) -> Option<String> {
        let map = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.values()
            .map(|c| c.snapshot())
            .filter(|r| r.image == id && pred(&r.state))
            .min_by(|a, b| a.created.cmp(&b.created))
            .map(|r| r.id)
    }

    /// Removes the snapshots a removed container left unused (`chains`, top down), unless an
    /// image or container took them up again meanwhile. A failure is logged: the container is
    /// gone already, and the next start's reconcile removes any layer nothing uses.
    pub(crate) async fn release_layers(self: &Arc<Self>, chains: Vec<String>) {
        let _g = self.image_lock.lock().await;
        let e = self.clone();
        let r = blocking(move || {
            for chain in chains {
                if e.store.chain_users(&chain)? > 0 {
                    continue;
                }
                let d: Digest = chain
                    .parse()
                    .map_err(|err| EngineError::system("stored chain id", err))?;
                if e.snapshots.has_layer(&d) {
                    e.snapshots.remove_layer(&d)?;
                }
            }
            Ok(())
        })
        .await;
        if let Err(err) = r {
            tracing::warn!(error = %err, "releasing a removed container's layers");
        }
    }

    /// Removes an unnamed image's record, then the layers and blobs nothing else uses; returns
    /// the bytes of the layers removed.
    fn remove_image(&self, id: &str, items: &mut Vec<DeleteItem>) -> Result<u64> {
        let record = self.store.image(id)?;
        let layers = self.store.layers(id)?;
        self.store.delete_image(id)?;
        items.push(DeleteItem::Deleted(id.to_string()));
        let mut reclaimed = 0;
        for l in layers.iter().rev() {
            if self.store.chain_users(&l.chain_id)? > 0 {
                continue;
            }
            let chain: Digest = l
                .chain_id
                .parse()
                .map_err(|e| EngineError::system("stored chain id", e))?;
            if self.snapshots.has_layer(&chain) {
                self.snapshots.remove_layer(&chain)?;
            }
            reclaimed += l.size.max(0) as u64;
            items.push(DeleteItem::Deleted(l.chain_id.clone()));
        }
        let mut candidates: Vec<String> = vec![id.to_string()];
        candidates.extend(layers.iter().filter_map(|l| l.blob_digest.clone()));
        candidates.extend(record.and_then(|r| r.manifest_digest));
        let referenced: HashSet<String> = self.store.referenced_blobs()?;
        for c in candidates {
            if referenced.contains(&c) {
                continue;
            }
            if let Ok(d) = c.parse::<Digest>() {
                if self.content.exists(&d) {
                    self.content.delete(&d)?;
                }
            }
        }
        Ok(reclaimed)
    }
}

/// docker's `isSingleReference`: at most one tag, and any digests are of that tag's repository.
fn is_single_reference(refs: &[RefRecord]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&RefRecord> = None;
    let mut canonical = HashSet::new();
    for r in refs {
        if r.kind == RefKind::Digest {
            canonical.insert(r.repo.as_str());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical.len() == 1 && canonical.contains(single.repo.as_str())
}

fn conflict_error(id: &str, c: &Conflict) -> EngineError {
    EngineError::Conflict(format!(
        "conflict: unable to delete {} ({}) - {}",
        short(id),
        if c.hard {
            "cannot be forced"
        } else {
            "must be forced"
        },
        c.message
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{add_image, config};
    use crate::engine::tests::engine;
    use pier_api::models::image::DeleteItem::{Deleted, Untagged};

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn untag_then_delete_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let cfg = config("2024-01-01T00:00:00Z", "a", "null");
        let id = add_image(
            &e,
            &cfg,
            &["busybox", &format!("busybox@{DIGEST}"), "other:1"],
        );
        let chain = pier_image::Digest::sha256(b"a").to_string();

        // Two repositories: removing one name only untags.
        let d = e.delete_image_locked("other:1", false, true).unwrap();
        assert_eq!(d.items, vec![Untagged("other:1".into())]);

        // Last tag of the repository: its digest goes too, then the image and its layer.
        let d = e.delete_image_locked("busybox", false, true).unwrap();
        assert_eq!(
            d.items,
            vec![
                Untagged("busybox:latest".into()),
                Untagged(format!("busybox@{DIGEST}")),
                Deleted(id.clone()),
                Deleted(chain),
            ]
        );
        assert_eq!(d.reclaimed, 50);
        assert!(e.resolve_image(&id).is_err());
    }

    #[test]
    fn by_id_conflicts_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let cfg = config("2024-01-01T00:00:00Z", "a", "null");
        let id = add_image(&e, &cfg, &["a:1", "b:1"]);
        let err = e.delete_image_locked(&id[7..19], false, false).unwrap_err();
        assert_eq!(err.kind(), pier_api::ErrorKind::Conflict);
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                &id[7..19]
            )
        );
        let d = e.delete_image_locked(&id[7..19], true, false).unwrap();
        assert_eq!(
            d.items[..3],
            [
                Untagged("a:1".into()),
                Untagged("b:1".into()),
                Deleted(id.clone())
            ]
        );
    }

    #[test]
    fn by_id_with_single_name_untags_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let cfg = config("2024-01-01T00:00:00Z", "a", "null");
        let id = add_image(&e, &cfg, &["a:1", &format!("a@{DIGEST}")]);
        let d = e.delete_image_locked(&id, false, false).unwrap();
        assert_eq!(
            d.items[..3],
            [
                Untagged("a:1".into()),
                Untagged(format!("a@{DIGEST}")),
                Deleted(id.clone())
            ]
        );
        assert!(matches!(
            e.delete_image_locked("a:1", false, false)
                .unwrap_err()
                .kind(),
            pier_api::ErrorKind::NotFound
        ));
    }

    #[test]
    fn shared_layers_stay() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        add_image(&e, &config("2024-01-01T00:00:00Z", "a", "null"), &["a:1"]);
        add_image(&e, &config("2024-01-02T00:00:00Z", "a", "null"), &["b:1"]);
        let d = e.delete_image_locked("a:1", false, false).unwrap();
        assert_eq!(d.items.len(), 2, "{:?}", d.items);
        assert_eq!(d.reclaimed, 0);
    }
}
