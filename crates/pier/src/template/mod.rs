//! Go `text/template` for `--format`, written for pier rather than using the `gtmpl` crate: gtmpl
//! prints slices and maps with Rust's `Debug` (`[String("sh")]`, unordered maps) where docker prints
//! Go's `[sh]` / `map[a:b]`, and it loses JSON key order and integer-ness, so docker's common templates
//! (`{{.Config.Cmd}}`, `{{json .Config}}`, `{{.Size}}`) would not print what docker prints.
//!
//! Contract: [`Template::parse`] accepts Go template syntax (see [`parse`]); [`Template::execute`]
//! evaluates it over a [`Value`] with Go's builtins and docker's template functions
//! (`json split join title lower upper pad truncate`); [`Template::execute_header`] uses docker's
//! header functions (for `table` formats). Errors carry Go's message shapes
//! (`template: :1:2: executing "" at <.Foo>: ...`). Not supported: `define`, `template`, `block`.

mod exec;
pub mod parse;
mod printf;
pub mod typed;
pub mod value;

pub use value::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Exec(String),
}

#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
    /// Go's template name, shown in errors (`template: version:1:2: executing "version" ...`).
    name: String,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        // Go reports parse errors with the line only ("template: :1: unclosed action").
        let nodes = parse::parse(src).map_err(|e| match e {
            TemplateError::Parse(m) => TemplateError::Parse(line_only(&m)),
            other => other,
        })?;
        Ok(Template {
            nodes,
            name: String::new(),
        })
    }

    /// Parse a template that has a name (docker names a few, e.g. `version`).
    pub fn parse_named(name: &str, src: &str) -> Result<Template, TemplateError> {
        let mut t = Template::parse(src).map_err(|e| rename(e, name))?;
        t.name = name.to_string();
        Ok(t)
    }

    fn named<T>(&self, r: Result<T, TemplateError>) -> Result<T, TemplateError> {
        if self.name.is_empty() {
            r
        } else {
            r.map_err(|e| rename(e, &self.name))
        }
    }

    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.named(exec::Exec::new(&mut out, data, false).run(&self.nodes, data))?;
        Ok(out)
    }

    /// Like [`Template::execute`] with Go's `missingkey=error` (docker's inspect fallback).
    pub fn execute_strict(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec::Exec::new(&mut out, data, false)
            .missing_key_error()
            .run(&self.nodes, data)?;
        Ok(out)
    }

    /// Render with docker's header functions (table headers).
    pub fn execute_header(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec::Exec::new(&mut out, data, true).run(&self.nodes, data)?;
        Ok(out)
    }
}

fn rename(e: TemplateError, name: &str) -> TemplateError {
    let fix = |m: String| {
        m.replacen("template: :", &format!("template: {name}:"), 1)
            .replacen("executing \"\"", &format!("executing \"{name}\""), 1)
    };
    match e {
        TemplateError::Parse(m) => TemplateError::Parse(fix(m)),
        TemplateError::Exec(m) => TemplateError::Exec(fix(m)),
    }
}

