//! `alert()`: evaluates the info/warn/crit lambdas (and their resets) per group, keeps each
//! group's alert state (level history, flapping, when it was first and last triggered), and on
//! an event renders the id, message and details templates, hands the event to the node's
//! handlers, and passes the point (or batch) on with the event's level, id, message and
//! duration added where asked. Kapacitor's rules, kept exactly:
//! - a level's lambda is checked from CRITICAL down to the current level; then, unless the
//!   current level's reset lambda says otherwise, from the current level down to INFO;
//! - an event fires for every non-OK level, and for OK only on a change (a recovery), subject
//!   to `.stateChangesOnly([interval])`, `.flapping(low, high)` and `.noRecoveries()`;
//! - level lambdas keep one stateful state for the whole node, not one per group.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{Template, Value as T};

use super::NodeExec;
use crate::exec::groups::{GroupTable, Groups};
use crate::exec::inhibit::{InhibitorHandle, Inhibitors};
use crate::exec::{EventData, HttpRequest, Io, MqttTopic, Msg, StreamPoint, TaskEnv};
use crate::expr::{Compiled, ExprState, Scope};
use crate::model::{Batch, BatchPoint, Fields, GroupKey, Name, Series, Value};
use crate::pipeline::plan::PropertyValue;
use crate::pipeline::{PlanNode, Value as PV};

/// OK < INFO < WARNING < CRITICAL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    #[default]
    Ok = 0,
    Info = 1,
    Warning = 2,
    Critical = 3,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }

    fn from_index(i: usize) -> Level {
        [Level::Ok, Level::Info, Level::Warning, Level::Critical][i]
    }

    fn parse(s: &str) -> Level {
        match s {
            "INFO" => Level::Info,
            "WARNING" => Level::Warning,
            "CRITICAL" => Level::Critical,
            _ => Level::Ok,
        }
    }
}

const DEFAULT_MESSAGE: &str = "{{ .ID }} is {{ .Level }}";
const DEFAULT_DETAILS: &str = "{{ json . }}";

const WEIGHT_DIFF: f64 = 1.5;
const MAX_WEIGHT: f64 = 1.2;

/// Where an event goes.
enum Handler {
    /// `.post(url)`: the event's JSON to a URL or a configured endpoint.
    Post {
        /// The URL or `[[httppost]]` endpoint, with the node's headers added.
        target: crate::exec::PostEndpoint,
        capture_response: bool,
        /// `.skipSSLVerification()`: any server certificate is accepted.
        skip_ssl_verification: bool,
        timeout: i64,
    },
    /// `.log(path)`: the event's JSON, one line per event, appended to a file.
    Log { path: String, mode: u32 },
    /// `.tcp(address)`: the event's JSON, written to a TCP connection.
    Tcp { addr: String },
    /// `.exec(program, args...)`: the program run with the event's JSON on its standard input.
    Exec { argv: Vec<String> },
    /// `.mqtt(topic)`: the message, published to a broker.
    Mqtt {
        broker: String,
        /// A template over the event (`alerts/{{ .TaskName }}`) when it has `{{`.
        topic: MqttTopic,
        qos: u8,
        retained: bool,
    },
    /// `.email(to...)` (and `.to(...)`, `.toTemplates(...)`): the message as subject, the
    /// details as HTML body.
    Email {
        to: Vec<String>,
        to_templates: Vec<Template>,
    },
    /// `.slack()`, `.pagerDuty2()`, ...: a handler plugin of the host, with its options.
    Plugin {
        kind: String,
        options: serde_json::Map<String, serde_json::Value>,
    },
}

pub struct Alert {
    io: Arc<dyn Io>,
    task: Arc<str>,
    server: [(String, String); 3],
    /// Per level (index 1..=3), its lambda, reset lambda, and their node-wide states.
    levels: [Option<(Compiled, ExprState)>; 4],
    resets: [Option<(Compiled, ExprState)>; 4],
    id: Template,
    message: Template,
    details: gotmpl::html::Template,
    /// The templates are Kapacitor's defaults, rendered without the template engine (most
    /// events of most tasks: it is most of an event's cost).
    default_message: bool,
    default_details: bool,
    id_tag: Option<Name>,
    id_field: Option<Name>,
    level_tag: Option<Name>,
    level_field: Option<Name>,
    message_field: Option<Name>,
    duration_field: Option<Name>,
    state_changes_only: Option<i64>,
    no_recoveries: bool,
    /// Events go to the node's own topic even without handlers.
    publish_all: bool,
    all: bool,
    flapping: Option<(f64, f64)>,
    history: usize,
    handlers: Vec<Handler>,
    /// `.topic(name)`: events are collected there too.
    topic: Option<Arc<str>>,
    /// The topic the node's own handlers hang off, as Kapacitor names it: `main:task:node`.
    anon_topic: Arc<str>,
    /// `.category()`: what other nodes' `.inhibit()` name.
    category: String,
    /// `.inhibit(category, tags...)`: each group inhibits `category` for its values of `tags`.
    inhibit: Vec<(String, Vec<Name>)>,
    inhibitors: Arc<Inhibitors>,
    groups: Groups<State>,
    counts: [i64; 4],
    inhibited: i64,
}

