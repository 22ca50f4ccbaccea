//! Log sessions (`GET /kapacitor/v1preview/logs`, `farad logs`, `farad watch`): clients that
//! follow the server's log as it is written, each seeing the records whose fields match its
//! tags (`task=cpu_alert`, `lvl=error`, `node=log2`; `lvl=warn+` for a level and above), in
//! Kapacitor's JSON lines or logfmt.
//!
//! A `tracing` layer hands every record to the sessions; with no session open it returns at
//! once. Fields of the spans around a record (a task's `task`) count as its own.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Records a slow client has not taken yet; more are dropped for it.
const BACKLOG: usize = 1024;

static SESSIONS: LazyLock<LogSessions> = LazyLock::new(|| LogSessions {
    active: AtomicUsize::new(0),
    next: AtomicU64::new(1),
    list: Mutex::new(Vec::new()),
});

pub struct LogSessions {
    active: AtomicUsize,
    next: AtomicU64,
    list: Mutex<Vec<Session>>,
}

struct Session {
    id: u64,
    tags: Vec<(String, String)>,
    /// The least severe level shown.
    min: Level,
    json: bool,
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

/// An open session: its records arrive on `rx`; dropping it closes the session.
pub struct Subscription {
    pub rx: tokio::sync::mpsc::Receiver<Bytes>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut list = SESSIONS.list.lock();
        list.retain(|s| s.id != self.id);
        SESSIONS.active.store(list.len(), Relaxed);
    }
}

/// Opens a session. `tags` must all match a record's fields (or `msg`, `lvl`).
pub fn subscribe(tags: Vec<(String, String)>, min: Level, json: bool) -> Subscription {
    let (tx, rx) = tokio::sync::mpsc::channel(BACKLOG);
    let id = SESSIONS.next.fetch_add(1, Relaxed);
    let mut list = SESSIONS.list.lock();
    list.push(Session {
        id,
        tags,
        min,
        json,
        tx,
    });
    SESSIONS.active.store(list.len(), Relaxed);
    Subscription { rx, id }
}

/// Kapacitor's level names.
pub fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        _ => "debug",
    }
}

/// `debug`, `info`, `warn`, `error` to a level.
pub fn parse_level(name: &str) -> Option<Level> {
    Some(match name {
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "warn" => Level::WARN,
        "error" => Level::ERROR,
        _ => return None,
    })
}

/// A field's value: quoted in JSON, or not (numbers, booleans).
#[derive(Clone, Debug)]
enum FieldValue {
    Str(String),
    Raw(String),
}

impl FieldValue {
    fn text(&self) -> &str {
        match self {
            FieldValue::Str(s) | FieldValue::Raw(s) => s,
        }
    }
}

#[derive(Default)]
struct Collect {
    message: String,
    fields: Vec<(String, FieldValue)>,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields
                .push((field.name().to_owned(), FieldValue::Str(value.to_owned())));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields
            .push((field.name().to_owned(), FieldValue::Raw(value.to_string())));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields
            .push((field.name().to_owned(), FieldValue::Raw(value.to_string())));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = if value.is_finite() {
            FieldValue::Raw(value.to_string())
        } else {
            FieldValue::Str(value.to_string())
        };
        self.fields.push((field.name().to_owned(), v));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields
            .push((field.name().to_owned(), FieldValue::Raw(value.to_string())));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields
                .push((field.name().to_owned(), FieldValue::Str(text)));
        }
    }
}

/// A span's fields, kept for the records inside it.
struct SpanFields(Vec<(String, FieldValue)>);

/// The `tracing` layer that feeds the sessions.
pub struct SessionLayer;

impl<S> tracing_subscriber::Layer<S> for SessionLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if SESSIONS.active.load(Relaxed) == 0 {
            return;
        }
        let mut c = Collect::default();
        attrs.record(&mut c);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(c.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if SESSIONS.active.load(Relaxed) == 0 {
            return;
        }
        let mut c = Collect::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    c.fields.extend(f.0.iter().cloned());
                }
            }
        }
        event.record(&mut c);
        let level = *event.metadata().level();
        let now = crate::server::now_ns();
        let list = SESSIONS.list.lock();
        let (mut json, mut logfmt) = (None, None);
        for s in list.iter() {
            if level > s.min || !matches(&s.tags, &c, level) {
                continue;
            }
            let line = if s.json {
                json.get_or_insert_with(|| format_json(now, level, &c))
                    .clone()
            } else {
                logfmt
                    .get_or_insert_with(|| format_logfmt(now, level, &c))
                    .clone()
            };
            let _ = s.tx.try_send(line);
        }
    }
}

