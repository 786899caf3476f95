//! Parser for Go's `text/template` syntax: text and `{{ }}` actions with `{{-`/`-}}` trimming,
//! comments, pipelines with `|`, parenthesised pipelines, fields (`.A.B`), variables (`$x`, `$`),
//! declarations and assignments (`:=`, `=`), literals (strings, raw strings, chars, numbers, `true`,
//! `false`, `nil`), and the control structures `if`/`else if`/`else`, `range` (with `$i, $v :=`),
//! `with`, `break`, `continue`, `end`. `define`/`template`/`block` are rejected with an error: docker's
//! format strings never use them.

use super::TemplateError;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub decls: Vec<String>,
    /// `=` (assign to existing variables) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Command>,
    /// Position for error messages: "line:col" and the action's source text.
    pub pos: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `.A.B` on dot, with where the last field is and the chain's text (for errors).
    Field(Vec<String>, Loc),
    /// `$x.A.B` (empty field list for plain `$x`).
    Var(String, Vec<String>, Loc),
    /// A function name.
    Ident(String),
    /// `(pipeline)` optionally followed by `.A.B`.
    Pipe(Box<Pipeline>, Vec<String>),
}

/// Where an operand is ("line:col" of its last field, as Go reports it) and its source text.
#[derive(Debug, Clone)]
pub struct Loc {
    pub pos: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(String, String), // ".Name", its "line:col"
    /// ".Name" directly after an operand (no space): continues its field chain.
    ChainField(String, String),
    Var(String), // "$x" or "$"
    Ident(String),
    Str(String),
    Char(i64),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

/// One lexed action or text run.
enum Piece {
    Text(String),
    Action {
        toks: Vec<Tok>,
        pos: String,
        source: String,
    },
}

fn pos_of(src: &str, byte: usize) -> String {
    let before = &src[..byte];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.len()).unwrap_or(0);
    format!("{line}:{col}")
}

