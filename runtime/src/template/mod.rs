//! Kapacitor's templates (alert ids, messages and details, post and Kafka bodies, handler
//! options) as gotmpl runs them, printing as Go prints. Go's `text/template` prints a value
//! with `fmt.Print`, which writes a float64 with `%v`: shortest digits, in exponent form
//! from 1e+06 up and below 1e-04 (`2.5e+06`, `1e-05`). gotmpl prints floats as Rust does
//! (`2500000`), so every printing action is piped through `goprint`, which turns floats
//! (also inside lists and maps) into Go's text and leaves everything else to gotmpl.

use std::borrow::Cow;
use std::sync::Arc;

use gotmpl::Value;

mod methods;

/// A `text/template` with Kapacitor's `json`/`jsonCompact` and Go's printing.
pub fn text(name: &str, src: &str) -> gotmpl::Result<gotmpl::Template> {
    let make = |src: &str| {
        gotmpl::Template::new(name)
            .funcs(json_funcs(Value::from))
            .funcs(methods::funcs())
            .func("goprint", goprint)
            .parse(src)
    };
    with_go_printing(src, make)
}

/// An `html/template` (alert details) with Kapacitor's `json`/`jsonCompact`, giving trusted
/// JS, and Go's printing.
pub fn html(name: &str, src: &str) -> gotmpl::Result<gotmpl::html::Template> {
    let make = |src: &str| {
        gotmpl::html::Template::new(name)
            .funcs(json_funcs(|text| Value::from(gotmpl::html::JS::from(text))))
            .funcs(methods::funcs())
            .func("goprint", goprint)
            .parse(src)
    };
    with_go_printing(src, make)
}

/// Kapacitor's template functions `json` (Go's encoder: the value and a newline) and
/// `jsonCompact` (the same without the newline), their text made a template value by
/// `wrap` (a plain string, or trusted JS in an `html/template`).
fn json_funcs(wrap: fn(String) -> Value) -> gotmpl::FuncMap {
    let json = move |newline: bool| -> gotmpl::ValueFunc {
        Arc::new(move |args: &[Value]| {
            let mut out = Vec::new();
            crate::gojson::write_template_value(&mut out, args.first().unwrap_or(&Value::Nil));
            if newline {
                out.push(b'\n');
            }
            Ok(wrap(String::from_utf8(out).expect("JSON is UTF-8")))
        })
    };
    [
        ("json".to_owned(), json(true)),
        ("jsonCompact".to_owned(), json(false)),
    ]
    .into()
}

/// A text template parsed once and shared by whoever holds a copy (an `[[httppost]]`
/// endpoint, a handler): what it was parsed from shows it and tells two apart.
#[derive(Clone)]
pub struct Shared {
    source: Arc<str>,
    template: Arc<gotmpl::Template>,
}

impl Shared {
    /// [`text`], kept.
    pub fn text(name: &str, src: &str) -> gotmpl::Result<Shared> {
        Ok(Shared {
            source: src.into(),
            template: Arc::new(text(name, src)?),
        })
    }

    pub fn execute(&self, data: &Value) -> gotmpl::Result<String> {
        self.template.execute_to_string(data)
    }
}

/// Handlers' templates by source, parsed on first use, for handlers whose options come
/// with each event (Kafka, SNMP traps, MQTT topics). Bounded: emptied when it reaches 256.
#[derive(Default)]
pub struct Cache {
    parsed: parking_lot::Mutex<std::collections::HashMap<(String, String), Shared>>,
}

impl Cache {
    /// The process's one cache, shared by all such handlers.
    pub fn shared() -> &'static Cache {
        static SHARED: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Cache::default);
        &SHARED
    }

    /// The text template `src`, named `name` in errors.
    pub fn text(&self, name: &str, src: &str) -> gotmpl::Result<Shared> {
        let mut parsed = self.parsed.lock();
        // Keyed by name too: the same text in two handlers' options keeps each one's name.
        let key = (name.to_owned(), src.to_owned());
        if let Some(t) = parsed.get(&key) {
            return Ok(t.clone());
        }
        let t = Shared::text(name, src)?;
        if parsed.len() >= 256 {
            parsed.clear();
        }
        parsed.insert(key, t.clone());
        Ok(t)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        self.source == other.source
    }
}