struct State {
    /// The id last rendered for this group and the series it was rendered for: the id template
    /// sees only the name and tags, so points of the same series reuse it.
    last_id: Option<(Arc<Series>, Arc<str>)>,
    history: Vec<Level>,
    idx: usize,
    flapping: bool,
    changed: bool,
    first_triggered: i64,
    last_triggered: i64,
    expired: bool,
    /// This group's inhibitors: active while it is not OK.
    inhibitors: Vec<InhibitorHandle>,
}

/// A handler property's sub-properties as a plugin's options, named as Kapacitor's topic
/// handlers name them where the rule holds (`.iconEmoji(x)` -> `"icon-emoji": x`, `.uRL()` ->
/// `url`): a flag is `true`, one argument a value, several a list; repeated key-value
/// properties (`.attribute(k, v)`) gather into an object, and `.link(href[, text])` into
/// `links`.
fn plugin_options(p: &PropertyValue) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value as J;
    let text = |v: Option<&PV>| match v {
        Some(PV::Str(s)) => J::from(s.as_str()),
        _ => J::from(""),
    };
    match p.name {
        // The host's handlers take Kapacitor's topic handler options: `trap-oid` and a
        // `data-list` of `{oid, type, value}`.
        "snmpTrap" => {
            let data = p
                .sub
                .iter()
                .filter(|s| s.name == "data")
                .map(|s| {
                    serde_json::json!({"oid": text(s.args.first()),
                        "type": text(s.args.get(1)), "value": text(s.args.get(2))})
                })
                .collect();
            let mut out = serde_json::Map::new();
            out.insert("trap-oid".into(), text(p.args.first()));
            out.insert("data-list".into(), J::Array(data));
            return out;
        }
        // `.kafkaTopic()` is the handler's `topic`.
        "kafka" => {
            let mut out = serde_json::Map::new();
            for s in &p.sub {
                let key = match s.name {
                    "kafkaTopic" => "topic".to_owned(),
                    other => kebab(other),
                };
                out.insert(
                    key,
                    match s.args.first() {
                        None => J::Bool(true),
                        v => text(v),
                    },
                );
            }
            return out;
        }
        _ => {}
    }
    let json = |v: &PV| match v {
        PV::Int(i) => J::from(*i),
        PV::Float(f) => J::from(*f),
        PV::Str(s) | PV::Regex(s) => J::from(s.as_str()),
        PV::Bool(b) => J::from(*b),
        PV::Duration(d) => J::from(*d),
        other => J::from(format!("{other:?}")),
    };
    let mut out = serde_json::Map::new();
    for s in &p.sub {
        if s.name == "link" {
            let mut link = serde_json::Map::new();
            for (k, v) in ["href", "text"].iter().zip(&s.args) {
                link.insert((*k).into(), json(v));
            }
            match out.entry("links").or_insert_with(|| J::Array(Vec::new())) {
                J::Array(links) => links.push(J::Object(link)),
                _ => unreachable!("links is always a list"),
            }
            continue;
        }
        let key = kebab(s.name);
        match s.args.as_slice() {
            [] => {
                out.insert(key, J::Bool(true));
            }
            [PV::Str(k), v] if KEY_VALUE_OPTIONS.contains(&s.name) => {
                match out
                    .entry(key)
                    .or_insert_with(|| J::Object(Default::default()))
                {
                    J::Object(m) => {
                        m.insert(k.clone(), json(v));
                    }
                    _ => unreachable!("key-value options are objects"),
                }
            }
            [v] => {
                out.insert(key, json(v));
            }
            many => {
                out.insert(key, J::Array(many.iter().map(json).collect()));
            }
        }
    }
    out
}

/// Repeatable `(key, value)` properties of handlers: they build one object.
const KEY_VALUE_OPTIONS: [&str; 4] = ["attribute", "metadata", "additionalInfo", "customField"];

