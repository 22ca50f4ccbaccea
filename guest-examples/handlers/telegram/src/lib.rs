//! Telegram: the alert's message sent by the bot (`<url><token>/sendMessage`) to a chat, with
//! the parse mode and the two "disable" flags Kapacitor sends.

use farad_handler_sdk::{Context, Error, Handler, Info, Request, Response};
use serde_json::{Map, Value, json};

pub struct Telegram;

/// A setting as text: chat ids are numbers to Telegram, and a TOML `chat-id = 123` should not
/// be lost.
fn setting_text(cx: &Context, key: &str) -> String {
    match cx.setting_value(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The body of `sendMessage`.
pub fn payload(cx: &Context) -> Result<Value, Error> {
    let parse_mode = cx.setting("parse-mode");
    if !parse_mode.is_empty()
        && !parse_mode.eq_ignore_ascii_case("markdown")
        && !parse_mode.eq_ignore_ascii_case("html")
    {
        return Err(Error(format!(
            "parseMode {parse_mode} is not valid, please use 'Markdown' or 'HTML'"
        )));
    }
    let mut body = Map::new();
    body.insert("chat_id".into(), setting_text(cx, "chat-id").into());
    body.insert("text".into(), cx.event.message.clone().into());
    if !parse_mode.is_empty() {
        body.insert("parse_mode".into(), parse_mode.into());
    }
    // OR'ed with the config, as Kapacitor does: a handler cannot turn a section's flag off.
    for (key, field) in [
        ("disable-web-page-preview", "disable_web_page_preview"),
        ("disable-notification", "disable_notification"),
    ] {
        if cx.option_bool(key) || cx.config_bool(key) {
            body.insert(field.into(), Value::Bool(true));
        }
    }
    Ok(Value::Object(body))
}

/// Go's `path.Clean` for the URL path Kapacitor builds with `path.Join`.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Percent-encodes what Go's URL writer escapes in a path (the token is spliced into one).
fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url`'s path with the token appended to it (string concatenation), then `sendMessage`
/// joined: `https://api.telegram.org/bot<token>/sendMessage` for the default.
pub fn send_message_url(base: &str, token: &str) -> String {
    let (scheme_host, rest) = match base.find("://") {
        Some(i) => {
            let after = &base[i + 3..];
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            base.split_at(i + 3 + end)
        }
        None => ("", base),
    };
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, suffix) = rest.split_at(path_end);
    let mut path = clean_path(&format!("{path}{}/sendMessage", escape_path(token)));
    if !scheme_host.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    format!("{scheme_host}{path}{suffix}")
}

/// Kapacitor's error for a refused message: Telegram's `error_code` and `description`.
fn failure(r: &Response) -> Error {
    let body = String::from_utf8_lossy(&r.body);
    match serde_json::from_slice::<Value>(&r.body) {
        Ok(v) => Error(format!(
            "sendMessage error ({}) description: {}",
            v["error_code"].as_i64().unwrap_or(0),
            v["description"].as_str().unwrap_or("")
        )),
        Err(e) => Error(format!(
            "failed to understand Telegram response (err: {e}). code: {} content: {}",
            r.status,
            body.chars().take(512).collect::<String>()
        )),
    }
}

impl Handler for Telegram {
    fn info() -> Info {
        Info::new(
            "telegram",
            "telegram",
            "telegram",
            json!({
                "enabled": false, "url": "https://api.telegram.org/bot", "token": "",
                "chat-id": "", "parse-mode": "", "disable-web-page-preview": false,
                "disable-notification": false, "global": false, "state-changes-only": false,
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(
            options,
            &[
                "chat-id",
                "parse-mode",
                "disable-web-page-preview",
                "disable-notification",
            ],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let body = payload(cx)?;
        let url = send_message_url(cx.config_str("url"), cx.config_str("token"));
        let r = Request::post(url).json(&body).send()?;
        if r.status != 200 {
            return Err(failure(&r));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Telegram);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::{Event, Level};

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    #[test]
    fn a_critical_event_goes_to_the_config_chat() {
        let c = cx(
            json!({"chat-id": "-100", "parse-mode": "Markdown"}),
            json!({}),
            Level::Critical,
            "cpu:a is CRITICAL",
        );
        assert_eq!(
            payload(&c).unwrap(),
            json!({"chat_id": "-100", "text": "cpu:a is CRITICAL", "parse_mode": "Markdown"})
        );
    }

    #[test]
    fn options_win_but_flags_are_ored() {
        let c = cx(
            json!({"chat-id": 12345, "parse-mode": "HTML", "disable-notification": true}),
            json!({"chat-id": "678", "parse-mode": "", "disable-web-page-preview": true,
                "disable-notification": false}),
            Level::Ok,
            "cpu:a is OK",
        );
        assert_eq!(
            payload(&c).unwrap(),
            json!({"chat_id": "678", "text": "cpu:a is OK", "parse_mode": "HTML",
                "disable_web_page_preview": true, "disable_notification": true})
        );
        let c = cx(json!({"chat-id": 12345}), json!({}), Level::Ok, "m");
        assert_eq!(
            payload(&c).unwrap(),
            json!({"chat_id": "12345", "text": "m"})
        );
    }

    #[test]
    fn an_unknown_parse_mode_sends_nothing() {
        let c = cx(json!({}), json!({"parse-mode": "rst"}), Level::Warning, "m");
        assert_eq!(
            payload(&c).unwrap_err().0,
            "parseMode rst is not valid, please use 'Markdown' or 'HTML'"
        );
    }

    #[test]
    fn the_token_is_appended_to_the_url_path() {
        assert_eq!(
            send_message_url("https://api.telegram.org/bot", "123:AB-c"),
            "https://api.telegram.org/bot123:AB-c/sendMessage"
        );
        assert_eq!(
            send_message_url("http://127.0.0.1:8080/tg/bot/", "t"),
            "http://127.0.0.1:8080/tg/bot/t/sendMessage"
        );
        assert_eq!(
            send_message_url("http://h:1", "t"),
            "http://h:1/t/sendMessage"
        );
    }

    #[test]
    fn options_are_kapacitors() {
        assert!(Telegram::check(json!({"chat-id": "1"}).as_object().unwrap()).is_ok());
        assert!(Telegram::check(json!({"chatId": "1"}).as_object().unwrap()).is_err());
    }
}
