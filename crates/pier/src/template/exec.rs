//! Evaluation of parsed templates over [`Value`]s, with Go's builtin functions (`and or not len index
//! slice print printf println eq ne lt le gt ge html js urlquery`) and docker's (`json split join title
//! lower upper pad truncate`). In header mode (docker's table headers) `json split join title lower
//! upper truncate` return their first argument unchanged, as docker's `HeaderFunctions` do.

use super::parse::{Arg, Command, Node, Pipeline};
use super::value::Value;
use super::TemplateError;

pub struct Exec<'a> {
    out: &'a mut String,
    vars: Vec<(String, Value)>,
    header: bool,
    missing_key_error: bool,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

fn exec_err(p: &Pipeline, msg: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!(
        "template: :{}: executing \"\" at <{}>: {}",
        p.pos, p.source, msg
    ))
}

impl<'a> Exec<'a> {
    pub fn new(out: &'a mut String, root: &Value, header: bool) -> Self {
        Exec {
            out,
            vars: vec![("$".to_string(), root.clone())],
            header,
            missing_key_error: false,
        }
    }

    /// Go's `missingkey=error`: a missing map key is an error instead of `<no value>`.
    pub fn missing_key_error(mut self) -> Self {
        self.missing_key_error = true;
        self
    }

    pub fn run(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        self.list(nodes, dot).map(|_| ())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for n in nodes {
            match self.node(n, dot)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn scoped(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let r = self.list(nodes, dot);
        self.vars.truncate(mark);
        r
    }

    fn node(&mut self, n: &Node, dot: &Value) -> Result<Flow, TemplateError> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipeline(p, dot)?;
                if p.decls.is_empty() {
                    self.out.push_str(&v.to_string());
                }
            }
            Node::If(p, body, els) => {
                let mark = self.vars.len();
                let v = self.pipeline(p, dot)?;
                let r = if v.truth() {
                    self.list(body, dot)
                } else {
                    self.list(els, dot)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::With(p, body, els) => {
                let mark = self.vars.len();
                let v = self.pipeline(p, dot)?;
                let r = if v.truth() {
                    self.list(body, &v)
                } else {
                    self.list(els, dot)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::Range(p, body, els) => {
                let mark = self.vars.len();
                // Range declarations bind per element, not to the pipeline value.
                let mut inner = p.clone();
                let decls = std::mem::take(&mut inner.decls);
                let v = self.pipeline(&inner, dot)?;
                let items: Vec<(Value, Value)> = match &v {
                    Value::List(l) => l
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (Value::Int(i as i64), x.clone()))
                        .collect(),
                    Value::Map(m) => {
                        let mut s: Vec<(Value, Value)> = m
                            .iter()
                            .map(|(k, x)| (Value::Str(k.clone()), x.clone()))
                            .collect();
                        s.sort_by_key(|a| a.0.to_string());
                        s
                    }
                    Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
                    Value::Nil | Value::Missing => Vec::new(),
                    other => return Err(exec_err(p, format!("range can't iterate over {other}"))),
                };
                if items.is_empty() {
                    let r = self.list(els, dot);
                    self.vars.truncate(mark);
                    return r;
                }
                for (k, x) in items {
                    let m2 = self.vars.len();
                    match decls.len() {
                        0 => {}
                        1 => self.vars.push((decls[0].clone(), x.clone())),
                        _ => {
                            self.vars.push((decls[0].clone(), k));
                            self.vars.push((decls[1].clone(), x.clone()));
                        }
                    }
                    let f = self.scoped(body, &x)?;
                    self.vars.truncate(m2);
                    if let Flow::Break = f {
                        break;
                    }
                }
                self.vars.truncate(mark);
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut val: Option<Value> = None;
        for c in &p.cmds {
            val = Some(self.command(p, c, dot, val)?);
        }
        let v = val.unwrap_or(Value::Missing);
        if p.assign {
            for d in &p.decls {
                match self.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return Err(exec_err(p, format!("undefined variable: {d}"))),
                }
            }
        } else {
            for d in &p.decls {
                self.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn var(&self, p: &Pipeline, name: &str) -> Result<Value, TemplateError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                TemplateError::Parse(format!(
                    "template: :{}: undefined variable \"{}\"",
                    p.pos, name
                ))
            })
    }

    fn command(
        &mut self,
        p: &Pipeline,
        c: &Command,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let first = &c.args[0];
        if let Arg::Ident(name) = first {
            if !FUNCS.contains(&name.as_str()) {
                let line = p.pos.split(':').next().unwrap_or("1");
                return Err(TemplateError::Parse(format!(
                    "template: :{line}: function \"{name}\" not defined"
                )));
            }
            let mut args = Vec::new();
            for a in &c.args[1..] {
                args.push(self.arg(p, a, dot)?);
            }
            if let Some(v) = piped {
                args.push(v);
            }
            return self.call(p, name, args);
        }
        if c.args.len() > 1 || piped.is_some() {
            return Err(exec_err(p, "can't give argument to non-function"));
        }
        self.arg(p, first, dot)
    }

    fn arg(&mut self, p: &Pipeline, a: &Arg, dot: &Value) -> Result<Value, TemplateError> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Field(fields, at) => {
                field_chain(&at.pos, &at.text, dot, fields, self.missing_key_error)?
            }
            Arg::Var(name, fields, at) => {
                let v = self.var(p, name)?;
                field_chain(&at.pos, &at.text, &v, fields, self.missing_key_error)?
            }
            Arg::Ident(name) if !FUNCS.contains(&name.as_str()) => {
                let line = p.pos.split(':').next().unwrap_or("1");
                return Err(TemplateError::Parse(format!(
                    "template: :{line}: function \"{name}\" not defined"
                )));
            }
            Arg::Ident(name) => self.call(p, name, Vec::new())?,
            Arg::Pipe(inner, fields) => {
                let mark = self.vars.len();
                let v = self.pipeline(inner, dot)?;
                self.vars.truncate(mark);
                field_chain(&p.pos, &p.source, &v, fields, self.missing_key_error)?
            }
        })
    }

