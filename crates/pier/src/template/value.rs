//! Template data: a dynamically typed value that prints the way Go's `fmt` prints the values docker's
//! templates see (`[a b]` for slices, `map[k:v]` with sorted keys, `<nil>`, `<no value>`), keeps object
//! keys in the order the daemon sent them, and keeps JSON integers as integers (Go's typed structs
//! print `4261550`, not `4.26155e+06`).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An absent field of a map: Go prints `<no value>`.
    Missing,
    /// JSON `null` / a nil interface: Go prints `<nil>`.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// A JSON object / Go map, keys in source order.
    Map(Vec<(String, Value)>),
    /// A Go struct seen through its methods (docker's formatter contexts): a missing field is an error
    /// naming the type, and `json` renders it as a map with sorted keys (docker's `MarshalJSON`).
    Struct(&'static super::typed::StructType, Vec<(String, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn from_json_bytes(raw: &[u8]) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(raw)
    }

    /// Go's `template.IsTrue`: the zero value of its type is false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(..) => true,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) | Value::Struct(_, m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A Go-ish type name for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Missing | Value::Nil => "interface {}",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Struct(t, _) => t.name,
        }
    }

    /// JSON as Go's `json.Encoder` with `SetEscapeHTML(false)` writes it (compact). Struct contexts
    /// marshal through a Go map, so their keys come out sorted and HTML characters escaped, as docker's
    /// `MarshalJSON` does.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out, false);
        out
    }

    fn write_json(&self, out: &mut String, escape_html: bool) {
        match self {
            Value::Missing | Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&go_json_float(*f)),
            Value::Str(s) => write_json_string(out, s, escape_html),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out, escape_html);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k, escape_html);
                    out.push(':');
                    v.write_json(out, escape_html);
                }
                out.push('}');
            }
            Value::Struct(t, m) if t.marshal_as_map => {
                let mut sorted: Vec<&(String, Value)> = m.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k, true);
                    out.push(':');
                    v.write_json(out, true);
                }
                out.push('}');
            }
            Value::Struct(t, m) => {
                out.push('{');
                let mut first = true;
                for (k, v) in m {
                    let field = t.field(k);
                    if field.is_some_and(|f| f.omitempty) && super::typed::is_empty(v) {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_json_string(out, field.map(|f| f.json).unwrap_or(k), escape_html);
                    out.push(':');
                    v.write_json(out, escape_html);
                }
                out.push('}');
            }
        }
    }
}

/// Go's `encoding/json` float formatting (`strconv.FormatFloat(f, 'f'/'e', -1, 64)` with its cut-offs).
fn go_json_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{}", f as i64);
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{:e}", f);
        // Rust: 1e-7 ; Go: 1e-07
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{}", f)
}

fn write_json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `%v` for float64: `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    let s = format!("{:e}", f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // strconv 'g' with the shortest precision decides on the exponent form with precision 6.
    if !(-4..6).contains(&exp) {
        let (sign, e) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        format!("{mant}e{sign}{e:02}")
    } else {
        format!("{}", f)
    }
}

impl fmt::Display for Value {
    /// Go's `fmt.Print` of the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("<no value>"),
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&go_float_v(*x)),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    v.fmt_nested(f)?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                let mut sorted: Vec<&(String, Value)> = m.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                f.write_str("map[")?;
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:")?;
                    v.fmt_nested(f)?;
                }
                f.write_str("]")
            }
            Value::Struct(t, m) => {
                // text/template prints pointers indirected: `{a b}`, embedded structs as groups.
                let groups: Vec<usize> = if t.groups.is_empty() {
                    vec![m.len()]
                } else {
                    t.groups.to_vec()
                };
                f.write_str("{")?;
                let mut idx = 0;
                for (gi, n) in groups.iter().enumerate() {
                    if gi > 0 {
                        f.write_str(" ")?;
                    }
                    if groups.len() > 1 {
                        f.write_str("{")?;
                    }
                    for j in 0..*n {
                        if j > 0 {
                            f.write_str(" ")?;
                        }
                        if let Some((_, v)) = m.get(idx) {
                            v.fmt_nested(f)?;
                        }
                        idx += 1;
                    }
                    if groups.len() > 1 {
                        f.write_str("}")?;
                    }
                }
                f.write_str("}")
            }
        }
    }
}

impl Value {
    /// Inside a slice or map Go prints a nil interface as `<nil>` too.
    fn fmt_nested(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("<nil>"),
            other => fmt::Display::fmt(other, f),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
                Ok(Value::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
                Ok(i64::try_from(u)
                    .map(Value::Int)
                    .unwrap_or(Value::Float(u as f64)))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
                Ok(Value::Float(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Value, E> {
                Ok(Value::Str(s))
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Nil)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Nil)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element()? {
                    v.push(x);
                }
                Ok(Value::List(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = map.next_entry::<String, Value>()? {
                    v.push((k, x));
                }
                Ok(Value::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go_fmt() {
        let v = Value::from_json_bytes(
            br#"{"Cmd":["sh","-c"],"Labels":{"b":"2","a":"1"},"N":null,"Size":4261550,"F":1.5}"#,
        )
        .unwrap();
        assert_eq!(v.get("Cmd").unwrap().to_string(), "[sh -c]");
        assert_eq!(v.get("Labels").unwrap().to_string(), "map[a:1 b:2]");
        assert_eq!(v.get("N").unwrap().to_string(), "<nil>");
        assert_eq!(v.get("Size").unwrap().to_string(), "4261550");
        assert_eq!(v.get("F").unwrap().to_string(), "1.5");
        assert_eq!(Value::List(vec![]).to_string(), "[]");
        assert_eq!(Value::Map(vec![]).to_string(), "map[]");
    }

    #[test]
    fn json_keeps_source_order_and_html() {
        let v = Value::from_json_bytes(br#"{"z":1,"a":"<x>","l":[true,null]}"#).unwrap();
        assert_eq!(v.to_json(), r#"{"z":1,"a":"<x>","l":[true,null]}"#);
        static T: super::super::typed::StructType = super::super::typed::context("t");
        let s = Value::Struct(
            &T,
            vec![
                ("Z".into(), Value::str("<none>")),
                ("A".into(), Value::Int(1)),
            ],
        );
        assert_eq!(s.to_json(), r#"{"A":1,"Z":"\u003cnone\u003e"}"#);
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float_v(4.26e6), "4.26e+06");
        assert_eq!(go_float_v(0.5), "0.5");
        assert_eq!(go_float_v(100.0), "100");
        assert_eq!(go_float_v(1e21), "1e+21");
    }
}
