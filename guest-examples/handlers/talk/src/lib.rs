//! Talk (jianliao.com): the alert's id as the title and its message as the text, posted to
//! the team's incoming webhook under the section's author name.

use farad_handler_sdk::{Context, Error, Handler, Info, Request};
use serde_json::{Value, json};

pub struct Talk;

/// The webhook's body.
pub fn payload(cx: &Context) -> Value {
    json!({
        "authorName": cx.config_str("author_name"),
        "text": cx.event.message,
        "title": cx.event.id,
    })
}

impl Handler for Talk {
    fn info() -> Info {
        Info::new(
            "talk",
            "talk",
            "talk",
            json!({"enabled": false, "url": "", "author_name": ""}),
        )
    }

    // No `check`: Kapacitor does not decode a talk handler's options at all, so any are
    // accepted (and ignored).

    fn handle(cx: &Context) -> Result<(), Error> {
        let r = Request::post(cx.config_str("url"))
            .json(&payload(cx))
            .send()?;
        if r.status != 200 {
            let body = String::from_utf8_lossy(&r.body);
            return Err(Error(format!(
                "failed to understand Talk response. code: {} content: {}",
                r.status,
                body.chars().take(512).collect::<String>()
            )));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Talk);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::{Event, Level};

    fn cx(level: Level, msg: &str) -> Context {
        Context {
            config: json!({"url": "https://jianliao.com/v2/services/webhook/uuid",
                "author_name": "Kapacitor"})
            .as_object()
            .cloned()
            .unwrap(),
            options: json!({"ignored": true}).as_object().cloned().unwrap(),
            event: Event::example(level, msg),
        }
    }

    #[test]
    fn critical_and_ok_events_carry_id_and_message() {
        assert_eq!(
            payload(&cx(Level::Critical, "cpu:a is CRITICAL")),
            json!({"authorName": "Kapacitor", "text": "cpu:a is CRITICAL", "title": "cpu:host=a"})
        );
        assert_eq!(
            payload(&cx(Level::Ok, "cpu:a is OK")),
            json!({"authorName": "Kapacitor", "text": "cpu:a is OK", "title": "cpu:host=a"})
        );
    }

    #[test]
    fn any_options_are_accepted_as_kapacitor_ignores_them() {
        assert!(Talk::check(json!({"title": "x"}).as_object().unwrap()).is_ok());
    }
}
