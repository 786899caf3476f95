//! The metadata store: one SQLite database (`<data-root>/pier.db`, WAL) holding pier's records —
//! images, their layers, and the references (tags and digests) that name them. Blobs and
//! unpacked layers live on disk (content store, snapshots); rows here point at them by digest.
//!
//! The schema is created and upgraded by numbered migrations ([`schema`]) recorded in
//! `PRAGMA user_version`, each applied in its own transaction. Every write that must be atomic
//! (an image with its layers and its name) is one transaction. Calls are synchronous and short;
//! the connection sits behind a mutex.

mod containers;
mod images;
mod networks;
mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension};

pub use images::{ImageRecord, LayerRecord, NewImage, RefKind, RefRecord};
pub use networks::EndpointRow;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("metadata store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("metadata store {path}: schema version {found} is newer than this pierd knows ({known}); upgrade pierd")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("metadata store: corrupt record: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The database. Cheap to share behind an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn, &path.display().to_string())
    }

    /// A private in-memory database (tests).
    #[cfg(test)]
    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(mut conn: Connection, name: &str) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn, name)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A daemon-wide setting (e.g. the engine ID).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// The schema version the database is at.
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pier.db");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.setting("engine-id").unwrap(), None);
            s.set_setting("engine-id", "a").unwrap();
            s.set_setting("engine-id", "b").unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.setting("engine-id").unwrap().as_deref(), Some("b"));
        assert_eq!(s.schema_version().unwrap(), schema::MIGRATIONS.len() as i64);
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pier.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 999)
            .unwrap();
        match Store::open(&path) {
            Err(StoreError::TooNew { found: 999, .. }) => {}
            other => panic!("expected TooNew, got {:?}", other.err()),
        }
    }
}
