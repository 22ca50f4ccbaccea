//! Go's methods on the `time.Time` and `time.Duration` values in Kapacitor's template data:
//! `{{ .Time.Format "15:04" }}`, `{{ .Time.Unix }}`, `{{ .Duration.Minutes }}`. gotmpl
//! values have no methods (`.Time` is Go's text of the time, `.Duration` Go's text of the
//! duration), so a chain that calls one on a field named `Time` or `Duration` is rewritten
//! before parsing into a call of `goTimeMethod` or `goDurationMethod`:
//! `.Time.UTC.Format "15:04"` becomes `goTimeMethod "Format" (goTimeMethod "UTC" .Time)
//! "15:04"`. Times are UTC, as Farad keeps them (`Local` is `UTC`).
//!
//! Not as Go: only chains naming the field are rewritten (`$t := .Time` then `$t.Format`,
//! `with .Time` then `.Format`, `(.Time).Unix` fail); `Month` and `Weekday` are their names
//! (what printing them shows), not numbers; method arguments that are durations may also be
//! Go's duration text (`.Time.Add .Duration`, since `.Duration` is kept as its text).

use std::borrow::Cow;
use std::sync::Arc;

use gotmpl::Value;

use crate::duration::{format_go_duration, parse_go_duration};
use crate::time::{format_go_time, layout, parse_rfc3339};

/// What a method returns, for chains of them.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Time,
    Duration,
    Other,
}

impl Kind {
    /// What `method` on this kind returns; `None` if it has no such method.
    fn method(self, method: &str) -> Option<Kind> {
        match (self, method) {
            (Kind::Time, "UTC" | "Local" | "Round" | "Truncate" | "Add") => Some(Kind::Time),
            (Kind::Time, "Sub") => Some(Kind::Duration),
            (
                Kind::Time,
                "Format" | "String" | "Unix" | "UnixMilli" | "UnixMicro" | "UnixNano" | "Year"
                | "Month" | "Day" | "Hour" | "Minute" | "Second" | "Nanosecond" | "YearDay"
                | "Weekday" | "IsZero" | "Equal" | "Before" | "After",
            ) => Some(Kind::Other),
            (Kind::Duration, "Round" | "Truncate" | "Abs") => Some(Kind::Duration),
            (
                Kind::Duration,
                "String" | "Hours" | "Minutes" | "Seconds" | "Milliseconds" | "Microseconds"
                | "Nanoseconds",
            ) => Some(Kind::Other),
            _ => None,
        }
    }

    fn func(self) -> &'static str {
        match self {
            Kind::Time => "goTimeMethod",
            _ => "goDurationMethod",
        }
    }
}

