//! `docker images`: summaries of stored images, newest first, with dockerd's filters:
//! `reference` (glob on the familiar name, with or without tag), `dangling`, `label`,
//! `before`/`since` (an image), and `until` (a time). Only the names matching a `reference`
//! filter are listed for an image.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use pier_api::models::image::ImageSummary;
use pier_image::parse_normalized;

use super::ImageConfigFile;
use crate::engine::filters::{self, Filters};
use crate::engine::{time, Engine, Result};
use crate::store::RefKind;

pub struct ListOptions {
    pub all: bool,
    pub filters: Filters,
    /// Compute `SharedSize` (bytes of layers other images share); -1 otherwise.
    pub shared_size: bool,
}

const ALLOWED: &[&str] = &["before", "dangling", "label", "reference", "since", "until"];

impl Engine {
    pub fn list_images(&self, opts: &ListOptions) -> Result<Vec<ImageSummary>> {
        let f = &opts.filters;
        filters::check_keys(f, ALLOWED)?;
        let dangling_filter = f.contains_key("dangling");
        let dangling_only = filters::bool_value(f, "dangling", false)?;
        let created_of = |id: &str| -> Result<Option<DateTime<FixedOffset>>> {
            let img = self.load_image(id)?;
            Ok(img.config.created.as_deref().and_then(time::parse))
        };
        let mut before = None;
        for name in f.get("before").into_iter().flatten() {
            before = created_of(&self.resolve_image(name)?)?;
        }
        let mut since = None;
        for name in f.get("since").into_iter().flatten() {
            since = created_of(&self.resolve_image(name)?)?;
        }
        let mut until = None;
        for v in f.get("until").into_iter().flatten() {
            until = Some(filters::parse_timestamp(v, Utc::now())?);
        }
        let patterns = f.get("reference").cloned().unwrap_or_default();
        let labels = f.get("label").cloned().unwrap_or_default();

        let mut refs_by_image: HashMap<String, Vec<_>> = HashMap::new();
        for r in self.store.all_refs()? {
            refs_by_image.entry(r.image_id.clone()).or_default().push(r);
        }
        let chain_counts = if opts.shared_size {
            let mut counts: HashMap<String, i64> = HashMap::new();
            for img in self.store.images()? {
                for l in self.store.layers(&img.id)? {
                    *counts.entry(l.chain_id).or_default() += 1;
                }
            }
            Some(counts)
        } else {
            None
        };

        let mut out = Vec::new();
        for record in self.store.images()? {
            let config = ImageConfigFile::parse(record.config.as_bytes())?;
            let created = config.created.as_deref().and_then(time::parse);
            if let (Some(b), Some(c)) = (before, created) {
                if c >= b {
                    continue;
                }
            }
            if let Some(s) = since {
                if created.is_none_or(|c| c <= s) {
                    continue;
                }
            }
            if let (Some(u), Some(c)) = (until, created) {
                if c > u {
                    continue;
                }
            }
            if !labels.is_empty() && !filters::labels_match(&labels, config.labels()) {
                continue;
            }

            let mut repo_tags = Vec::new();
            let mut repo_digests = Vec::new();
            for r in refs_by_image.get(&record.id).into_iter().flatten() {
                let parsed = parse_normalized(&r.name)?;
                let shown = parsed.familiar_string();
                if !patterns.is_empty() {
                    let mut found = false;
                    for p in &patterns {
                        if filters::glob_match(p, &shown)?
                            || filters::glob_match(p, &parsed.familiar_name())?
                        {
                            found = true;
                            break;
                        }
                    }
                    if !found {
                        continue;
                    }
                }
                match r.kind {
                    RefKind::Tag => repo_tags.push(shown),
                    RefKind::Digest => repo_digests.push(shown),
                }
            }
            if repo_tags.is_empty() && repo_digests.is_empty() {
                if !opts.all && !self.store.children(&record.id)?.is_empty() {
                    continue;
                }
                if dangling_filter && !dangling_only {
                    continue;
                }
                if !patterns.is_empty() {
                    continue;
                }
            } else if dangling_only && !repo_tags.is_empty() {
                continue;
            }
            repo_tags.sort();
            repo_digests.sort();

            let shared_size = match &chain_counts {
                None => -1,
                Some(counts) => self
                    .store
                    .layers(&record.id)?
                    .iter()
                    .filter(|l| counts.get(&l.chain_id).copied().unwrap_or(0) > 1)
                    .map(|l| l.size)
                    .sum(),
            };
            out.push((
                created,
                ImageSummary {
                    containers: -1,
                    created: created.map_or(0, |c| c.timestamp()),
                    id: record.id.clone(),
                    labels: config.labels().filter(|l| !l.is_empty()).cloned(),
                    parent_id: record.parent.clone(),
                    repo_digests,
                    repo_tags,
                    shared_size,
                    size: record.size,
                    virtual_size: None,
                },
            ));
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        Ok(out.into_iter().map(|(_, s)| s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{add_image, config};
    use super::*;
    use crate::engine::tests::engine;

    fn list(e: &Engine, filters: &[(&str, &str)]) -> crate::engine::Result<Vec<ImageSummary>> {
        let mut f = Filters::new();
        for (k, v) in filters {
            f.entry(k.to_string()).or_default().push(v.to_string());
        }
        e.list_images(&ListOptions {
            all: false,
            filters: f,
            shared_size: false,
        })
    }

    fn ids(v: &[ImageSummary]) -> Vec<String> {
        v.iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn filters_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let old = add_image(
            &e,
            &config("2024-01-01T00:00:00Z", "a", r#"{"tier":"web"}"#),
            &["busybox:1", "127.0.0.1:5000/x/busybox:2"],
        );
        let mid = add_image(&e, &config("2024-06-01T00:00:00Z", "b", "null"), &[]);
        let new = add_image(
            &e,
            &config("2025-01-01T00:00:00Z", "c", r#"{"tier":"db"}"#),
            &["alpine"],
        );

        assert_eq!(
            ids(&list(&e, &[]).unwrap()),
            vec![new.clone(), mid.clone(), old.clone()]
        );
        let all = list(&e, &[]).unwrap();
        assert_eq!(
            all[2].repo_tags,
            vec!["127.0.0.1:5000/x/busybox:2", "busybox:1"]
        );
        assert_eq!(all[1].repo_tags, Vec::<String>::new());
        assert_eq!(all[0].labels.as_ref().unwrap()["tier"], "db");
        assert_eq!(all[1].labels, None);
        assert_eq!(all[0].containers, -1);

        assert_eq!(
            ids(&list(&e, &[("dangling", "true")]).unwrap()),
            vec![mid.clone()]
        );
        assert_eq!(
            ids(&list(&e, &[("dangling", "false")]).unwrap()),
            vec![new.clone(), old.clone()]
        );
        let r = list(&e, &[("reference", "busybox")]).unwrap();
        assert_eq!(ids(&r), vec![old.clone()]);
        assert_eq!(
            r[0].repo_tags,
            vec!["busybox:1"],
            "only matching names are listed"
        );
        assert_eq!(
            ids(&list(&e, &[("reference", "*/*/busy*")]).unwrap()),
            vec![old.clone()]
        );
        assert_eq!(
            ids(&list(&e, &[("label", "tier=web")]).unwrap()),
            vec![old.clone()]
        );
        assert_eq!(
            ids(&list(&e, &[("label", "tier")]).unwrap()),
            vec![new.clone(), old.clone()]
        );
        assert_eq!(
            ids(&list(&e, &[("before", "alpine")]).unwrap()),
            vec![mid.clone(), old.clone()]
        );
        assert_eq!(
            ids(&list(&e, &[("since", "busybox:1")]).unwrap()),
            vec![new.clone(), mid.clone()]
        );
        assert_eq!(
            ids(&list(&e, &[("until", "2024-03-01")]).unwrap()),
            vec![old.clone()]
        );

        assert_eq!(
            list(&e, &[("bogus", "1")]).unwrap_err().to_string(),
            "invalid filter 'bogus'"
        );
        assert!(list(&e, &[("before", "nope")]).is_err());
    }

    #[test]
    fn shared_size_counts_layers_used_twice() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        add_image(&e, &config("2024-01-01T00:00:00Z", "a", "null"), &["a:1"]);
        add_image(&e, &config("2024-01-02T00:00:00Z", "a", "null"), &["b:1"]);
        let v = e
            .list_images(&ListOptions {
                all: false,
                filters: Filters::new(),
                shared_size: true,
            })
            .unwrap();
        assert!(v.iter().all(|s| s.shared_size == 50));
    }
}
