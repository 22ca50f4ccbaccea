//! Alert topics: where alert nodes collect their events. Each topic keeps the latest state of
//! every event id it has seen and how many events it collected; its level is the highest of
//! its events' levels (Kapacitor's `TopicState`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use farad_runtime::exec::{KnownEvent, TopicEvent};
use parking_lot::Mutex;

use crate::handlers::HandlerSpec;
use crate::store::{Store, StoredEvent, TopicChanges};

/// Levels in order: a topic's level is the highest of its events'.
pub const LEVELS: [&str; 4] = ["OK", "INFO", "WARNING", "CRITICAL"];

/// The rank of a level name (case-insensitive, as Kapacitor parses `min-level`); empty is OK.
pub fn parse_level(s: &str) -> Result<usize, String> {
    if s.is_empty() {
        return Ok(0);
    }
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown alert level '{s}'"))
}

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(0)
}

/// An event's latest state in its topic.
/// Its texts are shared with the event that set them and with the store's write.
#[derive(Clone, Debug, PartialEq)]
pub struct EventState {
    pub level: &'static str,
    pub message: Arc<str>,
    pub details: Arc<str>,
    pub time: i64,
    pub duration: i64,
}

impl EventState {
    fn stored(&self) -> StoredEvent {
        StoredEvent {
            level: self.level,
            message: self.message.clone(),
            details: self.details.clone(),
            time: self.time,
            duration: self.duration,
        }
    }
}

/// An event's state and whether the store has it yet.
struct Kept {
    state: EventState,
    dirty: bool,
}

#[derive(Default)]
struct Topic {
    collected: i64,
    /// By id; sorted when listed (a lookup per event is the hot path).
    events: std::collections::HashMap<Arc<str>, Kept, foldhash::fast::RandomState>,
    /// Events changed since the last write to the store (each once: see `Kept::dirty`).
    dirty: Vec<Arc<str>>,
    /// Whether the topic is in `State::dirty`.
    listed: bool,
}

impl Topic {
    /// Lists the topic, named `name`, among `dirty` unless it already is.
    fn list(&mut self, name: &str, dirty: &mut Vec<String>) {
        if !self.listed {
            self.listed = true;
            dirty.push(name.to_owned());
        }
    }

    fn level(&self) -> usize {
        self.events
            .values()
            .map(|e| rank(e.state.level))
            .max()
            .unwrap_or(0)
    }
}

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Topic>,
    /// Topics changed since the last write to the store (each once: see `Topic::listed`),
    /// and topics deleted.
    dirty: Vec<String>,
    deleted: Vec<String>,
    /// Counts changes; the store holds every change up to `Topics::durable`.
    seq: u64,
}

impl State {
    /// Notes a change of `topic`'s count or events for the store.
    fn touch(&mut self, topic: &str) {
        self.seq += 1;
        if let Some(t) = self.topics.get_mut(topic) {
            t.list(topic, &mut self.dirty);
        }
    }

    /// Everything changed since the last call, cleared.
    fn take_changes(&mut self) -> TopicChanges {
        let mut changes = TopicChanges {
            deleted: std::mem::take(&mut self.deleted),
            ..TopicChanges::default()
        };
        for id in std::mem::take(&mut self.dirty) {
            // Gone (deleted), or listed again after a delete and already taken.
            let Some(t) = self.topics.get_mut(&id).filter(|t| t.listed) else {
                continue;
            };
            t.listed = false;
            changes.collected.push((id.clone(), t.collected));
            for e in std::mem::take(&mut t.dirty) {
                if let Some(kept) = t.events.get_mut(&e) {
                    kept.dirty = false;
                    changes.events.push((id.clone(), e, kept.state.stored()));
                }
            }
        }
        changes
    }
}

/// A topic as listed: its id, level and how many events it collected.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSummary {
    pub id: String,
    pub level: &'static str,
    pub collected: i64,
}

/// A topic's handler as it runs: its spec and its compiled `match` expression.
#[derive(Debug)]
pub struct TopicHandler {
    pub spec: HandlerSpec,
    pub matcher: Option<farad_runtime::expr::EventMatch>,
    /// A `log` handler's file and mode, read from its options once.
    pub log_file: Option<(String, u32)>,
    /// A `post` handler's target and options, read once.
    pub post: Option<crate::handlers::PostHandler>,
}

