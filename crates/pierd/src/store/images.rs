//! Image rows: images, their layers, and the references (tags, digests) naming them.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{Result, Store, StoreError};

/// One image. `id` is "sha256:<hex>" of its config blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: String,
    pub config: String,
    pub manifest_digest: Option<String>,
    pub size: i64,
    pub parent: String,
    pub created: i64,
    pub last_tag_time: Option<String>,
    pub added_at: i64,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub diff_id: String,
    pub chain_id: String,
    pub size: i64,
    pub blob_digest: Option<String>,
    pub blob_size: Option<i64>,
    pub media_type: Option<String>,
}

/// An image to record, with its layers bottom to top.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub image: ImageRecord,
    pub layers: Vec<LayerRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Tag,
    Digest,
}

/// A name pointing at an image: `name` is the full reference ("docker.io/library/busybox:latest"
/// or "docker.io/library/busybox@sha256:…"), `repo` its repository, `value` the tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRecord {
    pub name: String,
    pub repo: String,
    pub kind: RefKind,
    pub value: String,
    pub image_id: String,
}

const IMAGE_COLUMNS: &str =
    "id, config, manifest_digest, size, parent, created, last_tag_time, added_at";

fn image_row(r: &Row<'_>) -> rusqlite::Result<ImageRecord> {
    Ok(ImageRecord {
        id: r.get(0)?,
        config: r.get(1)?,
        manifest_digest: r.get(2)?,
        size: r.get(3)?,
        parent: r.get(4)?,
        created: r.get(5)?,
        last_tag_time: r.get(6)?,
        added_at: r.get(7)?,
    })
}

fn insert_image(tx: &Transaction<'_>, new: &NewImage) -> Result<bool> {
    let i = &new.image;
    let inserted = tx.execute(
        &format!("INSERT OR IGNORE INTO images ({IMAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            i.id,
            i.config,
            i.manifest_digest,
            i.size,
            i.parent,
            i.created,
            i.last_tag_time,
            i.added_at
        ],
    )? == 1;
    if inserted {
        for (idx, l) in new.layers.iter().enumerate() {
            tx.execute(
                "INSERT INTO image_layers (image_id, idx, diff_id, chain_id, size, blob_digest, blob_size, media_type)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![i.id, idx as i64, l.diff_id, l.chain_id, l.size, l.blob_digest, l.blob_size, l.media_type],
            )?;
        }
    }
    Ok(inserted)
}

/// Points `r.name` at `r.image_id`; returns the image it pointed at before, if any.
fn upsert_ref(tx: &Transaction<'_>, r: &RefRecord) -> Result<Option<String>> {
    let (table, col) = match r.kind {
        RefKind::Tag => ("tags", "tag"),
        RefKind::Digest => ("digests", "digest"),
    };
    let previous: Option<String> = tx
        .query_row(
            &format!("SELECT image_id FROM {table} WHERE name = ?1"),
            [&r.name],
            |row| row.get(0),
        )
        .optional()?;
    tx.execute(
        &format!(
            "INSERT INTO {table} (name, repo, {col}, image_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id"
        ),
        params![r.name, r.repo, r.value, r.image_id],
    )?;
    Ok(previous)
}

