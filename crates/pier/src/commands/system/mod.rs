//! `pier version`, `pier info` (and `pier system info`), `pier inspect` (any object kind).

pub mod info;
pub mod inspect;
pub mod version;

use crate::template::Value;

/// The client half of `version`/`info`: docker's `clientVersion` with pier's values.
pub fn client_version(api_version: &str) -> Vec<(String, Value)> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut v = vec![
        (
            "Platform".to_string(),
            Value::Map(vec![("Name".into(), Value::str("Pier"))]),
        ),
        ("Version".into(), Value::str(env!("CARGO_PKG_VERSION"))),
    ];
    if !api_version.is_empty() {
        v.push(("ApiVersion".into(), Value::str(api_version)));
    }
    v.push((
        "DefaultAPIVersion".into(),
        Value::str(crate::client::MAX_API_VERSION),
    ));
    v.push(("Os".into(), Value::str(std::env::consts::OS)));
    v.push(("Arch".into(), Value::str(arch)));
    v.push(("Context".into(), Value::str("default")));
    v
}
