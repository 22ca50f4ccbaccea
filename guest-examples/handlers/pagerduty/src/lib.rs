//! PagerDuty (v1 generic Events API): a `trigger` for WARNING and CRITICAL, a `resolve` for
//! OK, keyed by the alert ID, with the details template's output as a string.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Map, Value, json};

pub struct PagerDuty;

/// The body of the `create_event.json` call. INFO is an error, as in Kapacitor: v1 has no
/// event type for it.
pub fn payload(cx: &Context) -> Result<Value, Error> {
    let event_type = match cx.event.level {
        Level::Warning | Level::Critical => "trigger",
        Level::Info => {
            return Err(Error::new(
                "AlertLevel 'info' is currently ignored by the PagerDuty service",
            ));
        }
        Level::Ok => "resolve",
    };
    let e = &cx.event;
    Ok(json!({
        "service_key": cx.setting("service-key"),
        "event_type": event_type,
        "description": e.message,
        "incident_key": e.id,
        "client": "kapacitor",
        "client_url": e.client_url,
        "details": e.details,
    }))
}

/// Kapacitor's error for a refused event: PagerDuty's `message`, else the status and body.
impl Handler for PagerDuty {
    fn info() -> Info {
        Info::new(
            "pagerduty",
            "pagerDuty",
            "pagerduty",
            json!({
                "enabled": false,
                "url": "https://events.pagerduty.com/generic/2010-04-15/create_event.json",
                "service-key": "",
                "global": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(options, &["service-key"])
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let body = payload(cx)?;
        let resp = Request::post(cx.config_str("url")).json(&body).send()?;
        if resp.status != 200 {
            return Err(resp.refusal("PagerDuty", "message"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(PagerDuty);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(config: Value, options: Value, level: Level) -> Context {
        let mut event = Event::example(level, "cpu:host=a is CRITICAL");
        event.details = "{&#34;Name&#34;:&#34;cpu&#34;}".into();
        Context::example(config, options, event)
    }

    #[test]
    fn critical_triggers_an_incident_keyed_by_the_alert_id() {
        let p = payload(&cx(
            json!({"service-key": "conf-key"}),
            json!({}),
            Level::Critical,
        ))
        .unwrap();
        assert_eq!(
            p,
            json!({
                "service_key": "conf-key",
                "event_type": "trigger",
                "description": "cpu:host=a is CRITICAL",
                "incident_key": "cpu:host=a",
                "client": "kapacitor",
                "client_url": "http://localhost:9092/kapacitor/v1",
                "details": "{&#34;Name&#34;:&#34;cpu&#34;}",
            })
        );
    }

    #[test]
    fn ok_resolves_and_info_is_refused() {
        let p = payload(&cx(json!({}), json!({}), Level::Ok)).unwrap();
        assert_eq!(p["event_type"], "resolve");
        assert_eq!(p["incident_key"], "cpu:host=a");
        assert_eq!(p["service_key"], "");
        let e = payload(&cx(json!({}), json!({}), Level::Info)).unwrap_err();
        assert_eq!(
            e.0,
            "AlertLevel 'info' is currently ignored by the PagerDuty service"
        );
    }

    #[test]
    fn the_handler_service_key_wins_over_the_config_unless_empty() {
        let config = json!({"service-key": "conf-key"});
        let p = payload(&cx(
            config.clone(),
            json!({"service-key": "task-key"}),
            Level::Warning,
        ))
        .unwrap();
        assert_eq!(p["service_key"], "task-key");
        let p = payload(&cx(config, json!({"service-key": ""}), Level::Warning)).unwrap();
        assert_eq!(p["service_key"], "conf-key");
        assert!(PagerDuty::check(json!({"service-key": "k"}).as_object().unwrap()).is_ok());
        assert!(PagerDuty::check(json!({"routing-key": "k"}).as_object().unwrap()).is_err());
    }
}