fn ref_rows(
    conn: &rusqlite::Connection,
    filter: &str,
    arg: Option<&str>,
) -> Result<Vec<RefRecord>> {
    let sql = format!(
        "SELECT name, repo, 'tag', tag, image_id FROM tags {filter}
         UNION ALL
         SELECT name, repo, 'digest', digest, image_id FROM digests {filter}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let map = |r: &Row<'_>| {
        let kind: String = r.get(2)?;
        Ok(RefRecord {
            name: r.get(0)?,
            repo: r.get(1)?,
            kind: if kind == "tag" {
                RefKind::Tag
            } else {
                RefKind::Digest
            },
            value: r.get(3)?,
            image_id: r.get(4)?,
        })
    };
    let rows = match arg {
        Some(a) => stmt
            .query_map([a], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => stmt
            .query_map([], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(rows)
}

impl Store {
    /// Records `new` (if not already there) and points `refs` at it, in one transaction.
    /// Returns, for each of `refs`, whether it pointed elsewhere (or nowhere) before.
    pub fn put_image(&self, new: &NewImage, refs: &[RefRecord]) -> Result<Vec<bool>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_image(&tx, new)?;
        let mut changed = Vec::with_capacity(refs.len());
        for r in refs {
            let previous = upsert_ref(&tx, r)?;
            changed.push(previous.as_deref() != Some(r.image_id.as_str()));
        }
        tx.commit()?;
        Ok(changed)
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1"),
                [id],
                image_row,
            )
            .optional()?)
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {IMAGE_COLUMNS} FROM images"))?;
        let rows = stmt
            .query_map([], image_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn count_images(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))?)
    }

    /// Ids of images whose hex starts with `hex_prefix` (lowercase hex, no "sha256:").
    pub fn image_ids_with_prefix(&self, hex_prefix: &str) -> Result<Vec<String>> {
        if !hex_prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1 ORDER BY id")?;
        let rows = stmt
            .query_map(params![hex_prefix, hex_prefix.len() as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// The layers of `image_id`, bottom to top.
    pub fn layers(&self, image_id: &str) -> Result<Vec<LayerRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT diff_id, chain_id, size, blob_digest, blob_size, media_type
             FROM image_layers WHERE image_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt
            .query_map([image_id], |r| {
                Ok(LayerRecord {
                    diff_id: r.get(0)?,
                    chain_id: r.get(1)?,
                    size: r.get(2)?,
                    blob_digest: r.get(3)?,
                    blob_size: r.get(4)?,
                    media_type: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The image a full reference ("docker.io/library/busybox:latest" or "…@sha256:…") names.
    pub fn resolve_ref(&self, name: &str) -> Result<Option<String>> {
        let conn = self.conn();
        let tag: Option<String> = conn
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if tag.is_some() {
            return Ok(tag);
        }
        Ok(conn
            .query_row(
                "SELECT image_id FROM digests WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Points one reference at an image (`docker tag`); returns the image it named before.
    pub fn set_ref(&self, r: &RefRecord, tag_time: Option<&str>) -> Result<Option<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM images WHERE id = ?1", [&r.image_id], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        if !exists {
            return Err(StoreError::Corrupt(format!(
                "reference {} to unknown image {}",
                r.name, r.image_id
            )));
        }
        let previous = upsert_ref(&tx, r)?;
        if let Some(t) = tag_time {
            tx.execute(
                "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
                params![r.image_id, t],
            )?;
        }
        tx.commit()?;
        Ok(previous)
    }

    /// Every reference to `image_id`.
    pub fn refs_of(&self, image_id: &str) -> Result<Vec<RefRecord>> {
        ref_rows(&self.conn(), "WHERE image_id = ?1", Some(image_id))
    }

    /// Every reference in the store.
    pub fn all_refs(&self) -> Result<Vec<RefRecord>> {
        ref_rows(&self.conn(), "", None)
    }

    /// Removes one reference; false when it did not exist.
    pub fn remove_ref(&self, name: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM tags WHERE name = ?1", [name])?
            + conn.execute("DELETE FROM digests WHERE name = ?1", [name])?;
        Ok(n > 0)
    }

    /// Removes an image with its layer rows and every reference to it.
    pub fn delete_image(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM images WHERE id = ?1", [id])?;
        Ok(())
    }

    /// How many images and containers use the snapshot `chain_id`.
    pub fn chain_users(&self, chain_id: &str) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT (SELECT COUNT(DISTINCT image_id) FROM image_layers WHERE chain_id = ?1)
                  + (SELECT COUNT(DISTINCT container_id) FROM container_layers WHERE chain_id = ?1)",
            [chain_id],
            |r| r.get(0),
        )?)
    }

    /// How many images keep the compressed blob `digest`.
    pub fn blob_users(&self, digest: &str) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(DISTINCT image_id) FROM image_layers WHERE blob_digest = ?1",
            [digest],
            |r| r.get(0),
        )?)
    }

    /// Every chain ID some image or container uses.
    pub fn used_chains(&self) -> Result<std::collections::HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT chain_id FROM image_layers UNION SELECT chain_id FROM container_layers",
        )?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every blob digest the store points at: image configs (the image IDs), layer blobs, image
    /// manifests, and the digests references name (indexes included).
    pub fn referenced_blobs(&self) -> Result<std::collections::HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM images
             UNION SELECT manifest_digest FROM images WHERE manifest_digest IS NOT NULL
             UNION SELECT blob_digest FROM image_layers WHERE blob_digest IS NOT NULL
             UNION SELECT digest FROM digests",
        )?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Images whose parent is `id` (built on top of it).
    pub fn children(&self, id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM images WHERE parent = ?1")?;
        let rows = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, chains: &[&str]) -> NewImage {
        NewImage {
            image: ImageRecord {
                id: id.into(),
                config: "{}".into(),
                manifest_digest: None,
                size: 10,
                parent: String::new(),
                created: 1,
                last_tag_time: None,
                added_at: 2,
            },
            layers: chains
                .iter()
                .map(|c| LayerRecord {
                    diff_id: format!("d-{c}"),
                    chain_id: c.to_string(),
                    size: 5,
                    blob_digest: Some(format!("b-{c}")),
                    blob_size: Some(3),
                    media_type: None,
                })
                .collect(),
        }
    }

    fn tag(name: &str, id: &str) -> RefRecord {
        RefRecord {
            name: name.into(),
            repo: name.rsplit_once(':').unwrap().0.into(),
            kind: RefKind::Tag,
            value: name.rsplit_once(':').unwrap().1.into(),
            image_id: id.into(),
        }
    }

    #[test]
    fn put_resolve_and_cascade_delete() {
        let s = Store::open_in_memory().unwrap();
        let a = "sha256:aaaa";
        let put = || {
            s.put_image(
                &image(a, &["c1", "c2"]),
                &[tag("docker.io/library/x:latest", a)],
            )
            .unwrap()
        };
        assert_eq!(put(), vec![true]);
        // Same image and tag again: nothing changed.
        assert_eq!(put(), vec![false]);
        assert_eq!(s.count_images().unwrap(), 1);
        assert_eq!(s.layers(a).unwrap().len(), 2);
        assert_eq!(s.layers(a).unwrap()[1].chain_id, "c2");
        assert_eq!(
            s.resolve_ref("docker.io/library/x:latest")
                .unwrap()
                .as_deref(),
            Some(a)
        );
        assert_eq!(s.chain_users("c1").unwrap(), 1);
        assert_eq!(s.blob_users("b-c2").unwrap(), 1);

        let b = "sha256:aabb";
        s.put_image(&image(b, &["c1"]), &[tag("docker.io/library/x:latest", b)])
            .unwrap();
        assert_eq!(
            s.resolve_ref("docker.io/library/x:latest")
                .unwrap()
                .as_deref(),
            Some(b)
        );
        assert_eq!(s.chain_users("c1").unwrap(), 2);
        assert_eq!(s.image_ids_with_prefix("aa").unwrap(), vec![a, b]);
        assert_eq!(s.image_ids_with_prefix("aab").unwrap(), vec![b]);
        assert!(s.image_ids_with_prefix("zz").unwrap().is_empty());

        s.delete_image(b).unwrap();
        assert_eq!(s.resolve_ref("docker.io/library/x:latest").unwrap(), None);
        assert_eq!(s.chain_users("c1").unwrap(), 1);
        assert!(s.all_refs().unwrap().is_empty());
    }

    #[test]
    fn set_ref_records_tag_time_and_refuses_unknown_images() {
        let s = Store::open_in_memory().unwrap();
        let a = "sha256:aaaa";
        s.put_image(&image(a, &["c1"]), &[]).unwrap();
        let prev = s
            .set_ref(
                &tag("docker.io/library/y:1", a),
                Some("2026-01-01T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(prev, None);
        assert_eq!(
            s.image(a).unwrap().unwrap().last_tag_time.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(s.refs_of(a).unwrap().len(), 1);
        assert!(s
            .set_ref(&tag("docker.io/library/y:2", "sha256:nope"), None)
            .is_err());
        assert!(s.remove_ref("docker.io/library/y:1").unwrap());
        assert!(!s.remove_ref("docker.io/library/y:1").unwrap());
    }

    #[test]
    fn containers_keep_their_layers_past_the_image() {
        let s = Store::open_in_memory().unwrap();
        let a = "sha256:aaaa";
        s.put_image(&image(a, &["c1", "c2"]), &[]).unwrap();
        s.put_image(&image("sha256:bbbb", &["c1"]), &[]).unwrap();
        assert!(s.insert_container("k1", "/k1", "{}", a).unwrap());
        assert!(s.insert_container("k2", "/k2", "{}", a).unwrap());
        assert_eq!(
            s.container_layers("k1").unwrap(),
            vec![("c1".to_string(), 5), ("c2".to_string(), 5)]
        );
        assert_eq!(s.chain_users("c2").unwrap(), 3);
        s.delete_image(a).unwrap();
        assert_eq!(s.chain_users("c2").unwrap(), 2);
        assert!(s.used_chains().unwrap().contains("c2"));
        // Another container still uses both layers; the last one frees only what no image uses.
        assert!(s.delete_container("k1").unwrap().is_empty());
        assert_eq!(s.delete_container("k2").unwrap(), vec!["c2".to_string()]);
        assert!(!s.used_chains().unwrap().contains("c2"));
        assert!(s.container_layers("k2").unwrap().is_empty());
    }
}
