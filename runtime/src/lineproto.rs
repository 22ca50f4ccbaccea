//! InfluxDB line protocol in: bytes → validated lines → [`Point`]s.
//!
//! Parsing follows InfluxDB 1.x's write semantics: every line is parsed on its own, valid lines
//! are taken even when others are bad (a *partial write*), and each bad line is reported with
//! its 1-based line number and InfluxDB's wording (`unable to parse '<line>': <reason>`).
//! Tokenising is done by the `influxdb-line-protocol` crate; this module adds what InfluxDB 1.x
//! checks on top (precision, time range, non-finite floats, invalid UTF-8, the `time` field).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use influxdb_line_protocol::{self as lp, FieldValue, ParsedLine};

use crate::model::{Fields, Name, Point, Series, Value};

/// Timestamp precision of a write (`precision=` query parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
}

impl Precision {
    /// Parses InfluxDB's precision names; empty means nanoseconds.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// Nanoseconds per unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }
}

/// InfluxDB's representable time range (the extremes are reserved).
pub const MIN_TIME: i64 = i64::MIN + 2;
pub const MAX_TIME: i64 = i64::MAX - 1;

/// How much of a bad line an error message quotes.
const QUOTE_LIMIT: usize = 256;

/// One rejected line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the request body.
    pub line: usize,
    /// The line as written, cut to a readable length.
    pub text: String,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unable to parse '{}': {} (line {})",
            self.text, self.reason, self.line
        )
    }
}

/// A line that passed every check, with its time in nanoseconds.
pub struct Line<'a> {
    pub parsed: ParsedLine<'a>,
    /// The series part of the line as written (`cpu,host=a`), a cheap key for series caches.
    pub series_text: &'a str,
    pub time: i64,
}

/// What a body held: how many lines were taken and which were rejected.
#[derive(Debug, Default)]
pub struct Outcome {
    pub accepted: usize,
    pub rejected: usize,
    /// The first rejected lines, in order (at most [`Outcome::MAX_ERRORS`]).
    pub errors: Vec<LineError>,
}

impl Outcome {
    /// How many rejected lines are described in detail.
    pub const MAX_ERRORS: usize = 10;

    /// InfluxDB's partial-write message: the described errors, one per line.
    pub fn message(&self) -> Option<String> {
        let first = self.errors.first()?;
        let mut msg = if self.rejected == self.accepted + self.rejected {
            String::new()
        } else {
            format!(
                "partial write: {} of {} lines rejected\n",
                self.rejected,
                self.accepted + self.rejected
            )
        };
        msg.push_str(&first.to_string());
        for e in &self.errors[1..] {
            msg.push('\n');
            msg.push_str(&e.to_string());
        }
        if self.rejected > self.errors.len() {
            msg.push_str(&format!(
                "\n(and {} more)",
                self.rejected - self.errors.len()
            ));
        }
        Some(msg)
    }

    fn reject(&mut self, line: usize, text: &str, reason: String) {
        self.rejected += 1;
        if self.errors.len() < Self::MAX_ERRORS {
            self.errors.push(LineError {
                line,
                text: quote(text),
                reason,
            });
        }
    }
}

fn quote(text: &str) -> String {
    if text.len() <= QUOTE_LIMIT {
        return text.to_owned();
    }
    let mut end = QUOTE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// Parses `body`, calling `visit` for each valid line in order. Lines without a timestamp get
/// `now` (nanoseconds), truncated to the precision as InfluxDB does.
pub fn parse(
    body: &[u8],
    precision: Precision,
    now: i64,
    mut visit: impl FnMut(Line<'_>),
) -> Outcome {
    let mut out = Outcome::default();
    let mut line_no = 0usize;
    let mut rest = body;
    // Invalid UTF-8 rejects only the lines that contain it: parse the valid stretches in between.
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                parse_text(text, precision, now, &mut line_no, &mut out, &mut visit);
                break;
            }
            Err(e) => {
                let bad = e.valid_up_to();
                let line_start = rest[..bad]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let good = std::str::from_utf8(&rest[..line_start]).expect("checked valid above");
                parse_text(good, precision, now, &mut line_no, &mut out, &mut visit);
                let line_end = rest[bad..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| bad + i);
                line_no += 1;
                let shown = String::from_utf8_lossy(&rest[line_start..line_end]);
                out.reject(line_no, &shown, "invalid UTF-8".into());
                rest = rest.get(line_end + 1..).unwrap_or(&[]);
            }
        }
    }
    out
}