/// `src` with method calls on `Time` and `Duration` fields made function calls; borrowed
/// when there is none.
pub fn rewrite(src: &str) -> Cow<'_, str> {
    if !src.contains("Time.") && !src.contains("Duration.") {
        return Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(at) = src[i..].find("{{") {
        let start = i + at + 2;
        let Some((body_end, close)) = super::action_end(b, start) else {
            break;
        };
        let mut j = start;
        while j < body_end {
            match b[j] {
                b'"' | b'\'' | b'`' => j = super::skip_literal(b, j).unwrap_or(body_end),
                b'/' if b.get(j + 1) == Some(&b'*') => j = body_end,
                b'$' | b'.' if j == start || !continues_operand(b[j - 1]) => {
                    let end = chain_end(b, j, body_end);
                    if let Some(call) = rewrite_chain(&src[j..end], first_word(b, start, j)) {
                        out.push_str(&src[copied..j]);
                        out.push_str(&call);
                        copied = end;
                    }
                    j = end.max(j + 1);
                }
                _ => j += 1,
            }
        }
        i = close;
    }
    if copied == 0 {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[copied..]);
    Cow::Owned(out)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Whether a `.` or `$` after `c` belongs to the operand before it.
fn continues_operand(c: u8) -> bool {
    is_ident(c) || c == b')' || c == b'.'
}

/// Where the chain (`$x.A.B`, `.A.B`) starting at `b[i]` ends.
fn chain_end(b: &[u8], i: usize, limit: usize) -> usize {
    let mut j = i;
    if b[j] == b'$' {
        j += 1;
        while j < limit && is_ident(b[j]) {
            j += 1;
        }
    }
    while j + 1 < limit && b[j] == b'.' && is_ident(b[j + 1]) {
        j += 1;
        while j < limit && is_ident(b[j]) {
            j += 1;
        }
    }
    j
}

/// Whether the operand at `b[at]` starts a command (where a method may take arguments):
/// first in the action or after `|`, `(`, `:=`, `=` or a keyword taking a pipeline.
fn first_word(b: &[u8], start: usize, at: usize) -> bool {
    let before = std::str::from_utf8(&b[start..at])
        .unwrap_or("")
        .trim_end()
        .trim_start_matches('-')
        .trim_start();
    before.is_empty()
        || before.ends_with(['|', '(', '='])
        || ["if", "with", "range", "else if", "else with"].contains(&before)
}

/// The call that replaces `chain`, if it calls a method of a `Time` or `Duration` field.
fn rewrite_chain(chain: &str, first: bool) -> Option<String> {
    let fields: Vec<(usize, &str)> = chain
        .match_indices('.')
        .map(|(at, _)| {
            let name = &chain[at + 1..];
            (at, &name[..name.find('.').unwrap_or(name.len())])
        })
        .collect();
    let (k, mut kind) = fields.windows(2).enumerate().find_map(|(k, w)| {
        let kind = match w[0].1 {
            "Time" => Kind::Time,
            "Duration" => Kind::Duration,
            _ => return None,
        };
        kind.method(w[1].1).map(|_| (k, kind))
    })?;
    let mut call = chain[..fields[k + 1].0].to_owned();
    let mut rest = chain.len();
    let mut methods = fields[k + 1..].iter().peekable();
    while let Some(&(at, name)) = methods.next() {
        let Some(result) = kind.method(name) else {
            rest = at;
            break;
        };
        let last = methods
            .peek()
            .is_none_or(|(_, n)| result.method(n).is_none());
        let bare = last && first && at + 1 + name.len() == chain.len();
        call = if bare {
            format!("{} \"{name}\" {call}", kind.func())
        } else {
            format!("({} \"{name}\" {call})", kind.func())
        };
        kind = result;
    }
    call.push_str(&chain[rest..]);
    Some(call)
}

/// `goTimeMethod` and `goDurationMethod`.
pub fn funcs() -> gotmpl::FuncMap {
    let time: gotmpl::ValueFunc = Arc::new(|args: &[Value]| call(Kind::Time, args));
    let duration: gotmpl::ValueFunc = Arc::new(|args: &[Value]| call(Kind::Duration, args));
    [
        ("goTimeMethod".to_owned(), time),
        ("goDurationMethod".to_owned(), duration),
    ]
    .into()
}

fn fail(message: String) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(message)
}

fn call(kind: Kind, args: &[Value]) -> gotmpl::Result<Value> {
    let (Some(Value::String(method)), Some(receiver)) = (args.first(), args.get(1)) else {
        return Err(fail("a method call needs its name and receiver".into()));
    };
    let args = &args[2..];
    let want = match &**method {
        "Format" | "Round" | "Truncate" | "Add" | "Sub" | "Equal" | "Before" | "After" => 1,
        _ => 0,
    };
    if args.len() != want {
        return Err(fail(format!(
            "wrong number of args for {method}: want {want} got {}",
            args.len()
        )));
    }
    match kind {
        // Go's zero time is before i64 nanoseconds reach.
        Kind::Time if &**method == "IsZero" && is_zero_time(receiver) => Ok(Value::Bool(true)),
        Kind::Time => {
            let t = time_of(receiver).ok_or_else(|| {
                fail(format!(
                    "can't evaluate field {method} in type {}",
                    receiver.type_name()
                ))
            })?;
            time_method(t, method, args.first())
        }
        _ => {
            let d = duration_of(receiver).ok_or_else(|| {
                fail(format!(
                    "can't evaluate field {method} in type {}",
                    receiver.type_name()
                ))
            })?;
            duration_method(d, method, args.first())
        }
    }
}

/// Go's zero time as `time.Time.String()` prints it.
fn is_zero_time(v: &Value) -> bool {
    matches!(v, Value::String(s) if &**s == "0001-01-01 00:00:00 +0000 UTC")
}

fn time_of(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_rfc3339(s),
        _ => None,
    }
}

