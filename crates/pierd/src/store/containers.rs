//! Container rows: one per container, its ID, its unique name ("/x") and its record (the
//! engine's JSON document: config, host config, state). The engine keeps the live copy in
//! memory and writes the whole record back on every change; the name column's UNIQUE
//! constraint is what makes two creates with one name impossible.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store};

impl Store {
    /// Records a new container; `Ok(false)` when the name is taken.
    pub fn insert_container(&self, id: &str, name: &str, record: &str) -> Result<bool> {
        let r = self.conn().execute(
            "INSERT INTO containers (id, name, record) VALUES (?1, ?2, ?3)",
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

    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_records_round_trip() {
        let s = Store::open_in_memory().unwrap();
        assert!(s.insert_container("a1", "/x", "{}").unwrap());
        assert!(!s.insert_container("b2", "/x", "{}").unwrap());
        assert!(s.insert_container("b2", "/y", "{\"k\":1}").unwrap());
        assert_eq!(s.container_by_name("/x").unwrap().as_deref(), Some("a1"));
        assert!(!s.update_container("b2", "/x", "{}").unwrap());
        assert!(s.update_container("b2", "/z", "{}").unwrap());
        assert_eq!(s.containers().unwrap().len(), 2);
        s.delete_container("a1").unwrap();
        assert_eq!(s.container_by_name("/x").unwrap(), None);
        assert_eq!(s.containers().unwrap(), vec![("b2".into(), "{}".into())]);
    }
}
