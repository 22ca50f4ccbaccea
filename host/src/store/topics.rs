//! Alert topic state in the store: each topic's event count (`topics` table) and each event's
//! latest state (`topic_events`, keyed `<topic>\0<event id>` so that a topic's events are one
//! key range). Written in batches: one transaction carries every change since the last.
//! Events are encoded in binary (`encode`): at hundreds of thousands of events a second,
//! JSON's escaping of the details (JSON themselves) was a third of the write.

use anyhow::Result;
use redb::{ReadableDatabase, ReadableTable};

use super::{Collection, Store, TOPICS};

/// Event states, by `<topic>\0<event id>`.
pub const TOPIC_EVENTS: Collection<StoredEvent> = Collection::new("topic_events");

/// An event's latest state as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub level: &'static str,
    pub message: std::sync::Arc<str>,
    pub details: std::sync::Arc<str>,
    pub time: i64,
    pub duration: i64,
}

/// What changed in the topics since the last write. Deletions apply first: whatever else is
/// here for a deleted topic came after its deletion.
#[derive(Debug, Default)]
pub struct TopicChanges {
    pub deleted: Vec<String>,
    /// Each changed topic's event count.
    pub collected: Vec<(String, i64)>,
    /// `(topic, event id, state)`.
    pub events: Vec<(String, std::sync::Arc<str>, StoredEvent)>,
}

impl TopicChanges {
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty() && self.collected.is_empty() && self.events.is_empty()
    }
}

/// A stored topic: its id, event count and events.
pub type StoredTopic = (String, i64, Vec<(String, StoredEvent)>);

fn key(topic: &str, id: &str) -> String {
    format!("{topic}\0{id}")
}

const FORMAT: u8 = 1;
const LEVELS: [&str; 4] = ["OK", "INFO", "WARNING", "CRITICAL"];

/// Format byte, level, time and duration (little-endian), then the message and the details,
/// each as a u32 length and its bytes.
fn encode(e: &StoredEvent, out: &mut Vec<u8>) {
    out.clear();
    out.push(FORMAT);
    out.push(LEVELS.iter().position(|l| *l == e.level).unwrap_or(0) as u8);
    out.extend_from_slice(&e.time.to_le_bytes());
    out.extend_from_slice(&e.duration.to_le_bytes());
    for s in [&*e.message, &*e.details] {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
}

fn decode(b: &[u8]) -> Result<StoredEvent, String> {
    let short = || "record is cut short".to_string();
    let take = |b: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if b.len() < n {
            return Err(short());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head.to_vec())
    };
    let mut b = b;
    let head = take(&mut b, 18)?;
    if head[0] != FORMAT {
        return Err(format!("unknown event format {}", head[0]));
    }
    let level = *LEVELS.get(head[1] as usize).ok_or("unknown level")?;
    let int = |r: &[u8]| i64::from_le_bytes(r.try_into().expect("8 bytes"));
    let mut text = || -> Result<std::sync::Arc<str>, String> {
        let n = u32::from_le_bytes(take(&mut b, 4)?.try_into().expect("4 bytes")) as usize;
        let s = String::from_utf8(take(&mut b, n)?).map_err(|e| e.to_string())?;
        Ok(s.into())
    };
    Ok(StoredEvent {
        level,
        time: int(&head[2..10]),
        duration: int(&head[10..18]),
        message: text()?,
        details: text()?,
    })
}

impl Store {
    /// Applies `changes` in one durable transaction.
    pub fn write_topics(&self, changes: &TopicChanges) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut topics = tx.open_table(TOPICS.def)?;
            let mut events = tx.open_table(TOPIC_EVENTS.def)?;
            for t in &changes.deleted {
                topics.remove(t.as_str())?;
                let (lo, hi) = (format!("{t}\0"), format!("{t}\u{1}"));
                events.retain_in(lo.as_str()..hi.as_str(), |_, _| false)?;
            }
            for (t, n) in &changes.collected {
                let v = serde_json::to_vec(&serde_json::json!({ "collected": n }))?;
                topics.insert(t.as_str(), v.as_slice())?;
            }
            let mut buf = Vec::new();
            for (t, id, e) in &changes.events {
                encode(e, &mut buf);
                events.insert(key(t, id).as_str(), buf.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored topic with its events, by topic id. An unreadable record is skipped and
    /// logged rather than keeping the server from starting.
    pub fn load_topics(&self) -> Result<Vec<StoredTopic>> {
        let tx = self.db.begin_read()?;
        let topics = tx.open_table(TOPICS.def)?;
        let events = tx.open_table(TOPIC_EVENTS.def)?;
        let mut out: Vec<StoredTopic> = Vec::new();
        for entry in topics.iter()? {
            let (k, v) = entry?;
            let collected = serde_json::from_slice::<serde_json::Value>(v.value())
                .ok()
                .and_then(|v| v["collected"].as_i64())
                .unwrap_or(0);
            out.push((k.value().to_owned(), collected, Vec::new()));
        }
        for entry in events.iter()? {
            let (k, v) = entry?;
            let Some((topic, id)) = k.value().split_once('\0') else {
                continue;
            };
            let e = match decode(v.value()) {
                Ok(e) => e,
                Err(err) => {
                    tracing::error!(topic, event = id, error = %err, "stored event unreadable; skipped");
                    continue;
                }
            };
            match out.binary_search_by(|(t, _, _)| t.as_str().cmp(topic)) {
                Ok(i) => out[i].2.push((id.to_owned(), e)),
                Err(i) => out.insert(i, (topic.to_owned(), 0, vec![(id.to_owned(), e)])),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(level: &'static str, time: i64) -> StoredEvent {
        StoredEvent {
            level,
            message: format!("{level} at {time}").into(),
            details: "".into(),
            time,
            duration: 0,
        }
    }

    #[test]
    fn events_encode_and_decode() {
        let e = StoredEvent {
            details: "{\"a\": 1} ü".into(),
            duration: -5,
            ..ev("WARNING", i64::MAX)
        };
        let mut buf = Vec::new();
        encode(&e, &mut buf);
        assert_eq!(decode(&buf), Ok(e));
        for n in 0..buf.len() {
            assert!(decode(&buf[..n]).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn topic_state_is_written_in_batches_and_deleted_by_topic() {
        let dir = std::env::temp_dir().join(format!("farad-topics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            s.write_topics(&TopicChanges {
                deleted: vec![],
                collected: vec![("cpu".into(), 3), ("cpu2".into(), 1)],
                events: vec![
                    ("cpu".into(), "a".into(), ev("CRITICAL", 1)),
                    ("cpu".into(), "b".into(), ev("OK", 2)),
                    ("cpu2".into(), "a".into(), ev("WARNING", 3)),
                ],
            })
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let all = s.load_topics().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].0.as_str(), all[0].1), ("cpu", 3));
        assert_eq!(all[0].2.len(), 2);
        assert_eq!(all[0].2[0], ("a".to_string(), ev("CRITICAL", 1)));
        // Deleting "cpu" leaves "cpu2" (a topic whose id has "cpu" as a prefix).
        s.write_topics(&TopicChanges {
            deleted: vec!["cpu".into()],
            collected: vec![],
            events: vec![],
        })
        .unwrap();
        let all = s.load_topics().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "cpu2");
        assert_eq!(all[0].2.len(), 1);
        std::fs::remove_dir_all(dir).ok();
    }
}