impl TopicHandler {
    /// What the handler does with `event`, whose JSON is `body`; `endpoint` resolves
    /// `[[httppost]]` names.
    pub fn actions(
        &self,
        event: &farad_runtime::exec::TopicEvent,
        body: &[u8],
        endpoint: &dyn Fn(&str) -> Option<farad_runtime::exec::PostEndpoint>,
    ) -> Result<crate::handlers::Action, String> {
        match &self.post {
            Some(post) => post
                .request(Some(event), crate::handlers::line(body), endpoint)
                .map(crate::handlers::Action::Post),
            None => self.spec.actions(Some(event), body, endpoint),
        }
    }
}

/// Every topic, by id, and the handlers of each. With a store attached, topic state is
/// durable: changes are gathered and written in one transaction by `sync`, which a write
/// calls before it is acknowledged (so concurrent writes share a commit) and a timer calls for
/// everything else.
#[derive(Default)]
pub struct Topics {
    state: Mutex<State>,
    /// Kept apart from the event state: deleting a topic's events keeps its handlers.
    handlers: Mutex<BTreeMap<String, BTreeMap<String, Arc<TopicHandler>>>>,
    store: Option<Arc<Store>>,
    /// The last change the store holds.
    durable: AtomicU64,
    /// Held while writing to the store: one writer at a time, the others wait for its commit.
    commit: Mutex<()>,
}

impl Topics {
    /// Topics kept in `store`, loaded from it.
    pub fn open(store: Arc<Store>) -> anyhow::Result<Topics> {
        let mut state = State::default();
        for (id, collected, events) in store.load_topics()? {
            let t = state.topics.entry(id).or_default();
            t.collected = collected;
            for (event, e) in events {
                let state = EventState {
                    level: e.level,
                    message: e.message,
                    details: e.details,
                    time: e.time,
                    duration: e.duration,
                };
                let dirty = false;
                t.events.insert(event.into(), Kept { state, dirty });
            }
        }
        Ok(Topics {
            state: Mutex::new(state),
            store: Some(store),
            ..Topics::default()
        })
    }

    /// Whether every change is already stored: then [`Topics::sync`] has nothing to do.
    /// False when that cannot be told at once (the table is busy).
    pub fn synced(&self) -> bool {
        let Some(_) = &self.store else { return true };
        self.state
            .try_lock()
            .is_some_and(|s| self.durable.load(Ordering::Acquire) >= s.seq)
    }

    /// Writes every change not yet in the store, in one transaction; returns when the store
    /// holds every change made before the call. A failed write keeps the changes for the
    /// next call.
    pub fn sync(&self) {
        let Some(store) = &self.store else { return };
        let target = self.state.lock().seq;
        if self.durable.load(Ordering::Acquire) >= target {
            return;
        }
        let _one = self.commit.lock();
        if self.durable.load(Ordering::Acquire) >= target {
            return;
        }
        let (changes, seq) = {
            let mut s = self.state.lock();
            (s.take_changes(), s.seq)
        };
        if changes.is_empty() {
            self.durable.store(seq, Ordering::Release);
            return;
        }
        match store.write_topics(&changes) {
            Ok(()) => self.durable.store(seq, Ordering::Release),
            Err(e) => {
                tracing::error!(error = %e, "writing alert topic state failed; will retry");
                let mut s = self.state.lock();
                s.deleted.splice(0..0, changes.deleted);
                for (topic, _) in changes.collected {
                    s.touch(&topic);
                }
                for (topic, id, _) in changes.events {
                    if let Some(t) = s.topics.get_mut(&topic)
                        && let Some(kept) = t.events.get_mut(&id)
                        && !kept.dirty
                    {
                        kept.dirty = true;
                        t.dirty.push(id);
                    }
                }
            }
        }
    }

    /// Records `event` as its id's latest state in its topic (creating the topic); returns the
    /// topic's handlers.
    pub fn collect(&self, event: &TopicEvent) -> Vec<Arc<TopicHandler>> {
        {
            let mut guard = self.state.lock();
            let State {
                topics, dirty, seq, ..
            } = &mut *guard;
            // The topic exists for all but its first event: no key to allocate.
            if !topics.contains_key(&*event.topic) {
                topics.insert(event.topic.to_string(), Default::default());
            }
            let t = topics.get_mut(&*event.topic).expect("inserted above");
            t.collected += 1;
            let state = EventState {
                level: event.level,
                message: event.message.clone(),
                details: event.details.clone(),
                time: event.time,
                duration: event.duration,
            };
            let kept = match t.events.get_mut(&event.id) {
                Some(kept) => {
                    kept.state = state;
                    kept
                }
                None => {
                    let dirty = false;
                    t.events
                        .entry(event.id.clone())
                        .or_insert(Kept { state, dirty })
                }
            };
            if self.store.is_some() {
                if !kept.dirty {
                    kept.dirty = true;
                    t.dirty.push(event.id.clone());
                }
                // What `State::touch` does, without looking the topic up again.
                *seq += 1;
                t.list(&event.topic, dirty);
            }
        }
        self.handlers
            .lock()
            .get(&*event.topic)
            .map(|h| h.values().cloned().collect())
            .unwrap_or_default()
    }

