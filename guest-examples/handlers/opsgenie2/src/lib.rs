//! OpsGenie v2 alert API: an alert with priority, responders and the result (or the details
//! template) as description, aliased by the base64 alert ID; on recovery a note, or a close.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request, Response};
use farad_handler_sdk::{go, url};
use serde_json::{Map, Value, json};

pub struct OpsGenie2;

/// Go's `base64.URLEncoding`: the URL-safe alphabet, with `=` padding.
pub fn alias(id: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(id.len().div_ceil(3) * 4);
    for c in id.as_bytes().chunks(3) {
        let n = u32::from(c[0]) << 16
            | u32::from(*c.get(1).unwrap_or(&0)) << 8
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

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

/// `close` or `notes`: the handler's if valid (topic option `recovery_action`, TICKscript
/// `.recoveryAction()` as `recovery-action`), else the config's if valid, else `notes`.
pub fn recovery_action(cx: &Context) -> &str {
    let valid = |a: &&str| *a == "close" || *a == "notes";
    [
        cx.option_str("recovery_action"),
        cx.option_str("recovery-action"),
        Some(cx.config_str("recovery_action")),
    ]
    .into_iter()
    .flatten()
    .find(valid)
    .unwrap_or("notes")
}

/// The URL and body: a create for a problem, a note (or close) on the alias for a recovery.
pub fn request(cx: &Context) -> (String, Value) {
    let e = &cx.event;
    let alias = alias(&e.id);
    let priority = match e.level {
        Level::Ok => {
            let url = url::join(
                cx.config_str("url"),
                &[&alias, recovery_action(cx)],
                Some("identifierType=alias"),
            );
            return (url, json!({"note": e.message}));
        }
        Level::Info => "P5",
        Level::Warning => "P3",
        Level::Critical => "P1",
    };
    let description = if cx.config_bool("details") && !e.details.is_empty() {
        e.details.clone()
    } else {
        go::result_string(e.data())
    };
    let mut details = Map::new();
    details.insert("Monitoring Tool".into(), json!("Kapacitor"));
    details.insert("Level".into(), json!(e.level_name()));
    // The first series' tags override the two above, and its measurement (not the task) is
    // the "task name": Kapacitor's quirks.
    if let Some(row) = e.data()["series"].as_array().and_then(|s| s.first()) {
        if let Some(tags) = row["tags"].as_object() {
            details.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        details.insert(
            "Kapacitor Task Name".into(),
            json!(row["name"].as_str().unwrap_or("")),
        );
    }
    let mut body = json!({
        "entity": e.id,
        "alias": alias,
        "message": e.message,
        "note": "",
        "priority": priority,
        "description": description,
        "details": details,
    });
    let responders: Vec<Value> = list(cx, "teams-list", "teams")
        .into_iter()
        .map(|t| json!({"name": t, "type": "team"}))
        .chain(
            list(cx, "recipients-list", "recipients")
                .into_iter()
                .map(|u| json!({"username": u, "type": "user"})),
        )
        .collect();
    if !responders.is_empty() {
        body["responders"] = Value::Array(responders);
    }
    (cx.config_str("url").to_owned(), body)
}

/// Kapacitor's error for a refused request: OpsGenie's `message`, else the status and body.
fn refusal(resp: &Response) -> Error {
    Error(format!(
        "opsgenie error: {}",
        resp.refusal("OpsGenie", "message")
    ))
}

impl Handler for OpsGenie2 {
    fn info() -> Info {
        Info::new(
            "opsgenie2",
            "opsGenie2",
            "opsgenie2",
            json!({
                "enabled": false,
                "api-key": "",
                "teams": [],
                "recipients": [],
                "url": "https://api.opsgenie.com/v2/alerts",
                "recovery_action": "notes",
                "details": false,
                "global": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        // Topic handler names, then TICKscript's: `.teams()`, `.recipients()`,
        // `.recoveryAction()` and `.details()` (a no-op in Kapacitor too).
        farad_handler_sdk::only_options(
            options,
            &[
                "teams-list",
                "recipients-list",
                "recovery_action",
                "teams",
                "recipients",
                "recovery-action",
                "details",
            ],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let (url, body) = request(cx);
        let resp = Request::post(url)
            .json(&body)
            .header(
                "Authorization",
                format!("GenieKey {}", cx.config_str("api-key")),
            )
            .send()?;
        if resp.status != 202 {
            return Err(refusal(&resp));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(OpsGenie2);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn config() -> Value {
        let mut c = OpsGenie2::info().default_config;
        c["enabled"] = json!(true);
        c["api-key"] = json!("key");
        c["teams"] = json!(["ops"]);
        c["recipients"] = json!(["oncall"]);
        c
    }

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    #[test]
    fn aliases_are_padded_url_safe_base64() {
        assert_eq!(
            alias("kapacitor/cpu/serverA"),
            "a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB"
        );
        assert_eq!(alias("cpu:host=a"), "Y3B1Omhvc3Q9YQ==");
        assert_eq!(alias("\u{fb}\u{ff}"), "w7vDvw==");
        assert_eq!(alias("??>"), "Pz8-");
        assert_eq!(alias("???"), "Pz8_");
    }

    #[test]
    fn critical_creates_an_alert_with_responders() {
        let (url, body) = request(&cx(config(), json!({}), Level::Critical, "cpu is CRITICAL"));
        assert_eq!(url, "https://api.opsgenie.com/v2/alerts");
        assert_eq!(
            body,
            json!({
                "entity": "cpu:host=a",
                "alias": "Y3B1Omhvc3Q9YQ==",
                "message": "cpu is CRITICAL",
                "note": "",
                "priority": "P1",
                "description": r#"{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["2026-11-26T10:00:00Z",97.5]]}]}"#,
                "details": {
                    "Level": "CRITICAL",
                    "Monitoring Tool": "Kapacitor",
                    "host": "a",
                    "Kapacitor Task Name": "cpu",
                },
                "responders": [
                    {"name": "ops", "type": "team"},
                    {"username": "oncall", "type": "user"},
                ],
            })
        );
    }

    #[test]
    fn ok_adds_a_note_or_closes_by_alias() {
        let (url, body) = request(&cx(config(), json!({}), Level::Ok, "cpu is OK"));
        assert_eq!(
            url,
            "https://api.opsgenie.com/v2/alerts/Y3B1Omhvc3Q9YQ==/notes?identifierType=alias"
        );
        assert_eq!(body, json!({"note": "cpu is OK"}));
        let (url, _) = request(&cx(
            config(),
            json!({"recovery-action": "close"}),
            Level::Ok,
            "",
        ));
        assert!(url.ends_with("/close?identifierType=alias"));
        let mut conf = config();
        conf["recovery_action"] = json!("close");
        let (url, _) = request(&cx(
            conf.clone(),
            json!({"recovery_action": "Notes"}),
            Level::Ok,
            "",
        ));
        assert!(
            url.ends_with("/close?identifierType=alias"),
            "invalid: config"
        );
        conf["recovery_action"] = json!("delete");
        let (url, _) = request(&cx(conf, json!({}), Level::Ok, ""));
        assert!(
            url.ends_with("/notes?identifierType=alias"),
            "invalid: default"
        );
    }

    #[test]
    fn handler_lists_and_details_follow_kapacitor() {
        let (_, body) = request(&cx(
            config(),
            json!({"teams": "a", "recipients-list": ["x", "y"], "details": true}),
            Level::Warning,
            "",
        ));
        assert_eq!(body["priority"], "P3");
        assert_eq!(
            body["responders"],
            json!([
                {"name": "a", "type": "team"},
                {"username": "x", "type": "user"},
                {"username": "y", "type": "user"},
            ])
        );
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .starts_with("{\"series\"")
        );
        let mut c = cx(json!({"details": true}), json!({}), Level::Info, "");
        c.event.details = "<b>hot</b>".into();
        let (_, body) = request(&c);
        assert_eq!(body["priority"], "P5");
        assert_eq!(body["description"], "<b>hot</b>");
        assert!(body.get("responders").is_none());
        assert!(
            OpsGenie2::check(
                json!({"teams-list": ["a"], "recovery_action": "close"})
                    .as_object()
                    .unwrap()
            )
            .is_ok()
        );
        assert!(OpsGenie2::check(json!({"priority": "P1"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn refusals_are_opsgenie_errors() {
        assert_eq!(
            refusal(&Response {
                status: 422,
                body: br#"{"message":"Request body is not processable","took":0.001}"#.to_vec()
            })
            .0,
            "opsgenie error: Request body is not processable"
        );
    }
}