fn lex(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest_start = 0usize;
    let b = src.as_bytes();
    let mut pending_trim_left = false;
    loop {
        let Some(open_rel) = src[rest_start..].find("{{") else {
            let mut text = &src[rest_start..];
            if pending_trim_left {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_string()));
            }
            break;
        };
        let open = rest_start + open_rel;
        let mut text = &src[rest_start..open];
        if pending_trim_left {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let mut inner_start = open + 2;
        // "{{- " trims the text before.
        if b.get(inner_start) == Some(&b'-')
            && matches!(b.get(inner_start + 1), Some(b' ' | b'\t' | b'\r' | b'\n'))
        {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            inner_start += 2;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let pos = pos_of(src, open + 2);
        // Comments.
        let trimmed = src[inner_start..].trim_start();
        if trimmed.starts_with("/*") {
            let cstart = src.len() - trimmed.len();
            let Some(cend_rel) = src[cstart..].find("*/") else {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: unclosed comment"
                )));
            };
            let after = cstart + cend_rel + 2;
            let rest = &src[after..];
            let rest_trim = rest.trim_start();
            let (close, trim_right) = if let Some(r) = rest_trim.strip_prefix("-}}") {
                (src.len() - r.len(), true)
            } else if let Some(r) = rest_trim.strip_prefix("}}") {
                (src.len() - r.len(), false)
            } else {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: comment ends before closing delimiter"
                )));
            };
            pending_trim_left = trim_right;
            rest_start = close;
            continue;
        }
        // Scan tokens up to the closing "}}" (respecting quotes).
        let mut i = inner_start;
        let mut toks = Vec::new();
        let close_end;
        let mut trim_right = false;
        loop {
            let Some(&c) = b.get(i) else {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: unclosed action"
                )));
            };
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    // " -}}"
                    if b.get(i + 1) == Some(&b'-')
                        && b.get(i + 2) == Some(&b'}')
                        && b.get(i + 3) == Some(&b'}')
                    {
                        trim_right = true;
                        close_end = i + 4;
                        break;
                    }
                    i += 1;
                }
                b'}' if b.get(i + 1) == Some(&b'}') => {
                    close_end = i + 2;
                    break;
                }
                b'|' => {
                    toks.push(Tok::Pipe);
                    i += 1;
                }
                b'(' => {
                    toks.push(Tok::LParen);
                    i += 1;
                }
                b')' => {
                    toks.push(Tok::RParen);
                    i += 1;
                }
                b',' => {
                    toks.push(Tok::Comma);
                    i += 1;
                }
                b':' if b.get(i + 1) == Some(&b'=') => {
                    toks.push(Tok::Declare);
                    i += 2;
                }
                b'=' => {
                    toks.push(Tok::Assign);
                    i += 1;
                }
                b'"' => {
                    let (s, next) = lex_quoted(src, i, &pos)?;
                    toks.push(Tok::Str(s));
                    i = next;
                }
                b'`' => {
                    let Some(end) = src[i + 1..].find('`') else {
                        return Err(TemplateError::Parse(format!(
                            "template: :{pos}: unterminated raw quoted string"
                        )));
                    };
                    toks.push(Tok::Str(src[i + 1..i + 1 + end].to_string()));
                    i = i + 2 + end;
                }
                b'\'' => {
                    let Some(end) = src[i + 1..].find('\'') else {
                        return Err(TemplateError::Parse(format!(
                            "template: :{pos}: unterminated character constant"
                        )));
                    };
                    let body = &src[i + 1..i + 1 + end];
                    let ch = unescape(body, &pos)?.chars().next().unwrap_or('\0');
                    toks.push(Tok::Char(ch as i64));
                    i = i + 2 + end;
                }
                b'.' if b
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
                {
                    let s = i + 1;
                    let mut j = s;
                    while b
                        .get(j)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        j += 1;
                    }
                    let chained = i > inner_start
                        && (b[i - 1].is_ascii_alphanumeric()
                            || matches!(b[i - 1], b'_' | b')' | b'$'));
                    let name = src[s..j].to_string();
                    let at = pos_of(src, i);
                    toks.push(if chained {
                        Tok::ChainField(name, at)
                    } else {
                        Tok::Field(name, at)
                    });
                    i = j;
                }
                b'.' if !b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    toks.push(Tok::Dot);
                    i += 1;
                }
                b'$' => {
                    let mut j = i + 1;
                    while b
                        .get(j)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        j += 1;
                    }
                    toks.push(Tok::Var(src[i..j].to_string()));
                    i = j;
                }
                c if c.is_ascii_digit()
                    || ((c == b'-' || c == b'+' || c == b'.')
                        && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
                {
                    let mut j = i + 1;
                    while b.get(j).is_some_and(|c| {
                        c.is_ascii_alphanumeric()
                            || *c == b'.'
                            || *c == b'_'
                            || ((*c == b'-' || *c == b'+')
                                && matches!(b[j - 1], b'e' | b'E' | b'p' | b'P'))
                    }) {
                        j += 1;
                    }
                    toks.push(Tok::Num(src[i..j].to_string()));
                    i = j;
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let mut j = i;
                    while b
                        .get(j)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        j += 1;
                    }
                    toks.push(Tok::Ident(src[i..j].to_string()));
                    i = j;
                }
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return Err(TemplateError::Parse(format!(
                        "template: :{pos}: unexpected {ch:?} in command"
                    )));
                }
            }
        }
        let source = src[inner_start..close_end - if trim_right { 3 } else { 2 }]
            .trim()
            .to_string();
        pieces.push(Piece::Action { toks, pos, source });
        pending_trim_left = trim_right;
        rest_start = close_end;
    }
    Ok(pieces)
}

fn lex_quoted(src: &str, start: usize, pos: &str) -> Result<(String, usize), TemplateError> {
    let b = src.as_bytes();
    let mut j = start + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => {
                return Ok((unescape(&src[start + 1..j], pos)?, j + 1));
            }
            b'\n' => break,
            _ => j += 1,
        }
    }
    Err(TemplateError::Parse(format!(
        "template: :{pos}: unterminated quoted string"
    )))
}

fn unescape(s: &str, pos: &str) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(k @ ('x' | 'u' | 'U')) => {
                let n = match k {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = it.by_ref().take(n).collect();
                let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                match ch {
                    Some(ch) => out.push(ch),
                    None => {
                        return Err(TemplateError::Parse(format!(
                            "template: :{pos}: invalid syntax"
                        )))
                    }
                }
            }
            _ => {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: invalid syntax"
                )))
            }
        }
    }
    Ok(out)
}

