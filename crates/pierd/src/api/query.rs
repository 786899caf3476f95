//! Query-string parsing with dockerd's conventions: repeated keys are kept (`changes=…&changes=…`),
//! booleans are true unless empty, "0", "no", "false" or "none" (`httputils.BoolValue`), and
//! `filters` is JSON in either the current (`{"k":{"v":true}}`) or the legacy (`{"k":["v"]}`)
//! form.

use std::collections::BTreeMap;

use super::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// The first value of `key` (dockerd's `r.Form.Get`), None when absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, "" when absent.
    pub fn str(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn bool(&self, key: &str) -> bool {
        let v = self.str(key).trim().to_ascii_lowercase();
        !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
    }

    /// The `filters` parameter: filter name → accepted values.
    pub fn filters(&self) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
        let raw = self.str("filters");
        if raw.is_empty() {
            return Ok(BTreeMap::new());
        }
        parse_filters(raw)
    }
}

pub fn parse_filters(raw: &str) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let bad = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("invalid filter: {e}"));
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| bad(&e))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad(&"filters must be a JSON object"))?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let values: Vec<String> = match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(false))
                .map(|(val, _)| val.clone())
                .collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(&"filter values must be strings"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(bad(&format!("invalid value for filter {k:?}"))),
        };
        out.insert(k.clone(), values);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_bools_and_filters() {
        let q = Query::parse(Some(
            "changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1&force=1&noprune=false&x=&filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D",
        ));
        assert_eq!(q.all("changes"), vec!["CMD [\"sh\"]", "ENV A=1"]);
        assert!(q.bool("force"));
        assert!(!q.bool("noprune"));
        assert!(!q.bool("x"));
        assert!(!q.bool("missing"));
        assert_eq!(q.filters().unwrap()["dangling"], vec!["true"]);
        assert_eq!(
            parse_filters(r#"{"reference":["busybox*"]}"#).unwrap()["reference"],
            vec!["busybox*"]
        );
        assert!(parse_filters("{").is_err());
        assert!(parse_filters("[1]").is_err());
    }
}
