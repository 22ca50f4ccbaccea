//! Topic handlers: specs in Kapacitor's format (`id`, `topic`, `kind`, `options`, `match`),
//! checked when defined, and run on every event their topic collects.

use farad_runtime::exec::{HttpRequest, Output, PostEndpoint};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Kinds that run today; others are refused by name when a spec is defined.
pub const KINDS: [&str; 11] = [
    "log",
    "tcp",
    "exec",
    "post",
    "publish",
    "aggregate",
    "email",
    "smtp",
    "mqtt",
    "snmptrap",
    "kafka",
];

/// A handler of a topic, as stored and served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandlerSpec {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub options: Map<String, Value>,
    #[serde(default, rename = "match")]
    pub match_: String,
}

/// A `post` handler's options, read once (its URL's template parsed).
#[derive(Debug)]
pub struct PostHandler {
    target: PostTarget,
    headers: Vec<(String, String)>,
    timeout_ns: i64,
    capture_response: bool,
    skip_ssl_verification: bool,
}

#[derive(Debug)]
enum PostTarget {
    Url(PostEndpoint),
    /// An `[[httppost]]` endpoint, looked up when an event comes: config may name it by
    /// then, or change it.
    Endpoint(String),
}

impl PostHandler {
    /// The request for `event`, whose JSON line is `line`.
    pub fn request(
        &self,
        event: Option<&farad_runtime::exec::TopicEvent>,
        line: Vec<u8>,
        endpoint: &dyn Fn(&str) -> Option<PostEndpoint>,
    ) -> Result<HttpRequest, String> {
        let named;
        let target = match &self.target {
            PostTarget::Url(url) => url,
            PostTarget::Endpoint(name) => {
                named = endpoint(name)
                    .ok_or_else(|| format!("no [[httppost]] endpoint named {name:?}"))?;
                &named
            }
        };
        Ok(HttpRequest {
            timeout_ns: self.timeout_ns,
            capture_response: self.capture_response,
            skip_ssl_verification: self.skip_ssl_verification,
            ..target.alert_post(event, line, self.headers.iter().cloned())?
        })
    }
}

/// An `mqtt` handler's topic for `event`: a template over it (parsed once) when it has `{{`,
/// as Kapacitor renders it. Without an event, the template is only checked.
fn mqtt_topic(
    given: &str,
    event: Option<&farad_runtime::exec::TopicEvent>,
) -> Result<String, String> {
    let topic = farad_runtime::exec::MqttTopic::cached(given)?;
    match event {
        Some(_) => topic.render(event),
        None => Ok(given.to_owned()),
    }
}

/// A native handler kind's options (Kafka's, SNMP traps'), as given: checked when the
/// handler is defined, read again for each event since they travel with it.
pub fn read_options<T: serde::de::DeserializeOwned>(
    kind: &str,
    options: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, String> {
    T::deserialize(options).map_err(|e| format!("{kind} options: {e}"))
}

/// An event's JSON as Kapacitor's handlers write it, with a JSON encoder: one line.
pub fn line(json: &[u8]) -> Vec<u8> {
    let mut l = Vec::with_capacity(json.len() + 1);
    l.extend_from_slice(json);
    l.push(b'\n');
    l
}

/// What running a handler on one event does.
pub enum Action {
    Send(Output),
    Post(HttpRequest),
    /// `publish`: the event goes on to these topics.
    Publish(Vec<String>),
    /// `mqtt`: the event's message published to a broker's topic.
    Mqtt {
        broker: String,
        topic: String,
        qos: u8,
        retained: bool,
    },
    /// `email`: the event's message and details to these addresses (none: `[smtp] to`), and
    /// to what the templates (Kapacitor's option `to-field`) make of the event.
    Email {
        to: Vec<String>,
        templates: Vec<gotmpl::Template>,
    },
    /// `aggregate`: the event joins the handler's current interval.
    Aggregate(crate::aggregate::AggregateSpec),
    /// A handler plugin or a native handler that takes the whole event (`snmptrap`,
    /// `kafka`), of this kind, with the spec's options.
    Plugin(String),
}

fn str_opt<'a>(o: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("option {key:?} must be a string, got {other}")),
    }
}

fn required<'a>(o: &'a Map<String, Value>, kind: &str, key: &str) -> Result<&'a str, String> {
    match str_opt(o, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{kind} handler needs option {key:?}")),
    }
}

fn strings(o: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("option {key:?} must list strings, got {other}")),
            })
            .collect(),
        Some(other) => Err(format!("option {key:?} must be a list, got {other}")),
    }
}

