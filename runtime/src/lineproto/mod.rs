//! InfluxDB line protocol in: bytes → validated lines → [`Point`]s.
//!
//! Parsing follows InfluxDB 1.x's write semantics: every line is parsed on its own, valid lines
//! are taken even when others are bad (a *partial write*), and each bad line is reported with
//! its 1-based line number and InfluxDB's wording (`unable to parse '<line>': <reason>`).
//! [`scan`] is a single-pass, allocation-free scanner for one line (the hot path of every write);
//! this module adds what InfluxDB 1.x checks on top (precision, time range, invalid UTF-8 kept to
//! its line, the `time` field) and turns lines into points. The `influxdb-line-protocol` crate
//! serves as the oracle its tests compare against.

pub mod scan;
mod write;

pub use write::write_point;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use scan::{RawValue, Scanned};

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
    pub scanned: Scanned<'a>,
    pub time: i64,
}

impl<'a> Line<'a> {
    /// The series part of the line as written (`cpu,host=a`), a cheap key for series caches.
    pub fn series_text(&self) -> &'a str {
        self.scanned.series
    }

    /// The measurement as written (still escaped), a cheap key for measurement caches.
    pub fn measurement_text(&self) -> &'a str {
        &self.scanned.series[..self.scanned.measurement_len]
    }
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
            let reason = if reason.len() > QUOTE_LIMIT {
                quote(&reason)
            } else {
                reason
            };
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

/// At most how many points `body` holds (its newlines, plus one): a capacity for their `Vec`.
pub fn max_lines(body: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', body).count() + 1
}

/// Parses `body`, calling `visit` for each valid line in order. Lines without a timestamp get
/// `now` (nanoseconds), truncated to the precision as InfluxDB does.
pub fn parse<'b>(
    body: &'b [u8],
    precision: Precision,
    now: i64,
    mut visit: impl FnMut(&Line<'b>),
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

fn parse_text<'b>(
    text: &'b str,
    precision: Precision,
    now: i64,
    line_no: &mut usize,
    out: &mut Outcome,
    visit: &mut impl FnMut(&Line<'b>),
) {
    // A final newline ends the last line; it does not start another.
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return;
    }
    let mut current = Line {
        scanned: Scanned::default(),
        time: 0,
    };
    for (raw, inner_newlines) in scan::lines(text) {
        *line_no += 1;
        let first_line = *line_no;
        *line_no += inner_newlines;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let checked = scan::scan_into(trimmed, &mut current.scanned)
            .and_then(|()| check(&current.scanned, precision, now));
        match checked {
            Ok(time) => {
                out.accepted += 1;
                current.time = time;
                visit(&current);
            }
            Err(why) => out.reject(first_line, line, why),
        }
    }
}