/// Parses `src` with Go's methods on times and durations made calls and its printing
/// actions piped through `goprint`; a template that does not parse is parsed as written, so
/// that its error points at what the user wrote.
fn with_go_printing<T>(src: &str, make: impl Fn(&str) -> gotmpl::Result<T>) -> gotmpl::Result<T> {
    let called = methods::rewrite(src);
    let rewritten = match (&called, go_printing(&called)) {
        (Cow::Borrowed(_), Cow::Borrowed(_)) => return make(src),
        (_, Cow::Owned(piped)) => piped,
        (Cow::Owned(called), Cow::Borrowed(_)) => called.clone(),
    };
    make(&rewritten).or_else(|_| make(src))
}

const KEYWORDS: [&str; 10] = [
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// `src` with `| goprint` at the end of every action that prints: not comments, control
/// actions or variable declarations and assignments. Borrowed when there is none.
pub fn go_printing(src: &str) -> Cow<'_, str> {
    let b = src.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(at) = src[i..].find("{{") {
        let open = i + at + 2;
        let mut start = open;
        if b.get(start) == Some(&b'-') && b.get(start + 1).is_some_and(u8::is_ascii_whitespace) {
            start += 1;
        }
        let Some((body_end, close)) = action_end(b, start) else {
            break; // unterminated: left for the parser to report
        };
        let body = src[start..body_end].trim();
        if prints(body) {
            let end = start + src[start..body_end].trim_end().len();
            out.push_str(&src[copied..end]);
            out.push_str(" | goprint");
            copied = end;
        }
        i = close;
    }
    if copied == 0 {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[copied..]);
    Cow::Owned(out)
}

/// Where an action's body ends (before ` -}}` or `}}`) and where the action ends, skipping
/// strings, raw strings, characters and comments.
fn action_end(b: &[u8], start: usize) -> Option<(usize, usize)> {
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => i = skip_literal(b, i)?,
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2 + b[i + 2..].windows(2).position(|w| w == b"*/")? + 2;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                let trimmed = i >= start + 2 && b[i - 1] == b'-' && b[i - 2].is_ascii_whitespace();
                return Some((if trimmed { i - 1 } else { i }, i + 2));
            }
            _ => i += 1,
        }
    }
    None
}

/// Whether an action with this body prints something.
fn prints(body: &str) -> bool {
    if body.is_empty() || body.starts_with("/*") {
        return false;
    }
    let word = body
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if KEYWORDS.contains(&word) {
        return false;
    }
    // Pipelines that end in text already (and `html/template`'s own escapers, which must
    // stay last) are left as they are.
    let last = body
        .rsplit('|')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next();
    if matches!(
        last,
        Some("html" | "urlquery" | "js" | "print" | "printf" | "println" | "json" | "jsonCompact")
    ) {
        return false;
    }
    // `$x := ...` and `$x = ...` print nothing.
    !(body.starts_with('$') && declares(body))
}

/// Whether `=` stands outside strings and parentheses: a declaration or an assignment (Go's
/// templates have no `==`).
fn declares(body: &str) -> bool {
    let b = body.as_bytes();
    let (mut depth, mut i) = (0i32, 0);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => match skip_literal(b, i) {
                Some(after) => {
                    i = after;
                    continue;
                }
                None => return false,
            },
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'=' if depth == 0 => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Past the string (`"..."`), character (`'.'`) or raw string (`` `...` ``) starting at
/// `b[i]`; `None` if it does not end.
fn skip_literal(b: &[u8], i: usize) -> Option<usize> {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() && b[j] != quote {
        j += if quote != b'`' && b[j] == b'\\' { 2 } else { 1 };
    }
    (j < b.len()).then_some(j + 1)
}

/// Floats as Go prints them; other values as they are.
fn goprint(args: &[Value]) -> gotmpl::Result<Value> {
    let v = args.first().cloned().unwrap_or(Value::Nil);
    if !has_float(&v) {
        return Ok(v);
    }
    let mut out = String::new();
    write_value(&mut out, &v);
    Ok(Value::String(Arc::from(out)))
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Float(_) => true,
        Value::List(items) => items.iter().any(has_float),
        Value::Map(m) => m.values().any(has_float),
        _ => false,
    }
}

