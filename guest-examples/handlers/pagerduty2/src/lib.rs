//! PagerDuty Events API v2: `trigger` (severity by level) or `resolve` keyed by the alert ID,
//! always with the full payload: the result as custom details and the handler's links.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Map, Value, json};

pub struct PagerDuty2;

/// `event_action` and `severity` for a level; a resolve still needs a severity.
fn action_and_severity(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::Critical => ("trigger", "critical"),
        Level::Warning => ("trigger", "warning"),
        Level::Info => ("trigger", "info"),
        Level::Ok => ("resolve", "info"),
    }
}

/// `ns` as Go's `2006-01-02T15:04:05.000000000Z07:00`: always nine fractional digits, which
/// the SDK's `rfc3339` trims.
pub fn timestamp(ns: i64) -> String {
    let frac = ns.rem_euclid(1_000_000_000);
    let whole = farad_handler_sdk::rfc3339(ns - frac);
    format!("{}.{frac:09}Z", whole.trim_end_matches('Z'))
}

/// The routing key: the handler's (`.routingKey()` or its alias `.serviceKey()`), else the
/// config's.
fn routing_key(cx: &Context) -> String {
    cx.option_str("routing-key")
        .or_else(|| cx.option_str("service-key"))
        .unwrap_or_else(|| cx.config_str("routing-key"))
        .to_owned()
}

fn link_field<'a>(link: &'a Map<String, Value>, name: &str) -> &'a str {
    link.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A link option: `{"href": ..., "text": ...}`, text optional.
fn check_link(link: &Value) -> Result<(), Error> {
    match link.as_object() {
        Some(m) if m.values().all(Value::is_string) && !link_field(m, "href").is_empty() => {
            farad_handler_sdk::only_options(m, &["href", "text"])
        }
        _ => Err(Error(format!(
            "links: each must be {{\"href\": ..., \"text\": ...}} with an href, got {link}"
        ))),
    }
}

/// The handler's links rendered with `render` (Farad's templates; a stand-in in tests). An
/// empty text becomes the rendered href; a template error drops the event, as in Kapacitor.
pub fn links(
    options: &Map<String, Value>,
    render: impl Fn(&str) -> Result<String, Error>,
) -> Result<Vec<Value>, Error> {
    let Some(list) = options.get("links").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(list.len());
    for link in list.iter().filter_map(Value::as_object) {
        let href = render(link_field(link, "href"))?;
        let text = match link_field(link, "text") {
            "" => href.clone(),
            t => render(t)?,
        };
        out.push(json!({"href": href, "text": text}));
    }
    Ok(out)
}

/// The body of the enqueue call, given the rendered links.
pub fn payload(cx: &Context, links: Vec<Value>) -> Value {
    let e = &cx.event;
    let (action, severity) = action_and_severity(e.level);
    json!({
        "routing_key": routing_key(cx),
        "event_action": action,
        "dedup_key": e.id,
        "payload": {
            "summary": e.message,
            "source": e.tag("host").unwrap_or("unknown"),
            "severity": severity,
            "timestamp": timestamp(e.time),
            "class": e.task,
            "component": "",
            "group": "",
            "custom_details": {"result": e.data()},
        },
        "images": null,
        "links": if links.is_empty() { Value::Null } else { Value::Array(links) },
        "client": "kapacitor",
        "client_url": e.client_url,
    })
}

/// Kapacitor's error for a refused event, from PagerDuty's `status`, `message` and `errors`.
fn refusal(status: u16, body: &[u8]) -> Error {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = v["message"].as_str().map(str::to_owned).unwrap_or_else(|| {
        format!(
            "failed to understand PagerDuty2 response. code: {status} content: {}",
            String::from_utf8_lossy(body)
        )
    });
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Error(format!(
        "Status: {}, Message: {message} Errors: [{}]",
        v["status"].as_str().unwrap_or(""),
        errors.join(" ")
    ))
}

