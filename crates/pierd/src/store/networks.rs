//! Network rows (the engine's network record as JSON, names unique) and endpoint rows: one per
//! (container, network) attachment, with the allocated address while the container runs. The
//! UNIQUE (network, ip) index makes a duplicate address impossible even across pierd restarts.

use rusqlite::params;

use super::{Result, Store};

/// One endpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub container_id: String,
    pub network_id: String,
    pub ip: Option<String>,
    pub record: String,
}

impl Store {
    /// Records a network; `Ok(false)` when the name is taken.
    pub fn insert_network(&self, id: &str, name: &str, record: &str) -> Result<bool> {
        let r = self.conn().execute(
            "INSERT INTO networks (id, name, record) VALUES (?1, ?2, ?3)",
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

    pub fn update_network(&self, id: &str, record: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE networks SET record = ?2 WHERE id = ?1",
            params![id, record],
        )?;
        Ok(())
    }

    /// Every network as (id, record).
    pub fn networks(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id, record FROM networks ORDER BY rowid")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes a network and its (inactive) endpoint rows.
    pub fn delete_network(&self, id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM endpoints WHERE network_id = ?1", [id])?;
        tx.execute("DELETE FROM networks WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    /// Inserts or replaces an endpoint row; `Ok(false)` when its address is already taken on
    /// that network.
    pub fn put_endpoint(&self, row: &EndpointRow) -> Result<bool> {
        let r = self.conn().execute(
            "INSERT INTO endpoints (container_id, network_id, ip, record) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(container_id, network_id) DO UPDATE SET ip = excluded.ip, record = excluded.record",
            params![row.container_id, row.network_id, row.ip, row.record],
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

    pub fn endpoints(&self) -> Result<Vec<EndpointRow>> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT container_id, network_id, ip, record FROM endpoints ORDER BY rowid")?;
        let rows = st.query_map([], |r| {
            Ok(EndpointRow {
                container_id: r.get(0)?,
                network_id: r.get(1)?,
                ip: r.get(2)?,
                record: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn delete_endpoint(&self, container_id: &str, network_id: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM endpoints WHERE container_id = ?1 AND network_id = ?2",
            [container_id, network_id],
        )?;
        Ok(())
    }

    pub fn delete_container_endpoints(&self, container_id: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM endpoints WHERE container_id = ?1",
            [container_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_endpoints_round_trip_without_duplicate_addresses() {
        let s = Store::open_in_memory().unwrap();
        assert!(s.insert_network("n1", "bridge", "{}").unwrap());
        assert!(!s.insert_network("n2", "bridge", "{}").unwrap());
        let row = |c: &str, ip: Option<&str>| EndpointRow {
            container_id: c.into(),
            network_id: "n1".into(),
            ip: ip.map(str::to_string),
            record: "{}".into(),
        };
        assert!(s.put_endpoint(&row("a", Some("10.0.0.2"))).unwrap());
        assert!(!s.put_endpoint(&row("b", Some("10.0.0.2"))).unwrap());
        assert!(s.put_endpoint(&row("b", None)).unwrap());
        assert!(s.put_endpoint(&row("c", None)).unwrap());
        assert!(s.put_endpoint(&row("a", Some("10.0.0.3"))).unwrap());
        assert_eq!(s.endpoints().unwrap().len(), 3);
        s.delete_container_endpoints("a").unwrap();
        s.delete_endpoint("b", "n1").unwrap();
        assert_eq!(s.endpoints().unwrap(), vec![row("c", None)]);
        s.delete_network("n1").unwrap();
        assert!(s.networks().unwrap().is_empty());
        assert!(s.endpoints().unwrap().is_empty());
    }
}