/// A duration option: a Go duration string or nanoseconds.
fn duration(o: &Map<String, Value>, key: &str) -> Result<i64, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("option {key:?} must be a duration")),
        Some(Value::String(s)) => farad_runtime::duration::parse_go_duration(s)
            .map_err(|e| format!("option {key:?}: {e}")),
        Some(other) => Err(format!("option {key:?} must be a duration, got {other}")),
    }
}

impl HandlerSpec {
    /// Checks the spec as Kapacitor would before storing it.
    pub fn validate(&self, plugins: &crate::plugins::Plugins) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("must provide a handler ID".into());
        }
        if !self
            .id
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "handler ID must contain only letters, numbers, '-', '.' and '_'. {:?}",
                self.id
            ));
        }
        if !self.match_.is_empty() {
            farad_runtime::expr::EventMatch::parse(&self.match_)?;
        }
        if plugins.has(&self.kind) {
            return plugins.check(&self.kind, &self.options);
        }
        if !KINDS.contains(&self.kind.as_str()) {
            let plugin_kinds = plugins.kinds();
            let mut kinds: Vec<&str> = KINDS
                .into_iter()
                .chain(plugin_kinds.iter().map(String::as_str))
                .collect();
            kinds.sort_unstable();
            return Err(format!(
                "handler kind {:?} is not supported (supported: {})",
                self.kind,
                kinds.join(", ")
            ));
        }
        match self.kind.as_str() {
            "snmptrap" => return crate::snmptrap::TrapOptions::parse(&self.options).map(|_| ()),
            "kafka" => return crate::kafka::KafkaOptions::parse(&self.options).map(|_| ()),
            _ => {}
        }
        // Building the action checks every option. Endpoint names are resolved when events
        // arrive: config may name the endpoint by then.
        self.actions(None, &[], &|_| Some(Default::default()))
            .map(|_| ())
    }

    /// Where a `log` handler appends (option `path`), and the mode of a file it creates
    /// (`mode`, 0600 by default).
    pub fn log_file(&self) -> Result<(String, u32), String> {
        let o = &self.options;
        if self.kind != "log" {
            return Err(format!("a {} handler writes no log file", self.kind));
        }
        let path = required(o, "log", "path")?;
        let mode = match o.get("mode") {
            None | Some(Value::Null) => 0o600,
            Some(Value::Number(n)) => {
                n.as_u64()
                    .filter(|m| *m <= 0o7777)
                    .ok_or("option \"mode\" must be a file mode")? as u32
            }
            Some(other) => return Err(format!("option \"mode\" must be a number, got {other}")),
        };
        Ok((path.to_owned(), mode))
    }

    /// A `post` handler's options: where it posts, with what headers, how long it waits.
    pub fn post_handler(&self) -> Result<PostHandler, String> {
        let o = &self.options;
        if self.kind != "post" {
            return Err(format!("a {} handler does not post", self.kind));
        }
        let target = match (str_opt(o, "url")?, str_opt(o, "endpoint")?) {
            (Some(url), _) if !url.is_empty() => {
                PostTarget::Url(PostEndpoint::new(url.to_owned())?)
            }
            (_, Some(name)) if !name.is_empty() => PostTarget::Endpoint(name.to_owned()),
            _ => return Err("post handler needs option \"url\" or \"endpoint\"".into()),
        };
        let mut headers = Vec::new();
        match o.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let v = v.as_str().ok_or("option \"headers\" must map to strings")?;
                    headers.push((k.clone(), v.to_owned()));
                }
            }
            Some(_) => return Err("option \"headers\" must be an object".into()),
        }
        let flag = |name: &str| match o.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("option {name:?} must be a boolean")),
        };
        Ok(PostHandler {
            target,
            headers,
            timeout_ns: duration(o, "timeout")?,
            capture_response: flag("capture-response")?,
            skip_ssl_verification: flag("skip-ssl-verification")?,
        })
    }

    /// What the handler does with an event whose JSON is `body`; `endpoint` resolves
    /// `[[httppost]]` names.
    pub fn actions(
        &self,
        event: Option<&farad_runtime::exec::TopicEvent>,
        body: &[u8],
        endpoint: &dyn Fn(&str) -> Option<PostEndpoint>,
    ) -> Result<Action, String> {
        let o = &self.options;
        let line = || self::line(body);
        Ok(match self.kind.as_str() {
            "log" => {
                let (path, mode) = self.log_file()?;
                Action::Send(Output::File {
                    path,
                    mode,
                    data: line(),
                })
            }
            "tcp" => Action::Send(Output::Tcp {
                addr: required(o, "tcp", "address")?.to_owned(),
                data: line(),
            }),
            "exec" => {
                let mut argv = vec![required(o, "exec", "prog")?.to_owned()];
                argv.extend(strings(o, "args")?);
                Action::Send(Output::Exec {
                    argv,
                    stdin: line(),
                })
            }
            "post" => Action::Post(self.post_handler()?.request(event, line(), endpoint)?),
            "publish" => {
                let topics = strings(o, "topics")?;
                if topics.is_empty() {
                    return Err("publish handler needs option \"topics\"".into());
                }
                Action::Publish(topics)
            }
            // Kapacitor's kind is `smtp`; `email` is the alert node's name for it.
            "smtp" | "email" => Action::Email {
                to: strings(o, "to")?,
                templates: farad_runtime::exec::email_templates(&strings(o, "to-field")?)?,
            },
            "mqtt" => Action::Mqtt {
                broker: str_opt(o, "broker-name")?.unwrap_or_default().to_owned(),
                topic: mqtt_topic(required(o, "mqtt", "topic")?, event)?,
                qos: match o.get("qos") {
                    None | Some(Value::Null) => 0,
                    Some(Value::Number(n)) if n.as_u64().is_some_and(|q| q <= 2) => {
                        n.as_u64().unwrap_or(0) as u8
                    }
                    Some(other) => {
                        return Err(format!("option \"qos\" must be 0, 1 or 2, got {other}"));
                    }
                },
                retained: matches!(o.get("retained"), Some(Value::Bool(true))),
            },
            "aggregate" => {
                let interval_ns = duration(o, "interval")?;
                if interval_ns <= 0 {
                    return Err("aggregate handler needs a positive option \"interval\"".into());
                }
                let spec = crate::aggregate::AggregateSpec {
                    interval_ns,
                    topic: required(o, "aggregate", "topic")?.to_owned(),
                    id: str_opt(o, "id")?.unwrap_or_default().to_owned(),
                    message: str_opt(o, "message")?
                        .filter(|m| !m.is_empty())
                        .unwrap_or(crate::aggregate::DEFAULT_MESSAGE)
                        .to_owned(),
                };
                spec.message(0)?;
                Action::Aggregate(spec)
            }
            other => Action::Plugin(other.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, options: Value) -> HandlerSpec {
        HandlerSpec {
            id: "h".into(),
            topic: "t".into(),
            kind: kind.into(),
            options: options.as_object().cloned().unwrap_or_default(),
            match_: String::new(),
        }
    }

    fn plugins() -> &'static crate::plugins::Plugins {
        static P: std::sync::OnceLock<crate::plugins::Plugins> = std::sync::OnceLock::new();
        P.get_or_init(|| {
            let engine =
                farad_runtime::wasm::UdfEngine::new(Default::default()).expect("wasm engine");
            crate::plugins::Plugins::new(engine, &crate::config::Config::default())
        })
    }

    fn event() -> farad_runtime::exec::TopicEvent {
        farad_runtime::exec::TopicEvent {
            topic: "cpu".into(),
            id: "cpu:a".into(),
            level: "CRITICAL",
            message: "m".into(),
            details: "".into(),
            time: 0,
            duration: 0,
            previous_level: "OK",
            recoverable: true,
            task: "t".into(),
            row: farad_runtime::exec::EventData::Json(serde_json::json!({"name": "cpu"})),
            group: farad_runtime::model::GroupKey::NIL,
        }
    }

    #[test]
    fn mqtt_topics_are_templates_and_smtp_is_the_email_kind() {
        use serde_json::json;
        let ev = event();
        let none = |_: &str| None;
        let mqtt = spec(
            "mqtt",
            json!({"topic": "alerts/{{ .TaskName }}/{{ .Level }}"}),
        );
        assert!(mqtt.validate(plugins()).is_ok());
        match mqtt.actions(Some(&ev), b"{}", &none) {
            Ok(Action::Mqtt { topic, .. }) => assert_eq!(topic, "alerts/t/CRITICAL"),
            _ => panic!("an mqtt action"),
        }
        let bad = spec("mqtt", json!({"topic": "alerts/{{ .Level"}));
        assert!(
            bad.validate(plugins())
                .unwrap_err()
                .contains("topic template")
        );
        for kind in ["smtp", "email"] {
            let mail = spec(kind, json!({"to": ["ops@example.com"]}));
            assert!(mail.validate(plugins()).is_ok(), "{kind}");
            assert!(matches!(
                mail.actions(Some(&ev), b"{}", &none),
                Ok(Action::Email { .. })
            ));
        }
    }

    #[test]
    fn post_handlers_read_their_options_once_and_template_the_url() {
        use serde_json::json;
        let event = event();
        let post = spec(
            "post",
            json!({"url": "http://127.0.0.1/{{ .Level }}/{{ .ID }}", "headers": {"X-A": "b"},
                "timeout": "5s", "capture-response": true, "skip-ssl-verification": true}),
        )
        .post_handler()
        .unwrap();
        let none = |_: &str| None;
        let req = post.request(Some(&event), b"{}\n".to_vec(), &none).unwrap();
        assert_eq!(req.url, "http://127.0.0.1/CRITICAL/cpu:a");
        assert_eq!(
            (req.timeout_ns, req.capture_response),
            (5_000_000_000, true)
        );
        assert!(
            req.headers.contains(&("X-A".into(), "b".into())),
            "{:?}",
            req.headers
        );
        assert_eq!(req.body, b"{}\n");
        // A named endpoint is looked up per event: one added to the config later is found.
        let named = spec("post", json!({"endpoint": "later"}))
            .post_handler()
            .unwrap();
        let e = named.request(Some(&event), Vec::new(), &none).unwrap_err();
        assert!(
            e.contains("no [[httppost]] endpoint named \"later\""),
            "{e}"
        );
        let later =
            |_: &str| farad_runtime::exec::PostEndpoint::new("http://127.0.0.1/l".into()).ok();
        assert_eq!(
            named.request(Some(&event), Vec::new(), &later).unwrap().url,
            "http://127.0.0.1/l"
        );
        // A URL that is not a template is refused when the handler is defined.
        let bad = spec("post", json!({"url": "http://127.0.0.1/{{ .Level"}));
        assert!(bad.validate(plugins()).unwrap_err().contains("url"));
        assert!(
            spec("log", json!({"path": "/tmp/x"}))
                .post_handler()
                .is_err()
        );
    }

    #[test]
    fn specs_are_checked_by_kind() {
        use serde_json::json;
        assert!(
            spec("log", json!({"path": "/tmp/x"}))
                .validate(plugins())
                .is_ok()
        );
        assert!(
            spec("log", json!({}))
                .validate(plugins())
                .unwrap_err()
                .contains("path")
        );
        assert!(
            spec("tcp", json!({"address": "127.0.0.1:1"}))
                .validate(plugins())
                .is_ok()
        );
        assert!(
            spec("exec", json!({"prog": "/bin/cat", "args": ["-"]}))
                .validate(plugins())
                .is_ok()
        );
        assert!(
            spec("exec", json!({"prog": "/bin/cat", "args": "-"}))
                .validate(plugins())
                .is_err()
        );
        assert!(
            spec("post", json!({"url": "http://127.0.0.1/", "timeout": "5s"}))
                .validate(plugins())
                .is_ok()
        );
        assert!(spec("post", json!({})).validate(plugins()).is_err());
        assert!(
            spec("publish", json!({"topics": ["a"]}))
                .validate(plugins())
                .is_ok()
        );
        let agg = json!({"interval": "10s", "topic": "agg", "id": "x"});
        assert!(spec("aggregate", agg).validate(plugins()).is_ok());
        assert!(
            spec("aggregate", json!({"topic": "agg"}))
                .validate(plugins())
                .is_err()
        );
        let bad_tmpl = json!({"interval": "1s", "topic": "agg", "message": "{{ .Nope"});
        assert!(spec("aggregate", bad_tmpl).validate(plugins()).is_err());
        let mut matched = spec("log", json!({"path": "/tmp/x"}));
        matched.match_ = "level() >= WARNING AND \"host\" == 'a'".into();
        assert!(matched.validate(plugins()).is_ok());
        matched.match_ = "level( >".into();
        let err = matched.validate(plugins()).unwrap_err();
        assert!(err.contains("invalid match expression"), "{err}");
        let snmp = spec("snmptrapx", json!({}))
            .validate(plugins())
            .unwrap_err();
        assert!(snmp.contains("not supported"), "{snmp}");
        assert!(snmp.contains("slack"), "plugin kinds are listed: {snmp}");
        let mut bad = spec("log", json!({"path": "/tmp/x"}));
        bad.id = "a/b".into();
        assert!(bad.validate(plugins()).is_err());
    }
}
