//! Go struct shapes for template data. docker runs `--format` templates over typed Go structs first
//! (and over the raw JSON map only when that fails), so `{{json .Config}}` prints the struct's fields
//! in declaration order with `omitempty` applied, `{{.Config.Entrypoint}}` prints `[]` for an absent
//! field, Go maps print and encode with sorted keys, and `{{.RootFS}}` prints `{layers [..]}`. A
//! [`StructType`] describes such a struct; [`typed`] builds the typed view of raw JSON.

use super::value::Value;

#[derive(Debug, PartialEq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// `[]string` and other slices: zero is `[]`.
    List,
    /// A Go map: keys sorted, zero is `map[]`.
    GoMap,
    /// A nested struct value.
    Struct(&'static StructType),
    /// A pointer to a struct: `<nil>` when absent or null.
    Ptr(&'static StructType),
    /// A slice of structs.
    StructList(&'static StructType),
    /// A value pier does not model: kept as the daemon sent it, `<nil>` when absent.
    Raw,
    /// `time.Time`: RFC 3339 in JSON.
    Time,
}

#[derive(Debug, PartialEq)]
pub struct Field {
    /// The Go field name templates use (`ID`, `APIVersion`).
    pub name: &'static str,
    /// The JSON key (`Id`, `ApiVersion`).
    pub json: &'static str,
    pub omitempty: bool,
    pub kind: Kind,
}

#[derive(Debug, PartialEq)]
pub struct StructType {
    /// Go type name for "can't evaluate field X in type T".
    pub name: &'static str,
    pub fields: &'static [Field],
    /// Embedded structs printed as their own `{...}` groups: field counts of each group; empty means
    /// one flat group.
    pub groups: &'static [usize],
    /// `json` renders through a Go map (docker's formatter contexts' `MarshalJSON`): keys sorted,
    /// HTML characters escaped.
    pub marshal_as_map: bool,
}

/// A formatter context (methods only, marshalled through a map).
pub const fn context(name: &'static str) -> StructType {
    StructType {
        name,
        fields: &[],
        groups: &[],
        marshal_as_map: true,
    }
}

const fn f(name: &'static str, omitempty: bool, kind: Kind) -> Field {
    Field {
        name,
        json: name,
        omitempty,
        kind,
    }
}

const fn fj(name: &'static str, json: &'static str, omitempty: bool, kind: Kind) -> Field {
    Field {
        name,
        json,
        omitempty,
        kind,
    }
}

fn zero(kind: &Kind) -> Value {
    match kind {
        Kind::Str => Value::str(""),
        Kind::Int => Value::Int(0),
        Kind::Bool => Value::Bool(false),
        Kind::List | Kind::StructList(_) => Value::List(vec![]),
        Kind::GoMap => Value::Map(vec![]),
        Kind::Struct(t) => typed(&Value::Map(vec![]), t),
        Kind::Ptr(_) | Kind::Raw => Value::Nil,
        Kind::Time => Value::str("0001-01-01T00:00:00Z"),
    }
}

/// The typed view of `raw` as a `ty`: every declared field present (zero when absent or null), in
/// declaration order; undeclared keys dropped (Go's decoder ignores them).
pub fn typed(raw: &Value, ty: &'static StructType) -> Value {
    let mut out = Vec::with_capacity(ty.fields.len());
    for fd in ty.fields {
        let v = match raw.get(fd.json) {
            None | Some(Value::Nil) | Some(Value::Missing) => zero(&fd.kind),
            Some(v) => match &fd.kind {
                Kind::GoMap => match v {
                    Value::Map(m) => {
                        let mut m = m.clone();
                        m.sort_by(|a, b| a.0.cmp(&b.0));
                        Value::Map(m)
                    }
                    other => other.clone(),
                },
                Kind::Struct(t) | Kind::Ptr(t) => typed(v, t),
                Kind::StructList(t) => match v {
                    Value::List(l) => Value::List(l.iter().map(|x| typed(x, t)).collect()),
                    other => other.clone(),
                },
                _ => v.clone(),
            },
        };
        out.push((fd.name.to_string(), v));
    }
    Value::Struct(ty, out)
}

/// Is this a Go zero value for `omitempty`?
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Missing | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(x) => *x == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Struct(..) => false,
    }
}

/// `dockerspec.DockerOCIImageConfig` (ocispec.ImageConfig + DockerOCIImageConfigExt).
pub static IMAGE_CONFIG: StructType = StructType {
    name: "*v1.DockerOCIImageConfig",
    fields: &[
        f("User", true, Kind::Str),
        f("ExposedPorts", true, Kind::GoMap),
        f("Env", true, Kind::List),
        f("Entrypoint", true, Kind::List),
        f("Cmd", true, Kind::List),
        f("Volumes", true, Kind::GoMap),
        f("WorkingDir", true, Kind::Str),
        f("Labels", true, Kind::GoMap),
        f("StopSignal", true, Kind::Str),
        f("ArgsEscaped", true, Kind::Bool),
        f("Healthcheck", true, Kind::Raw),
        f("OnBuild", true, Kind::List),
        f("Shell", true, Kind::List),
    ],
    groups: &[10, 3],
    marshal_as_map: false,
};

