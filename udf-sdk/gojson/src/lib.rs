//! JSON bytes as Go's `encoding/json` writes them, for the text Kapacitor users see byte for
//! byte: event lines in log files, handler bodies, alert details, and what handler plugins
//! send vendors as strings. Go differs from serde_json in
//! three visible ways: it escapes `<`, `>`, `&` and U+2028/U+2029 (`\u003c` ...), it writes
//! whole floats without a fraction (`100`, not `100.0`) and large or tiny ones as `1e+21`,
//! and its structs keep their declaration order (callers write fields in that order).

/// Writes `s` as a JSON string, escaped as Go's encoder escapes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_escaped::<false>(out, s);
}

/// [`write_str`], then escaped as HTML text ([`write_html_escaped`]) in the same pass: a
/// string of Kapacitor's default alert details.
pub fn write_str_html(out: &mut Vec<u8>, s: &str) {
    write_escaped::<true>(out, s);
}

fn write_escaped<const HTML: bool>(out: &mut Vec<u8>, s: &str) {
    let quote: &[u8] = if HTML { b"&#34;" } else { b"\"" };
    out.extend_from_slice(quote);
    let b = s.as_bytes();
    let mut start = 0; // first byte not yet copied
    let mut i = 0;
    while i < b.len() {
        // Eight bytes at a time to the next byte that needs a look: most text has few.
        if i + 8 <= b.len() {
            let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
            let hits = look_at(w) | if HTML { look_at_html(w) } else { 0 };
            if hits == 0 {
                i += 8;
                continue;
            }
            // The lowest flagged byte is a true one (false flags only sit above one).
            i += (hits.trailing_zeros() / 8) as usize;
        }
        let c = b[i];
        let esc: &[u8] = match c {
            b'"' if HTML => b"\\&#34;",
            b'\'' if HTML => b"&#39;",
            b'+' if HTML => b"&#43;",
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'<' => b"\\u003c",
            b'>' => b"\\u003e",
            b'&' => b"\\u0026",
            // U+2028 and U+2029 (E2 80 A8/A9): valid JSON, but not valid JavaScript.
            0xE2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)) => {
                out.extend_from_slice(&b[start..i]);
                out.extend_from_slice(if b[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
                continue;
            }
            c if c < 0x20 => {
                out.extend_from_slice(&b[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 0xF) as usize]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.extend_from_slice(quote);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The bytes of `w` (little-endian) that `write_str` may have to escape, each flagged by
/// its high bit: a control character, `"`, `\`, `<`, `>`, `&`, or 0xE2 (the lead byte of
/// U+2028/U+2029). Zero when there is none.
#[inline]
fn look_at(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero exactly where this sets its high bit (no false positive
    // can make a clean word look dirty: borrows only start at a true zero byte).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space
        | zero(w ^ (ONES * b'"' as u64))
        | zero(w ^ (ONES * b'\\' as u64))
        | zero(w ^ (ONES * b'<' as u64))
        | zero(w ^ (ONES * b'>' as u64))
        | zero(w ^ (ONES * b'&' as u64))
        | zero(w ^ (ONES * 0xE2))
}

/// The bytes HTML text escapes beyond JSON's: `'` and `+` (flagged as [`look_at`] does).
#[inline]
fn look_at_html(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero(w ^ (ONES * b'\'' as u64)) | zero(w ^ (ONES * b'+' as u64))
}

/// Writes a float as Go's encoder does: the shortest text that reads back the same, in
/// plain notation between 1e-6 and 1e21 and as `1e+21`/`1e-7` outside. Go refuses NaN and
/// infinities; they are written as `null` here (an event is not dropped for its value).
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    use std::io::Write;
    if !f.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let at = out.len();
        write!(out, "{f:e}").expect("writing to a Vec");
        // Rust writes `1e21`, Go `1e+21`; negative exponents agree (`1e-7`, `1e-10`).
        if let Some(e) = out[at..].iter().position(|&c| c == b'e')
            && out.get(at + e + 1) != Some(&b'-')
        {
            out.insert(at + e + 1, b'+');
        }
    } else {
        write!(out, "{f}").expect("writing to a Vec");
    }
}

/// Writes a JSON value with Go's escaping and number forms. Objects keep the order they
/// have (serde_json's maps are sorted, as Go writes its maps).
pub fn write_value(out: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::Null => out.extend_from_slice(b"null"),
        J::Bool(true) => out.extend_from_slice(b"true"),
        J::Bool(false) => out.extend_from_slice(b"false"),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => write_int(out, i),
            (_, Some(u), _) => write_uint(out, u),
            (_, _, Some(f)) => write_f64(out, f),
            _ => out.extend_from_slice(b"null"),
        },
        J::String(s) => write_str(out, s),
        J::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        J::Object(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, v);
            }
            out.push(b'}');
        }
    }
}