fn parse_text(
    text: &str,
    precision: Precision,
    now: i64,
    line_no: &mut usize,
    out: &mut Outcome,
    visit: &mut impl FnMut(Line<'_>),
) {
    // A final newline ends the last line; it does not start another.
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return;
    }
    for raw in lp::split_lines(text) {
        // split_lines keeps newlines inside quoted strings: count them to stay in step.
        *line_no += 1;
        let first_line = *line_no;
        *line_no += raw.bytes().filter(|&b| b == b'\n').count();
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let parsed = match lp::parse_lines(trimmed).next() {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                out.reject(first_line, line, reason(&e, trimmed));
                continue;
            }
            None => continue,
        };
        match check(&parsed, precision, now) {
            Ok(time) => {
                out.accepted += 1;
                let series_text = series_part(trimmed);
                visit(Line {
                    parsed,
                    series_text,
                    time,
                });
            }
            Err(why) => out.reject(first_line, line, why),
        }
    }
}

/// The measurement-and-tags prefix: up to the first unescaped space.
fn series_part(line: &str) -> &str {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b' ' => return &line[..i],
            _ => i += 1,
        }
    }
    line
}

fn check(p: &ParsedLine<'_>, precision: Precision, now: i64) -> Result<i64, String> {
    for (key, value) in &p.field_set {
        if &**key == "time" {
            return Err(format!(
                "invalid field name: input field \"time\" on measurement \"{}\" is invalid",
                &*p.series.measurement
            ));
        }
        if let FieldValue::F64(f) = value
            && !f.is_finite()
        {
            return Err(format!("invalid number: field \"{}\" is {f}", &**key));
        }
    }
    let scale = precision.nanos();
    let time = match p.timestamp {
        Some(ts) => ts.checked_mul(scale).ok_or_else(out_of_range)?,
        None => now - now.rem_euclid(scale),
    };
    if !(MIN_TIME..=MAX_TIME).contains(&time) {
        return Err(out_of_range());
    }
    Ok(time)
}

fn out_of_range() -> String {
    format!("time outside range {MIN_TIME} - {MAX_TIME}")
}

/// InfluxDB's reasons, which users and tools already know, from the tokenizer's errors.
fn reason(e: &lp::Error, line: &str) -> String {
    use lp::Error::*;
    match e {
        MeasurementValueInvalid => "missing measurement".into(),
        IntegerValueInvalid { value, .. }
        | UIntegerValueInvalid { value, .. }
        | FloatValueInvalid { value, .. } => {
            format!("invalid number '{value}'")
        }
        TimestampValueInvalid { value, .. } => format!("bad timestamp '{value}'"),
        DuplicateTag { tag_key } => format!("duplicate tags: \"{tag_key}\" is repeated"),
        EndsWithBackslash => e.to_string(),
        CannotParseEntireLine { trailing_content } => {
            // A token without '=' before the leftover is a timestamp cut short (`12abc`).
            let before = &line[..line.len().saturating_sub(trailing_content.len())];
            let token = before.rsplit(' ').next().unwrap_or("");
            if trailing_content.starts_with(' ') {
                format!("bad timestamp '{}'", quote(trailing_content.trim_start()))
            } else if !token.is_empty() && !token.contains('=') {
                format!("bad timestamp '{}{}'", token, quote(trailing_content))
            } else {
                format!(
                    "invalid field value: unexpected '{}'",
                    quote(trailing_content)
                )
            }
        }
        _ => diagnose(line),
    }
}

/// A specific reason for lines the tokenizer only calls generically malformed.
fn diagnose(line: &str) -> String {
    let series = series_part(line);
    if series.is_empty() || series.starts_with(',') {
        return "missing measurement".into();
    }
    if series.split(',').skip(1).any(|kv| !kv.contains('=')) {
        return "missing tag value".into();
    }
    if series.split(',').skip(1).any(|kv| kv.starts_with('=')) {
        return "missing tag key".into();
    }
    let fields = line[series.len()..].trim_start();
    if fields.is_empty() {
        return "missing fields".into();
    }
    let fields = fields.split(' ').next().unwrap_or("");
    if fields.split(',').any(|kv| kv.starts_with('=')) {
        return "missing field key".into();
    }
    if fields
        .split(',')
        .any(|kv| kv.ends_with('=') || !kv.contains('='))
    {
        return "missing field value".into();
    }
    if fields.matches('"').count() % 2 == 1 {
        return "unbalanced quotes".into();
    }
    for kv in fields.split(',') {
        let v = kv.rsplit_once('=').map_or("", |(_, v)| v);
        if v.starts_with('"') {
            continue;
        }
        let lower = v.to_ascii_lowercase();
        let is_bool = matches!(lower.as_str(), "t" | "f" | "true" | "false");
        let alpha = v.starts_with(|c: char| c.is_ascii_alphabetic());
        if alpha && !is_bool && !matches!(lower.as_str(), "nan" | "inf" | "infinity") {
            return format!("invalid boolean '{v}'");
        }
        if !is_bool {
            return format!("invalid number '{v}'");
        }
    }
    "invalid field format".into()
}

