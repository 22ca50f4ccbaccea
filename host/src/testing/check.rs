//! Expected against actual: each check gives `None` when they agree, else a readable
//! report (the first difference, then a line diff of the two).

use farad_runtime::exec::TopicEvent;
use farad_runtime::lineproto::{self, PointBuilder, Precision};
use serde_json::Value;

use super::capture::Written;
use super::spec::{AlertExpect, HttpOutExpect, WriteExpect};

/// An httpOut endpoint's result against the expected one. Times compare as instants and
/// numbers by value (1 equals 1.0), as Kapacitor's own tests compare them.
pub fn http_out(exp: &HttpOutExpect, got: Option<&Value>) -> Option<String> {
    let Some(got) = got else {
        return Some(format!(
            "httpOut {:?}: the task has no such endpoint",
            exp.endpoint
        ));
    };
    // JSON text, or the document itself as a TOML table.
    let expected = match &exp.result {
        Value::String(text) => match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return Some(format!(
                    "httpOut {:?}: result is not JSON: {e}",
                    exp.endpoint
                ));
            }
        },
        v => v.clone(),
    };
    let why = compare_results(&expected, got, exp.ignore_series_order)?;
    Some(format!(
        "httpOut {:?}: {why}\n{}",
        exp.endpoint,
        diff(&render_result(&expected), &render_result(got))
    ))
}

/// The alert events of the task's own alert nodes (or of the topics the expectations
/// name), in order.
pub fn alerts(exp: &[AlertExpect], events: &[TopicEvent]) -> Option<String> {
    let topics: Vec<&str> = exp.iter().filter_map(|e| e.topic.as_deref()).collect();
    let got: Vec<&TopicEvent> = events
        .iter()
        .filter(|e| {
            if topics.is_empty() {
                e.topic.starts_with("main:")
            } else {
                topics.contains(&&*e.topic)
            }
        })
        .collect();
    let first_bad = exp.iter().zip(&got).position(|(x, g)| !alert_matches(x, g));
    let why = match first_bad {
        Some(i) => format!("alert event {i} differs"),
        None if exp.len() != got.len() => {
            format!("{} alert events expected, got {}", exp.len(), got.len())
        }
        None => return None,
    };
    // Only the fields the expectations use are shown of the events.
    let shown = Fields {
        topic: !topics.is_empty(),
        id: exp.iter().any(|e| e.id.is_some()),
        level: exp.iter().any(|e| e.level.is_some()),
        message: exp.iter().any(|e| e.message.is_some()),
        details: exp.iter().any(|e| e.details.is_some()),
        time: exp.iter().any(|e| e.time.is_some()),
    };
    let expected: String = exp.iter().map(|e| shown.expected(e)).collect();
    let actual: String = got.iter().map(|e| shown.actual(e)).collect();
    Some(format!("{why}\n{}", diff(&expected, &actual)))
}

/// influxDBOut's points (to the expectation's database / retention policy), in order, as
/// line protocol with nanosecond timestamps.
pub fn writes(exp: &WriteExpect, writes: &[Written]) -> Option<String> {
    let precision = match exp.precision.as_deref().map(Precision::parse) {
        None => Precision::Nanoseconds,
        Some(Some(p)) => p,
        Some(None) => return Some(format!("invalid precision {:?}", exp.precision)),
    };
    let mut expected = String::new();
    let mut builder = PointBuilder::default();
    let outcome = lineproto::parse(exp.lines.trim().as_bytes(), precision, 0, |l| {
        lineproto::write_point(&mut expected, &builder.build(l), Precision::Nanoseconds);
        expected.push('\n');
    });
    if let Some(msg) = outcome.message() {
        return Some(format!("the expected lines: {msg}"));
    }
    let mut actual = String::new();
    for w in writes.iter().filter(|w| {
        exp.database.as_ref().is_none_or(|d| *d == w.database)
            && exp
                .retention_policy
                .as_ref()
                .is_none_or(|r| *r == w.retention_policy)
    }) {
        for p in &w.points {
            lineproto::write_point(&mut actual, p, Precision::Nanoseconds);
            actual.push('\n');
        }
    }
    if expected == actual {
        return None;
    }
    let to = match (&exp.database, &exp.retention_policy) {
        (Some(d), Some(r)) => format!(" to {d}.{r}"),
        (Some(d), None) => format!(" to {d}"),
        _ => String::new(),
    };
    Some(format!(
        "influxDBOut points{to} differ\n{}",
        diff(&expected, &actual)
    ))
}

fn alert_matches(x: &AlertExpect, g: &TopicEvent) -> bool {
    let time_ok = x
        .time
        .as_deref()
        .is_none_or(|t| farad_runtime::time::parse_rfc3339(t).is_some_and(|t| t == g.time));
    x.topic.as_deref().is_none_or(|t| t == &*g.topic)
        && x.id.as_deref().is_none_or(|i| i == &*g.id)
        && x.level
            .as_deref()
            .is_none_or(|l| l.eq_ignore_ascii_case(g.level))
        && x.message.as_deref().is_none_or(|m| m == &*g.message)
        && x.details.as_deref().is_none_or(|d| d == &*g.details)
        && time_ok
}

struct Fields {
    topic: bool,
    id: bool,
    level: bool,
    message: bool,
    details: bool,
    time: bool,
}

