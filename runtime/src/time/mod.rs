//! Timestamps as text: Go's `time.RFC3339Nano` in UTC, the format of every time in Kapacitor's
//! JSON (`2006-01-02T15:04:05.999999999Z`, trailing fractional zeros trimmed).

/// Formats nanoseconds since the Unix epoch.
pub fn format_rfc3339_nanos(ns: i64) -> String {
    let mut out = Vec::with_capacity(30);
    write_rfc3339_nanos(&mut out, ns);
    String::from_utf8(out).expect("ASCII")
}

/// [`format_rfc3339_nanos`] appended to `out`, without a `String` of its own.
pub fn write_rfc3339_nanos(out: &mut Vec<u8>, ns: i64) {
    write_civil(out, ns, b'T');
    out.push(b'Z');
}

/// A UTC time as Go's `time.Time.String()` prints it (`2006-01-02 15:04:05.999999999 +0000
/// UTC`): what `{{ .Time }}` gives in Kapacitor's templates.
pub fn format_go_time(ns: i64) -> String {
    let mut out = Vec::with_capacity(36);
    write_civil(&mut out, ns, b' ');
    out.extend_from_slice(b" +0000 UTC");
    String::from_utf8(out).expect("ASCII")
}

/// Date, `sep`, time of day and the fraction without trailing zeros.
fn write_civil(out: &mut Vec<u8>, ns: i64, sep: u8) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let two = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
    };
    // i64 nanoseconds span the years 1677 to 2262: always four digits.
    let y = y as u32;
    two(out, y / 100);
    two(out, y % 100);
    out.push(b'-');
    two(out, m);
    out.push(b'-');
    two(out, d);
    out.push(sep);
    two(out, sod / 3600);
    out.push(b':');
    two(out, (sod / 60) % 60);
    out.push(b':');
    two(out, sod % 60);
    if frac != 0 {
        let mut digits = [0u8; 9];
        let mut f = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        let len = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Parses RFC 3339 (`Z` or `±hh:mm` offsets, optional fraction) into nanoseconds; also the
/// UTC times of [`format_go_time`].
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        frac = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match &text[i..] {
        "Z" | "z" | " +0000 UTC" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (tz[1..3].parse::<i64>().ok()? * 3600 + tz[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

pub mod layout;

// Howard Hinnant's civil-calendar algorithms.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_nanos(31_536_000_000_000_000),
            "1971-01-01T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339_nanos(1_500_000_000),
            "1970-01-01T00:00:01.5Z"
        );
        assert_eq!(
            format_rfc3339_nanos(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(format_rfc3339_nanos(-1_000_000_000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn formats_like_go_time_string() {
        // Kapacitor's own handler tests: `@{{.Time}}` in a message.
        assert_eq!(
            format_go_time(31_536_010_000_000_000),
            "1971-01-01 00:00:10 +0000 UTC"
        );
        assert_eq!(
            format_go_time(951_782_400_500_000_000),
            "2000-02-29 00:00:00.5 +0000 UTC"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for ns in [
            0,
            1,
            1_500_000_000,
            951_782_400_000_000_001,
            -1_000_000_000,
            1_764_000_000_123_000_000,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339_nanos(ns)), Some(ns));
            assert_eq!(parse_rfc3339(&format_go_time(ns)), Some(ns));
        }
        assert_eq!(
            parse_rfc3339("1971-01-01T01:00:00+01:00"),
            Some(31_536_000_000_000_000)
        );
        assert_eq!(parse_rfc3339("1971-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
