//! Go-style durations, as Kapacitor's config files and JSON use them (`"10s"`, `"1h30m"`,
//! `"1.5h"`, `"500ms"`), held as signed nanoseconds.

/// Nanoseconds per unit, longest suffix first so that `ms` wins over `m`.
const UNITS: [(&str, i64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {reason}")]
pub struct DurationError {
    pub text: String,
    pub reason: &'static str,
}

/// Parses a Go duration string into nanoseconds.
pub fn parse_go_duration(text: &str) -> Result<i64, DurationError> {
    let err = |reason| DurationError {
        text: text.to_owned(),
        reason,
    };
    let (neg, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err("empty"));
    }
    let mut total: f64 = 0.0;
    let mut exact: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err("expected a number"));
        }
        let num = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(err(if unit.is_empty() {
                "missing unit"
            } else {
                "unknown unit"
            }));
        };
        if num.contains('.') {
            let v: f64 = num.parse().map_err(|_| err("bad number"))?;
            total += v * scale as f64;
        } else {
            let v: i128 = num.parse().map_err(|_| err("bad number"))?;
            exact = exact
                .checked_add(v * scale as i128)
                .ok_or_else(|| err("overflow"))?;
        }
    }
    let ns = exact as f64 + total;
    if ns.is_nan() || ns.abs() > i64::MAX as f64 || exact > i64::MAX as i128 {
        return Err(err("overflow"));
    }
    let ns = if total == 0.0 {
        exact as i64
    } else {
        (exact as f64 + total).round() as i64
    };
    Ok(if neg { -ns } else { ns })
}

/// Formats nanoseconds as Go's `time.Duration.String()` does (`1h30m0s`, `10s`, `1.5ms`, `0s`).
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        // Sub-second: the largest unit that keeps a non-zero integer part, with a fraction.
        let (scale, unit) = match u {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        out.push_str(&fraction(u, scale));
        out.push_str(unit);
        return out;
    }
    let h = u / 3_600_000_000_000;
    let m = (u / 60_000_000_000) % 60;
    let s_ns = u % 60_000_000_000;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&fraction(s_ns, 1_000_000_000));
    out.push('s');
    out
}

fn fraction(v: u64, scale: u64) -> String {
    let int = v / scale;
    let frac = v % scale;
    if frac == 0 {
        return int.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Parses an InfluxQL duration (`10s`, `1d`, `2w`, `1h30m`, `500ms`, `-5m`): integers and
/// units `ns`, `u`/`µ`, `ms`, `s`, `m`, `h`, `d`, `w`, as Kapacitor's CLI reads `-past` and
/// `-duration`.
pub fn parse_influxql_duration(text: &str) -> Result<i64, DurationError> {
    let err = || DurationError {
        text: text.to_owned(),
        reason: "invalid duration",
    };
    let (neg, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    if text.chars().count() < 2 {
        return Err(err());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits == rest.len() {
            return Err(err());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let (unit, len) = [
            ("ns", 1),
            ("ms", 1_000_000),
            ("u", 1_000),
            ("µ", 1_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
            ("d", 86_400_000_000_000),
            ("w", 604_800_000_000_000),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .ok_or_else(err)?;
        total = n
            .checked_mul(len)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
        rest = &rest[unit.len()..];
    }
    Ok(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let s = 1_000_000_000;
        assert_eq!(parse_go_duration("10s"), Ok(10 * s));
        assert_eq!(parse_go_duration("1h30m"), Ok(5400 * s));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400 * s));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("3us"), Ok(3_000));
        assert_eq!(parse_go_duration("3µs"), Ok(3_000));
        assert_eq!(parse_go_duration("-2m"), Ok(-120 * s));
        assert_eq!(parse_go_duration("0"), Ok(0));
        for bad in ["", "10", "s", "10x", "1d", "1..5s", "99999999999999999999h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_go() {
        let s = 1_000_000_000;
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(10 * s), "10s");
        assert_eq!(format_go_duration(5400 * s), "1h30m0s");
        assert_eq!(format_go_duration(61 * s + 500_000_000), "1m1.5s");
        assert_eq!(format_go_duration(1_500_000), "1.5ms");
        assert_eq!(format_go_duration(1_000), "1µs");
        assert_eq!(format_go_duration(-s), "-1s");
        for ns in [1, 999, 1_000_001, 7 * s, 86_400 * s + 3] {
            assert_eq!(parse_go_duration(&format_go_duration(ns)), Ok(ns));
        }
    }

    #[test]
    fn influxql_durations() {
        for (text, ns) in [
            ("1d", 86_400_000_000_000),
            ("2w", 1_209_600_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("10u", 10_000),
            ("7ns", 7),
            ("-5m", -300_000_000_000),
        ] {
            assert_eq!(parse_influxql_duration(text), Ok(ns), "{text}");
        }
        for bad in ["", "1", "d", "1.5h", "10x", "1d2"] {
            assert!(parse_influxql_duration(bad).is_err(), "{bad}");
        }
    }
}
