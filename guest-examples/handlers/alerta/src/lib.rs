//! Alerta: an alert from templated resource, event, group, value, services and attributes,
//! with severity by level, the event's tags and the result as raw data, posted to `url/alert`.

use farad_handler_sdk::url;
use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Map, Value, json};

pub struct Alerta;

/// Kapacitor's default alert timeout, 24h.
const DEFAULT_TIMEOUT_NS: i64 = 24 * 3600 * 1_000_000_000;

/// The handler's templates, rendered.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    pub resource: String,
    pub event: String,
    pub environment: String,
    pub group: String,
    pub value: String,
    pub service: Vec<String>,
    pub correlate: Vec<String>,
    pub attributes: Map<String, Value>,
}

/// A list from the topic option (`service`) or TICKscript's property (`services`).
fn list(cx: &Context, topic_option: &str, tick: &str) -> Vec<String> {
    let l = cx.setting_list(topic_option);
    if l.is_empty() {
        cx.setting_list(tick)
    } else {
        l
    }
}

/// Renders the handler's templates over Kapacitor's defaults (`{{ .Name }}` resource,
/// `{{ .ID }}` event, `{{ .Group }}` group, the measurement as the only service and
/// correlation) with `render`: Farad's renderer, a stand-in in tests. Any template error
/// drops the event, as in Kapacitor.
pub fn render_all(
    cx: &Context,
    render: impl Fn(&str) -> Result<String, Error>,
) -> Result<Rendered, Error> {
    let tmpl = |key: &str, default: &str| render(cx.option_str(key).unwrap_or(default));
    let list_or_name = |topic: &str, tick: &str| -> Result<Vec<String>, Error> {
        let l = list(cx, topic, tick);
        if l.is_empty() {
            return Ok(vec![cx.event.name.clone()]);
        }
        l.iter().map(|t| render(t)).collect()
    };
    let mut attributes = Map::new();
    let attrs = ["attributes", "attribute"].iter().find_map(|k| {
        cx.options
            .get(*k)
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
    });
    for (k, v) in attrs.into_iter().flatten() {
        let v = match v {
            Value::String(t) => Value::String(render(t)?),
            other => other.clone(),
        };
        attributes.insert(k.clone(), v);
    }
    Ok(Rendered {
        resource: tmpl("resource", "{{ .Name }}")?,
        event: tmpl("event", "{{ .ID }}")?,
        environment: tmpl("environment", "")?,
        group: tmpl("group", "{{ .Group }}")?,
        value: tmpl("value", "")?,
        service: list_or_name("service", "services")?,
        correlate: list_or_name("correlate", "correlated")?,
        attributes,
    })
}

fn severity(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Info => "informational",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// The alert timeout in whole seconds: the handler's (ns) or 24h.
fn timeout_secs(cx: &Context) -> i64 {
    let ns = match cx.options.get("timeout") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(DEFAULT_TIMEOUT_NS),
        _ => DEFAULT_TIMEOUT_NS,
    };
    ns / 1_000_000_000
}

/// The body, given the rendered templates; Alerta needs a resource and an event.
pub fn payload(cx: &Context, r: &Rendered) -> Result<Value, Error> {
    if r.resource.is_empty() || r.event.is_empty() {
        return Err(Error::new(
            "Resource and Event are required to send an alert",
        ));
    }
    let e = &cx.event;
    let environment = if r.environment.is_empty() {
        cx.config_str("environment")
    } else {
        &r.environment
    };
    let tags: Vec<String> = e.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut body = json!({
        "resource": r.resource,
        "event": r.event,
        "environment": environment,
        "severity": severity(e.level),
        "group": r.group,
        "value": r.value,
        "text": e.message,
        "origin": cx.setting("origin"),
        "rawData": e.data(),
        "timeout": timeout_secs(cx),
        "tags": tags,
    });
    if !r.service.is_empty() {
        body["service"] = json!(r.service);
    }
    if !r.correlate.is_empty() {
        body["correlate"] = json!(r.correlate);
    }
    if !r.attributes.is_empty() {
        body["attributes"] = Value::Object(r.attributes.clone());
    }
    Ok(body)
}

/// `<prefix> <token>`, sent even when the token is empty (`Bearer `).
pub fn authorization(cx: &Context) -> String {
    let prefix = match cx.setting("token-prefix") {
        p if p.is_empty() => "Bearer".to_owned(),
        p => p,
    };
    format!("{prefix} {}", cx.setting("token"))
}

