//! `docker history`: the image's history entries, newest first. As dockerd (graph driver
//! store): the top entry carries the image ID and its tags, older ones `<missing>`; an entry that
//! made a layer shows that layer's size.

use pier_api::models::image::HistoryItem;

use super::super::time;
use crate::engine::{Engine, EngineError, Result};

impl Engine {
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let id = self.resolve_image(name)?;
        let img = self.load_image(&id)?;
        let layers = self.store.layers(&id)?;
        let mut items = Vec::with_capacity(img.config.history.len());
        let mut layer = 0;
        for h in &img.config.history {
            let mut size = 0;
            if !h.empty_layer {
                let l = layers.get(layer).ok_or_else(|| {
                    EngineError::System("too many non-empty layers in History section".into())
                })?;
                size = l.size;
                layer += 1;
            }
            items.push(HistoryItem {
                id: "<missing>".into(),
                created: h
                    .created
                    .as_deref()
                    .and_then(time::parse)
                    .map_or(0, |t| t.timestamp()),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: None,
                size,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        items.reverse();
        if let Some(top) = items.first_mut() {
            top.id = id.clone();
            let (tags, _) = self.familiar_refs(&id)?;
            top.tags = (!tags.is_empty()).then_some(tags);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{add_image, config};
    use crate::engine::tests::engine;

    #[test]
    fn newest_first_with_id_and_tags_on_top() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = add_image(&e, &config("2024-01-01T00:00:00Z", "a", "null"), &["x:1"]);
        let h = e.image_history("x:1").unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].id, id);
        assert_eq!(h[0].tags, Some(vec!["x:1".to_string()]));
        assert_eq!(h[0].created_by, "ADD x /");
        assert_eq!(h[0].size, 50);
        assert_eq!(h[0].created, 1704067200);
    }
}
