//! Container rows: one per container, its ID, its unique name ("/x") and its record (the
//! engine's JSON document: config, host config, state). The engine keeps the live copy in
//! memory and writes the whole record back on every change; the name column's UNIQUE
//! constraint is what makes two creates with one name impossible.
//!
//! Each container also owns rows naming the layers (chain IDs) its rootfs stands on, copied
//! from its image when it is created: they keep those snapshots alive after a forced
//! `docker rmi` of the image, and removing the container releases them.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store};

impl Store {
    /// Records a new container made from `image_id`, with that image's layers as its own;
    /// `Ok(false)` when the name is taken.
    pub fn insert_container(
        &self,
        id: &str,
        name: &str,
        record: &str,
        image_id: &str,
    ) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let r = tx.execute(
            "INSERT INTO containers (id, name, record) VALUES (?1, ?2, ?3)",
            params![id, name, record],
        );
        match r {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        tx.execute(
            "INSERT INTO container_layers (container_id, idx, chain_id, size)
             SELECT ?1, idx, chain_id, size FROM image_layers WHERE image_id = ?2",
            params![id, image_id],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// The layers a container's rootfs stands on, bottom to top, as (chain ID, size).
    pub fn container_layers(&self, id: &str) -> Result<Vec<(String, i64)>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT chain_id, size FROM container_layers WHERE container_id = ?1 ORDER BY idx",
        )?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Rewrites a container's name and record; `Ok(false)` when the name is taken.
    pub fn update_container(&self, id: &str, name: &str, record: &str) -> Result<bool> {
        let r = self.conn().execute(
            "UPDATE containers SET name = ?2, record = ?3 WHERE id = ?1",
            params![id, name, record],
        );
        match r {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The container holding `name`, if any.
    pub fn container_by_name(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every container as (id, record).
    pub fn containers(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id, record FROM containers ORDER BY rowid")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a container and its layer rows; returns the chain IDs it used, top down, that
    /// no image or other container uses any more (the caller removes those snapshots).
    pub fn delete_container(&self, id: &str) -> Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let chains = {
            let mut st = tx.prepare(
                "SELECT chain_id FROM container_layers WHERE container_id = ?1 ORDER BY idx DESC",
            )?;
            let rows = st.query_map([id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()?
        };
        tx.execute("DELETE FROM container_layers WHERE container_id = ?1", [id])?;
        tx.execute("DELETE FROM containers WHERE id = ?1", [id])?;
        let mut unused = Vec::new();
        for c in chains {
            let users: i64 = tx.query_row(
                "SELECT (SELECT COUNT(*) FROM image_layers WHERE chain_id = ?1)
                      + (SELECT COUNT(*) FROM container_layers WHERE chain_id = ?1)",
                [&c],
                |r| r.get(0),
            )?;
            if users == 0 && !unused.contains(&c) {
                unused.push(c);
            }
        }
        tx.commit()?;
        Ok(unused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_records_round_trip() {
        let s = Store::open_in_memory().unwrap();
        assert!(s.insert_container("a1", "/x", "{}", "sha256:none").unwrap());
        assert!(!s.insert_container("b2", "/x", "{}", "sha256:none").unwrap());
        assert!(s
            .insert_container("b2", "/y", "{\"k\":1}", "sha256:none")
            .unwrap());
        assert_eq!(s.container_by_name("/x").unwrap().as_deref(), Some("a1"));
        assert!(!s.update_container("b2", "/x", "{}").unwrap());
        assert!(s.update_container("b2", "/z", "{}").unwrap());
        assert_eq!(s.containers().unwrap().len(), 2);
        assert_eq!(s.delete_container("a1").unwrap(), Vec::<String>::new());
        assert_eq!(s.container_by_name("/x").unwrap(), None);
        assert_eq!(s.containers().unwrap(), vec![("b2".into(), "{}".into())]);
    }
}