fn matches(tags: &[(String, String)], c: &Collect, level: Level) -> bool {
    tags.iter().all(|(k, v)| match k.as_str() {
        "msg" => c.message == *v,
        "lvl" => level_name(&level) == v,
        _ => c.fields.iter().any(|(fk, fv)| fk == k && fv.text() == v),
    })
}

/// Kapacitor's timestamp: RFC 3339 with milliseconds, UTC.
fn timestamp(ns: i64) -> String {
    let full = farad_runtime::time::format_rfc3339_nanos(ns - ns.rem_euclid(1_000_000));
    // `...:05Z` or `...:05.123Z`: always three digits.
    let (base, frac) = match full.trim_end_matches('Z').split_once('.') {
        Some((b, f)) => (b.to_owned(), f.to_owned()),
        None => (full.trim_end_matches('Z').to_owned(), String::new()),
    };
    format!("{base}.{:0<3}Z", &frac[..frac.len().min(3)])
}

fn format_json(now: i64, level: Level, c: &Collect) -> Bytes {
    let mut m = serde_json::Map::new();
    m.insert("ts".into(), timestamp(now).into());
    m.insert("lvl".into(), level_name(&level).into());
    m.insert("msg".into(), c.message.clone().into());
    for (k, v) in &c.fields {
        let v = match v {
            FieldValue::Str(s) => serde_json::Value::String(s.clone()),
            FieldValue::Raw(s) => serde_json::from_str(s).unwrap_or_else(|_| s.clone().into()),
        };
        m.insert(k.clone(), v);
    }
    let mut line = serde_json::Value::Object(m).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn format_logfmt(now: i64, level: Level, c: &Collect) -> Bytes {
    let mut line = String::new();
    let _ = write!(
        line,
        "ts={} lvl={} msg=",
        timestamp(now),
        level_name(&level)
    );
    logfmt_value(&mut line, &c.message);
    for (k, v) in &c.fields {
        let _ = write!(line, " {k}=");
        logfmt_value(&mut line, v.text());
    }
    line.push('\n');
    Bytes::from(line)
}

fn logfmt_value(out: &mut String, v: &str) {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c.is_control())
    {
        out.push_str(v);
    } else {
        out.push_str(&serde_json::Value::String(v.to_owned()).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(msg: &str, fields: &[(&str, &str)]) -> Collect {
        Collect {
            message: msg.into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), FieldValue::Str((*v).to_owned())))
                .collect(),
        }
    }

    #[test]
    fn tags_match_fields_message_and_level() {
        let c = collect("point", &[("task", "t"), ("node", "log2")]);
        let t = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(matches(&t(&[("task", "t")]), &c, Level::INFO));
        assert!(matches(
            &t(&[("task", "t"), ("msg", "point"), ("lvl", "info")]),
            &c,
            Level::INFO
        ));
        assert!(!matches(&t(&[("task", "u")]), &c, Level::INFO));
        assert!(!matches(&t(&[("lvl", "error")]), &c, Level::INFO));
    }

    #[test]
    fn records_read_as_kapacitor_writes_them() {
        let mut c = collect("a point", &[("task", "t")]);
        c.fields.push(("n".into(), FieldValue::Raw("3".into())));
        let ns = 1_700_000_000_123_456_789;
        let j: serde_json::Value =
            serde_json::from_slice(&format_json(ns, Level::WARN, &c)).unwrap();
        assert_eq!(j["ts"], "2023-11-14T22:13:20.123Z");
        assert_eq!(j["lvl"], "warn");
        assert_eq!(j["msg"], "a point");
        assert_eq!(j["n"], 3);
        let l = format_logfmt(1_700_000_000_000_000_000, Level::INFO, &c);
        assert_eq!(
            std::str::from_utf8(&l).unwrap(),
            "ts=2023-11-14T22:13:20.000Z lvl=info msg=\"a point\" task=t n=3\n"
        );
    }
}