/// Parse a template into its node list.
pub fn parse(src: &str) -> Result<Vec<Node>, TemplateError> {
    let pieces = lex(src)?;
    let mut p = Parser {
        pieces,
        idx: 0,
        range_depth: 0,
    };
    let (nodes, end) = p.list()?;
    match end {
        End::Eof => Ok(nodes),
        End::End(pos) => Err(TemplateError::Parse(format!(
            "template: :{pos}: unexpected {{{{end}}}}"
        ))),
        End::Else(pos, _) => Err(TemplateError::Parse(format!(
            "template: :{pos}: unexpected {{{{else}}}}"
        ))),
    }
}

#[allow(clippy::enum_variant_names)]
enum End {
    Eof,
    End(String),
    /// `{{else}}` or `{{else if ...}}` / `{{else with ...}}` (the remaining tokens).
    Else(String, Vec<Tok>),
}

struct Parser {
    pieces: Vec<Piece>,
    idx: usize,
    range_depth: usize,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        while self.idx < self.pieces.len() {
            let piece = std::mem::replace(&mut self.pieces[self.idx], Piece::Text(String::new()));
            self.idx += 1;
            match piece {
                Piece::Text(t) => nodes.push(Node::Text(t)),
                Piece::Action { toks, pos, source } => {
                    if toks.is_empty() {
                        return Err(TemplateError::Parse(format!(
                            "template: :{pos}: missing value for command"
                        )));
                    }
                    match &toks[0] {
                        Tok::Ident(k) if k == "end" => return Ok((nodes, End::End(pos))),
                        Tok::Ident(k) if k == "else" => {
                            return Ok((nodes, End::Else(pos, toks[1..].to_vec())))
                        }
                        Tok::Ident(k) if k == "if" || k == "range" || k == "with" => {
                            let kind = k.clone();
                            let node = self.control(&kind, toks[1..].to_vec(), pos, source)?;
                            nodes.push(node);
                        }
                        Tok::Ident(k) if k == "break" || k == "continue" => {
                            if self.range_depth == 0 {
                                return Err(TemplateError::Parse(format!(
                                    "template: :{pos}: {{{{{k}}}}} outside {{{{range}}}}"
                                )));
                            }
                            nodes.push(if k == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        Tok::Ident(k) if k == "define" || k == "template" || k == "block" => {
                            return Err(TemplateError::Parse(format!(
                                "template: :{pos}: {{{{{k}}}}} is not supported"
                            )));
                        }
                        _ => nodes.push(Node::Action(pipeline(&toks, &pos, &source, true)?)),
                    }
                }
            }
        }
        Ok((nodes, End::Eof))
    }

    fn control(
        &mut self,
        kind: &str,
        toks: Vec<Tok>,
        pos: String,
        source: String,
    ) -> Result<Node, TemplateError> {
        let pipe = pipeline(&toks, &pos, &source, true)?;
        if kind == "range" {
            self.range_depth += 1;
        }
        let (body, end) = self.list()?;
        if kind == "range" {
            self.range_depth -= 1;
        }
        let else_body = match end {
            End::Eof => {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: unexpected EOF"
                )))
            }
            End::End(_) => Vec::new(),
            End::Else(epos, rest) => {
                if rest.is_empty() {
                    let (eb, end2) = self.list()?;
                    match end2 {
                        End::End(_) => eb,
                        _ => {
                            return Err(TemplateError::Parse(format!(
                                "template: :{epos}: expected end; found else or EOF"
                            )))
                        }
                    }
                } else {
                    // `else if` / `else with`: a nested control whose {{end}} closes both.
                    match &rest[0] {
                        Tok::Ident(k) if (k == "if" || k == "with") && k != "range" => {
                            let nested =
                                self.control(&k.clone(), rest[1..].to_vec(), epos, source.clone())?;
                            vec![nested]
                        }
                        _ => {
                            return Err(TemplateError::Parse(format!(
                                "template: :{epos}: unexpected tokens after else"
                            )))
                        }
                    }
                }
            }
        };
        Ok(match kind {
            "if" => Node::If(pipe, body, else_body),
            "range" => Node::Range(pipe, body, else_body),
            _ => Node::With(pipe, body, else_body),
        })
    }
}