fn duration_of(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_go_duration(s).ok(),
        Value::Int(n) => Some(*n),
        Value::Uint(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// Nanoseconds from Go's zero time (January 1, year 1) to the Unix epoch.
const ZERO_TO_UNIX: i128 = 62_135_596_800 * 1_000_000_000;

fn time_method(t: i64, method: &str, arg: Option<&Value>) -> gotmpl::Result<Value> {
    let bad_arg = |want: &str| fail(format!("wrong type for value; expected {want}"));
    let duration = || {
        arg.and_then(duration_of)
            .ok_or_else(|| bad_arg("time.Duration"))
    };
    let other = || arg.and_then(time_of).ok_or_else(|| bad_arg("time.Time"));
    let secs = t.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let (year, month, day) = crate::time::civil_from_days(days);
    let sod = secs.rem_euclid(86_400);
    let time = |ns: i64| Value::from(format_go_time(ns));
    Ok(match method {
        "Format" => match arg {
            Some(Value::String(l)) => Value::from(layout::format(t, l)),
            _ => return Err(bad_arg("string")),
        },
        "String" | "UTC" | "Local" => time(t),
        "Unix" => Value::Int(secs),
        "UnixMilli" => Value::Int(t.div_euclid(1_000_000)),
        "UnixMicro" => Value::Int(t.div_euclid(1_000)),
        "UnixNano" => Value::Int(t),
        "Year" => Value::Int(year),
        "Month" => Value::from(layout::month_name(month)),
        "Day" => Value::Int(day.into()),
        "Hour" => Value::Int(sod / 3600),
        "Minute" => Value::Int(sod / 60 % 60),
        "Second" => Value::Int(sod % 60),
        "Nanosecond" => Value::Int(t.rem_euclid(1_000_000_000)),
        "YearDay" => Value::Int(days - crate::time::days_from_civil(year, 1, 1) + 1),
        "Weekday" => Value::from(layout::weekday_name(days)),
        "IsZero" => Value::Bool(false),
        "Equal" => Value::Bool(t == other()?),
        "Before" => Value::Bool(t < other()?),
        "After" => Value::Bool(t > other()?),
        "Sub" => Value::from(format_go_duration(t.saturating_sub(other()?))),
        "Add" => time(t.saturating_add(duration()?)),
        "Round" | "Truncate" => {
            let d = duration()?;
            if d <= 0 {
                time(t)
            } else {
                // Go measures from its zero time, not the Unix epoch.
                let r = (t as i128 + ZERO_TO_UNIX).rem_euclid(d as i128) as i64;
                if method == "Truncate" || less_than_half(r, d) {
                    time(t - r)
                } else {
                    time(t.saturating_add(d - r))
                }
            }
        }
        _ => unreachable!("only methods of Kind::Time are rewritten"),
    })
}

fn less_than_half(x: i64, y: i64) -> bool {
    (x as u64).wrapping_add(x as u64) < y as u64
}

fn duration_method(d: i64, method: &str, arg: Option<&Value>) -> gotmpl::Result<Value> {
    // Go's own arithmetic, for the same floats.
    let part = |unit: i64| (d / unit) as f64 + (d % unit) as f64 / unit as f64;
    let duration = |ns: i64| Value::from(format_go_duration(ns));
    let m = || {
        arg.and_then(duration_of)
            .ok_or_else(|| fail("wrong type for value; expected time.Duration".into()))
    };
    Ok(match method {
        "String" => duration(d),
        "Hours" => Value::Float(part(3_600_000_000_000)),
        "Minutes" => Value::Float(part(60_000_000_000)),
        "Seconds" => Value::Float(part(1_000_000_000)),
        "Milliseconds" => Value::Int(d / 1_000_000),
        "Microseconds" => Value::Int(d / 1_000),
        "Nanoseconds" => Value::Int(d),
        "Abs" => duration(if d == i64::MIN { i64::MAX } else { d.abs() }),
        "Truncate" => {
            let m = m()?;
            duration(if m <= 0 { d } else { d - d % m })
        }
        "Round" => {
            let m = m()?;
            duration(round_duration(d, m))
        }
        _ => unreachable!("only methods of Kind::Duration are rewritten"),
    })
}

/// Go's `Duration.Round`: halfway values away from zero, saturating.
fn round_duration(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if less_than_half(r, m) {
            return d + r;
        }
        return d.checked_sub(m - r).unwrap_or(i64::MIN);
    }
    if less_than_half(r, m) {
        return d - r;
    }
    d.checked_add(m - r).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn chains_calling_methods_become_calls() {
        for (src, want) in [
            (
                r#"{{ .Time.Format "15:04" }}"#,
                r#"{{ goTimeMethod "Format" .Time "15:04" }}"#,
            ),
            ("{{.Time.Unix}}", r#"{{goTimeMethod "Unix" .Time}}"#),
            (
                r#"{{ .Time.UTC.Format "15:04" }}"#,
                r#"{{ goTimeMethod "Format" (goTimeMethod "UTC" .Time) "15:04" }}"#,
            ),
            (
                r#"{{ printf "%d" .Time.Unix }}"#,
                r#"{{ printf "%d" (goTimeMethod "Unix" .Time) }}"#,
            ),
            (
                "{{ if gt .Duration.Minutes 5.0 }}long{{ end }}",
                r#"{{ if gt (goDurationMethod "Minutes" .Duration) 5.0 }}long{{ end }}"#,
            ),
            (
                "{{ if .Time.After $.Time }}x{{end}}",
                r#"{{ if goTimeMethod "After" .Time $.Time }}x{{end}}"#,
            ),
            (
                "{{ $t := $.Alert.Time.Sub .Start }}",
                r#"{{ $t := goTimeMethod "Sub" $.Alert.Time .Start }}"#,
            ),
            (
                r#"{{ "15:04" | .Time.Format }}"#,
                r#"{{ "15:04" | goTimeMethod "Format" .Time }}"#,
            ),
            (
                "{{ .Time.Sub .Start | printf \"%v\" }}",
                r#"{{ goTimeMethod "Sub" .Time .Start | printf "%v" }}"#,
            ),
            (
                "{{ .Time.Add .Duration.Truncate 1 }}",
                r#"{{ goTimeMethod "Add" .Time (goDurationMethod "Truncate" .Duration) 1 }}"#,
            ),
        ] {
            assert_eq!(rewrite(src), want, "{src}");
        }
        // Fields, other names and text are left alone.
        for src in [
            "{{ .Time }} {{ .Fields.Time }} {{ .Tags.Unix }}",
            "{{ .Time.Zone }} {{ .Fields.Duration.X }}",
            r#"{{ ".Time.Unix" }} .Time.Unix {{/* .Time.Unix */}}"#,
            "{{ (.Time).Unix }}",
        ] {
            assert_eq!(rewrite(src), src);
        }
    }
}

#[cfg(test)]
mod run {
    use gotmpl::Value;

    fn data() -> Value {
        let mut m = std::collections::BTreeMap::new();
        // 2009-11-10 23:04:05.0123 UTC, a Tuesday.
        let t = crate::time::format_go_time(1_257_894_245_012_300_000);
        m.insert("Time".to_owned(), Value::from(t));
        m.insert("Duration".to_owned(), Value::from("1m30s"));
        Value::from(m)
    }

    fn text(src: &str) -> Result<String, String> {
        let t = crate::template::text("t", src).map_err(|e| e.to_string())?;
        t.execute_to_string(&data()).map_err(|e| e.to_string())
    }

    #[test]
    fn methods_of_times_and_durations_run_as_go_runs_them() {
        for (src, want) in [
            (
                r#"{{ .Time.Format "2006-01-02T15:04 Mon" }}"#,
                "2009-11-10T23:04 Tue",
            ),
            (
                "{{ .Time.Unix }} {{ .Time.UnixMilli }}",
                "1257894245 1257894245012",
            ),
            (
                "{{ .Time.Weekday }} {{ .Time.Month }} {{ .Time.Year }}",
                "Tuesday November 2009",
            ),
            (
                "{{ .Time.Hour }}:{{ .Time.Minute }} day {{ .Time.YearDay }}",
                "23:4 day 314",
            ),
            ("{{ .Time.UTC }}", "2009-11-10 23:04:05.0123 +0000 UTC"),
            (
                "{{ .Time.Truncate 3600000000000 }}",
                "2009-11-10 23:00:00 +0000 UTC",
            ),
            (
                "{{ .Time.Round 3600000000000 }}",
                "2009-11-10 23:00:00 +0000 UTC",
            ),
            // Farad's leniency: Go's text of a duration as a duration argument.
            (
                r#"{{ .Time.Truncate "1h" }}"#,
                "2009-11-10 23:00:00 +0000 UTC",
            ),
            ("{{ .Time.IsZero }}", "false"),
            (
                "{{ .Time.Add .Duration }}",
                "2009-11-10 23:05:35.0123 +0000 UTC",
            ),
            ("{{ .Duration.Minutes }} {{ .Duration.Seconds }}", "1.5 90"),
            (r#"{{ printf "%.3f" .Duration.Hours }}"#, "0.025"),
            (
                "{{ .Duration.Milliseconds }} {{ .Duration }}",
                "90000 1m30s",
            ),
            (
                "{{ .Duration.Round 60000000000 }} {{ .Duration.Truncate 60000000000 }}",
                "2m0s 1m0s",
            ),
            ("{{ if gt .Duration.Seconds 60.0 }}long{{ end }}", "long"),
            (r#"{{ "15:04" | .Time.Format }}"#, "23:04"),
        ] {
            assert_eq!(text(src).as_deref(), Ok(want), "{src}");
        }
        let err = text("{{ .Time.Format }}").unwrap_err();
        assert!(err.contains("wrong number of args for Format"), "{err}");
        // The details' HTML template too.
        let details = crate::template::html("d", r#"<b>{{ .Time.Format "15:04" }}</b>"#)
            .unwrap()
            .execute_to_string(&data())
            .unwrap();
        assert_eq!(details, "<b>23:04</b>");
    }
}
