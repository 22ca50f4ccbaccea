//! A byte-level scanner for one line of InfluxDB 1.x line protocol.
//!
//! It validates a line in a single pass without allocating (escaped names are the exception:
//! they are unescaped into a `Cow`), returning the series text as written, the fields, and the
//! timestamp. Grammar and escapes follow InfluxDB 1.x's Go parser: measurements escape `,` and
//! space; tag keys, tag values and field keys escape `,`, `=` and space; string field values
//! escape `"` and `\`.

use std::borrow::Cow;

use smallvec::SmallVec;

/// A field value as written, borrowed from the line.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue<'a> {
    Float(f64),
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(Cow<'a, str>),
}

/// A validated line.
#[derive(Debug, Default)]
pub struct Scanned<'a> {
    /// Measurement and tags exactly as written (`cpu,host=a`).
    pub series: &'a str,
    /// Byte length of the measurement within `series`.
    pub measurement_len: usize,
    pub fields: SmallVec<[(Cow<'a, str>, RawValue<'a>); 4]>,
    pub timestamp: Option<i64>,
}

impl<'a> Scanned<'a> {
    /// The measurement, unescaped.
    pub fn measurement(&self) -> Cow<'a, str> {
        unescape(&self.series[..self.measurement_len], b", ")
    }

    /// The tags as written, unescaped, in written order.
    pub fn tags(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        let series: &'a str = self.series;
        let rest = series.get(self.measurement_len + 1..).unwrap_or("");
        split_unescaped(rest, b',')
            .filter(|t| !t.is_empty())
            .map(|tag| {
                let eq = find_unescaped(tag, b'=').unwrap_or(tag.len());
                (
                    unescape(&tag[..eq], b",= "),
                    unescape(tag.get(eq + 1..).unwrap_or(""), b",= "),
                )
            })
    }
}

/// Splits `text` into lines: at `\n`, except inside a quoted string field value.
/// Yields each line without its newline, and the number of newlines it contains.
pub fn lines(text: &str) -> impl Iterator<Item = (&str, usize)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let end = match memchr::memchr(b'\n', &bytes[start..]) {
            Some(i) => start + i,
            None => bytes.len(),
        };
        // The common line has no quote: the newline found ends it.
        if memchr::memchr(b'"', &bytes[start..end]).is_none() {
            pos = end + 1;
            return Some((&text[start..end], 0));
        }
        let end = quoted_line_end(bytes, start);
        pos = end + 1;
        let line = &text[start..end.min(bytes.len())];
        let inner = memchr::memchr_iter(b'\n', line.as_bytes()).count();
        Some((line, inner))
    })
}

/// End of a line that contains quotes: quotes only count in the field section, after the first
/// unescaped space (as in InfluxDB's scanner).
fn quoted_line_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut in_fields = false;
    let mut quoted = false;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b' ' if !quoted => in_fields = true,
            b'"' if in_fields => quoted = !quoted,
            b'\n' if !quoted => return i,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// Scans one line (no leading whitespace, not empty, not a comment).
pub fn scan(line: &str) -> Result<Scanned<'_>, String> {
    let mut out = Scanned::default();
    scan_into(line, &mut out)?;
    Ok(out)
}

/// [`scan`] into `out`, reusing its field list: a body's lines share one `Scanned`, so a line
/// costs no move of the (large, inline) field list.
pub fn scan_into<'a>(line: &'a str, out: &mut Scanned<'a>) -> Result<(), String> {
    let b = line.as_bytes();
    // Series: up to the first unescaped space.
    let series_end = find_unescaped(line, b' ').unwrap_or(b.len());
    let series = &line[..series_end];
    out.series = series;
    out.measurement_len = check_series(series)?;
    let mut i = series_end;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    if i >= b.len() {
        return Err("missing fields".into());
    }
    out.fields.clear();
    let end = scan_fields(line, i, &mut out.fields)?;
    let mut j = end;
    while j < b.len() && b[j] == b' ' {
        j += 1;
    }
    out.timestamp = if j < b.len() {
        let rest = line[j..].trim_end_matches([' ', '\t', '\r']);
        Some(parse_timestamp(rest)?)
    } else {
        None
    };
    Ok(())
}

fn check_series(series: &str) -> Result<usize, String> {
    let m_end = find_unescaped(series, b',').unwrap_or(series.len());
    if m_end == 0 {
        return Err("missing measurement".into());
    }
    if series.as_bytes()[..m_end].ends_with(b"\\") && !series[..m_end].ends_with("\\\\") {
        return Err(
            "measurement, tag keys and values, and field keys may not end with a backslash".into(),
        );
    }
    if m_end == series.len() {
        return Ok(m_end);
    }
    let tags = &series[m_end + 1..];
    let mut count = 0usize;
    for tag in split_unescaped(tags, b',') {
        let Some(eq) = find_unescaped(tag, b'=') else {
            return Err(if tag.is_empty() {
                "missing tag key".into()
            } else {
                "missing tag value".into()
            });
        };
        if eq == 0 {
            return Err("missing tag key".into());
        }
        let value = &tag[eq + 1..];
        if value.is_empty() {
            return Err("missing tag value".into());
        }
        if find_unescaped(value, b'=').is_some() {
            return Err("invalid tag format".into());
        }
        count += 1;
    }
    if count > 1 {
        let keys: SmallVec<[&str; 8]> = split_unescaped(tags, b',')
            .map(|t| &t[..find_unescaped(t, b'=').unwrap_or(0)])
            .collect();
        for (n, k) in keys.iter().enumerate() {
            if keys[..n].contains(k) {
                return Err(format!("duplicate tags: \"{k}\" is repeated"));
            }
        }
    }
    Ok(m_end)
}