/// Turns valid lines into [`Point`]s, sharing one `Arc<Series>` among the points of a series.
///
/// The cache is keyed by the series text as written and is cleared when it reaches its
/// capacity, so it bounds memory under unbounded series churn; points keep their series alive.
pub struct PointBuilder {
    series: HashMap<Box<str>, Arc<Series>, foldhash::fast::RandomState>,
    capacity: usize,
}

impl Default for PointBuilder {
    fn default() -> Self {
        PointBuilder::with_capacity(100_000)
    }
}

impl PointBuilder {
    /// A builder that remembers at most `capacity` series.
    pub fn with_capacity(capacity: usize) -> PointBuilder {
        PointBuilder {
            series: HashMap::default(),
            capacity,
        }
    }

    /// The point for a valid line.
    pub fn build(&mut self, line: &Line<'_>) -> Point {
        let series = match self.series.get(line.series_text) {
            Some(s) => s.clone(),
            None => {
                if self.series.len() >= self.capacity {
                    self.series.clear();
                }
                let s = Arc::new(series_of(&line.parsed));
                self.series.insert(line.series_text.into(), s.clone());
                s
            }
        };
        let mut fields = Fields::with_capacity(line.parsed.field_set.len());
        for (key, value) in &line.parsed.field_set {
            let v = match value {
                FieldValue::F64(f) => Value::Float(*f),
                FieldValue::I64(i) => Value::Int(*i),
                FieldValue::U64(u) => Value::UInt(*u),
                FieldValue::Boolean(b) => Value::Bool(*b),
                FieldValue::String(s) => Value::Str(Arc::from(&**s)),
            };
            fields.push((Name::new(key), v));
        }
        // Sorted by key; on a repeated key the last value wins, as in InfluxDB.
        fields.sort_by_key(|a| a.0);
        let mut i = 1;
        while i < fields.len() {
            if fields[i - 1].0 == fields[i].0 {
                fields.remove(i - 1);
            } else {
                i += 1;
            }
        }
        Point {
            time: line.time,
            series,
            fields,
        }
    }
}

