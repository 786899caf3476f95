//! Numbered schema migrations. Migration N (1-based) brings `user_version` from N-1 to N; never
//! edit a released migration, append a new one.

use rusqlite::Connection;

use super::{Result, StoreError};

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: images, their layers, and the names that point at them.
    r#"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- One row per image; the id is "sha256:<hex>" of its config blob.
    CREATE TABLE images (
        id              TEXT PRIMARY KEY,
        config          TEXT NOT NULL,      -- the config blob (JSON), also in the content store
        manifest_digest TEXT,               -- the platform manifest it was pulled as (NULL: local)
        size            INTEGER NOT NULL,   -- unpacked bytes of all its layers
        parent          TEXT NOT NULL DEFAULT '',
        created         INTEGER NOT NULL,   -- unix seconds of the image's "created"
        last_tag_time   TEXT,               -- RFC 3339 nano, NULL when never tagged locally
        added_at        INTEGER NOT NULL
    );
    -- The layers of an image, bottom (idx 0) to top.
    CREATE TABLE image_layers (
        image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        diff_id     TEXT NOT NULL,          -- digest of the uncompressed tar
        chain_id    TEXT NOT NULL,          -- names the unpacked snapshot
        size        INTEGER NOT NULL,       -- unpacked bytes of this layer
        blob_digest TEXT,                   -- the compressed blob kept in the content store
        blob_size   INTEGER,
        media_type  TEXT,
        PRIMARY KEY (image_id, idx)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    CREATE INDEX image_layers_blob ON image_layers(blob_digest);
    -- repo:tag -> image ("docker.io/library/busybox:latest").
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,
        repo     TEXT NOT NULL,
        tag      TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX tags_image ON tags(image_id);
    -- repo@digest -> image ("docker.io/library/busybox@sha256:...").
    CREATE TABLE digests (
        name     TEXT PRIMARY KEY,
        repo     TEXT NOT NULL,
        digest   TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX digests_image ON digests(image_id);
    "#,
    // 2: containers (the engine's record as JSON; names unique).
    r#"
    CREATE TABLE containers (
        id     TEXT PRIMARY KEY,
        name   TEXT NOT NULL UNIQUE,    -- "/x"
        record TEXT NOT NULL
    );
    "#,
    // 3: networks and their endpoints. An endpoint row is one container's attachment to one
    // network (its config, and while the container runs its address, MAC, veth and published
    // ports): the network's IP allocations are the addresses of its active endpoints.
    r#"
    CREATE TABLE networks (
        id     TEXT PRIMARY KEY,
        name   TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        container_id TEXT NOT NULL,
        network_id   TEXT NOT NULL REFERENCES networks(id),
        ip           TEXT,                -- the allocated address while active, else NULL
        record       TEXT NOT NULL,
        PRIMARY KEY (container_id, network_id)
    );
    CREATE UNIQUE INDEX endpoints_ip ON endpoints(network_id, ip);
    "#,
    // 4: the layers each container's rootfs stands on (its image's chain at create time), so
    // they outlive a forced `docker rmi` of that image until the container is removed.
    // Existing containers get their image's layers.
    r#"
    CREATE TABLE container_layers (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        idx          INTEGER NOT NULL,    -- bottom (0) to top, as image_layers
        chain_id     TEXT NOT NULL,       -- names the unpacked snapshot
        size         INTEGER NOT NULL,    -- unpacked bytes of this layer
        PRIMARY KEY (container_id, idx)
    );
    CREATE INDEX container_layers_chain ON container_layers(chain_id);
    INSERT INTO container_layers (container_id, idx, chain_id, size)
        SELECT c.id, l.idx, l.chain_id, l.size
        FROM containers c JOIN image_layers l ON l.image_id = json_extract(c.record, '$.image');
    "#,
];

pub(super) fn migrate(conn: &mut Connection, name: &str) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::TooNew {
            path: name.to_string(),
            found: current,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_of_an_older_store_get_their_images_layers() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO images (id, config, size, created, added_at) VALUES ('sha256:a', '{}', 2, 0, 0);
            INSERT INTO image_layers (image_id, idx, diff_id, chain_id, size)
                VALUES ('sha256:a', 0, 'd0', 'c0', 1), ('sha256:a', 1, 'd1', 'c1', 1);
            INSERT INTO containers (id, name, record) VALUES ('k', '/k', '{"image":"sha256:a"}');
            INSERT INTO containers (id, name, record) VALUES ('g', '/g', '{"image":"sha256:gone"}');
            "#,
        )
        .unwrap();
        migrate(&mut conn, ":memory:").unwrap();
        let rows: Vec<(String, String)> = conn
            .prepare(
                "SELECT container_id, chain_id FROM container_layers ORDER BY container_id, idx",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![("k".into(), "c0".into()), ("k".into(), "c1".into())]
        );
    }
}
