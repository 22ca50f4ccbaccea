//! Microsoft Teams: an Office 365 connector MessageCard (level and id as the title, the
//! message as the text, a colour by level) posted to the channel's webhook.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request};
use serde_json::{Map, Value, json};

pub struct Teams;

/// The card's colour for a level (hex, no `#`).
fn theme_color(level: Level) -> &'static str {
    match level {
        Level::Warning => "FFA533",
        Level::Critical => "CC4A31",
        _ => "34CC25",
    }
}

/// The first `max` bytes of `s` as Go's `json.Marshal` sends them: a multi-byte character
/// cut in two leaves one U+FFFD per stray byte.
fn go_cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    out.extend(std::iter::repeat_n('\u{FFFD}', max - end));
    out
}

/// The MessageCard.
pub fn payload(cx: &Context) -> Value {
    let e = &cx.event;
    let level = e.level_name();
    let (title, summary) = match (e.id.is_empty(), e.topic.is_empty()) {
        (true, true) => (level.to_owned(), format!("{level}: {}", e.message)),
        (true, false) => {
            let t = format!("{level}: [{}]", e.topic);
            let s = format!("{t} - {}", e.message);
            (t, s)
        }
        _ => {
            let t = format!("{level}: [{}]", e.id);
            let s = format!("{t} - {}", e.message);
            (t, s)
        }
    };
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "title": title,
        "text": e.message,
        // Kapacitor cuts at 70 bytes and always appends the ellipsis.
        "summary": format!("{}...", go_cut(&summary, 70)),
        "themeColor": theme_color(e.level),
    })
}

impl Handler for Teams {
    fn info() -> Info {
        Info::new(
            "teams",
            "teams",
            "teams",
            json!({
                "enabled": false, "channel-url": "", "global": false,
                "state-changes-only": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(options, &["channel-url"])
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let r = Request::post(cx.setting("channel-url"))
            .json(&payload(cx))
            .send()?;
        if r.status != 200 && r.status != 204 {
            return Err(r.refusal("Teams", "error"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Teams);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(options: Value, level: Level, msg: &str) -> Context {
        Context::example(
            json!({"channel-url": "https://outlook.office.com/webhook/config"}),
            options,
            Event::example(level, msg),
        )
    }

    #[test]
    fn a_critical_event_is_a_red_card_titled_by_its_id() {
        assert_eq!(
            payload(&cx(json!({}), Level::Critical, "cpu:a is CRITICAL")),
            json!({
                "@type": "MessageCard", "@context": "http://schema.org/extensions",
                "title": "CRITICAL: [cpu:host=a]", "text": "cpu:a is CRITICAL",
                "summary": "CRITICAL: [cpu:host=a] - cpu:a is CRITICAL...",
                "themeColor": "CC4A31",
            })
        );
    }

    #[test]
    fn an_ok_event_is_green_and_long_summaries_are_cut() {
        let msg = "x".repeat(100);
        let p = payload(&cx(json!({}), Level::Ok, &msg));
        assert_eq!(p["themeColor"], "34CC25");
        assert_eq!(p["title"], "OK: [cpu:host=a]");
        let summary = format!("OK: [cpu:host=a] - {}...", &msg[..51]);
        assert_eq!(p["summary"], summary.as_str());
        assert_eq!(p["summary"].as_str().unwrap().len(), 73);
    }

    #[test]
    fn without_an_id_the_topic_names_the_alert() {
        let mut c = cx(json!({}), Level::Warning, "m");
        c.event.id.clear();
        let p = payload(&c);
        assert_eq!(p["title"], "WARNING: [main:cpu_alert:alert2]");
        assert_eq!(p["summary"], "WARNING: [main:cpu_alert:alert2] - m...");
        assert_eq!(p["themeColor"], "FFA533");
        c.event.topic.clear();
        let p = payload(&c);
        assert_eq!(p["title"], "WARNING");
        assert_eq!(p["summary"], "WARNING: m...");
    }

    #[test]
    fn a_cut_character_becomes_one_replacement_per_byte() {
        // 69 ASCII bytes then a 3-byte character: two of its bytes are cut off.
        let s = format!("{}€", "a".repeat(69));
        assert_eq!(go_cut(&s, 70), format!("{}\u{FFFD}", "a".repeat(69)));
        let s = format!("{}€", "a".repeat(68));
        assert_eq!(
            go_cut(&s, 70),
            format!("{}\u{FFFD}\u{FFFD}", "a".repeat(68))
        );
    }

    #[test]
    fn the_handler_channel_wins_over_the_config() {
        let c = cx(
            json!({"channel-url": "https://outlook.office.com/webhook/handler"}),
            Level::Ok,
            "m",
        );
        assert_eq!(
            c.setting("channel-url"),
            "https://outlook.office.com/webhook/handler"
        );
        let c = cx(json!({"channel-url": ""}), Level::Ok, "m");
        assert_eq!(
            c.setting("channel-url"),
            "https://outlook.office.com/webhook/config"
        );
        assert!(Teams::check(json!({"channel_url": "x"}).as_object().unwrap()).is_err());
    }
}
