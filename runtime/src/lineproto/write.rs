//! Line protocol out: points as InfluxDB 1.x reads them (recordings, writes to InfluxDB).

use std::fmt::Write as _;

use super::Precision;
use crate::model::{Point, Value};

/// Appends `point` as one line (no newline), its time in `precision` units (truncated).
pub fn write_point(out: &mut String, point: &Point, precision: Precision) {
    escape(out, point.series.measurement.as_str(), &[',', ' ']);
    for (k, v) in point.series.tags.iter() {
        if v.is_empty() {
            continue; // InfluxDB drops tags with empty values; an empty value cannot be written.
        }
        out.push(',');
        escape(out, k.as_str(), &[',', '=', ' ']);
        out.push('=');
        escape(out, v, &[',', '=', ' ']);
    }
    let mut sep = ' ';
    for (k, v) in &point.fields {
        out.push(sep);
        sep = ',';
        escape(out, k.as_str(), &[',', '=', ' ']);
        out.push('=');
        write_value(out, v);
    }
    let _ = write!(out, " {}", point.time.div_euclid(precision.nanos()));
}

fn write_value(out: &mut String, v: &Value) {
    let _ = match v {
        // Rust's shortest round-trip form never uses an exponent, as Go's 'f' -1 does not.
        Value::Float(f) => write!(out, "{f}"),
        Value::Int(i) => write!(out, "{i}i"),
        Value::UInt(u) => write!(out, "{u}u"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Str(s) => {
            out.push('"');
            escape(out, s, &['"', '\\']);
            out.push('"');
            Ok(())
        }
    };
}

fn escape(out: &mut String, text: &str, special: &[char]) {
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        if c == '\n' {
            out.push_str("\\n");
            continue;
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::{PointBuilder, parse};

    fn round_trip(line: &str) -> String {
        let mut b = PointBuilder::default();
        let mut pts = Vec::new();
        let outcome = parse(line.as_bytes(), Precision::Nanoseconds, 0, |l| {
            pts.push(b.build(l))
        });
        assert_eq!(outcome.rejected, 0, "{line}");
        let mut s = String::new();
        write_point(&mut s, &pts[0], Precision::Nanoseconds);
        s
    }

    #[test]
    fn writes_what_it_reads() {
        for line in [
            r#"cpu,host=a,region=west n=3i,ok=true,s="x \"y\" \\z",u=4u,value=1.5 1000"#,
            r#"my\ measure\,ment,tag\ key=v\=1\,2 field\=k=2 7"#,
            "cpu value=1e-07 5",
            "cpu value=100000000000000000000 5",
        ] {
            let once = round_trip(line);
            assert_eq!(round_trip(&once), once, "{line}");
        }
        assert_eq!(
            round_trip("cpu,host=a value=1.5,n=3i 1000"),
            "cpu,host=a n=3i,value=1.5 1000"
        );
    }

    #[test]
    fn truncates_to_the_precision() {
        let mut b = PointBuilder::default();
        let mut pts = Vec::new();
        parse(b"m v=1 1999999999", Precision::Nanoseconds, 0, |l| {
            pts.push(b.build(l))
        });
        let mut s = String::new();
        write_point(&mut s, &pts[0], Precision::Seconds);
        assert_eq!(s, "m v=1 1");
    }
}