pub fn write_int(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

pub fn write_uint(out: &mut Vec<u8>, u: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
}

/// Escapes text as Go's `html/template` does for a value in HTML text (its
/// `htmlEscaper`): what Kapacitor's details template makes of `{{ json . }}`.
pub fn write_html_escaped(out: &mut Vec<u8>, text: &[u8]) {
    let mut start = 0;
    for (i, &c) in text.iter().enumerate() {
        let rep: &[u8] = match c {
            0 => "\u{FFFD}".as_bytes(),
            b'"' => b"&#34;",
            b'&' => b"&amp;",
            b'\'' => b"&#39;",
            b'+' => b"&#43;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
}

/// `json.Marshal(models.Result)` of an event's `data` (`{"series": [...]}`): rows keep Go's
/// field order (`name`, `tags`, `columns`, `values`) and leave out empty fields.
pub fn write_result(out: &mut Vec<u8>, data: &serde_json::Value) {
    use serde_json::Value as J;
    out.extend_from_slice(br#"{"series":"#);
    match data.get("series") {
        Some(J::Array(rows)) => {
            out.push(b'[');
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_row(out, row);
            }
            out.push(b']');
        }
        _ => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

fn write_row(out: &mut Vec<u8>, row: &serde_json::Value) {
    use serde_json::Value as J;
    if row.is_null() {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    let mut first = true;
    for key in ["name", "tags", "columns", "values"] {
        let v = &row[key];
        let empty = match v {
            J::Null => true,
            J::String(s) => s.is_empty(),
            J::Array(a) => a.is_empty(),
            J::Object(o) => o.is_empty(),
            _ => false,
        };
        if empty {
            continue;
        }
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_as_go_does() {
        assert_eq!(s(""), r#""""#);
        assert_eq!(
            s("plain text, long enough for words"),
            r#""plain text, long enough for words""#
        );
        assert_eq!(s(r#"a "q" \ b"#), r#""a \"q\" \\ b""#);
        assert_eq!(s("<b>&</b>"), r#""\u003cb\u003e\u0026\u003c/b\u003e""#);
        assert_eq!(
            s("t\tn\nr\rb\u{8}f\u{c}\u{1}\u{1f}"),
            r#""t\tn\nr\rb\bf\f\u0001\u001f""#
        );
        assert_eq!(s("x\u{2028}y\u{2029}z"), r#""x\u2028y\u2029z""#);
        // Other characters with the same lead byte, DEL and non-ASCII pass as they are.
        assert_eq!(s("€ é \u{7f} 日本"), "\"€ é \u{7f} 日本\"");
        // Escapes at every offset of a word, and a clean word after a dirty one.
        for n in 0..20 {
            let pad = "a".repeat(n);
            assert_eq!(s(&format!("{pad}\"{pad}")), format!("\"{pad}\\\"{pad}\""));
        }
        // Whatever is written reads back as the string.
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let back: String = serde_json::from_str(&s(&all)).unwrap();
        assert_eq!(back, all);
    }

    /// Go's escaping one character at a time, to hold the word-at-a-time scan against.
    fn reference(v: &str) -> String {
        let mut out = String::from("\"");
        for c in v.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn the_word_scan_escapes_what_a_character_scan_does() {
        // Mixtures of clean runs and every kind of escape, at every alignment.
        let pieces = [
            "abcdefgh", "&", "\"", "\u{2028}", "\u{e2}", "€", "\u{1}", "<>", "ü", "\\", "\n",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut v = String::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                if seed.is_multiple_of(3) {
                    v.push_str(&"x".repeat((seed % 9) as usize));
                }
            }
            assert_eq!(s(&v), reference(&v), "{v:?}");
        }
    }

    #[test]
    fn one_pass_json_and_html_escaping_is_the_two_passes() {
        let cases = [
            "",
            "plain",
            "it's 1+1 <&> \"q\" \\ \n\u{0}",
            "a\u{2028}'''''+++++'bcdefghijk+",
        ];
        for v in cases {
            let mut json = Vec::new();
            write_str(&mut json, v);
            let mut two = Vec::new();
            write_html_escaped(&mut two, &json);
            let mut one = Vec::new();
            write_str_html(&mut one, v);
            assert_eq!(
                String::from_utf8(one).unwrap(),
                String::from_utf8(two).unwrap()
            );
        }
    }

    #[test]
    fn floats_are_written_as_go_writes_them() {
        assert_eq!(f(100.0), "100");
        assert_eq!(f(-0.5), "-0.5");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(93.85441793373019), "93.85441793373019");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(-1.5e300), "-1.5e+300");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.25e-10), "1.25e-10");
        assert_eq!(f(f64::NAN), "null");
    }

    #[test]
    fn html_escaping_is_go_templates_text_escaping() {
        let mut out = Vec::new();
        write_html_escaped(&mut out, b"{\"a\":'1+2' <&>}\0");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{&#34;a&#34;:&#39;1&#43;2&#39; &lt;&amp;&gt;}\u{FFFD}"
        );
    }

    #[test]
    fn results_marshal_as_go_does() {
        let result = |v: serde_json::Value| {
            let mut out = Vec::new();
            write_result(&mut out, &v);
            String::from_utf8(out).unwrap()
        };
        let data = serde_json::json!({"series": [{
            "values": [["1971-01-01T00:00:10Z", 10.0, 3, 1.5e-7, 2e21, "a<b&c\"\n"]],
            "columns": ["time", "f", "i", "small", "big", "s"],
            "tags": {"z": "1", "host": "serverA"},
            "name": "cpu",
        }]});
        assert_eq!(
            result(data),
            r#"{"series":[{"name":"cpu","tags":{"host":"serverA","z":"1"},"columns":["time","f","i","small","big","s"],"values":[["1971-01-01T00:00:10Z",10,3,1.5e-7,2e+21,"a\u003cb\u0026c\"\n"]]}]}"#
        );
        assert_eq!(
            result(serde_json::json!({"series": [{"name": "cpu", "tags": {}}]})),
            r#"{"series":[{"name":"cpu"}]}"#
        );
        assert_eq!(result(serde_json::Value::Null), r#"{"series":null}"#);
    }

    #[test]
    fn values_keep_their_order_and_go_numbers() {
        let v = serde_json::json!({"b": [1, -2, 2.5, 3.0, null, true], "a": "<"});
        let mut out = Vec::new();
        write_value(&mut out, &v);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"\u003c","b":[1,-2,2.5,3,null,true]}"#
        );
    }
}
