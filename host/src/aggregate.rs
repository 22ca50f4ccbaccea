//! The `aggregate` handler kind: a topic's events gathered for an interval, then published to
//! another topic as one event (Kapacitor's aggregate handler): the highest level, the latest
//! time, the longest duration, the events' messages as details, their data together, and a
//! message from a template over `.Count` and `.Interval`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use farad_runtime::exec::{EventData, TopicEvent};
use parking_lot::Mutex;

/// Kapacitor's default message.
pub const DEFAULT_MESSAGE: &str = "Received {{ .Count }} events in the last {{.Interval}}.";

/// What an aggregate handler is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateSpec {
    pub interval_ns: i64,
    /// Where the aggregated event goes.
    pub topic: String,
    /// The aggregated event's id.
    pub id: String,
    pub message: String,
}

impl AggregateSpec {
    /// Renders the message for `count` events; checks the template when `count` is 0.
    pub fn message(&self, count: usize) -> Result<String, String> {
        let t = farad_runtime::template::text("message", &self.message)
            .map_err(|e| format!("invalid aggregate message template: {e}"))?;
        let mut data = std::collections::BTreeMap::new();
        data.insert("Count".to_string(), gotmpl::Value::Int(count as i64));
        data.insert(
            "Interval".to_string(),
            gotmpl::Value::from(farad_runtime::duration::format_go_duration(
                self.interval_ns,
            )),
        );
        t.execute_to_string(&gotmpl::Value::from(data))
            .map_err(|e| {
                format!("failed to evaluate message template with aggregate message data: {e}")
            })
    }
}

struct Pending {
    spec: AggregateSpec,
    due: Instant,
    events: Vec<TopicEvent>,
}

/// Events waiting in each aggregate handler, by (topic, handler id).
#[derive(Default)]
pub struct Aggregates {
    pending: Mutex<HashMap<(String, String), Pending>>,
}

impl Aggregates {
    /// Adds an event to handler `handler` of `topic`; its interval starts with its first event.
    pub fn add(&self, topic: &str, handler: &str, spec: AggregateSpec, event: TopicEvent) {
        let mut pending = self.pending.lock();
        let p = pending
            .entry((topic.to_owned(), handler.to_owned()))
            .or_insert_with(|| Pending {
                due: Instant::now() + Duration::from_nanos(spec.interval_ns.max(1) as u64),
                spec: spec.clone(),
                events: Vec::new(),
            });
        // A changed spec applies from its next interval.
        p.spec = spec;
        p.events.push(event);
    }

    /// The aggregated events of every handler whose interval is over.
    pub fn due(&self, now: Instant) -> Vec<TopicEvent> {
        let mut pending = self.pending.lock();
        let done: Vec<(String, String)> = pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        done.into_iter()
            .filter_map(|k| pending.remove(&k))
            .map(|p| aggregate(&p.spec, p.events))
            .collect()
    }
}

fn aggregate(spec: &AggregateSpec, events: Vec<TopicEvent>) -> TopicEvent {
    let rank = |l: &str| crate::topics::parse_level(l).unwrap_or(0);
    let mut agg = TopicEvent {
        topic: spec.topic.as_str().into(),
        id: spec.id.as_str().into(),
        level: "OK",
        message: spec.message(events.len()).unwrap_or_else(|e| e).into(),
        details: "".into(),
        time: 0,
        duration: 0,
        previous_level: "OK",
        recoverable: false,
        task: "".into(),
        row: EventData::Json(serde_json::Value::Null),
        group: farad_runtime::model::GroupKey::NIL,
    };
    let mut details = Vec::with_capacity(events.len());
    let mut rows = Vec::new();
    for e in events {
        if rank(e.level) > rank(agg.level) {
            agg.level = e.level;
        }
        agg.time = agg.time.max(e.time);
        agg.duration = agg.duration.max(e.duration);
        details.push(e.message);
        rows.extend(e.row.series());
    }
    agg.details = details.join("\n").into();
    agg.row = EventData::Json(serde_json::Value::Array(rows));
    agg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(level: &'static str, time: i64, msg: &str) -> TopicEvent {
        TopicEvent {
            topic: "cpu".into(),
            id: "x".into(),
            level,
            message: msg.into(),
            details: "".into(),
            time,
            duration: time * 10,
            previous_level: "OK",
            recoverable: true,
            task: "t".into(),
            row: EventData::Json(serde_json::json!({"name": "cpu"})),
            group: farad_runtime::model::GroupKey::NIL,
        }
    }

    #[test]
    fn events_become_one_after_the_interval() {
        let a = Aggregates::default();
        let spec = AggregateSpec {
            interval_ns: 1_000_000_000,
            topic: "agg".into(),
            id: "cpu-agg".into(),
            message: DEFAULT_MESSAGE.into(),
        };
        a.add("cpu", "h", spec.clone(), ev("WARNING", 5, "one"));
        a.add("cpu", "h", spec, ev("CRITICAL", 3, "two"));
        assert!(a.due(Instant::now()).is_empty());
        let out = a.due(Instant::now() + Duration::from_secs(2));
        assert_eq!(out.len(), 1);
        let e = &out[0];
        assert_eq!((&*e.topic, &*e.id), ("agg", "cpu-agg"));
        assert_eq!(&*e.message, "Received 2 events in the last 1s.");
        assert_eq!((e.level, e.time, e.duration), ("CRITICAL", 5, 50));
        assert_eq!(&*e.details, "one\ntwo");
        assert_eq!(e.row.series().len(), 2);
        assert!(a.due(Instant::now() + Duration::from_secs(4)).is_empty());
    }
}