impl Handler for PagerDuty2 {
    fn info() -> Info {
        Info::new(
            "pagerduty2",
            "pagerDuty2",
            "pagerduty2",
            json!({
                "enabled": false,
                "url": "https://events.pagerduty.com/v2/enqueue",
                "routing-key": "",
                "global": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        // `service-key`: what `.serviceKey()`, the alias of `.routingKey()`, arrives as.
        farad_handler_sdk::only_options(options, &["routing-key", "service-key", "links"])?;
        match options.get("links") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Array(list)) => list.iter().try_for_each(check_link),
            Some(other) => Err(Error(format!("links must be a list, got {other}"))),
        }
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let links = links(&cx.options, farad_handler_sdk::render)?;
        let resp = Request::post(cx.config_str("url"))
            .json(&payload(cx, links))
            .header("Accept", "application/vnd.pagerduty+json;version=2")
            .send()?;
        if resp.status != 200 && resp.status != 202 {
            return Err(refusal(resp.status, &resp.body));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(PagerDuty2);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    /// Farad's renderer, for the templates these tests use.
    fn render(t: &str) -> Result<String, Error> {
        Ok(t.replace("{{ .TaskName }}", "cpu_alert")
            .replace("{{ .ID }}", "cpu:host=a"))
    }

    #[test]
    fn critical_is_a_full_trigger() {
        let c = cx(
            json!({"routing-key": "conf-key"}),
            json!({}),
            Level::Critical,
            "cpu is CRITICAL",
        );
        let p = payload(&c, links(&c.options, render).unwrap());
        assert_eq!(
            p,
            json!({
                "routing_key": "conf-key",
                "event_action": "trigger",
                "dedup_key": "cpu:host=a",
                "payload": {
                    "summary": "cpu is CRITICAL",
                    "source": "a",
                    "severity": "critical",
                    "timestamp": "2026-11-26T10:00:00.000000000Z",
                    "class": "cpu_alert",
                    "component": "",
                    "group": "",
                    "custom_details": {"result": {"series": [{
                        "name": "cpu", "tags": {"host": "a"}, "columns": ["time", "value"],
                        "values": [["2026-11-26T10:00:00Z", 97.5]],
                    }]}},
                },
                "images": null,
                "links": null,
                "client": "kapacitor",
                "client_url": "http://localhost:9092/kapacitor/v1",
            })
        );
    }

    #[test]
    fn ok_resolves_with_the_full_payload_and_severity_info() {
        let mut c = cx(json!({}), json!({}), Level::Ok, "cpu is OK");
        c.event.tags.clear();
        let p = payload(&c, Vec::new());
        assert_eq!(p["event_action"], "resolve");
        assert_eq!(p["payload"]["severity"], "info");
        assert_eq!(p["payload"]["source"], "unknown");
        assert_eq!(p["payload"]["summary"], "cpu is OK");
        assert_eq!(p["dedup_key"], "cpu:host=a");
        let c = cx(json!({}), json!({}), Level::Warning, "w");
        assert_eq!(payload(&c, Vec::new())["payload"]["severity"], "warning");
    }

    #[test]
    fn routing_key_comes_from_the_handler_or_its_alias_before_the_config() {
        let config = json!({"routing-key": "conf-key"});
        let key = |options: Value| routing_key(&cx(config.clone(), options, Level::Info, ""));
        assert_eq!(key(json!({"routing-key": "rk"})), "rk");
        assert_eq!(key(json!({"service-key": "sk"})), "sk");
        assert_eq!(key(json!({"routing-key": ""})), "conf-key");
    }

    #[test]
    fn links_render_and_default_their_text_to_the_href() {
        let options = json!({"links": [
            {"href": "https://x/{{ .TaskName }}", "text": "Task {{ .ID }}"},
            {"href": "https://y/"},
        ]});
        let l = links(options.as_object().unwrap(), render).unwrap();
        assert_eq!(
            l,
            vec![
                json!({"href": "https://x/cpu_alert", "text": "Task cpu:host=a"}),
                json!({"href": "https://y/", "text": "https://y/"}),
            ]
        );
        let failing = |_: &str| Err(Error::new("bad template"));
        assert!(links(options.as_object().unwrap(), failing).is_err());
        assert!(PagerDuty2::check(options.as_object().unwrap()).is_ok());
        let bad = json!({"links": [{"text": "no href"}]});
        assert!(PagerDuty2::check(bad.as_object().unwrap()).is_err());
        let bad = json!({"channel": "#x"});
        assert!(PagerDuty2::check(bad.as_object().unwrap()).is_err());
    }

    #[test]
    fn timestamps_keep_nine_fractional_digits() {
        assert_eq!(timestamp(10_000_000_000), "1970-01-01T00:00:10.000000000Z");
        assert_eq!(
            timestamp(1_415_792_726_371_000_000),
            "2014-11-12T11:45:26.371000000Z"
        );
        assert_eq!(timestamp(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn refusals_read_as_kapacitor_logs_them() {
        let body = br#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
        assert_eq!(
            refusal(400, body).0,
            "Status: invalid event, Message: Event object is invalid Errors: [Length of 'routing_key' is incorrect (should be 32 characters)]"
        );
        assert_eq!(
            refusal(500, b"down").0,
            "Status: , Message: failed to understand PagerDuty2 response. code: 500 content: down Errors: []"
        );
    }
}
