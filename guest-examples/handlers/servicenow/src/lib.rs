//! ServiceNow: one Event Management record (severity by level, the handler's rendered node,
//! type, resource, metric name, message key and additional info) posted to `em/jsonv2`.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, OptionNames, Request, render};
use serde_json::{Map, Value, json};

pub struct ServiceNow;

/// Option names: a canonical one and the names it is accepted under. Kapacitor's topic
/// options come first (the untagged ones, in `ANY_CASE`, match regardless of case as
/// mapstructure does); then the kebab-case names Farad makes of TICKscript properties.
const NAMES: &[(&str, &[&str])] = &[
    ("url", &["url"]),
    // Accepted and ignored, as in Kapacitor: the section's credentials are used.
    ("username", &["username"]),
    ("password", &["password"]),
    ("source", &["source"]),
    ("node", &["node"]),
    ("type", &["type"]),
    ("resource", &["resource"]),
    ("metric-name", &["metricName", "metric-name"]),
    ("message-key", &["messageKey", "message-key"]),
    ("additional-info", &["additional_info", "additional-info"]),
];
const ANY_CASE: &[&str] = &["node", "type", "resource", "metricName", "messageKey"];
const OPTIONS: OptionNames = OptionNames {
    names: NAMES,
    any_case: ANY_CASE,
};