type Fields<'a> = SmallVec<[(Cow<'a, str>, RawValue<'a>); 4]>;

fn scan_fields<'a>(line: &'a str, start: usize, fields: &mut Fields<'a>) -> Result<usize, String> {
    let b = line.as_bytes();
    let mut i = start;
    loop {
        // Key, up to an unescaped '='.
        let key_start = i;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'=' | b',' | b' ' => break,
                _ => i += 1,
            }
        }
        let i_key_end = i.min(b.len());
        if i_key_end >= b.len() || b[i_key_end] != b'=' {
            return Err(if i_key_end == key_start {
                "missing fields".into()
            } else {
                "missing field value".into()
            });
        }
        if i_key_end == key_start {
            return Err("missing field key".into());
        }
        let key = unescape(&line[key_start..i_key_end], b",= ");
        i = i_key_end + 1;
        // Value.
        let value = if b.get(i) == Some(&b'"') {
            let vstart = i + 1;
            let mut k = vstart;
            let mut escaped = false;
            loop {
                match b.get(k) {
                    None => return Err("unbalanced quotes".into()),
                    Some(b'\\') => {
                        escaped = true;
                        k += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => k += 1,
                }
            }
            let raw = &line[vstart..k];
            i = k + 1;
            RawValue::Str(if escaped {
                Cow::Owned(unescape_string(raw))
            } else {
                Cow::Borrowed(raw)
            })
        } else {
            let vstart = i;
            while i < b.len() && b[i] != b',' && b[i] != b' ' {
                i += 1;
            }
            let raw = &line[vstart..i];
            if raw.is_empty() {
                return Err("missing field value".into());
            }
            parse_value(raw)?
        };
        fields.push((key, value));
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b' ') | None => return Ok(i),
            Some(_) => return Err("invalid field format".into()),
        }
    }
}

fn parse_value(raw: &str) -> Result<RawValue<'_>, String> {
    let b = raw.as_bytes();
    match b[0] {
        b't' | b'T' | b'f' | b'F' => {
            return match raw {
                "t" | "T" | "true" | "True" | "TRUE" => Ok(RawValue::Bool(true)),
                "f" | "F" | "false" | "False" | "FALSE" => Ok(RawValue::Bool(false)),
                _ => Err(format!("invalid boolean '{raw}'")),
            };
        }
        b'0'..=b'9' | b'-' | b'+' | b'.' => {}
        _ => {
            let non_finite = matches!(
                raw.to_ascii_lowercase().as_str(),
                "nan" | "inf" | "infinity"
            );
            return Err(if b[0].is_ascii_alphabetic() && !non_finite {
                format!("invalid boolean '{raw}'")
            } else {
                format!("invalid number '{raw}'")
            });
        }
    }
    let bad = || format!("invalid number '{raw}'");
    match b[b.len() - 1] {
        b'i' => raw[..raw.len() - 1]
            .parse::<i64>()
            .map(RawValue::Int)
            .map_err(|_| bad()),
        b'u' => raw[..raw.len() - 1]
            .parse::<u64>()
            .map(RawValue::UInt)
            .map_err(|_| bad()),
        _ => {
            if !is_float_syntax(b) {
                return Err(bad());
            }
            let f: f64 = raw.parse().map_err(|_| bad())?;
            if !f.is_finite() {
                return Err(bad());
            }
            Ok(RawValue::Float(f))
        }
    }
}

/// `[+-]digits[.digits][e[+-]digits]`, as InfluxDB's number scanner accepts (no `NaN`, `Inf`).
fn is_float_syntax(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

fn parse_timestamp(raw: &str) -> Result<i64, String> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("bad timestamp '{raw}'"));
    }
    let out_of_range = || format!("bad timestamp '{raw}': out of range");
    // Up to 19 digits fit a u64: read them 8 at a time (a nanosecond time has 19).
    if digits.len() > 19 {
        return raw.parse::<i64>().map_err(|_| out_of_range());
    }
    let magnitude = decimal_digits(digits.as_bytes());
    if raw.starts_with('-') {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or_else(out_of_range)
    } else {
        i64::try_from(magnitude).map_err(|_| out_of_range())
    }
}

/// The value of at most 19 ASCII digits.
fn decimal_digits(d: &[u8]) -> u64 {
    let mut chunks = d.chunks_exact(8);
    let mut v = 0u64;
    for c in &mut chunks {
        let c: [u8; 8] = c.try_into().expect("chunks of 8");
        v = v * 100_000_000 + eight_digits(u64::from_le_bytes(c));
    }
    for &c in chunks.remainder() {
        v = v * 10 + u64::from(c - b'0');
    }
    v
}

