//! Go's `json.Marshal` of a Kapacitor result, byte for byte: the vendor gets it as a string,
//! so key order, number format and escapes are part of the value.

use serde_json::Value;

/// `json.Marshal(models.Result)` of the event's `data`: rows keep Go's field order (`name`,
/// `tags`, `columns`, `values`) and omit empty fields.
pub fn result_string(data: &Value) -> String {
    let mut out = String::from("{\"series\":");
    match data.get("series") {
        Some(Value::Array(rows)) => {
            out.push('[');
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_row(row, &mut out);
            }
            out.push(']');
        }
        _ => out.push_str("null"),
    }
    out.push('}');
    out
}

fn write_row(row: &Value, out: &mut String) {
    if row.is_null() {
        out.push_str("null");
        return;
    }
    out.push('{');
    let mut first = true;
    for key in ["name", "tags", "columns", "values"] {
        let v = &row[key];
        let empty = match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if empty {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_string(key, out);
        out.push(':');
        write_value(v, out);
    }
    out.push('}');
}

/// Any value as Go encodes it; maps (tags, object fields) with sorted keys.
fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                write_float(n.as_f64().unwrap_or(0.0), out);
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// A float64 as Go's encoder writes it: shortest digits, no `.0` on whole numbers, and
/// exponent form (`1e+21`, `1e-7`) outside [1e-6, 1e21).
fn write_float(f: f64, out: &mut String) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        match exp.strip_prefix('-') {
            Some(digits) => out.push_str(&format!("{mantissa}e-{digits}")),
            None => out.push_str(&format!("{mantissa}e+{exp}")),
        }
    } else {
        out.push_str(&format!("{f}"));
    }
}

/// A string as Go's encoder writes it, HTML-safe (`<` as `\u003c`) as `json.Marshal` is.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_marshal_as_go_does() {
        let data = json!({"series": [{
            "values": [["1971-01-01T00:00:10Z", 10.0, 3, 1.5e-7, 2e21, "a<b&c\"\n"]],
            "columns": ["time", "f", "i", "small", "big", "s"],
            "tags": {"z": "1", "host": "serverA"},
            "name": "cpu",
        }]});
        assert_eq!(
            result_string(&data),
            r#"{"series":[{"name":"cpu","tags":{"host":"serverA","z":"1"},"columns":["time","f","i","small","big","s"],"values":[["1971-01-01T00:00:10Z",10,3,1.5e-7,2e+21,"a\u003cb\u0026c\"\n"]]}]}"#
        );
        assert_eq!(
            result_string(&json!({"series": [{"name": "cpu", "tags": {}}]})),
            r#"{"series":[{"name":"cpu"}]}"#
        );
        assert_eq!(result_string(&Value::Null), r#"{"series":null}"#);
        let mut s = String::new();
        write_float(0.000001, &mut s);
        s.push(' ');
        write_float(97.5, &mut s);
        s.push(' ');
        write_float(-1e-10, &mut s);
        assert_eq!(s, "0.000001 97.5 -1e-10");
    }
}
