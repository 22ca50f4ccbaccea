//! Zenoss: an `add_event` call to the JSON API router (severity from the section's
//! severity map, the handler's rendered summary, device, component, event class, collector,
//! message and custom fields).

use farad_handler_sdk::{Context, Error, Handler, Info, Level, OptionNames, Request, render};
use serde_json::{Map, Value, json};

pub struct Zenoss;

/// Option names: a canonical one and the names it is accepted under. Kapacitor's topic
/// options first (the untagged ones, in `ANY_CASE`, match regardless of case as mapstructure
/// does), then the kebab-case names Farad makes of TICKscript properties.
const NAMES: &[(&str, &[&str])] = &[
    // `.URL()`, `.username()`, `.password()` exist in TICKscript but are ignored, as in
    // Kapacitor: the section's URL and credentials are used.
    ("url", &["url"]),
    ("username", &["username"]),
    ("password", &["password"]),
    ("action", &["action"]),
    ("method", &["method"]),
    ("type", &["type"]),
    ("tid", &["tid"]),
    ("summary", &["summary"]),
    ("device", &["device"]),
    ("component", &["component"]),
    ("event-class-key", &["eventclasskey", "event-class-key"]),
    ("event-class", &["eventclass", "event-class"]),
    ("collector", &["collector"]),
    ("message", &["message"]),
    ("custom-field", &["customField", "custom-field"]),
];
const ANY_CASE: &[&str] = &[
    "summary",
    "device",
    "component",
    "eventclasskey",
    "eventclass",
    "collector",
    "message",
];
const OPTIONS: OptionNames = OptionNames {
    names: NAMES,
    any_case: ANY_CASE,
};

/// The handler's value, else the section's.
fn setting<'a>(cx: &'a Context, name: &str) -> &'a str {
    match OPTIONS.str(cx, name) {
        "" => cx.config_str(name),
        v => v,
    }
}

/// The section's severity for a level, of the type written there (`"Critical"` or `5`).
/// The TOML keys are `OK`, `Info`, ...; the lower-case ones are Kapacitor's JSON names. A
/// map written in part keeps the defaults for the rest, as Kapacitor's does.
fn severity(cx: &Context, level: Level) -> Value {
    let (toml, lower, default) = match level {
        Level::Ok => ("OK", "ok", "Clear"),
        Level::Info => ("Info", "info", "Info"),
        Level::Warning => ("Warning", "warning", "Warning"),
        Level::Critical => ("Critical", "critical", "Critical"),
    };
    let map = cx.config.get("severity-map");
    [toml, lower]
        .iter()
        .filter_map(|k| map.and_then(|m| m.get(*k)))
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or_else(|| default.into())
}

/// The handler's tid unless zero, else the section's.
fn tid(cx: &Context) -> i64 {
    let as_int = |v: Option<&Value>| {
        v.and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
            .unwrap_or(0)
    };
    match as_int(OPTIONS.get(cx, "tid")) {
        0 => as_int(cx.config.get("tid")),
        t => t,
    }
}

/// The first `max` bytes of `s` as Go's `json.Marshal` sends them: a multi-byte character
/// cut in two leaves one U+FFFD per stray byte.
fn go_cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    out.extend(std::iter::repeat_n('\u{FFFD}', max - end));
    out
}

/// A rendered custom field: JSON when it looks like and parses as an object or a list, else
/// the text.
fn custom(text: String) -> Value {
    if (text.starts_with('{') || text.starts_with('['))
        && let Ok(v) = serde_json::from_str(&text)
    {
        return v;
    }
    Value::String(text)
}

/// The router call.
pub fn payload(cx: &Context) -> Result<Value, Error> {
    let e = &cx.event;
    let rendered = |name: &str| render(OPTIONS.str(cx, name));
    let mut summary = rendered("summary")?;
    if summary.is_empty() {
        summary = e.message.clone();
    }
    let mut collector = rendered("collector")?;
    if collector.is_empty() {
        collector = cx.config_str("collector").to_owned();
    }
    let message = rendered("message")?;
    let mut data = Map::new();
    data.insert("summary".into(), go_cut(&summary, 256).into());
    data.insert("device".into(), rendered("device")?.into());
    data.insert("component".into(), rendered("component")?.into());
    data.insert("severity".into(), severity(cx, e.level));
    data.insert("evclasskey".into(), rendered("event-class-key")?.into());
    data.insert("evclass".into(), rendered("event-class")?.into());
    if !collector.is_empty() {
        data.insert("collector".into(), collector.into());
    }
    if !message.is_empty() {
        data.insert("message".into(), go_cut(&message, 4096).into());
    }
    // Custom fields may replace any of the above, severity included.
    if let Some(Value::Object(fields)) = OPTIONS.get(cx, "custom-field") {
        for (k, v) in fields {
            let v = match v {
                Value::String(s) => custom(render(s)?),
                other => other.clone(),
            };
            data.insert(k.clone(), v);
        }
    }
    Ok(json!({
        "action": setting(cx, "action"),
        "method": setting(cx, "method"),
        "data": [Value::Object(data)],
        "type": setting(cx, "type"),
        "tid": tid(cx),
    }))
}

