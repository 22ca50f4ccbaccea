//! Pushover: the alert's message as a form post to the messages API, its priority from the
//! level (OK is silent, CRITICAL asks for confirmation).

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request, Response};
use serde_json::{Map, Value, json};

pub struct Pushover;

/// Pushover's priority for a level; 2 (emergency) is never used.
fn priority(level: Level) -> i32 {
    match level {
        Level::Ok => -2,
        Level::Info => -1,
        Level::Warning => 0,
        Level::Critical => 1,
    }
}

/// The form fields, sorted by name as Go's `url.Values` encodes them.
pub fn form(cx: &Context) -> Vec<(&'static str, String)> {
    let opt = |key: &str| cx.option_str(key).unwrap_or("").to_owned();
    let mut fields = vec![
        ("message", cx.event.message.clone()),
        ("priority", priority(cx.event.level).to_string()),
        // The API token is the section's only: no handler overrides it.
        ("token", cx.config_str("token").to_owned()),
        ("user", cx.setting("user-key")),
    ];
    // The handler's own values, sent only when set (the `url` option is the link shown with
    // the message, not the API's URL).
    for (field, key) in [
        ("device", "device"),
        ("title", "title"),
        ("url", "url"),
        ("url_title", "url-title"),
        ("sound", "sound"),
    ] {
        let v = opt(key);
        if !v.is_empty() {
            fields.push((field, v));
        }
    }
    fields.sort_by_key(|(k, _)| *k);
    fields
}

/// Kapacitor's error: the `errors` Pushover lists, or its `error`.
fn failure(r: &Response) -> Error {
    let v: Value = match serde_json::from_slice(&r.body) {
        Ok(v) => v,
        Err(e) => return Error(e.to_string()),
    };
    if let Some(e) = v["error"].as_str() {
        return Error(e.to_owned());
    }
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Error(format!(
        "failed to understand Pushover response. code: {} content: {}",
        r.status,
        errors.join(", ")
    ))
}

impl Handler for Pushover {
    fn info() -> Info {
        Info::new(
            "pushover",
            "pushover",
            "pushover",
            json!({
                "enabled": false, "token": "", "user-key": "",
                "url": "https://api.pushover.net/1/messages.json",
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(
            options,
            &["user-key", "device", "title", "url", "url-title", "sound"],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let r = Request::post(cx.config_str("url")).form(&form(cx)).send()?;
        if r.status != 200 {
            return Err(failure(&r));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Pushover);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(options: Value, level: Level, msg: &str) -> Context {
        Context::example(
            json!({"token": "app-token", "user-key": "u-config",
                "url": "https://api.pushover.net/1/messages.json"}),
            options,
            Event::example(level, msg),
        )
    }

    fn pairs<'a>(f: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        f.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn a_critical_event_asks_for_confirmation() {
        let f = form(&cx(json!({}), Level::Critical, "cpu:a is CRITICAL"));
        assert_eq!(
            pairs(&f),
            [
                ("message", "cpu:a is CRITICAL"),
                ("priority", "1"),
                ("token", "app-token"),
                ("user", "u-config"),
            ]
        );
    }

    #[test]
    fn an_ok_event_is_silent_and_options_win() {
        let f = form(&cx(
            json!({"user-key": "u-handler", "device": "phone", "title": "Farad",
                "url": "http://grafana/d/1", "url-title": "Dashboard", "sound": "",}),
            Level::Ok,
            "cpu:a is OK",
        ));
        assert_eq!(
            pairs(&f),
            [
                ("device", "phone"),
                ("message", "cpu:a is OK"),
                ("priority", "-2"),
                ("title", "Farad"),
                ("token", "app-token"),
                ("url", "http://grafana/d/1"),
                ("url_title", "Dashboard"),
                ("user", "u-handler"),
            ]
        );
        assert_eq!(priority(Level::Info), -1);
        assert_eq!(priority(Level::Warning), 0);
    }

    #[test]
    fn options_are_kapacitors() {
        let ok = json!({"user-key": "u", "url-title": "t"});
        assert!(Pushover::check(ok.as_object().unwrap()).is_ok());
        assert!(Pushover::check(json!({"token": "t"}).as_object().unwrap()).is_err());
    }
}