impl Fields {
    fn line(&self, parts: [(bool, &str, String); 6]) -> String {
        let mut line: Vec<String> = parts
            .into_iter()
            .filter(|p| p.0)
            .map(|(_, k, v)| format!("{k}={v:?}"))
            .collect();
        if line.is_empty() {
            line.push("(any)".into());
        }
        line.join(" ") + "\n"
    }

    fn expected(&self, e: &AlertExpect) -> String {
        let v = |s: &Option<String>| s.clone().unwrap_or_else(|| "*".into());
        self.line([
            (self.topic, "topic", v(&e.topic)),
            (self.id, "id", v(&e.id)),
            (self.level, "level", v(&e.level).to_ascii_uppercase()),
            (self.time, "time", v(&e.time)),
            (self.message, "message", v(&e.message)),
            (self.details, "details", v(&e.details)),
        ])
    }

    fn actual(&self, e: &TopicEvent) -> String {
        self.line([
            (self.topic, "topic", e.topic.to_string()),
            (self.id, "id", e.id.to_string()),
            (self.level, "level", e.level.to_owned()),
            (
                self.time,
                "time",
                farad_runtime::time::format_rfc3339_nanos(e.time),
            ),
            (self.message, "message", e.message.to_string()),
            (self.details, "details", e.details.to_string()),
        ])
    }
}

/// The first difference between two httpOut documents, or `None`.
pub fn compare_results(exp: &Value, got: &Value, ignore_order: bool) -> Option<String> {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    if text(exp, "error") != text(got, "error") {
        return Some(format!(
            "error: expected {:?}, got {:?}",
            text(exp, "error"),
            text(got, "error")
        ));
    }
    let series = |v: &Value| v["series"].as_array().cloned().unwrap_or_default();
    let (es, gs) = (series(exp), series(got));
    if es.len() != gs.len() {
        return Some(format!("{} series expected, got {}", es.len(), gs.len()));
    }
    let key = |s: &Value| (s["name"].as_str().unwrap_or("").to_owned(), tags(s));
    let mut unused: Vec<usize> = (0..gs.len()).collect();
    for (i, e) in es.iter().enumerate() {
        let j = if ignore_order {
            match unused.iter().position(|&j| key(&gs[j]) == key(e)) {
                Some(k) => unused.remove(k),
                None => {
                    return Some(format!(
                        "no series named {:?} with tags {}",
                        key(e).0,
                        key(e).1
                    ));
                }
            }
        } else {
            i
        };
        let g = &gs[j];
        if key(e) != key(g) {
            return Some(format!(
                "series {i}: expected {:?} {}, got {:?} {}",
                key(e).0,
                key(e).1,
                key(g).0,
                key(g).1
            ));
        }
        if let Some(why) = compare_rows(e, g) {
            return Some(format!("series {i} ({:?} {}): {why}", key(e).0, key(e).1));
        }
    }
    None
}

fn tags(s: &Value) -> String {
    let mut t: Vec<(String, String)> = s["tags"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    t.sort();
    let inner: Vec<String> = t.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn compare_rows(e: &Value, g: &Value) -> Option<String> {
    let empty = Vec::new();
    let cols = |v: &Value| v["columns"].as_array().cloned().unwrap_or_default();
    if cols(e) != cols(g) {
        return Some(format!(
            "columns: expected {}, got {}",
            e["columns"], g["columns"]
        ));
    }
    let time_col = cols(e).iter().position(|c| c == "time");
    let (er, gr) = (
        e["values"].as_array().unwrap_or(&empty),
        g["values"].as_array().unwrap_or(&empty),
    );
    if er.len() != gr.len() {
        return Some(format!("{} rows expected, got {}", er.len(), gr.len()));
    }
    for (r, (x, y)) in er.iter().zip(gr).enumerate() {
        let (x, y) = (
            x.as_array().unwrap_or(&empty),
            y.as_array().unwrap_or(&empty),
        );
        if x.len() != y.len() {
            return Some(format!("row {r}: width differs"));
        }
        for (c, (a, b)) in x.iter().zip(y).enumerate() {
            if !cell_equal(a, b, Some(c) == time_col) {
                return Some(format!(
                    "row {r} column {}: expected {a}, got {b}",
                    e["columns"][c]
                ));
            }
        }
    }
    None
}

fn cell_equal(a: &Value, b: &Value, is_time: bool) -> bool {
    if is_time
        && let (Some(x), Some(y)) = (a.as_str(), b.as_str())
        && let (Some(x), Some(y)) = (
            farad_runtime::time::parse_rfc3339(x),
            farad_runtime::time::parse_rfc3339(y),
        )
    {
        return x == y;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// An httpOut document as lines: the error, then per series a header and one row a line.
fn render_result(v: &Value) -> String {
    let mut out = String::new();
    if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
        out.push_str(&format!("error: {e}\n"));
    }
    for s in v["series"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "series {} {} {}\n",
            s["name"].as_str().unwrap_or(""),
            tags(s),
            s["columns"]
        ));
        for row in s["values"].as_array().into_iter().flatten() {
            out.push_str(&format!("  {row}\n"));
        }
    }
    out
}

/// A unified diff of expected and actual text.
fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "got")
        .to_string()
}
