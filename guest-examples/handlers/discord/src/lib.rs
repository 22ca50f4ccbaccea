//! Discord: the alert's message as an embed coloured by level (with the handler's rendered
//! title and, if the workspace asks, the event time), posted to the workspace's webhook.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request, rfc3339};
use serde_json::{Map, Value, json};

pub struct Discord;

/// The embed colour for a level, as the decimal integer Discord takes.
fn color(level: Level) -> u32 {
    match level {
        Level::Critical => 0xF95F53,
        Level::Warning => 0xF48D38,
        _ => 0x7A65F2,
    }
}

/// The webhook's body. `title` is the handler's `embed-title`, rendered: Kapacitor has no
/// fallback to the section's `embed-title`.
pub fn payload(cx: &Context, title: &str) -> Value {
    let e = &cx.event;
    // RFC 3339 in whole seconds (Go's `time.RFC3339`), or "" unless the workspace wants it.
    let timestamp = if cx.config_bool("timestamp") {
        rfc3339(e.time - e.time.rem_euclid(1_000_000_000))
    } else {
        String::new()
    };
    json!({
        "avatar_url": cx.setting("avatar-url"),
        "embeds": [{
            "color": color(e.level),
            "title": title,
            "description": e.message,
            "timestamp": timestamp,
        }],
        "username": cx.setting("username"),
    })
}

impl Handler for Discord {
    fn info() -> Info {
        Info::new(
            "discord",
            "discord",
            "discord",
            json!({
                "enabled": false, "default": false, "workspace": "", "url": "",
                "timestamp": false, "username": "", "avatar-url": "", "embed-title": "",
                "global": false, "state-changes-only": false, "ssl-ca": "", "ssl-cert": "",
                "ssl-key": "", "insecure-skip-verify": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(
            options,
            &["workspace", "username", "avatar-url", "embed-title"],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let title = farad_handler_sdk::render(cx.option_str("embed-title").unwrap_or(""))?;
        let r = Request::post(cx.config_str("url"))
            .json(&payload(cx, &title))
            .send()?;
        // Only 204: Discord answers 200 with a body when `?wait=true`, which Kapacitor
        // counts as a failure too.
        if r.status != 204 {
            return Err(r.refusal("Discord", "error"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Discord);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    #[test]
    fn a_critical_event_is_a_red_embed() {
        let c = cx(
            json!({"url": "https://discord.com/api/webhooks/1/x", "username": "kapacitor",
                "avatar-url": "https://a/av.png", "embed-title": "unused"}),
            json!({}),
            Level::Critical,
            "cpu:a is CRITICAL",
        );
        assert_eq!(
            payload(&c, ""),
            json!({
                "avatar_url": "https://a/av.png", "username": "kapacitor",
                "embeds": [{"color": 16342867, "title": "", "description": "cpu:a is CRITICAL",
                    "timestamp": ""}],
            })
        );
    }

    #[test]
    fn an_ok_event_with_timestamps_and_handler_options() {
        let mut c = cx(
            json!({"timestamp": true, "username": "kapacitor", "avatar-url": "https://a/av.png"}),
            json!({"username": "farad", "avatar-url": ""}),
            Level::Ok,
            "cpu:a is OK",
        );
        c.event.time += 500_000_000;
        assert_eq!(
            payload(&c, "Kapacitor Alert"),
            json!({
                "avatar_url": "https://a/av.png", "username": "farad",
                "embeds": [{"color": 8021490, "title": "Kapacitor Alert",
                    "description": "cpu:a is OK", "timestamp": "2026-11-26T10:00:00Z"}],
            })
        );
        assert_eq!(color(Level::Warning), 16026936);
        assert_eq!(color(Level::Info), 8021490);
    }

    #[test]
    fn options_are_kapacitors() {
        let ok = json!({"workspace": "w", "avatar-url": "u", "embed-title": "t"});
        assert!(Discord::check(ok.as_object().unwrap()).is_ok());
        assert!(Discord::check(json!({"url": "u"}).as_object().unwrap()).is_err());
    }
}
