//! Go's `json.Indent`: re-indent raw JSON bytes without decoding them, so key order, number text and
//! string escapes (`\u003c`) stay exactly as the daemon sent them. docker's `inspect` prints the raw
//! response this way with a 4-space indent; empty `[]` and `{}` stay on one line.

/// Re-indent `src` (valid JSON) with `indent` per level. Returns `None` when `src` is not JSON.
pub fn indent(src: &[u8], indent: &str) -> Option<String> {
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut need_indent = false; // just opened a container: newline deferred until we know it's not empty
    let mut i = 0;
    let s = std::str::from_utf8(src).ok()?;
    let b = src;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    while i < b.len() {
        let c = b[i];
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        if need_indent && c != b']' && c != b'}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
                out.push_str(&s[start..=i]);
                i += 1;
                continue;
            }
            b'{' | b'[' => {
                out.push(c as char);
                need_indent = true;
            }
            b',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            b':' => out.push_str(": "),
            b'}' | b']' => {
                if need_indent {
                    need_indent = false; // empty container
                } else {
                    depth = depth.checked_sub(1)?;
                    newline(&mut out, depth);
                }
                out.push(c as char);
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(
                        b[i],
                        b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\r' | b'\n'
                    )
                {
                    i += 1;
                }
                out.push_str(&s[start..i]);
                continue;
            }
        }
        i += 1;
    }
    Some(out)
}

/// Go's `json.Compact`: drop insignificant whitespace, keep everything else byte for byte.
pub fn compact(src: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(src).ok()?;
    let mut out = String::with_capacity(src.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\r' | '\n') {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go_json_indent() {
        let raw = br#"[{"Id":"sha256:x","RepoTags":["a:1"],"E":[],"O":{},"C":{"Cmd":["sh"],"N":null,"X":"\u003cy\u003e"},"Size":12}]"#;
        let want = "[\n    {\n        \"Id\": \"sha256:x\",\n        \"RepoTags\": [\n            \"a:1\"\n        ],\n        \"E\": [],\n        \"O\": {},\n        \"C\": {\n            \"Cmd\": [\n                \"sh\"\n            ],\n            \"N\": null,\n            \"X\": \"\\u003cy\\u003e\"\n        },\n        \"Size\": 12\n    }\n]";
        assert_eq!(indent(raw, "    ").unwrap(), want);
    }

    #[test]
    fn compacts() {
        assert_eq!(
            compact(b"[ {\"a b\" : [1, 2]} ,\n{}]").unwrap(),
            "[{\"a b\":[1,2]},{}]"
        );
    }

    #[test]
    fn whitespace_in_input_is_dropped() {
        assert_eq!(
            indent(b" { \"a\" : [ 1 , 2 ] }\n", "  ").unwrap(),
            "{\n  \"a\": [\n    1,\n    2\n  ]\n}"
        );
    }
}