/// Kapacitor's error for a refused alert: Alerta's `message`, else the status and body.
impl Handler for Alerta {
    fn info() -> Info {
        Info::new(
            "alerta",
            "alerta",
            "alerta",
            json!({
                "enabled": false,
                "url": "",
                "insecure-skip-verify": false,
                "token": "",
                "token-prefix": "",
                "environment": "",
                "origin": "",
                "timeout": "0s",
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        // Topic handler names, then TICKscript's `.services()`, `.correlated()` and
        // `.attribute(k, v)`.
        farad_handler_sdk::only_options(
            options,
            &[
                "token",
                "token-prefix",
                "resource",
                "event",
                "environment",
                "group",
                "value",
                "origin",
                "service",
                "correlate",
                "attributes",
                "timeout",
                "services",
                "correlated",
                "attribute",
            ],
        )?;
        match options.get("timeout") {
            None | Some(Value::Null | Value::Number(_)) => Ok(()),
            Some(other) => Err(Error(format!(
                "timeout must be a duration in nanoseconds, got {other}"
            ))),
        }
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let rendered = render_all(cx, farad_handler_sdk::render)?;
        let body = payload(cx, &rendered)?;
        let resp = Request::post(url::join(cx.config_str("url"), &["alert"], None))
            .json(&body)
            .header("Authorization", authorization(cx))
            .send()?;
        if resp.status != 201 {
            return Err(resp.refusal("Alerta", "message"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Alerta);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    /// Farad's renderer, for the templates these tests use.
    fn render(t: &str) -> Result<String, Error> {
        Ok(t.replace("{{ .Name }}", "cpu")
            .replace("{{ .ID }}", "cpu:host=a")
            .replace("{{ .Group }}", "host=a")
            .replace("{{ index .Tags \"host\" }}", "a"))
    }

    fn send(c: &Context) -> Result<Value, Error> {
        payload(c, &render_all(c, render)?)
    }

    #[test]
    fn critical_uses_kapacitor_defaults() {
        let c = cx(
            json!({"environment": "prod", "origin": "kapacitor"}),
            json!({}),
            Level::Critical,
            "cpu is CRITICAL",
        );
        assert_eq!(
            send(&c).unwrap(),
            json!({
                "resource": "cpu",
                "event": "cpu:host=a",
                "environment": "prod",
                "severity": "critical",
                "group": "host=a",
                "value": "",
                "text": "cpu is CRITICAL",
                "origin": "kapacitor",
                "rawData": {"series": [{
                    "name": "cpu", "tags": {"host": "a"}, "columns": ["time", "value"],
                    "values": [["2026-11-26T10:00:00Z", 97.5]],
                }]},
                "timeout": 86400,
                "tags": ["host=a"],
                "service": ["cpu"],
                "correlate": ["cpu"],
            })
        );
        assert_eq!(authorization(&c), "Bearer ");
    }

    #[test]
    fn ok_and_info_map_to_alerta_severities() {
        let c = cx(json!({}), json!({}), Level::Ok, "cpu is OK");
        let p = send(&c).unwrap();
        assert_eq!(p["severity"], "ok");
        assert_eq!(p["text"], "cpu is OK");
        assert_eq!(p["environment"], "");
        assert_eq!(
            send(&cx(json!({}), json!({}), Level::Info, "")).unwrap()["severity"],
            "informational"
        );
        assert_eq!(
            send(&cx(json!({}), json!({}), Level::Warning, "")).unwrap()["severity"],
            "warning"
        );
    }

    #[test]
    fn handler_values_win_and_templates_render() {
        let config =
            json!({"environment": "prod", "origin": "conf", "token": "ct", "token-prefix": "Key"});
        let c = cx(
            config.clone(),
            json!({
                "resource": "{{ index .Tags \"host\" }}", "event": "high-cpu", "environment": "dev",
                "group": "g", "value": "97.5", "origin": "o", "services": ["web", "{{ .Name }}"],
                "correlate": "x", "attribute": {"k": "{{ .Name }}", "n": 9001, "b": true},
                "timeout": 300_000_000_000i64, "token": "ht",
            }),
            Level::Critical,
            "",
        );
        let p = send(&c).unwrap();
        assert_eq!(p["resource"], "a");
        assert_eq!(p["event"], "high-cpu");
        assert_eq!(p["environment"], "dev");
        assert_eq!(p["group"], "g");
        assert_eq!(p["value"], "97.5");
        assert_eq!(p["origin"], "o");
        assert_eq!(p["service"], json!(["web", "cpu"]));
        assert_eq!(p["correlate"], json!(["x"]));
        assert_eq!(p["attributes"], json!({"k": "cpu", "n": 9001, "b": true}));
        assert_eq!(p["timeout"], 300);
        assert_eq!(authorization(&c), "Key ht");
        let c = cx(
            config,
            json!({"environment": "", "token-prefix": "Bearer"}),
            Level::Ok,
            "",
        );
        assert_eq!(send(&c).unwrap()["environment"], "prod");
        assert_eq!(authorization(&c), "Bearer ct");
    }

    #[test]
    fn an_empty_resource_or_event_sends_nothing() {
        let empty = |_: &str| Ok(String::new());
        let c = cx(json!({}), json!({}), Level::Critical, "");
        assert_eq!(
            payload(&c, &render_all(&c, empty).unwrap()).unwrap_err().0,
            "Resource and Event are required to send an alert"
        );
        let failing = |_: &str| Err(Error::new("bad template"));
        assert!(render_all(&c, failing).is_err());
    }

    #[test]
    fn options_are_kapacitor_topic_or_tickscript_names() {
        let ok = json!({"service": ["a"], "services": "b", "attribute": {"k": 1}, "timeout": 5});
        assert!(Alerta::check(ok.as_object().unwrap()).is_ok());
        assert!(Alerta::check(json!({"timeout": "1h"}).as_object().unwrap()).is_err());
        assert!(Alerta::check(json!({"severity": "x"}).as_object().unwrap()).is_err());
    }
}