fn line_only(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("template: :") {
        if let Some((pos, tail)) = rest.split_once(": ") {
            let line = pos.split(':').next().unwrap_or(pos);
            return format!("template: :{line}: {tail}");
        }
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &str, json: &str) -> String {
        let v = Value::from_json_bytes(json.as_bytes()).unwrap();
        Template::parse(t).unwrap().execute(&v).unwrap()
    }

    const IMG: &str = r#"{"Id":"sha256:abc","RepoTags":["busybox:latest","b:1"],"Size":4261550,
        "Config":{"Cmd":["sh"],"Env":["PATH=/bin","A=b"],"Labels":{"z":"1","a":"2"},"Entrypoint":null},
        "Args":["-c","echo hi"],"Name":"MiXed"}"#;

    #[test]
    fn docker_common_templates() {
        assert_eq!(run("{{.Id}}", IMG), "sha256:abc");
        assert_eq!(run("{{index .RepoTags 0}}", IMG), "busybox:latest");
        assert_eq!(run("{{.Config.Cmd}}", IMG), "[sh]");
        assert_eq!(run("{{.Config.Labels}}", IMG), "map[a:2 z:1]");
        assert_eq!(run("{{json .Config.Labels}}", IMG), r#"{"z":"1","a":"2"}"#);
        assert_eq!(run("{{json .Config.Cmd}}", IMG), r#"["sh"]"#);
        assert_eq!(run("{{.Size}}", IMG), "4261550");
        assert_eq!(run("{{join .Args \" \"}}", IMG), "-c echo hi");
        assert_eq!(
            run("{{lower .Name}}|{{upper .Name}}|{{.Name | lower}}", IMG),
            "mixed|MIXED|mixed"
        );
        assert_eq!(run("{{truncate .Id 6}}", IMG), "sha256");
        assert_eq!(run("{{pad .Name 1 2}}|", IMG), " MiXed  |");
        assert_eq!(
            run(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                IMG
            ),
            "a=2;z=1;"
        );
        assert_eq!(
            run("{{range .RepoTags}}[{{.}}]{{end}}", IMG),
            "[busybox:latest][b:1]"
        );
        assert_eq!(
            run(
                "{{range $i, $t := .RepoTags}}{{if $i}},{{end}}{{$t}}{{end}}",
                IMG
            ),
            "busybox:latest,b:1"
        );
        assert_eq!(run("{{.Missing}}", IMG), "<no value>");
        assert_eq!(run("{{.Config.Entrypoint}}", IMG), "<nil>");
        assert_eq!(run("{{len .RepoTags}}", IMG), "2");
        assert_eq!(run("{{split \"a:b\" \":\"}}", IMG), "[a b]");
        assert_eq!(run("{{title \"hello world\"}}", IMG), "Hello World");
        assert_eq!(
            run("{{printf \"%s-%d\" .Name .Size}}", IMG),
            "MiXed-4261550"
        );
    }

    #[test]
    fn control_flow_and_trimming() {
        assert_eq!(
            run(
                "{{if eq .Name \"x\"}}a{{else if eq .Name \"MiXed\"}}b{{else}}c{{end}}",
                IMG
            ),
            "b"
        );
        assert_eq!(run("{{with .Config}}{{.Cmd}}{{end}}", IMG), "[sh]");
        assert_eq!(run("{{with .Nope}}x{{else}}none{{end}}", IMG), "none");
        assert_eq!(run("a  {{- \"b\" -}}  c", IMG), "abc");
        assert_eq!(run("{{/* comment */}}x", IMG), "x");
        assert_eq!(run("{{$n := .Name}}{{$n}}", IMG), "MiXed");
        assert_eq!(
            run(
                "{{range .RepoTags}}{{if eq . \"b:1\"}}{{break}}{{end}}{{.}}{{end}}",
                IMG
            ),
            "busybox:latest"
        );
        assert_eq!(run("{{range .Nothing}}x{{else}}empty{{end}}", IMG), "empty");
        assert_eq!(run("{{(index .Config.Env 1)}}", IMG), "A=b");
        assert_eq!(
            run("{{not (eq 1 2)}} {{and 1 0}} {{or 0 \"x\"}}", IMG),
            "true 0 x"
        );
        assert_eq!(
            run("{{json .}}", r#"{"b":1,"a":[1,2]}"#),
            r#"{"b":1,"a":[1,2]}"#
        );
    }

    #[test]
    fn errors_have_go_shapes() {
        static T: typed::StructType = typed::context("*formatter.imageContext");
        let s = Value::Struct(&T, vec![("ID".into(), Value::str("x"))]);
        let e = Template::parse("{{.Foo}}")
            .unwrap()
            .execute(&s)
            .unwrap_err();
        assert_eq!(e.to_string(), "template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type *formatter.imageContext");
        assert!(Template::parse("{{if .A}}x").is_err());
        assert!(Template::parse("{{.A").is_err());
        let e = Template::parse("{{nope .A}}")
            .unwrap()
            .execute(&s)
            .unwrap_err();
        assert_eq!(e.to_string(), "template: :1: function \"nope\" not defined");
    }

    #[test]
    fn header_functions_pass_names_through() {
        let h = Value::Map(vec![("Repository".into(), Value::str("REPOSITORY"))]);
        let t = Template::parse("{{lower .Repository}}\t{{json .Repository}}").unwrap();
        assert_eq!(t.execute_header(&h).unwrap(), "REPOSITORY\tREPOSITORY");
    }
}