    fn call(&mut self, p: &Pipeline, name: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
        let want = |n: usize| -> Result<(), TemplateError> {
            if args.len() != n {
                Err(exec_err(
                    p,
                    format!(
                        "wrong number of args for {name}: want {n} got {}",
                        args.len()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        if self.header
            && matches!(
                name,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate"
            )
        {
            want(if matches!(name, "split" | "join" | "truncate") {
                2
            } else {
                1
            })?;
            return Ok(args[0].clone());
        }
        match name {
            "and" => {
                if args.is_empty() {
                    return Err(exec_err(
                        p,
                        "wrong number of args for and: want at least 1 got 0",
                    ));
                }
                for a in &args {
                    if !a.truth() {
                        return Ok(a.clone());
                    }
                }
                Ok(args.last().cloned().unwrap_or(Value::Nil))
            }
            "or" => {
                if args.is_empty() {
                    return Err(exec_err(
                        p,
                        "wrong number of args for or: want at least 1 got 0",
                    ));
                }
                for a in &args {
                    if a.truth() {
                        return Ok(a.clone());
                    }
                }
                Ok(args.last().cloned().unwrap_or(Value::Nil))
            }
            "not" => {
                want(1)?;
                Ok(Value::Bool(!args[0].truth()))
            }
            "len" => {
                want(1)?;
                match &args[0] {
                    Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                    Value::List(l) => Ok(Value::Int(l.len() as i64)),
                    Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                    other => Err(exec_err(
                        p,
                        format!("error calling len: len of type {}", other.type_name()),
                    )),
                }
            }
            "index" => {
                if args.is_empty() {
                    return Err(exec_err(
                        p,
                        "wrong number of args for index: want at least 1 got 0",
                    ));
                }
                let mut cur = args[0].clone();
                for k in &args[1..] {
                    cur = match (&cur, k) {
                        (Value::List(l), Value::Int(i)) => match l.get(*i as usize) {
                            Some(v) if *i >= 0 => v.clone(),
                            _ => {
                                return Err(exec_err(
                                    p,
                                    format!("error calling index: index out of range: {i}"),
                                ))
                            }
                        },
                        (Value::Str(s), Value::Int(i)) => match s.as_bytes().get(*i as usize) {
                            Some(b) if *i >= 0 => Value::Int(*b as i64),
                            _ => {
                                return Err(exec_err(
                                    p,
                                    format!("error calling index: index out of range: {i}"),
                                ))
                            }
                        },
                        (Value::Map(_), Value::Str(key)) => {
                            cur.get(key).cloned().unwrap_or(Value::Nil)
                        }
                        (Value::Nil | Value::Missing, _) => {
                            return Err(exec_err(p, "error calling index: index of untyped nil"));
                        }
                        (c, k) => {
                            return Err(exec_err(p, format!("error calling index: cannot index slice/array with type {} ({} of {})", k.type_name(), k, c.type_name())));
                        }
                    };
                }
                Ok(cur)
            }
            "slice" => {
                if args.is_empty() {
                    return Err(exec_err(
                        p,
                        "wrong number of args for slice: want at least 1 got 0",
                    ));
                }
                let idx: Vec<i64> = args[1..]
                    .iter()
                    .map(|a| if let Value::Int(i) = a { *i } else { -1 })
                    .collect();
                match &args[0] {
                    Value::Str(s) => {
                        let from = *idx.first().unwrap_or(&0) as usize;
                        let to = idx.get(1).map(|t| *t as usize).unwrap_or(s.len());
                        s.get(from..to)
                            .map(Value::str)
                            .ok_or_else(|| exec_err(p, "error calling slice: index out of range"))
                    }
                    Value::List(l) => {
                        let from = *idx.first().unwrap_or(&0) as usize;
                        let to = idx.get(1).map(|t| *t as usize).unwrap_or(l.len());
                        l.get(from..to)
                            .map(|s| Value::List(s.to_vec()))
                            .ok_or_else(|| exec_err(p, "error calling slice: index out of range"))
                    }
                    other => Err(exec_err(
                        p,
                        format!(
                            "error calling slice: can't slice item of type {}",
                            other.type_name()
                        ),
                    )),
                }
            }
            "print" => Ok(Value::Str(go_sprint(&args))),
            "println" => {
                let s: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                Ok(Value::Str(s.join(" ") + "\n"))
            }
            "printf" => {
                if args.is_empty() {
                    return Err(exec_err(
                        p,
                        "wrong number of args for printf: want at least 1 got 0",
                    ));
                }
                let Value::Str(f) = &args[0] else {
                    return Err(exec_err(p, "wrong type for value; expected string"));
                };
                Ok(Value::Str(super::printf::sprintf(f, &args[1..])))
            }
            "eq" => {
                if args.len() < 2 {
                    return Err(exec_err(
                        p,
                        "error calling eq: missing argument for comparison",
                    ));
                }
                for b in &args[1..] {
                    if basic_eq(p, &args[0], b)? {
                        return Ok(Value::Bool(true));
                    }
                }
                Ok(Value::Bool(false))
            }
            "ne" => {
                want(2)?;
                Ok(Value::Bool(!basic_eq(p, &args[0], &args[1])?))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let ord = basic_cmp(p, &args[0], &args[1])?;
                use std::cmp::Ordering::*;
                Ok(Value::Bool(match name {
                    "lt" => ord == Less,
                    "le" => ord != Greater,
                    "gt" => ord == Greater,
                    _ => ord != Less,
                }))
            }
            "html" => Ok(Value::Str(
                go_sprint(&args)
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&#34;")
                    .replace('\'', "&#39;"),
            )),
            "js" => Ok(Value::Str(
                go_sprint(&args)
                    .replace('\\', "\\\\")
                    .replace('\'', "\\'")
                    .replace('"', "\\\"")
                    .replace('<', "\\u003C")
                    .replace('>', "\\u003E")
                    .replace('&', "\\u0026")
                    .replace('=', "\\u003D"),
            )),
            "urlquery" => {
                let s = go_sprint(&args);
                Ok(Value::Str(
                    percent_encoding::utf8_percent_encode(&s, QUERY)
                        .to_string()
                        .replace("%20", "+"),
                ))
            }
            "json" => {
                want(1)?;
                Ok(Value::Str(args[0].to_json()))
            }
            "split" => {
                want(2)?;
                let (s, sep) = (str_arg(p, name, &args[0])?, str_arg(p, name, &args[1])?);
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars().map(|c| Value::Str(c.to_string())).collect()
                } else {
                    s.split(sep.as_str()).map(Value::str).collect()
                };
                Ok(Value::List(parts))
            }
            "join" => {
                want(2)?;
                let sep = str_arg(p, name, &args[1])?;
                match &args[0] {
                    Value::List(l) => {
                        let mut parts = Vec::new();
                        for x in l {
                            match x {
                                Value::Str(s) => parts.push(s.clone()),
                                other => {
                                    return Err(exec_err(
                                        p,
                                        format!(
                                            "wrong type for value; expected []string; got {}",
                                            other.type_name()
                                        ),
                                    ))
                                }
                            }
                        }
                        Ok(Value::Str(parts.join(&sep)))
                    }
                    Value::Nil | Value::Missing => Ok(Value::Str(String::new())),
                    other => Err(exec_err(
                        p,
                        format!(
                            "wrong type for value; expected []string; got {}",
                            other.type_name()
                        ),
                    )),
                }
            }
            "title" => {
                want(1)?;
                Ok(Value::Str(title(&str_arg(p, name, &args[0])?)))
            }
            "lower" => {
                want(1)?;
                Ok(Value::Str(str_arg(p, name, &args[0])?.to_lowercase()))
            }
            "upper" => {
                want(1)?;
                Ok(Value::Str(str_arg(p, name, &args[0])?.to_uppercase()))
            }
            "pad" => {
                want(3)?;
                let s = str_arg(p, name, &args[0])?;
                let (Value::Int(pre), Value::Int(suf)) = (&args[1], &args[2]) else {
                    return Err(exec_err(p, "wrong type for value; expected int"));
                };
                if s.is_empty() {
                    return Ok(Value::Str(s));
                }
                Ok(Value::Str(format!(
                    "{}{}{}",
                    " ".repeat((*pre).max(0) as usize),
                    s,
                    " ".repeat((*suf).max(0) as usize)
                )))
            }
            "truncate" => {
                want(2)?;
                let s = str_arg(p, name, &args[0])?;
                let Value::Int(n) = &args[1] else {
                    return Err(exec_err(p, "wrong type for value; expected int"));
                };
                let n = (*n).max(0) as usize;
                if s.len() < n {
                    return Ok(Value::Str(s));
                }
                // Go slices bytes; stay on a char boundary.
                let mut end = n;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Ok(Value::Str(s[..end].to_string()))
            }
            _ => Err(TemplateError::Parse(format!(
                "template: :{}: function \"{}\" not defined",
                p.pos.split(':').next().unwrap_or("1"),
                name
            ))),
        }
    }
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "println", "printf", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "json", "split", "join", "title", "lower", "upper",
    "pad", "truncate",
];

const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn str_arg(p: &Pipeline, func: &str, v: &Value) -> Result<String, TemplateError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(exec_err(
            p,
            format!(
                "error calling {func}: wrong type for value; expected string; got {}",
                other.type_name()
            ),
        )),
    }
}

/// Go's deprecated `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
fn go_sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.to_string());
    }
    out
}

