//! `docker tag`: point `repo:tag` at an image, as dockerd's `POST /images/{name}/tag`: the
//! repository is parsed as a familiar name, a digest is refused, the tag defaults to `latest`,
//! and the image's `LastTagTime` is set.

use pier_image::parse_normalized;

use super::super::time;
use super::tag_record;
use crate::engine::{Engine, EngineError, Result};

impl Engine {
    pub fn tag_image(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        if repo.is_empty() {
            return Err(EngineError::InvalidParameter(
                "repository name must have at least one component".into(),
            ));
        }
        let r = parse_normalized(repo)?;
        if r.digest().is_some() {
            return Err(EngineError::InvalidParameter(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let r = if tag.is_empty() {
            r.with_default_tag()
        } else {
            r.with_tag(tag)?
        };
        if r.familiar_name() == "sha256" {
            return Err(EngineError::InvalidParameter(
                "refusing to create an ambiguous tag using digest algorithm as name".into(),
            ));
        }
        let id = self.resolve_image(name)?;
        let record = tag_record(&r, &id).expect("reference has a tag");
        self.store
            .set_ref(&record, Some(&time::now_rfc3339_nano()))?;
        self.image_event("tag", &id, &r.familiar_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{add_image, config};
    use crate::engine::tests::engine;

    #[test]
    fn tags_and_refuses_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = add_image(&e, &config("2024-01-01T00:00:00Z", "a", "null"), &["x:1"]);
        e.tag_image("x:1", "127.0.0.1:5000/y/z", "2").unwrap();
        e.tag_image("x:1", "mytag", "").unwrap();
        assert_eq!(e.resolve_image("127.0.0.1:5000/y/z:2").unwrap(), id);
        assert_eq!(e.resolve_image("mytag").unwrap(), id);
        let v = e.inspect_image("mytag:latest").unwrap();
        assert_ne!(v.metadata.last_tag_time, "0001-01-01T00:00:00Z");
        assert_eq!(
            v.repo_tags,
            vec!["127.0.0.1:5000/y/z:2", "mytag:latest", "x:1"]
        );

        let kind = |r: crate::engine::Result<()>| r.unwrap_err().kind();
        use pier_api::ErrorKind::*;
        assert_eq!(kind(e.tag_image("x:1", "Bad", "")), InvalidParameter);
        assert_eq!(kind(e.tag_image("x:1", "ok", "bad tag")), InvalidParameter);
        assert_eq!(kind(e.tag_image("x:1", "", "")), InvalidParameter);
        assert_eq!(kind(e.tag_image("x:1", "sha256", "abc")), InvalidParameter);
        assert_eq!(kind(e.tag_image("nope", "ok", "")), NotFound);
    }
}