    /// What `topic` remembers of event `id`: where an alert node resumes.
    pub fn known(&self, topic: &str, id: &str) -> Option<KnownEvent> {
        let s = self.state.lock();
        let e = &s.topics.get(topic)?.events.get(id)?.state;
        Some(KnownEvent {
            level: e.level,
            time: e.time,
            duration: e.duration,
        })
    }

    /// Adds or replaces a handler (its topic comes to exist if it did not). A spec whose
    /// match expression does not compile (checked specs always do) is logged and left out.
    pub fn set_handler(&self, spec: HandlerSpec) {
        let matcher = (!spec.match_.is_empty()).then(|| {
            farad_runtime::expr::EventMatch::parse(&spec.match_).map_err(|e| {
                tracing::error!(
                    topic = spec.topic,
                    handler = spec.id,
                    error = e,
                    "handler disabled"
                );
            })
        });
        if let Some(Err(())) = matcher {
            return;
        }
        let matcher = matcher.and_then(Result::ok);
        self.state
            .lock()
            .topics
            .entry(spec.topic.clone())
            .or_default();
        self.handlers
            .lock()
            .entry(spec.topic.clone())
            .or_default()
            .insert(spec.id.clone(), {
                Arc::new(TopicHandler {
                    log_file: spec.log_file().ok(),
                    post: spec.post_handler().ok(),
                    spec,
                    matcher,
                })
            });
    }

    /// The topic's handlers, by id.
    pub fn handlers(&self, topic: &str) -> Vec<HandlerSpec> {
        self.handlers
            .lock()
            .get(topic)
            .map(|h| h.values().map(|h| h.spec.clone()).collect())
            .unwrap_or_default()
    }

    pub fn handler(&self, topic: &str, id: &str) -> Option<HandlerSpec> {
        Some(self.handlers.lock().get(topic)?.get(id)?.spec.clone())
    }

    /// Removes a handler; false when there was none.
    pub fn delete_handler(&self, topic: &str, id: &str) -> bool {
        let mut handlers = self.handlers.lock();
        let Some(h) = handlers.get_mut(topic) else {
            return false;
        };
        let gone = h.remove(id).is_some();
        if h.is_empty() {
            handlers.remove(topic);
        }
        gone
    }

    /// The topics whose id matches `pattern` (a glob; empty matches all) at `min_level` or above,
    /// sorted by id.
    pub fn list(&self, pattern: &str, min_level: usize) -> Vec<TopicSummary> {
        self.state
            .lock()
            .topics
            .iter()
            .filter(|(id, _)| pattern.is_empty() || glob(pattern, id))
            .filter(|(_, t)| t.level() >= min_level)
            .map(|(id, t)| summary(id, t))
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<TopicSummary> {
        self.state.lock().topics.get(id).map(|t| summary(id, t))
    }

    /// The topic's events at `min_level` or above, by id; `None` for an unknown topic.
    pub fn events(&self, id: &str, min_level: usize) -> Option<Vec<(String, EventState)>> {
        let s = self.state.lock();
        let t = s.topics.get(id)?;
        let mut events: Vec<(String, EventState)> = t
            .events
            .iter()
            .filter(|(_, e)| rank(e.state.level) >= min_level)
            .map(|(k, e)| (k.to_string(), e.state.clone()))
            .collect();
        events.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Some(events)
    }

    pub fn event(&self, topic: &str, event: &str) -> Option<EventState> {
        self.state
            .lock()
            .topics
            .get(topic)?
            .events
            .get(event)
            .map(|e| e.state.clone())
    }

    /// Deletes a topic and its events; false when there was none.
    pub fn delete(&self, id: &str) -> bool {
        let mut s = self.state.lock();
        let gone = s.topics.remove(id).is_some();
        if gone && self.store.is_some() {
            s.seq += 1;
            s.deleted.push(id.to_owned());
        }
        gone
    }

    /// Deletes the anonymous topics of task `task` (`main:task:node`), as Kapacitor does when
    /// the task is deleted.
    pub fn delete_task(&self, task: &str) {
        let prefix = format!("main:{task}:");
        let gone: Vec<String> = self
            .state
            .lock()
            .topics
            .keys()
            .filter(|id| {
                id.strip_prefix(&prefix)
                    .is_some_and(|node| !node.contains(':'))
            })
            .cloned()
            .collect();
        for id in gone {
            self.delete(&id);
        }
    }
}

fn summary(id: &str, t: &Topic) -> TopicSummary {
    TopicSummary {
        id: id.to_owned(),
        level: LEVELS[t.level()],
        collected: t.collected,
    }
}

/// Go's `path.Match` for the patterns Kapacitor's clients send: `*` (any run of characters
/// but `/`), `?` (one character) and `[...]` classes; anything else matches itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    glob_at(&p, &s)
}