fn check(s: &Scanned<'_>, precision: Precision, now: i64) -> Result<i64, String> {
    if s.fields.iter().any(|(k, _)| k == "time") {
        return Err(format!(
            "invalid field name: input field \"time\" on measurement \"{}\" is invalid",
            s.measurement()
        ));
    }
    let scale = precision.nanos();
    let time = match s.timestamp {
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

/// Turns valid lines into [`Point`]s, sharing one `Arc<Series>` among the points of a series.
///
/// The cache is keyed by the series text as written and is cleared when it reaches its
/// capacity, so it bounds memory under unbounded series churn; points keep their series alive.
pub struct PointBuilder {
    series: HashMap<Box<str>, Arc<Series>, foldhash::fast::RandomState>,
    capacity: usize,
    /// Recently seen field keys: a schema has few, and comparing a short key beats interning it.
    field_names: Vec<(Box<str>, Name)>,
}

const FIELD_NAME_CACHE: usize = 32;

impl Default for PointBuilder {
    fn default() -> Self {
        PointBuilder::with_capacity(16_384)
    }
}

impl PointBuilder {
    /// A builder that remembers at most `capacity` series.
    pub fn with_capacity(capacity: usize) -> PointBuilder {
        PointBuilder {
            series: HashMap::default(),
            capacity,
            field_names: Vec::new(),
        }
    }

    fn field_name(&mut self, key: &str) -> Name {
        if let Some((_, n)) = self.field_names.iter().find(|(k, _)| &**k == key) {
            return *n;
        }
        let n = Name::new(key);
        if self.field_names.len() == FIELD_NAME_CACHE {
            self.field_names.pop();
        }
        self.field_names.insert(0, (key.into(), n));
        n
    }

    /// The point for a valid line.
    pub fn build(&mut self, line: &Line<'_>) -> Point {
        let series = match self.series.get(line.series_text()) {
            Some(s) => s.clone(),
            None => {
                if self.series.len() >= self.capacity {
                    self.series.clear();
                }
                let s = Arc::new(series_of(&line.scanned));
                self.series.insert(line.series_text().into(), s.clone());
                s
            }
        };
        let mut fields = Fields::with_capacity(line.scanned.fields.len());
        for (key, value) in &line.scanned.fields {
            let v = match value {
                RawValue::Float(f) => Value::Float(*f),
                RawValue::Int(i) => Value::Int(*i),
                RawValue::UInt(u) => Value::UInt(*u),
                RawValue::Bool(b) => Value::Bool(*b),
                RawValue::Str(s) => Value::Str(Arc::from(&**s)),
            };
            fields.push((self.field_name(key), v));
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

fn series_of(s: &Scanned<'_>) -> Series {
    let tags = s
        .tags()
        .map(|(k, v)| (Name::new(&k), Box::<str>::from(&*v)))
        .collect();
    Series::new(Name::new(&s.measurement()), tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(body: &[u8], precision: Precision) -> (Vec<Point>, Outcome) {
        let mut b = PointBuilder::default();
        let mut pts = Vec::new();
        let out = parse(body, precision, 1_700_000_000_123_456_789, |l| {
            pts.push(b.build(l))
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
        assert_eq!(reasons[5], "invalid number '1i2'");
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

    mod oracle {
        //! Differential tests: what the scanner reads equals what the `influxdb-line-protocol`
        //! crate reads, for generated lines with every kind of escape and value.
        use super::super::{Outcome, PointBuilder, Precision, parse, scan};
        use influxdb_line_protocol as lp;
        use proptest::prelude::*;

        fn ident() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[a-zA-Z_][a-zA-Z0-9_ ,=.é-]{0,8}").unwrap()
        }

        fn esc(s: &str, special: &[char]) -> String {
            let mut o = String::new();
            for c in s.chars() {
                if special.contains(&c) {
                    o.push('\\');
                }
                o.push(c);
            }
            o
        }

        #[derive(Debug, Clone)]
        enum V {
            F(f64),
            I(i64),
            U(u64),
            B(bool),
            S(String),
        }

        fn value() -> impl Strategy<Value = V> {
            prop_oneof![
                (-1e12f64..1e12).prop_map(V::F),
                any::<i64>().prop_map(V::I),
                any::<u64>().prop_map(V::U),
                any::<bool>().prop_map(V::B),
                proptest::string::string_regex("[a-z \"\\\\,=\n]{0,8}")
                    .unwrap()
                    .prop_map(V::S),
            ]
        }

        fn render(v: &V) -> String {
            match v {
                V::F(f) => format!("{f:?}"),
                V::I(i) => format!("{i}i"),
                V::U(u) => format!("{u}u"),
                V::B(b) => format!("{b}"),
                V::S(s) => format!("\"{}\"", esc(s, &['"', '\\'])),
            }
        }

        proptest! {
            #[test]
            fn agrees_with_the_crate(
                m in ident(),
                tags in proptest::collection::btree_map(ident(), ident(), 0..4),
                fields in proptest::collection::btree_map(ident(), value(), 1..4),
                ts in proptest::option::of(any::<i64>()),
            ) {
                // Tag values may not contain '=' unescaped in either parser; escape them all.
                let mut line = esc(&m, &[',', ' ']);
                for (k, v) in &tags {
                    line.push(',');
                    line.push_str(&esc(k, &[',', '=', ' ']));
                    line.push('=');
                    line.push_str(&esc(v, &[',', '=', ' ']));
                }
                line.push(' ');
                let fs: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", esc(k, &[',', '=', ' ']), render(v))).collect();
                line.push_str(&fs.join(","));
                if let Some(t) = ts {
                    line.push_str(&format!(" {t}"));
                }
                let ours = scan::scan(&line).map_err(|e| format!("{line:?}: {e}")).unwrap();
                let theirs = lp::parse_lines(&line).next().unwrap().map_err(|e| format!("{line:?}: {e}")).unwrap();
                prop_assert_eq!(&*ours.measurement(), &*theirs.series.measurement);
                let our_tags: Vec<(String, String)> = ours.tags().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                let their_tags: Vec<(String, String)> = theirs.series.tag_set.iter().flatten().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                prop_assert_eq!(our_tags, their_tags);
                prop_assert_eq!(ours.timestamp, theirs.timestamp);
                prop_assert_eq!(ours.fields.len(), theirs.field_set.len());
                for ((ok, ov), (tk, tv)) in ours.fields.iter().zip(theirs.field_set.iter()) {
                    prop_assert_eq!(&**ok, &**tk);
                    let same = match (ov, tv) {
                        (scan::RawValue::Float(a), lp::FieldValue::F64(b)) => a == b,
                        (scan::RawValue::Int(a), lp::FieldValue::I64(b)) => a == b,
                        (scan::RawValue::UInt(a), lp::FieldValue::U64(b)) => a == b,
                        (scan::RawValue::Bool(a), lp::FieldValue::Boolean(b)) => a == b,
                        (scan::RawValue::Str(a), lp::FieldValue::String(b)) => **a == **b,
                        _ => false,
                    };
                    prop_assert!(same, "{:?} vs {:?} in {:?}", ov, tv, line);
                }
            }

            #[test]
            fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..200)) {
                let mut b = PointBuilder::default();
                let out = parse(&body, Precision::Nanoseconds, 0, |l| { b.build(l); });
                prop_assert!(out.errors.len() <= Outcome::MAX_ERRORS);
            }

            #[test]
            fn never_panics_on_line_like_text(body in "[a-z,= \"\\\\\n0-9.ietu-]{0,80}") {
                let mut b = PointBuilder::default();
                parse(body.as_bytes(), Precision::Seconds, 0, |l| { b.build(l); });
            }
        }
    }
}
