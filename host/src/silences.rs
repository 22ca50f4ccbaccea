//! Silences (beyond Kapacitor, as Alertmanager has them): for a while, events that match a
//! silence's topic, event id and tags are kept in their topic's state but no handler runs for
//! them. Stored, so they outlive restarts; expired ones are dropped as they are met.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::topics::glob;

/// A silence as stored and served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    /// A topic pattern (Go's `path.Match`); empty: every topic.
    #[serde(default)]
    pub topic: String,
    /// An event id pattern; empty: every event.
    #[serde(default)]
    pub event: String,
    /// Tags an event must carry, with these values.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub comment: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339: the silence ends then.
    pub expires: String,
    /// Nanoseconds since the epoch of `expires`.
    #[serde(skip)]
    pub expires_ns: i64,
}

impl Silence {
    pub fn covers(&self, topic: &str, event: &str, tags: &dyn Fn(&str) -> Option<String>) -> bool {
        (self.topic.is_empty() || glob(&self.topic, topic))
            && (self.event.is_empty() || glob(&self.event, event))
            && self
                .tags
                .iter()
                .all(|(k, v)| tags(k).is_some_and(|t| t == *v))
    }
}

/// The active silences.
#[derive(Default)]
pub struct Silences {
    list: RwLock<Vec<Silence>>,
    /// Lets events skip the lock when nothing is silenced.
    count: AtomicUsize,
}

impl Silences {
    pub fn set(&self, s: Silence) {
        let mut list = self.list.write();
        list.retain(|o| o.id != s.id);
        list.push(s);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut list = self.list.write();
        let before = list.len();
        list.retain(|o| o.id != id);
        self.count.store(list.len(), Ordering::Relaxed);
        list.len() != before
    }

    /// The silences still active at `now`, by id; expired ones are forgotten (their ids are
    /// returned second, for the store).
    pub fn active(&self, now: i64) -> (Vec<Silence>, Vec<String>) {
        let mut list = self.list.write();
        let expired: Vec<String> = list
            .iter()
            .filter(|s| s.expires_ns <= now)
            .map(|s| s.id.clone())
            .collect();
        list.retain(|s| s.expires_ns > now);
        self.count.store(list.len(), Ordering::Relaxed);
        let mut out = list.clone();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        (out, expired)
    }

    /// Whether an active silence covers the event.
    pub fn silenced(
        &self,
        now: i64,
        topic: &str,
        event: &str,
        tags: &dyn Fn(&str) -> Option<String>,
    ) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.list
            .read()
            .iter()
            .any(|s| s.expires_ns > now && s.covers(topic, event, tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(
        id: &str,
        topic: &str,
        event: &str,
        tags: &[(&str, &str)],
        expires_ns: i64,
    ) -> Silence {
        Silence {
            id: id.into(),
            topic: topic.into(),
            event: event.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            comment: String::new(),
            created: String::new(),
            expires: String::new(),
            expires_ns,
        }
    }

    #[test]
    fn silences_match_topic_event_and_tags_until_they_expire() {
        let s = Silences::default();
        let host_a = |k: &str| (k == "host").then(|| "a".to_string());
        let none = |_: &str| None;
        assert!(!s.silenced(0, "cpu", "x", &host_a));
        s.set(silence("s1", "cpu*", "", &[("host", "a")], 100));
        assert!(s.silenced(50, "cpu", "x", &host_a));
        assert!(s.silenced(50, "cpu_alert", "y", &host_a));
        assert!(!s.silenced(50, "mem", "x", &host_a));
        assert!(!s.silenced(50, "cpu", "x", &none));
        assert!(!s.silenced(100, "cpu", "x", &host_a), "expired");
        s.set(silence("s2", "", "disk:*", &[], 1000));
        assert!(s.silenced(50, "any", "disk:host=b", &none));
        let (active, expired) = s.active(500);
        assert_eq!(active.len(), 1);
        assert_eq!(expired, ["s1"]);
        assert!(s.remove("s2"));
        assert!(!s.remove("s2"));
        assert!(!s.silenced(50, "any", "disk:host=b", &none));
    }
}