fn glob_at(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != '/')
            .any(|i| glob_at(&p[1..], &s[i..])),
        Some('?') => s.first().is_some_and(|&c| c != '/') && glob_at(&p[1..], &s[1..]),
        Some('[') => {
            let Some(end) = p.iter().position(|&c| c == ']') else {
                return false;
            };
            let Some(&c) = s.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob_at(&p[end + 1..], &s[1..])
        }
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob_at(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob_at(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(topic: &str, id: &str, level: &'static str) -> TopicEvent {
        TopicEvent {
            topic: topic.into(),
            id: id.into(),
            level,
            message: format!("{id} is {level}").into(),
            details: "".into(),
            time: 1,
            duration: 0,
            previous_level: "OK",
            recoverable: true,
            task: "t".into(),
            row: farad_runtime::exec::EventData::Json(serde_json::Value::Null),
            group: farad_runtime::model::GroupKey::NIL,
        }
    }

    #[test]
    fn topic_state_survives_reopening_the_store() {
        let dir = std::env::temp_dir().join(format!("farad-topics-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.redb");
        {
            let t = Topics::open(Arc::new(Store::open(&path).unwrap())).unwrap();
            t.collect(&event("cpu", "a", "CRITICAL"));
            t.collect(&event("cpu", "b", "WARNING"));
            t.collect(&event("main:x:alert2", "a", "WARNING"));
            t.sync();
            // Deleted after the first write, changed after the deletion: only the later
            // change stays.
            t.delete("main:x:alert2");
            t.collect(&event("cpu", "b", "OK"));
            t.sync();
            t.collect(&event("mem", "a", "INFO"));
            // Not synced: lost, as if killed before the write's acknowledgement.
        }
        let t = Topics::open(Arc::new(Store::open(&path).unwrap())).unwrap();
        let ids: Vec<String> = t.list("", 0).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["cpu"]);
        let s = t.get("cpu").unwrap();
        assert_eq!((s.level, s.collected), ("CRITICAL", 3));
        let known = t.known("cpu", "a").unwrap();
        assert_eq!((known.level, known.time), ("CRITICAL", 1));
        assert_eq!(t.event("cpu", "b").unwrap().level, "OK");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_topic_keeps_each_events_latest_state_and_the_highest_level() {
        let t = Topics::default();
        t.collect(&event("cpu", "a", "CRITICAL"));
        t.collect(&event("cpu", "b", "WARNING"));
        t.collect(&event("cpu", "a", "OK"));
        let s = t.get("cpu").unwrap();
        assert_eq!((s.level, s.collected), ("WARNING", 3));
        assert_eq!(&*t.event("cpu", "a").unwrap().message, "a is OK");
        let warn = t.events("cpu", parse_level("warning").unwrap()).unwrap();
        assert_eq!(warn.len(), 1);
        assert_eq!(warn[0].0, "b");
        assert!(t.list("", 3).is_empty());
        assert_eq!(t.list("c*", 0).len(), 1);
        assert!(t.delete("cpu"));
        assert!(t.get("cpu").is_none());
    }

    #[test]
    fn deleting_a_task_takes_its_anonymous_topics_only() {
        let t = Topics::default();
        t.collect(&event("main:cpu:alert2", "a", "OK"));
        t.collect(&event("main:cpu2:alert2", "a", "OK"));
        t.collect(&event("cpu", "a", "OK"));
        t.delete_task("cpu");
        let ids: Vec<String> = t.list("", 0).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["cpu", "main:cpu2:alert2"]);
    }

    #[test]
    fn patterns_are_gos_path_match() {
        assert!(glob("main:*", "main:cpu:alert2"));
        assert!(glob("c?u", "cpu"));
        assert!(glob("[a-c]pu", "cpu"));
        assert!(!glob("[^a-c]pu", "cpu"));
        assert!(!glob("*", "a/b"));
        assert!(glob("", ""));
        assert!(!glob("cpu", "cpus"));
    }
}