/// ServiceNow's severity: 1 critical, 4 warning, 5 OK (2 and 3 are never used).
fn severity(level: Level) -> &'static str {
    match level {
        Level::Critical => "1",
        Level::Warning => "4",
        Level::Ok | Level::Info => "5",
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

/// A value as Go's `%v` prints it (`666`, `0.5`, `1e+06`, `true`, `<nil>`).
fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_g(f),
            _ => n.to_string(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", go_v(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// `%g` with the shortest digits: exponent form when the exponent is < -4 or >= 6.
fn go_g(f: f64) -> String {
    let e = format!("{f:e}");
    let Some((mant, exp)) = e.split_once('e') else {
        return e;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// A string map as Go's `json.Marshal` writes it: sorted keys, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped. It is sent as a string, so its bytes matter.
fn go_json(m: &std::collections::BTreeMap<String, String>) -> String {
    let s = serde_json::to_string(m).unwrap_or_default();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The body: one record. Templates render against the event (Kapacitor gives them only
/// `.ID`, `.Name`, `.TaskName`, `.Fields` and `.Tags`).
pub fn payload(cx: &Context) -> Result<Value, Error> {
    let e = &cx.event;
    let mut r = Map::new();
    let source = OPTIONS.str(cx, "source");
    let source = if source.is_empty() {
        cx.config_str("source")
    } else {
        source
    };
    r.insert("source".into(), go_cut(source, 100).into());
    for (name, field) in [
        ("node", "node"),
        ("type", "type"),
        ("resource", "resource"),
        ("metric-name", "metric_name"),
    ] {
        let v = render(OPTIONS.str(cx, name))?;
        if !v.is_empty() {
            r.insert(field.into(), go_cut(&v, 100).into());
        }
    }
    let mut key = render(OPTIONS.str(cx, "message-key"))?;
    if key.is_empty() {
        key = e.id.clone();
    }
    if !key.is_empty() {
        r.insert("message_key".into(), go_cut(&key, 1024).into());
    }
    r.insert("severity".into(), severity(e.level).into());
    if !e.message.is_empty() {
        r.insert("description".into(), go_cut(&e.message, 4000).into());
    }
    if let Some(Value::Object(info)) = OPTIONS.get(cx, "additional-info")
        && !info.is_empty()
    {
        let mut m = std::collections::BTreeMap::new();
        for (k, v) in info {
            let v = match v {
                Value::String(s) => render(s)?,
                other => go_v(other),
            };
            m.insert(k.clone(), v);
        }
        r.insert("additional_info".into(), go_json(&m).into());
    }
    Ok(json!({"records": [Value::Object(r)]}))
}

impl Handler for ServiceNow {
    fn info() -> Info {
        Info::new(
            "servicenow",
            "serviceNow",
            "servicenow",
            json!({
                "enabled": false, "url": "https://instance.service-now.com/api/global/em/jsonv2",
                "source": "", "username": "", "password": "", "global": false,
                "state-changes-only": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        OPTIONS.check(options)
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let body = payload(cx)?;
        let url = match OPTIONS.str(cx, "url") {
            "" => cx.config_str("url"),
            u => u,
        };
        let mut req = Request::post(url).json(&body);
        let (user, password) = (cx.config_str("username"), cx.config_str("password"));
        if !user.is_empty() && !password.is_empty() {
            req = req.basic_auth(user, password);
        }
        let r = req.send()?;
        if r.status != 200 {
            return Err(r.refusal("ServiceNow", "error"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(ServiceNow);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(options: Value, level: Level, msg: &str) -> Context {
        Context::example(
            json!({"url": "https://instance.service-now.com/api/global/em/jsonv2",
                "source": "Kapacitor", "username": "u", "password": "p"}),
            options,
            Event::example(level, msg),
        )
    }

    #[test]
    fn a_critical_event_without_handler_options() {
        assert_eq!(
            payload(&cx(json!({}), Level::Critical, "cpu:a is CRITICAL")).unwrap(),
            json!({"records": [{"source": "Kapacitor", "message_key": "cpu:host=a",
                "severity": "1", "description": "cpu:a is CRITICAL"}]})
        );
    }

    #[test]
    fn an_ok_event_with_topic_option_names() {
        let p = payload(&cx(
            json!({"source": "Farad", "node": "serverA", "type": "CPU",
                "resource": "CPU-Total", "metricName": "usage_idle", "messageKey": "Alert: 1",
                "additional_info": {"link": "http://push/alert?id=x&y=<1>", "ticks": 666}}),
            Level::Ok,
            "cpu:a is OK",
        ))
        .unwrap();
        assert_eq!(
            p,
            json!({"records": [{"source": "Farad", "node": "serverA", "type": "CPU",
                "resource": "CPU-Total", "metric_name": "usage_idle", "message_key": "Alert: 1",
                "severity": "5", "description": "cpu:a is OK",
                "additional_info":
                    "{\"link\":\"http://push/alert?id=x\\u0026y=\\u003c1\\u003e\",\"ticks\":\"666\"}"}]})
        );
    }

    #[test]
    fn tickscript_names_and_truncation() {
        let long = "n".repeat(150);
        let p = payload(&cx(
            json!({"node": long, "metric-name": "m", "message-key": "",
                "additional-info": {"r": 0.5, "big": 1e6, "on": true}}),
            Level::Warning,
            "",
        ))
        .unwrap();
        let r = &p["records"][0];
        assert_eq!(r["node"].as_str().unwrap().len(), 100);
        assert_eq!(r["metric_name"], "m");
        assert_eq!(r["message_key"], "cpu:host=a");
        assert_eq!(r["severity"], "4");
        assert!(r.get("description").is_none());
        assert_eq!(
            r["additional_info"],
            "{\"big\":\"1e+06\",\"on\":\"true\",\"r\":\"0.5\"}"
        );
    }

    #[test]
    fn options_are_kapacitors_and_tickscripts() {
        for ok in [
            json!({"metricName": "m", "METRICNAME": "m", "metric-name": "m", "Node": "n"}),
            json!({"additional_info": {}, "additional-info": {}, "url": "u", "username": "x"}),
        ] {
            assert!(ServiceNow::check(ok.as_object().unwrap()).is_ok(), "{ok}");
        }
        for bad in [json!({"metric_name": "m"}), json!({"URL": "u"})] {
            assert!(
                ServiceNow::check(bad.as_object().unwrap()).is_err(),
                "{bad}"
            );
        }
        assert_eq!(go_g(123456.0), "123456");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_v(&json!(null)), "<nil>");
    }
}