/// `fmt.Print` of a value: gotmpl's text for all but floats.
fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Float(f) => write_float(out, *f),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, v);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A float64 as Go's `%v` writes it: the shortest digits that read back the same, in
/// exponent form (two exponent digits at least) when the exponent is below -4 or 6 and up.
pub fn write_float(out: &mut String, f: f64) {
    use std::fmt::Write;
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    } else {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').expect("Rust writes an exponent");
        let exp: i32 = exp.parse().expect("a decimal exponent");
        if (-4..6).contains(&exp) {
            let _ = write!(out, "{f}");
        } else {
            let sign = if exp < 0 { '-' } else { '+' };
            let _ = write!(out, "{mantissa}e{sign}{:02}", exp.abs());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64) -> String {
        let mut out = String::new();
        write_float(&mut out, f);
        out
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        for (f, go) in [
            (95.5, "95.5"),
            (75.0, "75"),
            (100000.0, "100000"),
            (123456.7, "123456.7"),
            (1e6, "1e+06"),
            (2500000.0, "2.5e+06"),
            (1234567.5, "1.2345675e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1.5e300, "1.5e+300"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(float(f), go, "{f}");
        }
    }

    #[test]
    fn only_printing_actions_are_piped() {
        let cases = [
            ("plain text", "plain text"),
            ("{{ .ID }}", "{{ .ID | goprint }}"),
            (
                "{{.}}x{{- .A -}} y",
                "{{. | goprint}}x{{- .A | goprint -}} y",
            ),
            (
                r#"{{ index .Fields "v}}" }}"#,
                r#"{{ index .Fields "v}}" | goprint }}"#,
            ),
            ("{{ index .M `a}}` }}", "{{ index .M `a}}` | goprint }}"),
            (
                "{{/* a }} comment */}}{{- /* c */ -}}",
                "{{/* a }} comment */}}{{- /* c */ -}}",
            ),
            (
                "{{ if gt .V 1.0 }}{{ .V }}{{ else if .W }}w{{ end }}",
                "{{ if gt .V 1.0 }}{{ .V | goprint }}{{ else if .W }}w{{ end }}",
            ),
            (
                "{{ range $k, $v := .M }}{{ $v }}{{ end }}",
                "{{ range $k, $v := .M }}{{ $v | goprint }}{{ end }}",
            ),
            (
                "{{ $x := (index .F \"=\") }}{{ $x = 2 }}",
                "{{ $x := (index .F \"=\") }}{{ $x = 2 }}",
            ),
            ("{{ eq .A \"=\" }}", "{{ eq .A \"=\" | goprint }}"),
            (
                "{{ .A | html }}{{ printf \"%d\" 1 }}",
                "{{ .A | html }}{{ printf \"%d\" 1 }}",
            ),
            ("{{ .Unclosed", "{{ .Unclosed"),
        ];
        for (src, want) in cases {
            assert_eq!(go_printing(src), want, "{src}");
        }
    }

    #[test]
    fn templates_print_floats_as_go_and_still_compare_them() {
        let data = Value::from(
            [
                ("V".to_owned(), Value::Float(2.5e6)),
                (
                    "L".to_owned(),
                    Value::from(vec![Value::Float(1e-5), Value::Int(3)]),
                ),
            ]
            .into_iter()
            .collect::<std::collections::BTreeMap<String, Value>>(),
        );
        let t = text(
            "m",
            "{{ .V }} {{ .L }} {{ if gt .V 1e6 }}big{{ end }} {{ printf \"%.1f\" .V }}",
        )
        .unwrap();
        assert_eq!(
            t.execute_to_string(&data).unwrap(),
            "2.5e+06 [1e-05 3] big 2500000.0"
        );
        let h = html("d", "<b>{{ .V }}</b>").unwrap();
        assert_eq!(h.execute_to_string(&data).unwrap(), "<b>2.5e&#43;06</b>");
        // A template that does not parse reports what was written.
        let Err(err) = text("m", "{{ .V ") else {
            panic!("an unterminated action parses")
        };
        let err = err.to_string();
        assert!(!err.contains("goprint"), "{err}");
    }
}