/// `iconEmoji` -> `icon-emoji`, `uRLTitle` -> `url-title`, `avatarURL` -> `avatar-url`.
fn kebab(name: &str) -> String {
    let name = name
        .strip_prefix("uRL")
        .map_or(name.to_owned(), |r| format!("url{r}"));
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// What the templates and handlers see of one event.
struct Event {
    id: Arc<str>,
    message: Arc<str>,
    details: Arc<str>,
    time: i64,
    duration: i64,
    level: Level,
    previous: Level,
}

fn template(name: &str, src: &str) -> Result<Template, String> {
    crate::template::text(name, src).map_err(|e| format!("invalid {name} template: {e}"))
}

/// The details template: Go's `html/template` (values HTML-escaped as their context
/// needs), with Kapacitor's `json` and `jsonCompact` giving trusted JS.
fn details_template(src: &str) -> Result<gotmpl::html::Template, String> {
    crate::template::html("details", src).map_err(|e| format!("invalid details template: {e}"))
}

fn lambda(p: Option<&PropertyValue>) -> Result<Option<(Compiled, ExprState)>, String> {
    match p.and_then(|p| p.args.first()) {
        Some(PV::Lambda(l)) => {
            let c = Compiled::new(l.as_ref()).map_err(|e| e.to_string())?;
            let s = c.new_state();
            Ok(Some((c, s)))
        }
        _ => Ok(None),
    }
}

fn name_prop(node: &PlanNode, prop: &str) -> Option<Name> {
    super::prop_str(node, prop)
        .filter(|s| !s.is_empty())
        .map(|s| Name::new(&s))
}

impl Alert {
    pub fn new(node: &PlanNode, env: &TaskEnv) -> Result<Alert, String> {
        let tmpl = |prop: &str, default: &str| {
            template(
                prop,
                &super::prop_str(node, prop).unwrap_or_else(|| default.into()),
            )
        };
        let mut handlers = Vec::new();
        for p in node
            .properties
            .iter()
            .filter(|p| !p.sub.is_empty() || is_handler(p.name))
        {
            // A handler's last sub-property of a name, and the text of a property.
            let sub = |n: &str| p.sub.iter().rev().find(|s| s.name == n);
            let str_of = |s: Option<&PropertyValue>| -> Option<String> {
                match s.and_then(|s| s.args.first()) {
                    Some(PV::Str(v)) => Some(v.clone()),
                    _ => None,
                }
            };
            match p.name {
                "post" => {
                    let mut target = match (str_of(Some(p)), str_of(sub("endpoint"))) {
                        (Some(u), _) if !u.is_empty() => crate::exec::PostEndpoint::new(u)?,
                        (_, Some(name)) => env
                            .io
                            .endpoint(&name)
                            .ok_or_else(|| format!("endpoint '{name}' does not exist"))?,
                        _ => return Err("alert .post() needs a URL or an .endpoint()".into()),
                    };
                    for h in p.sub.iter().filter(|s| s.name == "header") {
                        if let [PV::Str(k), PV::Str(v)] = h.args.as_slice() {
                            // Replacing the endpoint's, as Kapacitor sets them.
                            target
                                .headers
                                .retain(|(have, _)| !have.eq_ignore_ascii_case(k));
                            target.headers.push((k.clone(), v.clone()));
                        }
                    }
                    handlers.push(Handler::Post {
                        target,
                        capture_response: sub("captureResponse").is_some(),
                        skip_ssl_verification: sub("skipSSLVerification").is_some(),
                        timeout: match sub("timeout").and_then(|s| s.args.first()) {
                            Some(PV::Duration(d)) => *d,
                            _ => 0,
                        },
                    });
                }
                "log" => {
                    let Some(PV::Str(path)) = p.args.first() else {
                        return Err("alert .log() needs a file path".into());
                    };
                    if !std::path::Path::new(path).is_absolute() {
                        return Err(format!("alert log path must be absolute: {path:?}"));
                    }
                    let mode = match p.sub.iter().rev().find(|s| s.name == "mode") {
                        Some(m) => match m.args.first() {
                            Some(PV::Int(i)) => *i as u32,
                            _ => 0o600,
                        },
                        None => 0o600,
                    };
                    handlers.push(Handler::Log {
                        path: path.clone(),
                        mode,
                    });
                }
                "tcp" => {
                    // `.address()` replaces the argument, as in Kapacitor.
                    let Some(addr) = str_of(sub("address")).or_else(|| str_of(Some(p))) else {
                        return Err("alert .tcp() needs an address".into());
                    };
                    handlers.push(Handler::Tcp { addr });
                }
                "exec" => {
                    let argv: Vec<String> = p
                        .args
                        .iter()
                        .filter_map(|a| match a {
                            PV::Str(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    if argv.is_empty() {
                        return Err("alert .exec() needs a program".into());
                    }
                    handlers.push(Handler::Exec { argv });
                }
                "mqtt" => {
                    let text = |v: Option<&PV>| match v {
                        Some(PV::Str(s)) => s.clone(),
                        _ => String::new(),
                    };
                    let topic = match sub("topic") {
                        Some(s) => text(s.args.first()),
                        None => text(p.args.first()),
                    };
                    if topic.is_empty() {
                        return Err("alert .mqtt() needs a topic".into());
                    }
                    let qos = match sub("qos").and_then(|s| s.args.first()) {
                        Some(PV::Int(q @ 0..=2)) => *q as u8,
                        Some(other) => {
                            return Err(format!(
                                "alert .mqtt() qos must be 0, 1 or 2, got {other:?}"
                            ));
                        }
                        None => 0,
                    };
                    handlers.push(Handler::Mqtt {
                        broker: text(sub("brokerName").and_then(|s| s.args.first())),
                        topic: MqttTopic::new(topic).map_err(|e| format!("alert .mqtt(): {e}"))?,
                        qos,
                        retained: matches!(
                            sub("retained").and_then(|s| s.args.first()),
                            Some(PV::Bool(true))
                        ),
                    });
                }
                "email" => {
                    let strs = |args: &[PV]| -> Vec<String> {
                        args.iter()
                            .filter_map(|a| match a {
                                PV::Str(s) => Some(s.clone()),
                                _ => None,
                            })
                            .collect()
                    };
                    let mut to = strs(&p.args);
                    for s in p.sub.iter().filter(|s| s.name == "to") {
                        to.extend(strs(&s.args));
                    }
                    let mut srcs = Vec::new();
                    for s in p.sub.iter().filter(|s| s.name == "toTemplates") {
                        srcs.extend(strs(&s.args));
                    }
                    let to_templates = crate::exec::io::email_templates(&srcs)
                        .map_err(|e| format!("alert .email().toTemplates(): {e}"))?;
                    handlers.push(Handler::Email { to, to_templates });
                }
                other if is_handler(other) => {
                    let options = plugin_options(p);
                    match env.io.handler_plugin(other, &options) {
                        Some(Ok(kind)) => handlers.push(Handler::Plugin { kind, options }),
                        Some(Err(e)) => return Err(format!("alert .{other}(): {e}")),
                        None => return Err(format!("alert handler .{other}() does not run yet")),
                    }
                }
                _ => {}
            }
        }
        if env.global_email.is_some()
            && !handlers.iter().any(|h| matches!(h, Handler::Email { .. }))
        {
            handlers.push(Handler::Email {
                to: Vec::new(),
                to_templates: Vec::new(),
            });
        }
        let mut global_changes_only = env.global_email == Some(true);
        for (kind, changes_only) in env.io.global_plugins() {
            global_changes_only |= changes_only;
            if !handlers
                .iter()
                .any(|h| matches!(h, Handler::Plugin { kind: k, .. } if *k == kind))
            {
                handlers.push(Handler::Plugin {
                    kind,
                    options: Default::default(),
                });
            }
        }
        let topic = match node.property("topic").and_then(|p| p.args.first()) {
            Some(PV::Str(t)) if !t.is_empty() => Some(t.clone()),
            _ => None,
        };
        let category = match node.property("category").and_then(|p| p.args.first()) {
            Some(PV::Str(c)) => c.clone(),
            _ => String::new(),
        };
        let inhibit = node
            .properties
            .iter()
            .filter(|p| p.name == "inhibit")
            .filter_map(|p| match p.args.split_first() {
                Some((PV::Str(cat), tags)) => Some((
                    cat.clone(),
                    tags.iter()
                        .filter_map(|t| match t {
                            PV::Str(t) => Some(Name::new(t)),
                            _ => None,
                        })
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        // Kapacitor remembers at least two levels, whatever `.history()` says.
        let history = match node.property("history").and_then(|p| p.args.first()) {
            Some(PV::Int(n)) => (*n).max(2) as usize,
            _ => 21,
        };
        let flapping = match node.property("flapping").map(|p| p.args.as_slice()) {
            Some([PV::Float(low), PV::Float(high)]) => {
                if *low > 1.0 || *high > 1.0 {
                    return Err(
                        "alert flap thresholds are percentages and should be between 0 and 1"
                            .into(),
                    );
                }
                Some((*low, *high))
            }
            _ => None,
        };
        let state_changes_only = node
            .property("stateChangesOnly")
            .map(|p| match p.args.first() {
                Some(PV::Duration(d)) => *d,
                _ => 0,
            })
            .or(global_changes_only.then_some(0));
        Ok(Alert {
            io: env.io.clone(),
            task: env.task_id.as_str().into(),
            topic: topic.map(Arc::from),
            anon_topic: format!("main:{}:{}", env.task_id, node.name()).into(),
            server: [
                ("Hostname".into(), env.hostname.clone()),
                ("ClusterID".into(), env.cluster_id.clone()),
                ("ServerID".into(), env.server_id.clone()),
            ],
            levels: [
                None,
                lambda(node.property("info"))?,
                lambda(node.property("warn"))?,
                lambda(node.property("crit"))?,
            ],
            resets: [
                None,
                lambda(node.property("infoReset"))?,
                lambda(node.property("warnReset"))?,
                lambda(node.property("critReset"))?,
            ],
            id: tmpl("id", "{{ .Name }}:{{ .Group }}")?,
            message: tmpl("message", DEFAULT_MESSAGE)?,
            details: details_template(
                &super::prop_str(node, "details").unwrap_or_else(|| DEFAULT_DETAILS.into()),
            )?,
            default_message: super::prop_str(node, "message").is_none_or(|m| m == DEFAULT_MESSAGE),
            default_details: super::prop_str(node, "details").is_none_or(|d| d == DEFAULT_DETAILS),
            id_tag: name_prop(node, "idTag"),
            id_field: name_prop(node, "idField"),
            level_tag: name_prop(node, "levelTag"),
            level_field: name_prop(node, "levelField"),
            message_field: name_prop(node, "messageField"),
            duration_field: name_prop(node, "durationField"),
            state_changes_only,
            no_recoveries: node.property("noRecoveries").is_some(),
            publish_all: env.publish_all_alerts,
            all: node.property("all").is_some(),
            flapping,
            history,
            handlers,
            category,
            inhibit,
            inhibitors: env.inhibitors.clone(),
            groups: Groups::new(),
            counts: [0; 4],
            inhibited: 0,
        })
    }

    /// Whether level `l`'s lambda (or its reset, with `reset`) holds for a point.
    fn check(
        &mut self,
        l: usize,
        reset: bool,
        fields: &Fields,
        series: &Series,
        time: i64,
    ) -> bool {
        let slot = if reset {
            &mut self.resets[l]
        } else {
            &mut self.levels[l]
        };
        let Some((expr, state)) = slot else {
            return false;
        };
        let mut scope = Scope::of(fields, series, time).with_state(Some(state));
        match expr.eval_bool(&mut scope) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(level = Level::from_index(l).as_str(), error = %e, "alert lambda");
                false
            }
        }
    }

    fn has(&self, l: usize, reset: bool) -> bool {
        if reset {
            self.resets[l].is_some()
        } else {
            self.levels[l].is_some()
        }
    }

    fn determine(&mut self, fields: &Fields, series: &Series, time: i64, current: Level) -> Level {
        let cur = current as usize;
        for l in (cur.max(1)..=3).rev() {
            if self.has(l, false) && self.check(l, false, fields, series, time) {
                return Level::from_index(l);
            }
        }
        if self.has(cur, true) && !self.check(cur, true, fields, series, time) {
            return current;
        }
        for l in (1..=cur).rev() {
            if self.has(l, false) && self.check(l, false, fields, series, time) {
                return Level::from_index(l);
            }
        }
        Level::Ok
    }

    /// A group's state when the node first meets it: fresh, or at the level its topic
    /// remembers for its event id (after a restart, a task update or the group's expiry), as
    /// Kapacitor restores it from the anonymous topic first, then the named one.
    fn new_state(&self, id: &str, group: &GroupKey) -> State {
        let mut s = State {
            last_id: None,
            history: vec![Level::Ok; self.history],
            idx: 0,
            flapping: false,
            changed: false,
            first_triggered: 0,
            last_triggered: 0,
            expired: false,
            inhibitors: self
                .inhibit
                .iter()
                .map(|(category, tags)| {
                    let values = tags
                        .iter()
                        .map(|t| {
                            let v = group
                                .tags()
                                .iter()
                                .find(|(k, _)| k == t)
                                .map_or("", |(_, v)| v.as_ref());
                            (t.to_string(), v.to_owned())
                        })
                        .collect();
                    self.inhibitors.add(category, values)
                })
                .collect(),
        };
        let anon = (!self.handlers.is_empty() || self.publish_all).then_some(&self.anon_topic);
        let known = [anon, self.topic.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|t| self.io.event_state(t, id));
        if let Some(k) = known {
            let level = Level::parse(k.level);
            if level != Level::Ok {
                s.idx = 1;
                s.history[1] = level;
                s.last_triggered = k.time;
                s.first_triggered = k.time - k.duration;
                for i in &s.inhibitors {
                    i.set(true);
                }
            }
        }
        s
    }

    /// Records `level` at `t`; whether an event fires, and the level before.
    fn step(&mut self, group: &GroupKey, t: i64, level: Level) -> Option<(i64, Level)> {
        let (flap, sco) = (self.flapping, self.state_changes_only);
        let s = self
            .groups
            .get_mut(group)
            .expect("the group's state is made before its level is determined");
        let previous = s.history[s.idx];
        s.changed = previous != level;
        s.idx = (s.idx + 1) % s.history.len();
        s.history[s.idx] = level;
        if let Some((low, high)) = flap {
            let p = s.percent_change();
            if s.flapping && p < low {
                s.flapping = false;
            } else if !s.flapping && p > high {
                s.flapping = true;
            }
        }
        s.expired = !s.changed && sco.is_some_and(|d| d != 0 && t - s.last_triggered >= d);
        let suppressed =
            (flap.is_some() && s.flapping) || (sco.is_some() && !s.changed && !s.expired);
        if suppressed || (level == Level::Ok && !s.changed) {
            return None;
        }
        s.last_triggered = t;
        let before = (s.idx + s.history.len() - 1) % s.history.len();
        if s.history[before] == Level::Ok {
            s.first_triggered = t;
        }
        for i in &s.inhibitors {
            i.set(level != Level::Ok);
        }
        if self.no_recoveries && level == Level::Ok {
            return None;
        }
        Some((s.last_triggered - s.first_triggered, previous))
    }

    fn info(&self, name: Name, group: &GroupKey, tags: &[(Name, Box<str>)]) -> BTreeMap<String, T> {
        let mut m = BTreeMap::new();
        m.insert("Name".into(), T::from(name.as_str()));
        m.insert("TaskName".into(), T::from(&*self.task));
        let g = if group.is_nil() {
            "nil".to_string()
        } else {
            group.id()
        };
        m.insert("Group".into(), T::from(g));
        m.insert(
            "Tags".into(),
            T::from(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), T::from(v.as_ref())))
                    .collect::<BTreeMap<String, T>>(),
            ),
        );
        m.insert(
            "ServerInfo".into(),
            T::from(
                self.server
                    .iter()
                    .map(|(k, v)| (k.clone(), T::from(v.as_str())))
                    .collect::<BTreeMap<String, T>>(),
            ),
        );
        m
    }

    fn render_id(
        &self,
        name: Name,
        group: &GroupKey,
        tags: &[(Name, Box<str>)],
    ) -> Result<String, String> {
        self.id
            .execute_to_string(&T::from(self.info(name, group, tags)))
            .map_err(|e| format!("failed to render alert id: {e}"))
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        id: Arc<str>,
        name: Name,
        group: &GroupKey,
        tags: &[(Name, Box<str>)],
        fields: &Fields,
        level: Level,
        previous: Level,
        time: i64,
        duration: i64,
        row: EventData,
    ) -> Result<Event, String> {
        let (message, details) = if self.message_field.is_some() || self.publishes() {
            self.render(&id, name, group, tags, fields, level, time, duration)?
        } else {
            // Nothing reads them: templates cost more than the rest of an event.
            (String::new(), String::new())
        };
        let event = Event {
            id,
            message: message.into(),
            details: details.into(),
            time,
            duration,
            level,
            previous,
        };
        let lookup = |k: &str| {
            tags.iter()
                .find(|(n, _)| n.as_str() == k)
                .map(|(_, v)| v.to_string())
        };
        if self.inhibitors.is_inhibited(&self.category, &lookup) {
            // Not sent anywhere; the point still goes on, as in Kapacitor.
            self.inhibited += 1;
            return Ok(event);
        }
        self.counts[level as usize] += 1;
        self.dispatch(&event, row, group);
        Ok(event)
    }

    /// The message and (when a handler will send it) the details of an event.
    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        id: &str,
        name: Name,
        group: &GroupKey,
        tags: &[(Name, Box<str>)],
        fields: &Fields,
        level: Level,
        time: i64,
        duration: i64,
    ) -> Result<(String, String), String> {
        let wants_details = self.publishes();
        if self.default_message && (!wants_details || self.default_details) {
            let message = format!("{id} is {}", level.as_str());
            let details = if wants_details {
                self.default_details_json(
                    id, name, group, tags, fields, level, time, duration, &message,
                )
            } else {
                String::new()
            };
            return Ok((message, details));
        }
        let mut m = self.info(name, group, tags);
        m.insert("ID".into(), T::from(id));
        m.insert(
            "Fields".into(),
            T::from(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), field_value(v)))
                    .collect::<BTreeMap<String, T>>(),
            ),
        );
        m.insert("Level".into(), T::from(level.as_str()));
        m.insert("Time".into(), T::from(crate::time::format_go_time(time)));
        m.insert(
            "Duration".into(),
            T::from(crate::duration::format_go_duration(duration)),
        );
        let message = self
            .message
            .execute_to_string(&T::from(m.clone()))
            .map_err(|e| format!("failed to render alert message: {e}"))?;
        let details = if !wants_details {
            String::new()
        } else {
            m.insert("Message".into(), T::from(message.as_str()));
            self.details
                .execute_to_string(&T::from(m))
                .map_err(|e| format!("failed to render alert details: {e}"))?
        };
        Ok((message, details))
    }

    /// `{{ json . }}` over the details data, written directly: the same text Kapacitor's
    /// template gives. Its data is a Go struct (fields in declaration order, `Duration` in
    /// nanoseconds), written by Go's JSON encoder (with its newline), and escaped as the
    /// HTML text the details are — in one pass, structural quotes written as `&#34;`.
    #[allow(clippy::too_many_arguments)]
    fn default_details_json(
        &self,
        id: &str,
        name: Name,
        group: &GroupKey,
        tags: &[(Name, Box<str>)],
        fields: &Fields,
        level: Level,
        time: i64,
        duration: i64,
        message: &str,
    ) -> String {
        use crate::gojson::{write_int, write_str_html as write_str, write_uint};
        let mut out = Vec::with_capacity(640);
        let out = &mut out;
        out.extend_from_slice(b"{&#34;Name&#34;:");
        write_str(out, name.as_str());
        out.extend_from_slice(b",&#34;TaskName&#34;:");
        write_str(out, &self.task);
        out.extend_from_slice(b",&#34;Group&#34;:");
        if group.is_nil() {
            write_str(out, "nil");
        } else {
            write_str(out, &group.id());
        }
        out.extend_from_slice(b",&#34;Tags&#34;:{");
        let mut sorted: smallvec::SmallVec<[&(Name, Box<str>); 8]> = tags.iter().collect();
        sorted.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        sorted.dedup_by(|a, b| a.0 == b.0);
        for (i, (k, v)) in sorted.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k.as_str());
            out.push(b':');
            write_str(out, v);
        }
        out.extend_from_slice(b"},&#34;ServerInfo&#34;:{");
        for (i, (k, v)) in self.server.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.extend_from_slice(b"},&#34;ID&#34;:");
        write_str(out, id);
        out.extend_from_slice(b",&#34;Fields&#34;:{");
        let mut sorted: smallvec::SmallVec<[&(Name, Value); 8]> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        sorted.dedup_by(|a, b| a.0 == b.0);
        for (i, (k, v)) in sorted.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k.as_str());
            out.push(b':');
            match v {
                Value::Float(f) => {
                    let at = out.len();
                    crate::gojson::write_f64(out, *f);
                    // `1e+21` as HTML text.
                    if let Some(p) = out[at..].iter().position(|&c| c == b'+') {
                        out.splice(at + p..at + p + 1, *b"&#43;");
                    }
                }
                Value::Int(n) => write_int(out, *n),
                Value::UInt(n) => write_uint(out, *n),
                Value::Str(v) => write_str(out, v),
                Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            }
        }
        out.extend_from_slice(b"},&#34;Level&#34;:");
        write_str(out, level.as_str());
        out.extend_from_slice(b",&#34;Time&#34;:&#34;");
        crate::time::write_rfc3339_nanos(out, time);
        out.extend_from_slice(b"&#34;,&#34;Duration&#34;:");
        write_int(out, duration);
        out.extend_from_slice(b",&#34;Message&#34;:");
        write_str(out, message);
        out.extend_from_slice(b"}\n");
        let out = std::mem::take(out);
        debug_assert!(std::str::from_utf8(&out).is_ok());
        // SAFETY: every byte written is ASCII or comes whole from a `str` (escaping copies
        // runs of a string's bytes, never splitting a character).
        unsafe { String::from_utf8_unchecked(out) }
    }

    /// Whether events go anywhere: to the node's own handlers (through its anonymous topic)
    /// or to a named topic. Only then are details and the data row worth building.
    fn publishes(&self) -> bool {
        !self.handlers.is_empty() || self.topic.is_some() || self.publish_all
    }

    /// Hands the event to every handler.
    fn dispatch(&self, e: &Event, row: EventData, group: &GroupKey) {
        if !self.publishes() {
            return;
        }
        let event = crate::exec::TopicEvent {
            // Set per topic below; a shared name costs no allocation here.
            topic: self.anon_topic.clone(),
            id: e.id.clone(),
            level: e.level.as_str(),
            message: e.message.clone(),
            details: e.details.clone(),
            time: e.time,
            duration: e.duration,
            previous_level: e.previous.as_str(),
            recoverable: !self.no_recoveries,
            task: self.task.clone(),
            row,
            group: group.clone(),
        };
        // As Kapacitor: the node's own handlers make its anonymous topic, collected first.
        let mut data = None;
        let mut kept_event = None;
        if !self.handlers.is_empty() || self.publish_all {
            let anon = crate::exec::TopicEvent {
                topic: self.anon_topic.clone(),
                ..event.clone()
            };
            // The node's own handlers are held back by a silence of its anonymous topic.
            if !self.handlers.is_empty() && !self.io.silenced(&anon) {
                let mut body = Vec::with_capacity(512);
                anon.write_json(&mut body);
                data = Some(body);
                // Kept for the handlers that need more than the JSON: plugins and templates.
                if self.handlers.iter().any(|h| match h {
                    Handler::Plugin { .. } => true,
                    Handler::Email { to_templates, .. } => !to_templates.is_empty(),
                    Handler::Post { target, .. } => target.templated(),
                    Handler::Mqtt { topic, .. } => topic.templated(),
                    _ => false,
                }) {
                    kept_event = Some(anon.clone());
                }
            }
            self.io.publish(anon);
        }
        if let Some(t) = &self.topic {
            self.io.publish(crate::exec::TopicEvent {
                topic: t.clone(),
                ..event
            });
        }
        let Some(body) = data else {
            return;
        };
        // Kapacitor writes events with a JSON encoder: one line each.
        let line = || {
            let mut l = body.clone();
            l.push(b'\n');
            l
        };
        for h in &self.handlers {
            match h {
                Handler::Log { path, mode } => self.io.log(path, *mode, &mut |out| {
                    out.extend_from_slice(&body);
                    out.push(b'\n');
                }),
                Handler::Tcp { addr } => self.io.send(crate::exec::Output::Tcp {
                    addr: addr.clone(),
                    data: line(),
                }),
                Handler::Exec { argv } => self.io.send(crate::exec::Output::Exec {
                    argv: argv.clone(),
                    stdin: line(),
                }),
                Handler::Mqtt {
                    broker,
                    topic,
                    qos,
                    retained,
                } => match topic.render(kept_event.as_ref()) {
                    Ok(topic) => self.io.send(crate::exec::Output::Mqtt {
                        broker: broker.clone(),
                        topic,
                        qos: *qos,
                        retained: *retained,
                        payload: e.message.as_bytes().to_vec(),
                    }),
                    Err(error) => {
                        tracing::error!(task = %self.task, error, "alert handler failed")
                    }
                },
                Handler::Plugin { kind, options } => self.io.send(crate::exec::Output::Plugin {
                    kind: kind.clone(),
                    options: options.clone(),
                    event: Box::new(kept_event.clone().expect("kept for plugins and templates")),
                }),
                Handler::Email { to, to_templates } => self.io.send(crate::exec::Output::Email {
                    to: match &kept_event {
                        Some(ev) => ev.email_recipients(to, to_templates),
                        None => to.clone(),
                    },
                    subject: e.message.to_string(),
                    body: e.details.to_string(),
                }),
                Handler::Post {
                    target,
                    capture_response,
                    skip_ssl_verification,
                    timeout,
                } => match target.alert_post(kept_event.as_ref(), line(), []) {
                    Ok(req) => self.io.post(HttpRequest {
                        timeout_ns: *timeout,
                        capture_response: *capture_response,
                        skip_ssl_verification: *skip_ssl_verification,
                        ..req
                    }),
                    Err(error) => {
                        tracing::error!(task = %self.task, error, "alert handler failed")
                    }
                },
            }
        }
    }

    /// Adds the event's level, id, message and duration to fields and tags, where asked.
    fn augment(&self, e: &Event, fields: &mut Fields, series: &mut Arc<Series>) {
        for (name, v) in [
            (self.level_field, Value::Str(e.level.as_str().into())),
            (self.message_field, Value::Str((*e.message).into())),
            (self.id_field, Value::Str((*e.id).into())),
            (self.duration_field, Value::Int(e.duration)),
        ] {
            if let Some(name) = name {
                match fields.iter_mut().find(|(k, _)| *k == name) {
                    Some(f) => f.1 = v,
                    None => fields.push((name, v)),
                }
            }
        }
        fields.sort_by_key(|(k, _)| *k);
        if self.level_tag.is_some() || self.id_tag.is_some() {
            let mut tags = series.tags.to_vec();
            for (name, v) in [(self.level_tag, e.level.as_str()), (self.id_tag, &*e.id)] {
                if let Some(name) = name {
                    match tags.iter_mut().find(|(k, _)| *k == name) {
                        Some(t) => t.1 = v.into(),
                        None => tags.push((name, v.into())),
                    }
                }
            }
            *series = Arc::new(Series::new(series.measurement, tags));
        }
    }
}