/// Eight ASCII digits (the first in the lowest byte) as a number, in three multiplications:
/// adjacent digits are paired, then the pairs, then the quads.
fn eight_digits(chunk: u64) -> u64 {
    // The products overflow by design: only their upper halves are kept.
    let mut v = chunk - 0x3030_3030_3030_3030;
    v = (v * 10) + (v >> 8);
    let pairs = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let quads = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    pairs.wrapping_add(quads) >> 32
}

/// Position of the first `c` not preceded by a backslash escape.
fn find_unescaped(s: &str, c: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
        } else if b[i] == c {
            return Some(i);
        } else {
            i += 1;
        }
    }
    None
}

fn split_unescaped(s: &str, c: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_unescaped(r, c) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Removes the backslash before any of `special`; other backslashes stay.
fn unescape<'a>(s: &'a str, special: &[u8]) -> Cow<'a, str> {
    if !s.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && n.is_ascii()
            && special.contains(&(n as u8))
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

fn unescape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && (n == '"' || n == '\\')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn timestamps_read_like_std() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases: Vec<String> = vec![
            "0".into(),
            "9223372036854775807".into(),
            "-9223372036854775808".into(),
            "9223372036854775808".into(),
            "-9223372036854775809".into(),
            "9999999999999999999".into(),
            "00000000000000000000012".into(),
            "12345678".into(),
            "1234567890123456".into(),
        ];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 20 + 1) as usize;
            let n = (x >> 5).to_string();
            let n = &n[..digits.min(n.len())];
            cases.push(if x & 1 == 0 {
                n.to_owned()
            } else {
                format!("-{n}")
            });
        }
        for c in cases {
            assert_eq!(parse_timestamp(&c).ok(), c.parse::<i64>().ok(), "{c}");
        }
    }
    use super::*;

    fn ok(line: &str) -> Scanned<'_> {
        scan(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn escapes() {
        let s = ok(r#"my\ cpu\,x,ta\=g=v\ a\,l\=ue f\ 1="q\"s\\t",f2=1i 5"#);
        assert_eq!(s.measurement(), "my cpu,x");
        let tags: Vec<_> = s.tags().collect();
        assert_eq!(tags, [(Cow::from("ta=g"), Cow::from("v a,l=ue"))]);
        assert_eq!(s.fields[0].0, "f 1");
        assert_eq!(s.fields[0].1, RawValue::Str(Cow::Owned("q\"s\\t".into())));
        assert_eq!(s.fields[1].1, RawValue::Int(1));
        assert_eq!(s.timestamp, Some(5));
    }

    #[test]
    fn values() {
        let s = ok("m a=1,b=-1.5e3,c=.5,d=1u,e=-3i,f=t,g=FALSE,h=\"\",i=+2");
        let v: Vec<_> = s.fields.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(
            v,
            [
                RawValue::Float(1.0),
                RawValue::Float(-1500.0),
                RawValue::Float(0.5),
                RawValue::UInt(1),
                RawValue::Int(-3),
                RawValue::Bool(true),
                RawValue::Bool(false),
                RawValue::Str(Cow::Borrowed("")),
                RawValue::Float(2.0),
            ]
        );
        assert_eq!(s.timestamp, None);
    }

    #[test]
    fn errors() {
        for (line, want) in [
            (",t=1 v=1", "missing measurement"),
            ("m", "missing fields"),
            ("m ", "missing fields"),
            ("m,t v=1", "missing tag value"),
            ("m,=1 v=1", "missing tag key"),
            ("m,t= v=1", "missing tag value"),
            ("m,t=1,t=2 v=1", "duplicate tags"),
            ("m v", "missing field value"),
            ("m v=", "missing field value"),
            ("m =1", "missing field key"),
            ("m v=abc", "invalid boolean"),
            ("m v=1x", "invalid number"),
            ("m v=NaN", "invalid number"),
            ("m v=1e", "invalid number"),
            ("m v=1.2.3", "invalid number"),
            ("m v=99999999999999999999i", "invalid number"),
            ("m v=-1u", "invalid number"),
            ("m v=\"open", "unbalanced quotes"),
            ("m v=1 12abc", "bad timestamp"),
            ("m v=1 99999999999999999999", "out of range"),
            ("m v=1 1 2", "bad timestamp"),
            ("m v=1,", "missing fields"),
        ] {
            let err = scan(line).expect_err(line);
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn line_splitting_respects_quotes() {
        let text = "a v=1\nb s=\"x\ny\" 2\nc,t=\"q v=1\nd v=\"\\\"\n\" 3";
        let got: Vec<_> = lines(text).collect();
        assert_eq!(
            got,
            [
                ("a v=1", 0),
                ("b s=\"x\ny\" 2", 1),
                ("c,t=\"q v=1", 0),
                ("d v=\"\\\"\n\" 3", 1)
            ]
        );
    }
}
