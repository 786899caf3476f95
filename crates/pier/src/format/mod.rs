//! Output formatting shared by the commands, as docker's `cli/command/formatter` does it: the
//! `table`/`json`/custom `--format` selection ([`render`]), docker's tabwriter ([`tabwriter`]), human
//! sizes and durations ([`units`]), and Go's `json.Indent` for inspect output ([`json_indent`]).

pub mod json_indent;
pub mod tabwriter;
pub mod units;

use crate::template::{Template, Value};

/// `--format` values with a meaning of their own.
pub const TABLE: &str = "table";
pub const JSON: &str = "json";

#[derive(Debug, thiserror::Error)]
#[error("template parsing error: {0}")]
pub struct FormatError(pub String);

pub fn is_table(format: &str) -> bool {
    format.starts_with(TABLE)
}

/// docker's `Context.preFormat`: drop the `table` prefix, map `json` to `{{json .}}`, trim spaces and
/// turn the two-character escapes `\t` and `\n` into tab and newline.
pub fn final_format(format: &str) -> String {
    let f = if let Some(rest) = format.strip_prefix(TABLE) {
        rest.to_string()
    } else if format == JSON {
        "{{json .}}".to_string()
    } else {
        format.to_string()
    };
    f.trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n")
}

/// Render `rows` with `format` like docker's `Context.Write`: each row's output followed by a newline;
/// for `table` formats a header row (the template run over `header` with docker's header functions)
/// and the whole aligned by docker's tabwriter.
pub fn render(format: &str, header: &Value, rows: &[Value]) -> Result<String, FormatError> {
    let tmpl = Template::parse(&final_format(format)).map_err(|e| FormatError(e.to_string()))?;
    let mut body = String::new();
    for row in rows {
        body.push_str(&tmpl.execute(row).map_err(|e| FormatError(e.to_string()))?);
        body.push('\n');
    }
    if is_table(format) {
        let mut tw = tabwriter::TabWriter::docker();
        tw.write_str(&tmpl.execute_header(header).unwrap_or_default());
        tw.write_str("\n");
        tw.write_str(&body);
        Ok(String::from_utf8_lossy(&tw.finish()).into_owned())
    } else {
        Ok(body)
    }
}

/// docker's `stringid.TruncateID`: drop the algorithm prefix, keep 12 characters.
pub fn truncate_id(id: &str) -> String {
    let hex = id.split_once(':').map(|(_, h)| h).unwrap_or(id);
    hex.chars().take(12).collect()
}

/// `sortorder.NaturalLess` as an ordering: runs of digits compare by value (then fewer leading
/// zeros first), digits sort before other bytes, everything else bytewise.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da { Less } else { Greater };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (nz_a, nz_b) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let by_len = (i - nz_a).cmp(&(j - nz_b));
        if by_len != Equal {
            return by_len;
        }
        let by_digits = a[nz_a..i].cmp(&b[nz_b..j]);
        if by_digits != Equal {
            return by_digits;
        }
        if nz_a != nz_b {
            return nz_a.cmp(&nz_b);
        }
    }
    (a.len() - i)
        .cmp(&(b.len() - j))
        .then(a.len().cmp(&b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["net10", "net2", "bridge", "net02", "host", "a1b", "none"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["a1b", "bridge", "host", "net2", "net02", "net10", "none"]
        );
    }

    #[test]
    fn table_json_and_custom_formats() {
        let header = Value::Map(vec![
            ("A".into(), Value::str("COL A")),
            ("B".into(), Value::str("B")),
        ]);
        static T: crate::template::typed::StructType = crate::template::typed::context("t");
        let rows = vec![Value::Struct(
            &T,
            vec![
                ("A".into(), Value::str("x")),
                ("B".into(), Value::str("<y>")),
            ],
        )];
        assert_eq!(
            render("table {{.A}}\\t{{.B}}", &header, &rows).unwrap(),
            "COL A     B\nx         <y>\n"
        );
        assert_eq!(render("{{.A}}:{{.B}}", &header, &rows).unwrap(), "x:<y>\n");
        assert_eq!(
            render("json", &header, &rows).unwrap(),
            "{\"A\":\"x\",\"B\":\"\\u003cy\\u003e\"}\n"
        );
        assert_eq!(render("table {{.A}}", &header, &[]).unwrap(), "COL A\n");
        let e = render("{{.C}}", &header, &rows).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("template parsing error: template: :1:2: executing"));
    }

    #[test]
    fn truncates_ids() {
        assert_eq!(
            truncate_id("sha256:65bc378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca"),
            "65bc378d5b95"
        );
    }
}
