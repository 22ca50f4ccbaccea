//! Go's `time.Time.Format(layout)` for UTC times: the reference time
//! `Mon Jan 2 15:04:05 MST 2006` written the way the result should look.

use super::civil_from_days;

/// One element of a layout, as Go's `nextStdChunk` finds them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm {
        upper: bool,
    },
    Tz,
    /// A numeric zone offset: `-0700`, `-07:00`, `-07`, `-070000`, `-07:00:00`, or the
    /// ISO 8601 forms starting with `Z` (which write `Z` for UTC).
    Offset {
        iso: bool,
        text: &'static str,
    },
    /// `.000` (`zeros`) or `.999` (trailing zeros trimmed), with `.` or `,`.
    Fraction {
        digits: usize,
        trim: bool,
        sep: u8,
    },
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's month name (`January`) for 1 to 12.
pub fn month_name(month: u32) -> &'static str {
    MONTHS[(month as usize + 11) % 12]
}

/// Go's weekday name (`Sunday`) of the day `days` after 1970-01-01 (a Thursday).
pub fn weekday_name(days: i64) -> &'static str {
    DAYS[(days + 4).rem_euclid(7) as usize]
}

/// The next element in `layout`: the text before it, it, and the rest.
fn next_std(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s);
    let lower_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let found = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") && !lower_at(i + 3) => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !lower_at(i + 3) => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' if matches!(b.get(i + 1), Some(b'1'..=b'6')) => {
                let std = [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize];
                Some((std, 2))
            }
            b'0' if at(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if at(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            // `_2006` is a literal `_` and the year.
            b'_' if at(i, "_2006") => {
                return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => Some((Std::UnderDay, 2)),
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::Pm { upper: true }, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm { upper: false }, 2)),
            b'-' | b'Z' => {
                let iso = b[i] == b'Z';
                ["070000", "07:00:00", "0700", "07:00", "07"]
                    .into_iter()
                    .find(|form| at(i + 1, form))
                    .map(|text| (Std::Offset { iso, text }, 1 + text.len()))
            }
            sep @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let digit = b[i + 1];
                let run = b[i + 1..].iter().take_while(|&&c| c == digit).count();
                // Only a run of one digit that ends there is a fraction.
                (!b.get(i + 1 + run).is_some_and(u8::is_ascii_digit)).then_some((
                    Std::Fraction {
                        digits: run,
                        trim: digit == b'9',
                        sep,
                    },
                    1 + run,
                ))
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// `ns` (UTC, nanoseconds since the Unix epoch) formatted with Go's `layout`.
pub fn format(ns: i64, layout: &str) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (sod / 3600, sod / 60 % 60, sod % 60);
    let year_day = (days - super::days_from_civil(year, 1, 1) + 1) as u32;

    let mut out = String::with_capacity(layout.len() + 10);
    let pad = |out: &mut String, v: u32, width: usize, fill: char| {
        let digits = v.to_string();
        for _ in digits.len()..width {
            out.push(fill);
        }
        out.push_str(&digits);
    };
    let mut rest = layout;
    while !rest.is_empty() {
        let (literal, std, after) = next_std(rest);
        out.push_str(literal);
        rest = after;
        let Some(std) = std else { break };
        match std {
            Std::LongMonth => out.push_str(month_name(month)),
            Std::Month => out.push_str(&month_name(month)[..3]),
            Std::NumMonth => pad(&mut out, month, 0, '0'),
            Std::ZeroMonth => pad(&mut out, month, 2, '0'),
            Std::LongWeekDay => out.push_str(weekday_name(days)),
            Std::WeekDay => out.push_str(&weekday_name(days)[..3]),
            Std::Day => pad(&mut out, day, 0, '0'),
            Std::UnderDay => pad(&mut out, day, 2, ' '),
            Std::ZeroDay => pad(&mut out, day, 2, '0'),
            Std::UnderYearDay => pad(&mut out, year_day, 3, ' '),
            Std::ZeroYearDay => pad(&mut out, year_day, 3, '0'),
            Std::Hour => pad(&mut out, hour, 2, '0'),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = if hour % 12 == 0 { 12 } else { hour % 12 };
                let width = if std == Std::Hour12 { 0 } else { 2 };
                pad(&mut out, h, width, '0')
            }
            Std::Minute => pad(&mut out, minute, 0, '0'),
            Std::ZeroMinute => pad(&mut out, minute, 2, '0'),
            Std::Second => pad(&mut out, second, 0, '0'),
            Std::ZeroSecond => pad(&mut out, second, 2, '0'),
            // i64 nanoseconds span the years 1677 to 2262.
            Std::LongYear => pad(&mut out, year as u32, 4, '0'),
            Std::Year => pad(&mut out, year as u32 % 100, 2, '0'),
            Std::Pm { upper } => out.push_str(match (hour >= 12, upper) {
                (true, true) => "PM",
                (false, true) => "AM",
                (true, false) => "pm",
                (false, false) => "am",
            }),
            Std::Tz => out.push_str("UTC"),
            Std::Offset { iso: true, .. } => out.push('Z'),
            Std::Offset { iso: false, text } => {
                out.push('+');
                out.push_str(&text.replace('7', "0"));
            }
            Std::Fraction { digits, trim, sep } => {
                let all = format!("{nanos:09}");
                let mut frac = &all[..digits.min(9)];
                if trim {
                    frac = frac.trim_end_matches('0');
                }
                if !frac.is_empty() {
                    out.push(sep as char);
                    out.push_str(frac);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format;

    // 2009-11-10 23:04:05.012300 UTC, a Tuesday, day 314 of the year.
    const T: i64 = 1_257_894_245_012_300_000;

    #[test]
    fn go_layouts() {
        for (layout, want) in [
            ("2006-01-02 15:04:05", "2009-11-10 23:04:05"),
            (
                "Mon Jan _2 15:04:05 MST 2006",
                "Tue Nov 10 23:04:05 UTC 2009",
            ),
            (
                "Monday, 02-Jan-06 15:04:05 MST",
                "Tuesday, 10-Nov-09 23:04:05 UTC",
            ),
            (
                "2006-01-02T15:04:05.999999999Z07:00",
                "2009-11-10T23:04:05.0123Z",
            ),
            (
                "2006-01-02T15:04:05.000000-0700",
                "2009-11-10T23:04:05.012300+0000",
            ),
            ("3:4:5 PM pm -07 -07:00:00", "11:4:5 PM pm +00 +00:00:00"),
            ("January 1 2 _2 __2 002", "November 11 10 10 314 314"),
            ("15:04,000", "23:04,012"),
            ("15:04.9", "23:04"),
            ("05.0099", "05.0099"),
            ("Jant Mond _2006 Z0700", "Jant Mond _2009 Z"),
            ("no elements here", "no elements here"),
        ] {
            assert_eq!(format(T, layout), want, "{layout}");
        }
        assert_eq!(format(0, "Mon 03PM"), "Thu 12AM");
        assert_eq!(
            format(-1, "2006-01-02 15:04:05.999"),
            "1969-12-31 23:59:59.999"
        );
    }
}
