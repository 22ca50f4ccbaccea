//! Slack: the alert's message as an attachment coloured by level, posted to the workspace's
//! webhook URL (or `chat.postMessage` with a bearer token).

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Value, json};

pub struct Slack;

/// The attachment colour Slack shows for a level.
fn color(level: Level) -> &'static str {
    match level {
        Level::Warning => "warning",
        Level::Critical => "danger",
        _ => "good",
    }
}

/// The body Slack's API takes.
pub fn payload(cx: &Context) -> Value {
    let message = &cx.event.message;
    json!({
        "channel": cx.setting("channel"),
        "text": "",
        "attachments": [{
            "fallback": message,
            "color": color(cx.event.level),
            "text": message,
            "mrkdwn_in": ["text"],
        }],
        "username": cx.setting("username"),
        "icon_emoji": cx.setting("icon-emoji"),
    })
}

impl Handler for Slack {
    fn info() -> Info {
        Info::new(
            "slack",
            "slack",
            "slack",
            json!({
                "enabled": false, "default": false, "workspace": "", "url": "", "token": "",
                "channel": "", "username": "kapacitor", "icon-emoji": "", "global": false,
                "state-changes-only": false, "ssl-ca": "", "ssl-cert": "", "ssl-key": "",
                "insecure-skip-verify": false,
            }),
        )
    }

    fn check(options: &serde_json::Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(
            options,
            &["workspace", "channel", "username", "icon-emoji"],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let mut req = Request::post(cx.config_str("url")).json(&payload(cx));
        let token = cx.config_str("token");
        if !token.is_empty() {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        req.send()?.ok()?;
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Slack);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    #[test]
    fn options_override_the_workspace_defaults() {
        let cx = Context {
            config: json!({"channel": "#alerts", "username": "kapacitor", "icon-emoji": ":x:"})
                .as_object()
                .cloned()
                .unwrap(),
            options: json!({"channel": "#ops", "username": ""})
                .as_object()
                .cloned()
                .unwrap(),
            event: Event::example(Level::Critical, "cpu is high"),
        };
        let p = payload(&cx);
        assert_eq!(p["channel"], "#ops");
        assert_eq!(p["username"], "kapacitor");
        assert_eq!(p["icon_emoji"], ":x:");
        assert_eq!(p["attachments"][0]["color"], "danger");
        assert_eq!(p["attachments"][0]["text"], "cpu is high");
        assert_eq!(p["attachments"][0]["mrkdwn_in"], json!(["text"]));
    }
}
