//! The `changes` of `docker import` / `docker commit` (`--change 'CMD ["sh"]'`): Dockerfile
//! instructions that edit an image's config. As dockerd, only CMD, ENTRYPOINT, ENV, EXPOSE,
//! LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR are accepted; CMD/ENTRYPOINT take the
//! JSON (exec) form or the shell form (`/bin/sh -c …`), and an ENTRYPOINT resets a CMD not set
//! by an earlier change.

use std::collections::BTreeMap;

use pier_api::models::image::ImageConfig;

use crate::engine::{EngineError, Result};

/// Applies `changes` in order to `config`.
pub fn apply_changes(config: &mut ImageConfig, changes: &[String]) -> Result<()> {
    let mut cmd_set = false;
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (word, rest) = match change.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (change, ""),
        };
        let instruction = word.to_ascii_uppercase();
        let need_args = |what: &str| -> Result<()> {
            if rest.is_empty() {
                Err(EngineError::InvalidParameter(format!(
                    "{what} requires at least one argument"
                )))
            } else {
                Ok(())
            }
        };
        match instruction.as_str() {
            "CMD" => {
                need_args("CMD")?;
                config.cmd = Some(command(rest));
                cmd_set = true;
            }
            "ENTRYPOINT" => {
                need_args("ENTRYPOINT")?;
                config.entrypoint = Some(command(rest));
                if !cmd_set {
                    config.cmd = None;
                }
            }
            "ENV" => {
                need_args("ENV")?;
                let env = config.env.get_or_insert_with(Vec::new);
                for (k, v) in pairs(rest, "ENV")? {
                    let prefix = format!("{k}=");
                    match env.iter_mut().find(|e| e.starts_with(&prefix) || **e == k) {
                        Some(e) => *e = format!("{k}={v}"),
                        None => env.push(format!("{k}={v}")),
                    }
                }
            }
            "LABEL" => {
                need_args("LABEL")?;
                let labels = config.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in pairs(rest, "LABEL")? {
                    labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                need_args("EXPOSE")?;
                let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in words(rest)? {
                    let p = if p.contains('/') {
                        p.to_ascii_lowercase()
                    } else {
                        format!("{p}/tcp")
                    };
                    let (num, proto) = p.split_once('/').expect("has a protocol");
                    let valid_num = num
                        .split('-')
                        .all(|n| n.parse::<u16>().is_ok_and(|n| n > 0));
                    if !valid_num || !matches!(proto, "tcp" | "udp" | "sctp") {
                        return Err(EngineError::InvalidParameter(format!(
                            "invalid containerPort: {p}"
                        )));
                    }
                    ports.insert(p, serde_json::json!({}));
                }
            }
            "VOLUME" => {
                need_args("VOLUME")?;
                let list = match json_array(rest) {
                    Some(v) => v,
                    None => words(rest)?,
                };
                let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
                for v in list {
                    if v.is_empty() {
                        return Err(EngineError::InvalidParameter(
                            "VOLUME specified can not be an empty string".into(),
                        ));
                    }
                    volumes.insert(v, serde_json::json!({}));
                }
            }
            "USER" => {
                need_args("USER")?;
                config.user = rest.to_string();
            }
            "WORKDIR" => {
                need_args("WORKDIR")?;
                config.working_dir = if rest.starts_with('/') {
                    rest.to_string()
                } else {
                    let base = if config.working_dir.is_empty() {
                        "/"
                    } else {
                        config.working_dir.as_str()
                    };
                    format!("{}/{rest}", base.trim_end_matches('/'))
                };
            }
            "STOPSIGNAL" => {
                need_args("STOPSIGNAL")?;
                config.stop_signal = rest.to_string();
            }
            "ONBUILD" => {
                need_args("ONBUILD")?;
                config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(rest.to_string());
            }
            "HEALTHCHECK" => {
                return Err(EngineError::NotImplemented(
                    "pier does not implement HEALTHCHECK in changes yet".into(),
                ))
            }
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "{other} is not a valid change command"
                )))
            }
        }
    }
    Ok(())
}

/// Exec form (a JSON array of strings) or shell form.
fn command(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str(s).ok()
}

/// Splits on whitespace, honouring quotes and backslash escapes (quotes are removed).
fn words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(EngineError::InvalidParameter(format!(
            "unmatched quote in {s:?}"
        )));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `k=v k2="v 2"`, or the legacy one-pair form `k value with spaces`.
fn pairs(rest: &str, what: &str) -> Result<Vec<(String, String)>> {
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let value = rest[first.len()..].trim();
        if value.is_empty() {
            return Err(EngineError::InvalidParameter(format!(
                "{what} must have two arguments"
            )));
        }
        let value = words(value)?.join(" ");
        return Ok(vec![(first.to_string(), value)]);
    }
    words(rest)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(EngineError::InvalidParameter(format!(
                "{what} names can not be blank"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Result<ImageConfig> {
        let mut c = ImageConfig::default();
        let v: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &v)?;
        Ok(c)
    }

    #[test]
    fn instructions() {
        let c = apply(&[
            r#"CMD ["sh"]"#,
            "ENV A=1 B=\"two words\"",
            "ENV C three words",
            "ENV A=override",
            "LABEL a=b 'c d'=e",
            "EXPOSE 80 53/udp",
            "VOLUME /data /logs",
            "USER nobody",
            "WORKDIR /app",
            "WORKDIR sub",
            "STOPSIGNAL SIGINT",
            "onbuild RUN true",
        ])
        .unwrap();
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(
            c.env.unwrap(),
            vec!["A=override", "B=two words", "C=three words"]
        );
        let labels = c.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c d"], "e");
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, vec!["53/udp", "80/tcp"]);
        assert_eq!(c.volumes.unwrap().len(), 2);
        assert_eq!(c.user, "nobody");
        assert_eq!(c.working_dir, "/app/sub");
        assert_eq!(c.stop_signal, "SIGINT");
        assert_eq!(c.on_build.unwrap(), vec!["RUN true"]);
    }

    #[test]
    fn shell_forms_and_entrypoint_resets_cmd() {
        let c = apply(&["CMD echo hi"]).unwrap();
        assert_eq!(c.cmd.unwrap(), vec!["/bin/sh", "-c", "echo hi"]);
        let mut c = ImageConfig {
            cmd: Some(vec!["old".into()]),
            ..Default::default()
        };
        apply_changes(&mut c, &[r#"ENTRYPOINT ["/init"]"#.to_string()]).unwrap();
        assert_eq!(c.cmd, None);
        let c = apply(&[r#"CMD ["x"]"#, r#"ENTRYPOINT ["/init"]"#]).unwrap();
        assert_eq!(c.cmd.unwrap(), vec!["x"]);
    }

    #[test]
    fn refuses_other_instructions_and_bad_input() {
        assert_eq!(
            apply(&["RUN true"]).unwrap_err().to_string(),
            "RUN is not a valid change command"
        );
        assert!(apply(&["CMD"]).is_err());
        assert!(apply(&["EXPOSE 99999"]).is_err());
        assert!(apply(&["ENV A=\"open"]).is_err());
        assert!(apply(&["ENV A"]).is_err());
    }
}
