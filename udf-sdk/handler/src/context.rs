//! What a handler sees of one call: its config section, its options and the event.

use std::cell::OnceCell;

use serde_json::{Map, Value};

use crate::Level;
use crate::bindings::farad::udf::alerts::Event as WitEvent;

/// One call's inputs. Options win over config: Kapacitor's rule, where a handler's option
/// (`.channel('#ops')`) replaces the section's default when it is set and not empty.
#[derive(Debug)]
pub struct Context {
    pub config: Map<String, Value>,
    pub options: Map<String, Value>,
    pub event: Event,
}

fn non_empty(v: Option<&Value>) -> Option<&Value> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(v) => Some(v),
    }
}

impl Context {
    /// A context for tests of a handler: `config` and `options` are JSON objects.
    pub fn example(config: Value, options: Value, event: Event) -> Context {
        let object = |v: Value| match v {
            Value::Object(m) => m,
            other => panic!("a JSON object, not {other}"),
        };
        Context {
            config: object(config),
            options: object(options),
            event,
        }
    }

    /// A config value as a string; empty when absent.
    pub fn config_str(&self, key: &str) -> &str {
        self.config.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn config_bool(&self, key: &str) -> bool {
        self.config
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// An option as a string, when set and not empty.
    pub fn option_str(&self, key: &str) -> Option<&str> {
        non_empty(self.options.get(key)).and_then(Value::as_str)
    }

    pub fn option_bool(&self, key: &str) -> bool {
        self.options
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The option if set, else the config value: a string, empty when neither has it.
    pub fn setting(&self, key: &str) -> String {
        self.option_str(key)
            .unwrap_or_else(|| self.config_str(key))
            .to_owned()
    }

    /// The option if set, else the config value, as a list of strings (a lone string is a
    /// list of one).
    pub fn setting_list(&self, key: &str) -> Vec<String> {
        let v = non_empty(self.options.get(key)).or_else(|| non_empty(self.config.get(key)));
        strings(v)
    }

    /// The option if set, else the config value, as it is.
    pub fn setting_value(&self, key: &str) -> Option<&Value> {
        non_empty(self.options.get(key)).or_else(|| non_empty(self.config.get(key)))
    }
}

/// A JSON string or list of strings as strings.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// An alert event.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    pub message: String,
    pub details: String,
    /// ns since the epoch.
    pub time: i64,
    /// ns out of OK.
    pub duration: i64,
    pub level: Level,
    pub previous_level: Level,
    pub recoverable: bool,
    pub task: String,
    pub topic: String,
    /// The measurement of the event's (first) series.
    pub name: String,
    pub tags: Vec<(String, String)>,
    /// This server's API (`http://<hostname>:<port>/kapacitor/v1`).
    pub client_url: String,
    /// Kapacitor's event JSON, as `.post()` sends it.
    pub json: String,
    parsed: OnceCell<Value>,
}

impl Event {
    pub(crate) fn from_wit(e: WitEvent) -> Event {
        Event {
            id: e.id,
            message: e.message,
            details: e.details,
            time: e.time,
            duration: e.duration,
            level: e.level,
            previous_level: e.previous_level,
            recoverable: e.recoverable,
            task: e.task,
            topic: e.topic,
            name: e.name,
            tags: e.tags,
            client_url: e.client_url,
            json: e.json,
            parsed: OnceCell::new(),
        }
    }

    /// An event for tests of a handler's payloads.
    pub fn example(level: Level, message: &str) -> Event {
        let json = serde_json::json!({
            "id": "cpu:host=a", "message": message, "details": "", "time": "2026-11-26T10:00:00Z",
            "duration": 0, "level": level_name(level),
            "data": {"series": [{"name": "cpu", "tags": {"host": "a"},
                "columns": ["time", "value"], "values": [["2026-11-26T10:00:00Z", 97.5]]}]},
            "previousLevel": "OK", "recoverable": true,
        });
        Event {
            id: "cpu:host=a".into(),
            message: message.into(),
            details: String::new(),
            time: 1_795_687_200_000_000_000,
            duration: 0,
            level,
            previous_level: Level::Ok,
            recoverable: true,
            task: "cpu_alert".into(),
            topic: "main:cpu_alert:alert2".into(),
            name: "cpu".into(),
            tags: vec![("host".into(), "a".into())],
            client_url: "http://localhost:9092/kapacitor/v1".into(),
            json: json.to_string(),
            parsed: OnceCell::new(),
        }
    }

    /// `OK`, `INFO`, `WARNING` or `CRITICAL`.
    pub fn level_name(&self) -> &'static str {
        level_name(self.level)
    }

    /// The whole event JSON, parsed once.
    pub fn to_json(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(&self.json).unwrap_or(Value::Null))
    }

    /// `data` of the event JSON: `{"series": [...]}`.
    pub fn data(&self) -> &Value {
        &self.to_json()["data"]
    }

    /// The first row of the first series, as column name to value (time included).
    pub fn fields(&self) -> Map<String, Value> {
        let s = &self.data()["series"][0];
        let (Some(cols), Some(row)) = (s["columns"].as_array(), s["values"][0].as_array()) else {
            return Map::new();
        };
        cols.iter()
            .zip(row)
            .filter_map(|(c, v)| Some((c.as_str()?.to_owned(), v.clone())))
            .collect()
    }

    /// The tag `key`'s value, if the event has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Kapacitor's name of a level.
pub fn level_name(l: Level) -> &'static str {
    match l {
        Level::Ok => "OK",
        Level::Info => "INFO",
        Level::Warning => "WARNING",
        Level::Critical => "CRITICAL",
    }
}