fn field_chain(
    pos: &str,
    text: &str,
    start: &Value,
    fields: &[String],
    missing_err: bool,
) -> Result<Value, TemplateError> {
    let err = |msg: String| {
        TemplateError::Exec(format!(
            "template: :{pos}: executing \"\" at <{text}>: {msg}"
        ))
    };
    let mut cur = start.clone();
    for f in fields {
        cur = match &cur {
            Value::Map(_) => match cur.get(f) {
                Some(v) => v.clone(),
                None if missing_err => {
                    return Err(err(format!("map has no entry for key \"{f}\"")))
                }
                None => Value::Missing,
            },
            Value::Struct(t, _) => match cur.get(f) {
                Some(v) => v.clone(),
                None => return Err(err(format!("can't evaluate field {f} in type {}", t.name))),
            },
            Value::Nil | Value::Missing => {
                return Err(err(format!("nil pointer evaluating interface {{}}.{f}")))
            }
            other => {
                return Err(err(format!(
                    "can't evaluate field {f} in type {}",
                    other.type_name()
                )))
            }
        };
    }
    Ok(cur)
}

fn basic_eq(p: &Pipeline, a: &Value, b: &Value) -> Result<bool, TemplateError> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Nil | Value::Missing, Value::Nil | Value::Missing) => true,
        (Value::Nil | Value::Missing, _) | (_, Value::Nil | Value::Missing) => false,
        (Value::List(_) | Value::Map(_) | Value::Struct(..), _)
        | (_, Value::List(_) | Value::Map(_) | Value::Struct(..)) => {
            return Err(exec_err(p, "error calling eq: non-comparable types"));
        }
        _ => {
            return Err(exec_err(
                p,
                "error calling eq: incompatible types for comparison",
            ))
        }
    })
}

fn basic_cmp(p: &Pipeline, a: &Value, b: &Value) -> Result<std::cmp::Ordering, TemplateError> {
    let o = match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => x.partial_cmp(y),
        _ => None,
    };
    o.ok_or_else(|| exec_err(p, "error calling lt: incompatible types for comparison"))
}