fn pipeline(
    toks: &[Tok],
    pos: &str,
    source: &str,
    allow_decl: bool,
) -> Result<Pipeline, TemplateError> {
    let mut decls = Vec::new();
    let mut assign = false;
    let mut rest = toks;
    if allow_decl {
        // $x := ... | $i, $v := ...
        let mut i = 0;
        let mut names = Vec::new();
        #[allow(clippy::while_let_loop)]
        loop {
            match rest.get(i) {
                Some(Tok::Var(v)) => {
                    names.push(v.clone());
                    i += 1;
                    match rest.get(i) {
                        Some(Tok::Comma) => {
                            i += 1;
                            continue;
                        }
                        Some(Tok::Declare) => {
                            decls = names;
                            rest = &rest[i + 1..];
                            break;
                        }
                        Some(Tok::Assign) => {
                            decls = names;
                            assign = true;
                            rest = &rest[i + 1..];
                            break;
                        }
                        _ => break,
                    }
                }
                _ => break,
            }
        }
    }
    let mut cmds = Vec::new();
    let mut cur: Vec<Arg> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match &rest[i] {
            Tok::Pipe => {
                if cur.is_empty() {
                    return Err(TemplateError::Parse(format!(
                        "template: :{pos}: missing command"
                    )));
                }
                cmds.push(Command {
                    args: std::mem::take(&mut cur),
                });
                i += 1;
            }
            Tok::LParen => {
                let mut depth = 1;
                let mut j = i + 1;
                while j < rest.len() && depth > 0 {
                    match rest[j] {
                        Tok::LParen => depth += 1,
                        Tok::RParen => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                if depth != 0 {
                    return Err(TemplateError::Parse(format!(
                        "template: :{pos}: unclosed left paren"
                    )));
                }
                let inner = pipeline(&rest[i + 1..j - 1], pos, source, true)?;
                let mut fields = Vec::new();
                while let Some(Tok::ChainField(f, _)) = rest.get(j) {
                    fields.push(f.clone());
                    j += 1;
                }
                cur.push(Arg::Pipe(Box::new(inner), fields));
                i = j;
            }
            Tok::RParen => {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: unexpected right paren"
                )))
            }
            Tok::Comma | Tok::Declare | Tok::Assign => {
                return Err(TemplateError::Parse(format!(
                    "template: :{pos}: unexpected \"{}\" in operand",
                    tok_text(&rest[i])
                )));
            }
            Tok::Field(f, at) | Tok::ChainField(f, at) => {
                let mut fields = vec![f.clone()];
                let mut last = at.clone();
                let mut j = i + 1;
                while let Some(Tok::ChainField(f, at)) = rest.get(j) {
                    fields.push(f.clone());
                    last = at.clone();
                    j += 1;
                }
                let text = format!(".{}", fields.join("."));
                cur.push(Arg::Field(fields, Loc { pos: last, text }));
                i = j;
            }
            Tok::Var(v) => {
                let mut fields = Vec::new();
                let mut last = pos.to_string();
                let mut j = i + 1;
                while let Some(Tok::ChainField(f, at)) = rest.get(j) {
                    fields.push(f.clone());
                    last = at.clone();
                    j += 1;
                }
                let text = std::iter::once(v.clone())
                    .chain(fields.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(".");
                cur.push(Arg::Var(v.clone(), fields, Loc { pos: last, text }));
                i = j;
            }
            Tok::Dot => {
                cur.push(Arg::Dot);
                i += 1;
            }
            Tok::Str(s) => {
                cur.push(Arg::Str(s.clone()));
                i += 1;
            }
            Tok::Char(c) => {
                cur.push(Arg::Int(*c));
                i += 1;
            }
            Tok::Num(n) => {
                cur.push(parse_number(n, pos)?);
                i += 1;
            }
            Tok::Ident(id) => {
                cur.push(match id.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    _ => Arg::Ident(id.clone()),
                });
                i += 1;
            }
        }
    }
    if cur.is_empty() {
        return Err(TemplateError::Parse(format!(
            "template: :{pos}: missing value for command"
        )));
    }
    cmds.push(Command { args: cur });
    Ok(Pipeline {
        decls,
        assign,
        cmds,
        pos: pos.to_string(),
        source: source.to_string(),
    })
}

fn tok_text(t: &Tok) -> &'static str {
    match t {
        Tok::Comma => ",",
        Tok::Declare => ":=",
        Tok::Assign => "=",
        _ => "?",
    }
}

fn parse_number(n: &str, pos: &str) -> Result<Arg, TemplateError> {
    let clean = n.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bn) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(bn, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Ok(Arg::Int(if neg { -i } else { i }));
    }
    match body.parse::<f64>() {
        Ok(f) => Ok(Arg::Float(if neg { -f } else { f })),
        Err(_) => Err(TemplateError::Parse(format!(
            "template: :{pos}: bad number syntax: \"{n}\""
        ))),
    }
}