fn series_of(p: &ParsedLine<'_>) -> Series {
    let tags = p
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (Name::new(k), Box::<str>::from(&**v)))
        .collect();
    Series::new(Name::new(&p.series.measurement), tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(body: &[u8], precision: Precision) -> (Vec<Point>, Outcome) {
        let mut b = PointBuilder::default();
        let mut pts = Vec::new();
        let out = parse(body, precision, 1_700_000_000_123_456_789, |l| {
            pts.push(b.build(&l))
        });
        (pts, out)
    }

    #[test]
    fn parses_points_with_all_field_types() {
        let body = b"cpu,host=a,region=west value=1.5,n=3i,u=4u,s=\"x y\",ok=true 1000\n\
                     cpu,region=west,host=a value=2 2000\n";
        let (pts, out) = points(body, Precision::Nanoseconds);
        assert_eq!(out.accepted, 2);
        assert_eq!(out.rejected, 0);
        let p = &pts[0];
        assert_eq!(p.name().as_str(), "cpu");
        assert_eq!(p.time, 1000);
        assert_eq!(p.tag(Name::new("host")), Some("a"));
        assert_eq!(p.field(Name::new("value")), Some(&Value::Float(1.5)));
        assert_eq!(p.field(Name::new("n")), Some(&Value::Int(3)));
        assert_eq!(p.field(Name::new("u")), Some(&Value::UInt(4)));
        assert_eq!(p.field(Name::new("s")), Some(&Value::Str("x y".into())));
        assert_eq!(p.field(Name::new("ok")), Some(&Value::Bool(true)));
        let keys: Vec<_> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["n", "ok", "s", "u", "value"]);
        // Same series content, written with tags in another order: equal series.
        assert_eq!(pts[0].series, pts[1].series);
    }

    #[test]
    fn points_of_a_series_share_it() {
        let (pts, _) = points(b"m,t=1 v=1 1\nm,t=1 v=2 2\n", Precision::Nanoseconds);
        assert!(Arc::ptr_eq(&pts[0].series, &pts[1].series));
    }

    #[test]
    fn precision_and_default_time() {
        for (p, ts, want) in [
            (Precision::Seconds, "3", 3_000_000_000),
            (Precision::Milliseconds, "3", 3_000_000),
            (Precision::Microseconds, "3", 3_000),
            (Precision::Minutes, "2", 120_000_000_000),
            (Precision::Hours, "1", 3_600_000_000_000),
        ] {
            let (pts, _) = points(format!("m v=1 {ts}").as_bytes(), p);
            assert_eq!(pts[0].time, want, "{p:?}");
        }
        let (pts, _) = points(b"m v=1", Precision::Seconds);
        assert_eq!(pts[0].time, 1_700_000_000_000_000_000);
        let (pts, _) = points(b"m v=1", Precision::Nanoseconds);
        assert_eq!(pts[0].time, 1_700_000_000_123_456_789);
        assert_eq!(Precision::parse("x"), None);
        assert_eq!(Precision::parse(""), Some(Precision::Nanoseconds));
    }

    #[test]
    fn partial_writes_name_each_bad_line() {
        let body = b"good v=1 1\n\
                     cpu\n\
                     cpu v= 2\n\
                     cpu v=1 notatime\n\
                     cpu v=1 99999999999999999\n\
                     cpu,host v=1 1\n\
                     cpu v=1i2 1\n\
                     cpu time=1 1\n\
                     \n# comment\n\
                     good v=2 2\n";
        let (pts, out) = points(body, Precision::Seconds);
        assert_eq!(pts.len(), 2);
        assert_eq!(out.accepted, 2);
        assert_eq!(out.rejected, 7);
        let lines: Vec<_> = out.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8]);
        let reasons: Vec<_> = out.errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons[0], "missing fields");
        assert_eq!(reasons[1], "missing field value");
        assert!(reasons[2].contains("bad timestamp"), "{}", reasons[2]);
        assert!(
            reasons[3].starts_with("time outside range"),
            "{}",
            reasons[3]
        );
        assert_eq!(reasons[4], "missing tag value");
        assert!(reasons[5].contains("invalid field value"), "{}", reasons[5]);
        assert!(reasons[6].contains("\"time\""), "{}", reasons[6]);
        let msg = out.message().unwrap();
        assert!(msg.starts_with("partial write: 7 of 9 lines rejected\nunable to parse 'cpu': missing fields (line 2)"), "{msg}");
    }

    #[test]
    fn invalid_utf8_rejects_only_its_line() {
        let body = b"a v=1 1\nb,t=\xff\xfe v=1 2\nc v=1 3\n";
        let (pts, out) = points(body, Precision::Nanoseconds);
        let names: Vec<_> = pts.iter().map(|p| p.name().as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(out.errors[0].line, 2);
        assert_eq!(out.errors[0].reason, "invalid UTF-8");
    }

    #[test]
    fn non_finite_floats_and_huge_lines() {
        let (pts, out) = points(b"m v=inf 1\nm v=NaN 1\n", Precision::Nanoseconds);
        assert!(pts.is_empty());
        assert_eq!(out.rejected, 2);
        let huge = format!("m v={} 1", "9".repeat(100_000));
        let (_, out) = points(huge.as_bytes(), Precision::Nanoseconds);
        assert_eq!(out.rejected, 1);
        assert!(out.errors[0].text.len() < 400, "quoted text is cut");
    }

    #[test]
    fn strings_may_hold_newlines() {
        let (pts, out) = points(b"m s=\"a\nb\" 1\nm v=oops 2\n", Precision::Nanoseconds);
        assert_eq!(
            pts[0].field(Name::new("s")),
            Some(&Value::Str("a\nb".into()))
        );
        assert_eq!(out.errors[0].line, 3);
    }

    #[test]
    fn repeated_field_keeps_last() {
        let (pts, _) = points(b"m v=1,v=2 1\n", Precision::Nanoseconds);
        assert_eq!(&pts[0].fields[..], &[(Name::new("v"), Value::Float(2.0))]);
    }
}