impl Handler for Zenoss {
    fn info() -> Info {
        Info::new(
            "zenoss",
            "zenoss",
            "zenoss",
            json!({
                "enabled": false, "url": "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router",
                "username": "", "password": "", "action": "EventsRouter", "method": "add_event",
                "type": "rpc", "tid": 1, "collector": "Kapacitor",
                "severity-map": {"OK": "Clear", "Info": "Info", "Warning": "Warning",
                    "Critical": "Critical"},
                "global": false, "state-changes-only": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        OPTIONS.check(options)
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let body = payload(cx)?;
        let mut req = Request::post(cx.config_str("url")).json(&body);
        let (user, password) = (cx.config_str("username"), cx.config_str("password"));
        if !user.is_empty() && !password.is_empty() {
            req = req.basic_auth(user, password);
        }
        let r = req.send()?;
        if r.status != 200 {
            return Err(r.refusal("Zenoss", "error"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Zenoss);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn defaults() -> Map<String, Value> {
        Zenoss::info().default_config.as_object().cloned().unwrap()
    }

    fn cx(config: Map<String, Value>, options: Value, level: Level, msg: &str) -> Context {
        Context {
            config,
            options: options.as_object().cloned().unwrap(),
            event: Event::example(level, msg),
        }
    }

    #[test]
    fn a_critical_event_with_the_default_section() {
        assert_eq!(
            payload(&cx(
                defaults(),
                json!({}),
                Level::Critical,
                "cpu:a is CRITICAL"
            ))
            .unwrap(),
            json!({
                "action": "EventsRouter", "method": "add_event", "type": "rpc", "tid": 1,
                "data": [{"summary": "cpu:a is CRITICAL", "device": "", "component": "",
                    "severity": "Critical", "evclasskey": "", "evclass": "",
                    "collector": "Kapacitor"}],
            })
        );
    }

    #[test]
    fn an_ok_event_with_handler_options_and_a_numeric_map() {
        let mut config = defaults();
        config.insert("severity-map".into(), json!({"OK": 0, "critical": 5}));
        config.insert("tid".into(), json!(7));
        let c = cx(
            config,
            json!({"action": "Router2", "tid": 0, "summary": "host a ok", "device": "a",
                "component": "CPU", "eventClassKey": "k", "event-class": "/App",
                "collector": "c1", "message": "details", "type": "",
                "customField": {"n": 3, "list": "[1, 2]", "obj": "{bad", "severity": "x"}}),
            Level::Ok,
            "cpu:a is OK",
        );
        assert_eq!(
            payload(&c).unwrap(),
            json!({
                "action": "Router2", "method": "add_event", "type": "rpc", "tid": 7,
                "data": [{"summary": "host a ok", "device": "a", "component": "CPU",
                    "severity": "x", "evclasskey": "k", "evclass": "/App", "collector": "c1",
                    "message": "details", "n": 3, "list": [1, 2], "obj": "{bad"}],
            })
        );
        // The map's numbers stay numbers; missing levels keep the defaults.
        assert_eq!(severity(&c, Level::Ok), json!(0));
        assert_eq!(severity(&c, Level::Critical), json!(5));
        assert_eq!(severity(&c, Level::Warning), json!("Warning"));
    }

    #[test]
    fn handler_tid_wins_and_summaries_are_cut() {
        let long = "s".repeat(300);
        let c = cx(
            defaults(),
            json!({"tid": 42, "custom-field": {"k": "v"}}),
            Level::Warning,
            &long,
        );
        let p = payload(&c).unwrap();
        assert_eq!(p["tid"], 42);
        assert_eq!(p["data"][0]["summary"].as_str().unwrap().len(), 256);
        assert_eq!(p["data"][0]["severity"], "Warning");
        assert_eq!(p["data"][0]["k"], "v");
    }

    #[test]
    fn options_are_kapacitors_and_tickscripts() {
        for ok in [
            json!({"eventclasskey": "k", "EventClassKey": "k", "event-class-key": "k"}),
            json!({"customField": {}, "custom-field": {}, "url": "u", "tid": 1}),
        ] {
            assert!(Zenoss::check(ok.as_object().unwrap()).is_ok(), "{ok}");
        }
        for bad in [json!({"custom_fields": {}}), json!({"evclass": "x"})] {
            assert!(Zenoss::check(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