pub static DRIVER_DATA: StructType = StructType {
    name: "storage.DriverData",
    fields: &[f("Data", false, Kind::GoMap), f("Name", false, Kind::Str)],
    groups: &[],
    marshal_as_map: false,
};

pub static ROOTFS: StructType = StructType {
    name: "image.RootFS",
    fields: &[f("Type", true, Kind::Str), f("Layers", true, Kind::List)],
    groups: &[],
    marshal_as_map: false,
};

pub static METADATA: StructType = StructType {
    name: "image.Metadata",
    fields: &[f("LastTagTime", true, Kind::Time)],
    groups: &[],
    marshal_as_map: false,
};

/// docker 28's `image.InspectResponse`.
pub static IMAGE_INSPECT: StructType = StructType {
    name: "image.InspectResponse",
    fields: &[
        fj("ID", "Id", false, Kind::Str),
        f("RepoTags", false, Kind::List),
        f("RepoDigests", false, Kind::List),
        f("Parent", false, Kind::Str),
        f("Comment", false, Kind::Str),
        f("Created", true, Kind::Str),
        f("Container", true, Kind::Str),
        f("ContainerConfig", true, Kind::Raw),
        f("DockerVersion", false, Kind::Str),
        f("Author", false, Kind::Str),
        f("Config", false, Kind::Ptr(&IMAGE_CONFIG)),
        f("Architecture", false, Kind::Str),
        f("Variant", true, Kind::Str),
        f("Os", false, Kind::Str),
        f("OsVersion", true, Kind::Str),
        f("Size", false, Kind::Int),
        f("VirtualSize", true, Kind::Int),
        f("GraphDriver", false, Kind::Struct(&DRIVER_DATA)),
        f("RootFS", false, Kind::Struct(&ROOTFS)),
        f("Metadata", false, Kind::Struct(&METADATA)),
        f("Descriptor", true, Kind::Raw),
        f("Manifests", true, Kind::List),
    ],
    groups: &[],
    marshal_as_map: false,
};

pub static PLATFORM: StructType = StructType {
    name: "struct { Name string }",
    fields: &[f("Name", false, Kind::Str)],
    groups: &[],
    marshal_as_map: false,
};

pub static COMPONENT_VERSION: StructType = StructType {
    name: "types.ComponentVersion",
    fields: &[
        f("Name", false, Kind::Str),
        f("Version", false, Kind::Str),
        f("Details", true, Kind::GoMap),
    ],
    groups: &[],
    marshal_as_map: false,
};

/// docker 28's `types.Version` (`GET /version`).
pub static SERVER_VERSION: StructType = StructType {
    name: "*types.Version",
    fields: &[
        f("Platform", true, Kind::Struct(&PLATFORM)),
        f("Components", true, Kind::StructList(&COMPONENT_VERSION)),
        f("Version", false, Kind::Str),
        fj("APIVersion", "ApiVersion", false, Kind::Str),
        f("MinAPIVersion", true, Kind::Str),
        f("GitCommit", false, Kind::Str),
        f("GoVersion", false, Kind::Str),
        f("Os", false, Kind::Str),
        f("Arch", false, Kind::Str),
        f("KernelVersion", true, Kind::Str),
        f("Experimental", true, Kind::Bool),
        f("BuildTime", true, Kind::Str),
    ],
    groups: &[],
    marshal_as_map: false,
};

/// docker's `clientVersion` (the Client half of `version` and `info`).
pub static CLIENT_VERSION: StructType = StructType {
    name: "system.clientVersion",
    fields: &[
        f("Platform", true, Kind::Ptr(&PLATFORM)),
        f("Version", true, Kind::Str),
        fj("APIVersion", "ApiVersion", true, Kind::Str),
        f("DefaultAPIVersion", true, Kind::Str),
        f("GitCommit", true, Kind::Str),
        f("GoVersion", true, Kind::Str),
        f("Os", true, Kind::Str),
        f("Arch", true, Kind::Str),
        f("BuildTime", true, Kind::Str),
        f("Context", false, Kind::Str),
    ],
    groups: &[],
    marshal_as_map: false,
};

impl StructType {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_image_config_prints_and_encodes_like_go() {
        let raw = Value::from_json_bytes(
            br#"{"Cmd":["sh"],"Env":["A=b"],"Labels":{"z":"1","a":"2"},"Hostname":"x"}"#,
        )
        .unwrap();
        let v = typed(&raw, &IMAGE_CONFIG);
        assert_eq!(
            v.to_json(),
            r#"{"Env":["A=b"],"Cmd":["sh"],"Labels":{"a":"2","z":"1"}}"#
        );
        assert_eq!(
            v.to_string(),
            "{{ map[] [A=b] [] [sh] map[]  map[a:2 z:1]  false} {<nil> [] []}}"
        );
        assert_eq!(v.get("Entrypoint").unwrap().to_string(), "[]");
        assert!(v.get("Hostname").is_none());
    }
}
