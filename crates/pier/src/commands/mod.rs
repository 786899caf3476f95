//! One module per noun, one file per verb, as docker's `cli/command/<noun>/<verb>.go`. Each verb has a
//! clap `Args` struct and an async `run(&mut Ctx, args)`; output goes to stdout/stderr exactly as
//! docker writes it. Container commands slot in as `container/` the same way.

pub mod container;
pub mod image;
pub mod network;
pub mod system;

use crate::client::Client;
use crate::error::{CliError, Result};
use std::path::PathBuf;

/// What every command gets: the API client and the CLI's config directory.
pub struct Ctx {
    pub client: Client,
    pub config_dir: PathBuf,
}

impl Ctx {
    /// `config.json` in the config dir, or an empty object when absent or unreadable.
    pub fn config_file(&self) -> serde_json::Value {
        std::fs::read(self.config_dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Object(Default::default()))
    }

    /// `X-Registry-Auth` for a registry host: credentials from `config.json`'s `auths` (base64
    /// `user:pass` in `auth`), as docker's CLI sends them; `e30=` (`{}`) when there are none.
    pub fn registry_auth(&self, domain: &str) -> String {
        use base64::Engine;
        let cfg = self.config_file();
        let key_candidates: Vec<String> = if domain == "docker.io" || domain == "index.docker.io" {
            vec![
                "https://index.docker.io/v1/".into(),
                "index.docker.io".into(),
                "docker.io".into(),
            ]
        } else {
            vec![
                domain.to_string(),
                format!("https://{domain}"),
                format!("http://{domain}"),
            ]
        };
        let auths = cfg.get("auths");
        for k in &key_candidates {
            let Some(entry) = auths.and_then(|a| a.get(k)) else {
                continue;
            };
            let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) else {
                continue;
            };
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(auth) else {
                continue;
            };
            let decoded = String::from_utf8_lossy(&decoded).to_string();
            let Some((user, pass)) = decoded.split_once(':') else {
                continue;
            };
            let json = serde_json::json!({"username": user, "password": pass, "serveraddress": k});
            return base64::engine::general_purpose::URL_SAFE.encode(json.to_string());
        }
        "e30=".to_string()
    }
}

/// docker's `opts.FilterOpt` parsing of repeated `--filter key=value` into the API's JSON
/// (`{"key":{"value":true}}`, keys sorted as Go's map marshalling does).
pub fn filters_json(filters: &[String]) -> Result<Option<String>> {
    let mut map: std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>> =
        Default::default();
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            return Err(CliError::Flag { message: format!("invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"), code: 125 });
        };
        map.entry(k.trim().to_lowercase())
            .or_default()
            .insert(v.trim().to_string(), true);
    }
    if map.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        serde_json::to_string(&map).expect("filters serialize"),
    ))
}

pub fn add_filter(filters: &mut Vec<String>, key: &str, value: &str) {
    filters.push(format!("{key}={value}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_encode_like_docker() {
        let f = filters_json(&[
            "dangling=true".into(),
            "reference=busybox".into(),
            "reference=a*".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            f,
            r#"{"dangling":{"true":true},"reference":{"a*":true,"busybox":true}}"#
        );
        assert!(filters_json(&["nope".into()]).is_err());
        assert!(filters_json(&[]).unwrap().is_none());
    }
}
