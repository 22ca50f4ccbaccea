//! OpsGenie v1 alert API: an alert aliased by the alert ID with the result as a JSON-string
//! description; on recovery the same body goes to the recovery (note) URL.

use farad_handler_sdk::go;
use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Map, Value, json};

pub struct OpsGenie;

/// The handler's list (`teams-list` as a topic option, `teams` from TICKscript), else the
/// config's.
fn list(cx: &Context, topic_option: &str, key: &str) -> Vec<String> {
    let l = cx.setting_list(topic_option);
    if l.is_empty() {
        cx.setting_list(key)
    } else {
        l
    }
}

/// The request body; Kapacitor sends the same one for a recovery, with the note set.
pub fn payload(cx: &Context) -> Value {
    let e = &cx.event;
    let recovery = e.level == Level::Ok;
    let mut body = json!({
        "apiKey": cx.config_str("api-key"),
        "entity": e.id,
        "alias": e.id,
        "message": e.message,
        "note": if recovery { e.message.as_str() } else { "" },
        "monitoring_tool": "kapacitor",
        "details": {
            "Level": if recovery { "RECOVERY" } else { e.level_name() },
            "Monitoring Tool": "Kapacitor",
        },
        "description": go::result_string(e.data()),
    });
    for (option, key) in [("teams-list", "teams"), ("recipients-list", "recipients")] {
        let l = list(cx, option, key);
        if !l.is_empty() {
            body[key] = json!(l);
        }
    }
    body
}

/// Where the body goes: `url/` to create, `recovery_url/` on recovery (concatenated, as
/// Kapacitor does).
pub fn url(cx: &Context) -> String {
    let base = if cx.event.level == Level::Ok {
        cx.config_str("recovery_url")
    } else {
        cx.config_str("url")
    };
    format!("{base}/")
}

/// Kapacitor's error for a refused alert: OpsGenie's `message`, else the status and body.
impl Handler for OpsGenie {
    fn info() -> Info {
        Info::new(
            "opsgenie",
            "opsGenie",
            "opsgenie",
            json!({
                "enabled": false,
                "api-key": "",
                "teams": [],
                "recipients": [],
                "url": "https://api.opsgenie.com/v1/json/alert",
                "recovery_url": "https://api.opsgenie.com/v1/json/alert/note",
                "global": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        // Topic handlers say `teams-list`; TICKscript's `.teams()` arrives as `teams`.
        farad_handler_sdk::only_options(
            options,
            &["teams-list", "recipients-list", "teams", "recipients"],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let resp = Request::post(url(cx)).json(&payload(cx)).send()?;
        if resp.status != 200 {
            return Err(resp.refusal("OpsGenie", "message"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(OpsGenie);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn config() -> Value {
        let mut c = OpsGenie::info().default_config;
        c["enabled"] = json!(true);
        c["api-key"] = json!("key");
        c["teams"] = json!(["ops"]);
        c
    }

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    const RESULT: &str = r#"{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["2026-11-26T10:00:00Z",97.5]]}]}"#;

    #[test]
    fn critical_creates_an_alert() {
        let c = cx(config(), json!({}), Level::Critical, "cpu is CRITICAL");
        assert_eq!(url(&c), "https://api.opsgenie.com/v1/json/alert/");
        assert_eq!(
            payload(&c),
            json!({
                "apiKey": "key",
                "entity": "cpu:host=a",
                "alias": "cpu:host=a",
                "message": "cpu is CRITICAL",
                "note": "",
                "monitoring_tool": "kapacitor",
                "details": {"Level": "CRITICAL", "Monitoring Tool": "Kapacitor"},
                "description": RESULT,
                "teams": ["ops"],
            })
        );
    }

    #[test]
    fn ok_posts_the_same_body_as_a_note_to_the_recovery_url() {
        let c = cx(config(), json!({}), Level::Ok, "cpu is OK");
        assert_eq!(url(&c), "https://api.opsgenie.com/v1/json/alert/note/");
        let p = payload(&c);
        assert_eq!(p["note"], "cpu is OK");
        assert_eq!(p["message"], "cpu is OK");
        assert_eq!(p["details"]["Level"], "RECOVERY");
        assert_eq!(p["description"], RESULT);
    }

    #[test]
    fn handler_lists_win_over_the_config_and_empty_ones_are_left_out() {
        let p = payload(&cx(
            config(),
            json!({"teams-list": ["a", "b"], "recipients": "x"}),
            Level::Warning,
            "",
        ));
        assert_eq!(p["teams"], json!(["a", "b"]));
        assert_eq!(p["recipients"], json!(["x"]));
        let p = payload(&cx(config(), json!({"teams": ["t"]}), Level::Info, ""));
        assert_eq!(p["teams"], json!(["t"]));
        assert_eq!(p["details"]["Level"], "INFO");
        assert!(p.get("recipients").is_none());
        let p = payload(&cx(json!({}), json!({"teams-list": []}), Level::Info, ""));
        assert!(p.get("teams").is_none());
        assert!(
            OpsGenie::check(json!({"teams-list": [], "teams": "a"}).as_object().unwrap()).is_ok()
        );
        assert!(OpsGenie::check(json!({"recovery_action": "close"}).as_object().unwrap()).is_err());
    }
}