impl State {
    fn percent_change(&self) -> f64 {
        let l = self.history.len();
        let mut changes = 0.0;
        let mut weight = MAX_WEIGHT / WEIGHT_DIFF;
        let step = (MAX_WEIGHT - weight) / (l - 1) as f64;
        for i in 0..l - 1 {
            let c = (i + self.idx) % l;
            let p = if c == 0 { l - 1 } else { c - 1 };
            if self.history[c] != self.history[p] {
                changes += weight;
            }
            weight += step;
        }
        changes / (l - 1) as f64
    }
}

fn is_handler(name: &str) -> bool {
    !matches!(
        name,
        "category"
            | "topic"
            | "id"
            | "message"
            | "details"
            | "info"
            | "warn"
            | "crit"
            | "infoReset"
            | "warnReset"
            | "critReset"
            | "flapping"
            | "history"
            | "levelTag"
            | "levelField"
            | "messageField"
            | "durationField"
            | "idTag"
            | "idField"
            | "all"
            | "noRecoveries"
            | "stateChangesOnly"
            | "inhibit"
            | "quiet"
    )
}

fn field_value(v: &Value) -> T {
    match v {
        Value::Float(f) => T::Float(*f),
        Value::Int(i) => T::Int(*i),
        Value::UInt(u) => T::Uint(*u),
        Value::Str(s) => T::from(s.as_ref()),
        Value::Bool(b) => T::Bool(*b),
    }
}

