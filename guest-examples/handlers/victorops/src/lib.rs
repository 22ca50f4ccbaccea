//! VictorOps REST endpoint: the level as message type (OK as RECOVERY) for the alert ID, with
//! the result as a JSON string (an object with `json-data`), posted to `url/<api-key>/<routing
//! key>`.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request, Response};
use farad_handler_sdk::{go, url};
use serde_json::{Map, Value, json};

pub struct VictorOps;

pub fn payload(cx: &Context) -> Value {
    let e = &cx.event;
    let data = if cx.config_bool("json-data") {
        e.data().clone()
    } else {
        Value::String(go::result_string(e.data()))
    };
    json!({
        "message_type": if e.level == Level::Ok { "RECOVERY" } else { e.level_name() },
        "entity_id": e.id,
        "state_message": e.message,
        // Go's `Time.Unix()`: whole seconds, rounded down.
        "timestamp": e.time.div_euclid(1_000_000_000),
        "monitoring_tool": "kapacitor",
        "data": data,
    })
}

/// `url` with `<api-key>/<routing key>` joined to its path; an empty routing key drops out.
pub fn url(cx: &Context) -> String {
    url::join(
        cx.config_str("url"),
        &[cx.config_str("api-key"), &cx.setting("routing-key")],
        None,
    )
}

/// Kapacitor's error for a refused alert.
fn refusal(resp: &Response) -> Error {
    if resp.status == 404 {
        return Error::new("URL or API key not found: 404");
    }
    resp.refusal("VictorOps", "message")
}

impl Handler for VictorOps {
    fn info() -> Info {
        Info::new(
            "victorops",
            "victorOps",
            "victorops",
            json!({
                "enabled": false,
                "api-key": "",
                "routing-key": "",
                "url": "https://alert.victorops.com/integrations/generic/20131114/alert",
                "global": false,
                "json-data": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(options, &["routing-key"])
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let resp = Request::post(url(cx)).json(&payload(cx)).send()?;
        if resp.status != 200 {
            return Err(refusal(&resp));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(VictorOps);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn config() -> Value {
        let mut c = VictorOps::info().default_config;
        c["enabled"] = json!(true);
        c["api-key"] = json!("api");
        c["routing-key"] = json!("team");
        c
    }

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    #[test]
    fn critical_is_sent_with_the_result_as_a_string() {
        let c = cx(config(), json!({}), Level::Critical, "cpu is CRITICAL");
        assert_eq!(
            url(&c),
            "https://alert.victorops.com/integrations/generic/20131114/alert/api/team"
        );
        assert_eq!(
            payload(&c),
            json!({
                "message_type": "CRITICAL",
                "entity_id": "cpu:host=a",
                "state_message": "cpu is CRITICAL",
                "timestamp": 1_795_687_200,
                "monitoring_tool": "kapacitor",
                "data": r#"{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["2026-11-26T10:00:00Z",97.5]]}]}"#,
            })
        );
    }

    #[test]
    fn ok_is_a_recovery_and_json_data_sends_an_object() {
        let mut conf = config();
        conf["json-data"] = json!(true);
        let mut c = cx(conf, json!({}), Level::Ok, "cpu is OK");
        c.event.time += 999_999_999;
        let p = payload(&c);
        assert_eq!(p["message_type"], "RECOVERY");
        assert_eq!(p["timestamp"], 1_795_687_200);
        assert_eq!(p["data"]["series"][0]["name"], "cpu");
        assert_eq!(
            payload(&cx(config(), json!({}), Level::Info, ""))["message_type"],
            "INFO"
        );
    }

    #[test]
    fn the_handler_routing_key_wins_and_an_empty_one_drops_out() {
        let c = cx(config(), json!({"routing-key": "dbas"}), Level::Warning, "");
        assert!(url(&c).ends_with("/alert/api/dbas"));
        let mut conf = config();
        conf["routing-key"] = json!("");
        let c = cx(conf, json!({"routing-key": ""}), Level::Warning, "");
        assert!(url(&c).ends_with("/alert/api"));
        assert!(VictorOps::check(json!({"routingKey": "x"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn refusals_read_as_kapacitor_logs_them() {
        assert_eq!(
            refusal(&Response {
                status: 404,
                body: vec![]
            })
            .0,
            "URL or API key not found: 404"
        );
        assert_eq!(
            refusal(&Response {
                status: 400,
                body: br#"{"message":"bad"}"#.to_vec()
            })
            .0,
            "bad"
        );
    }
}
