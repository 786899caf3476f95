//! A subset of Go's `fmt.Sprintf` for the template `printf` function: verbs `%v %s %d %q %x %X %f %g
//! %e %t %c %%`, flags `-`, `0`, `+`, space, width and precision (including `*`). Wrong operands print
//! Go's `%!verb(type=value)` forms; missing ones `%!v(MISSING)`.

use super::value::{go_float_v, Value};

pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut zero, mut plus, mut space) = (false, false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width: Option<usize> = None;
        if chars.peek() == Some(&'*') {
            chars.next();
            if let Some(Value::Int(w)) = args.get(argi) {
                if *w < 0 {
                    minus = true;
                }
                width = Some(w.unsigned_abs() as usize);
            }
            argi += 1;
        } else {
            let mut w = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                w.push(d);
                chars.next();
            }
            width = w.parse().ok();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            if chars.peek() == Some(&'*') {
                chars.next();
                if let Some(Value::Int(p)) = args.get(argi) {
                    prec = Some((*p).max(0) as usize);
                }
                argi += 1;
            } else {
                let mut p = String::new();
                while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    p.push(d);
                    chars.next();
                }
                prec = Some(p.parse().unwrap_or(0));
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let body = match (verb, arg) {
            ('v', _) => match (arg, prec) {
                (Value::Float(f), Some(p)) => format!("{:.*}", p, f),
                _ => arg.to_string(),
            },
            ('s', Value::Str(s)) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('s', Value::List(_) | Value::Map(_)) => arg.to_string(),
            ('q', Value::Str(s)) => format!("{s:?}"),
            ('d', Value::Int(i)) => sign(*i >= 0, plus, space, i.unsigned_abs().to_string()),
            ('x', Value::Int(i)) => format!("{i:x}"),
            ('X', Value::Int(i)) => format!("{i:X}"),
            ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('c', Value::Int(i)) => char::from_u32(*i as u32)
                .map(String::from)
                .unwrap_or_default(),
            ('t', Value::Bool(b)) => b.to_string(),
            ('f' | 'F', Value::Float(f)) => sign(
                *f >= 0.0,
                plus,
                space,
                format!("{:.*}", prec.unwrap_or(6), f.abs()),
            ),
            ('f' | 'F', Value::Int(_)) => format!("%!f(int={arg})"),
            ('e', Value::Float(f)) => go_exp(*f, prec.unwrap_or(6)),
            ('g', Value::Float(f)) => go_float_v(*f),
            _ => format!("%!{verb}({}={arg})", arg.type_name()),
        };
        let len = body.chars().count();
        match width {
            Some(w) if w > len => {
                let pad = w - len;
                if minus {
                    out.push_str(&body);
                    out.push_str(&" ".repeat(pad));
                } else if zero && matches!(arg, Value::Int(_) | Value::Float(_)) {
                    let (s, digits) = match body.strip_prefix(['-', '+', ' ']) {
                        Some(d) => (&body[..1], d),
                        None => ("", body.as_str()),
                    };
                    out.push_str(s);
                    out.push_str(&"0".repeat(pad));
                    out.push_str(digits);
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&body);
                }
            }
            _ => out.push_str(&body),
        }
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn sign(nonneg: bool, plus: bool, space: bool, digits: String) -> String {
    if !nonneg {
        format!("-{digits}")
    } else if plus {
        format!("+{digits}")
    } else if space {
        format!(" {digits}")
    } else {
        digits
    }
}

fn go_exp(f: f64, prec: usize) -> String {
    let s = format!("{:.*e}", prec, f);
    match s.split_once('e') {
        Some((m, e)) => {
            let (sg, d) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sg}{d:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_verbs() {
        assert_eq!(sprintf("%s=%d", &[Value::str("a"), Value::Int(3)]), "a=3");
        assert_eq!(
            sprintf("%*s|", &[Value::Int(5), Value::str("ab")]),
            "   ab|"
        );
        assert_eq!(sprintf("%-5s|", &[Value::str("ab")]), "ab   |");
        assert_eq!(sprintf("%05d", &[Value::Int(-42)]), "-0042");
        assert_eq!(sprintf("%q", &[Value::str("x\"y")]), "\"x\\\"y\"");
        assert_eq!(
            sprintf("%v %v", &[Value::List(vec![Value::str("a")])]),
            "[a] %!v(MISSING)"
        );
        assert_eq!(sprintf("%.2f", &[Value::Float(1.005)]), "1.00");
        assert_eq!(sprintf("%d", &[Value::str("x")]), "%!d(string=x)");
    }
}