impl NodeExec for Alert {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.groups)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.groups)
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let name = p.point.name();
        let (cached, mut current) = match self.groups.get(&p.group) {
            Some(s) => (
                s.last_id
                    .as_ref()
                    // Each writer thread has its own copy of a series: compare contents too.
                    .filter(|(series, _)| {
                        Arc::ptr_eq(series, &p.point.series) || **series == *p.point.series
                    })
                    .map(|(_, id)| id.clone()),
                Some(s.history[s.idx]),
            ),
            None => (None, None),
        };
        let id = match cached {
            Some(id) => id,
            None => {
                let id: Arc<str> = self.render_id(name, &p.group, &p.point.series.tags)?.into();
                if self.groups.get(&p.group).is_none() {
                    let fresh = self.new_state(&id, &p.group);
                    self.groups.insert(p.group.clone(), fresh);
                }
                if let Some(s) = self.groups.get_mut(&p.group) {
                    s.last_id = Some((p.point.series.clone(), id.clone()));
                    current = Some(s.history[s.idx]);
                }
                id
            }
        };
        let current = current.unwrap_or(Level::Ok);
        let level = self.determine(&p.point.fields, &p.point.series, p.point.time, current);
        let Some((duration, previous)) = self.step(&p.group, p.point.time, level) else {
            return Ok(());
        };
        // The event's data, for handlers and topics only.
        let row = if !self.publishes() {
            EventData::Json(serde_json::Value::Null)
        } else {
            EventData::Point(BatchPoint {
                time: p.point.time,
                series: p.point.series.clone(),
                fields: p.point.fields.clone(),
            })
        };
        let e = self.event(
            id,
            name,
            &p.group,
            &p.point.series.tags,
            &p.point.fields,
            level,
            previous,
            p.point.time,
            duration,
            row,
        )?;
        self.augment(&e, &mut p.point.fields, &mut p.point.series);
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        if b.points.is_empty() {
            return Ok(());
        }
        let id = self.render_id(b.name, &b.group, &b.tags)?;
        if self.groups.get(&b.group).is_none() {
            let fresh = self.new_state(&id, &b.group);
            self.groups.insert(b.group.clone(), fresh);
        }
        let current = self
            .groups
            .get(&b.group)
            .map_or(Level::Ok, |s| s.history[s.idx]);
        let (mut lowest, mut highest, mut highest_at) = (Level::Critical, Level::Ok, None);
        for i in 0..b.points.len() {
            let (fields, series, time) = {
                let bp = &b.points[i];
                (bp.fields.clone(), bp.series.clone(), bp.time)
            };
            let l = self.determine(&fields, &series, time, current);
            lowest = lowest.min(l);
            if l > highest || highest_at.is_none() {
                highest = l;
                highest_at = Some(i);
            }
        }
        let hp = highest_at.expect("the batch has points");
        let level = if self.all { lowest } else { highest };
        let t = if self.all || level == Level::Ok {
            b.tmax
        } else {
            b.points[hp].time
        };
        let Some((duration, previous)) = self.step(&b.group, t, level) else {
            return Ok(());
        };
        let row = EventData::Json(super::http_out::series_json(b.name, &b.tags, &b.points));
        let fields = b.points[hp].fields.clone();
        let tags = b.tags.to_vec();
        let e = self.event(
            id.into(),
            b.name,
            &b.group,
            &tags,
            &fields,
            level,
            previous,
            t,
            duration,
            row,
        )?;
        for bp in &mut b.points {
            self.augment(&e, &mut bp.fields, &mut bp.series);
        }
        // The batch's own tags take the level and id tags too, and with them its group.
        let mut head = Arc::new(crate::model::Series::new(b.name, b.tags.to_vec()));
        let before = head.clone();
        self.augment(&e, &mut crate::model::Fields::new(), &mut head);
        if !Arc::ptr_eq(&head, &before) {
            super::basic::set_batch_tags(&mut b, &head.tags);
        }
        out.push(Msg::Batch(b));
        Ok(())
    }

    fn state_bytes(&self) -> usize {
        self.groups.bytes(|s| s.history.capacity())
    }

    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        let total: i64 = self.counts.iter().sum();
        out.push(("alerts_triggered", total));
        out.push(("oks_triggered", self.counts[0]));
        out.push(("infos_triggered", self.counts[1]));
        out.push(("warns_triggered", self.counts[2]));
        out.push(("crits_triggered", self.counts[3]));
        out.push(("alerts_inhibited", self.inhibited));
        out.push(("events_dropped", 0));
    }
}
