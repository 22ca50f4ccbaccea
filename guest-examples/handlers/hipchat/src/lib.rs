//! HipChat API v2: a room notification from `kapacitor`, coloured by level, posted to
//! `url/<room>/notification?auth_token=<token>`.

use farad_handler_sdk::url;
use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Map, Value, json};

pub struct HipChat;

fn color(level: Level) -> &'static str {
    match level {
        Level::Warning => "yellow",
        Level::Critical => "red",
        _ => "green",
    }
}

pub fn payload(cx: &Context) -> Value {
    json!({
        "from": "kapacitor",
        "message": cx.event.message,
        "color": color(cx.event.level),
        "notify": true,
    })
}

/// Go's `url.QueryEscape`: unreserved characters kept, spaces as `+`, the rest escaped.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The room's notification URL, with the token in the query.
pub fn url(cx: &Context) -> String {
    let token = query_escape(&cx.setting("token"));
    url::join(
        cx.config_str("url"),
        &[&cx.setting("room"), "notification"],
        Some(&format!("auth_token={token}")),
    )
}

/// Kapacitor's error for a refused notification: HipChat's `error` when it is a string, else
/// the status and body.
impl Handler for HipChat {
    fn info() -> Info {
        Info::new(
            "hipchat",
            "hipChat",
            "hipchat",
            json!({
                "enabled": false,
                "url": "",
                "token": "",
                "room": "",
                "global": false,
                "state-changes-only": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(options, &["room", "token"])
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let resp = Request::post(url(cx)).json(&payload(cx)).send()?;
        if resp.status != 200 && resp.status != 204 {
            return Err(resp.refusal("HipChat", "error"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(HipChat);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(options: Value, level: Level, msg: &str) -> Context {
        let config = json!({
            "enabled": true, "url": "https://acme.hipchat.com/v2/room", "token": "conf token",
            "room": "1234",
        });
        Context::example(config, options, Event::example(level, msg))
    }

    #[test]
    fn critical_is_red_in_the_config_room() {
        let c = cx(json!({}), Level::Critical, "cpu is CRITICAL");
        assert_eq!(
            payload(&c),
            json!({"from": "kapacitor", "message": "cpu is CRITICAL", "color": "red", "notify": true})
        );
        assert_eq!(
            url(&c),
            "https://acme.hipchat.com/v2/room/1234/notification?auth_token=conf+token"
        );
    }

    #[test]
    fn ok_and_info_are_green_and_warning_yellow() {
        assert_eq!(payload(&cx(json!({}), Level::Ok, "ok"))["color"], "green");
        assert_eq!(payload(&cx(json!({}), Level::Info, ""))["color"], "green");
        assert_eq!(
            payload(&cx(json!({}), Level::Warning, ""))["color"],
            "yellow"
        );
    }

    #[test]
    fn handler_room_and_token_win_over_the_config() {
        let c = cx(json!({"room": "Ops Room", "token": "t&k"}), Level::Ok, "");
        assert_eq!(
            url(&c),
            "https://acme.hipchat.com/v2/room/Ops%20Room/notification?auth_token=t%26k"
        );
        let c = cx(json!({"room": "", "token": ""}), Level::Ok, "");
        assert!(url(&c).ends_with("/room/1234/notification?auth_token=conf+token"));
        assert!(HipChat::check(json!({"channel": "x"}).as_object().unwrap()).is_err());
    }
}
