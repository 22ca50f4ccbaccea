//! BigPanda: one alert (status by level, check = alert id, the event's tags and fields and the
//! handler's rendered host and attributes as flat string attributes) posted to the Alerts API.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, Request, render};
use serde_json::{Map, Value, json};

pub struct BigPanda;

/// BigPanda's status for a level.
fn status(level: Level) -> &'static str {
    match level {
        Level::Ok | Level::Info => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// A float as Go's `encoding/json` writes it: plain decimals, exponents only outside
/// [1e-6, 1e21), as `1e-7` or `1e+21`.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// A value as the string Kapacitor makes of it: strings as they are, anything else JSON
/// encoded (`10` -> `"10"`, `true` -> `"true"`).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_json_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Go's `html.UnescapeString` for what the details template writes: numeric references and
/// the common named ones.
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (ch, used) = entity(rest);
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity at the start of `s` (which starts with `&`) stands for, and its
/// length.
fn entity(s: &str) -> (Option<char>, usize) {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let digits = b[start..]
            .iter()
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return (None, 0);
        }
        let n = u32::from_str_radix(&s[start..start + digits], if hex { 16 } else { 10 })
            .unwrap_or(u32::MAX);
        let mut used = start + digits;
        if b.get(used) == Some(&b';') {
            used += 1;
        }
        return (Some(char::from_u32(n).unwrap_or('\u{FFFD}')), used);
    }
    for (name, c) in [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&apos;", '\''),
        ("&nbsp;", '\u{a0}'),
    ] {
        if s.starts_with(name) {
            return (Some(c), name.len());
        }
    }
    (None, 0)
}

/// The handler's attributes, rendered: `host` always (empty when unset), then each of
/// `attributes` (strings as templates, anything else JSON encoded).
pub fn attributes(cx: &Context) -> Result<Vec<(String, String)>, Error> {
    let mut out = vec![(
        "host".to_owned(),
        render(cx.option_str("host").unwrap_or(""))?,
    )];
    // `attributes` in a topic handler, `attribute` from `.attribute(k, v)` in TICKscript.
    for key in ["attribute", "attributes"] {
        if let Some(Value::Object(m)) = cx.options.get(key) {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => render(s)?,
                    other => text(other),
                };
                out.push((k.clone(), v));
            }
        }
    }
    Ok(out)
}

/// The alert. Later keys overwrite earlier ones, as in Kapacitor: tags and fields can replace
/// the standard keys, and the handler's attributes replace anything.
pub fn payload(cx: &Context, attributes: &[(String, String)]) -> Value {
    let e = &cx.event;
    let mut body = Map::new();
    let mut set = |k: &str, v: Value| {
        body.insert(k.to_owned(), v);
    };
    if !e.message.is_empty() {
        set("description", e.message.clone().into());
    }
    // The default details (the event as JSON) are left out.
    let details = html_unescape(&e.details);
    if !details.is_empty() && !details.starts_with('{') {
        set("details", details.into());
    }
    if !e.id.is_empty() {
        set("check", e.id.clone().into());
    }
    set("task", format!("{}:{}", e.task, e.name).into());
    set("timestamp", e.time.div_euclid(1_000_000_000).into());
    set("status", status(e.level).into());
    for key in ["primary-property", "secondary-property"] {
        if let Some(v) = cx.option_str(key) {
            set(&key.replace('-', "_"), v.into());
        }
    }
    set("app_key", cx.setting("app-key").into());
    let auto = cx.config_str("auto-attributes").to_ascii_lowercase();
    if auto.contains("tags") {
        for (k, v) in &e.tags {
            set(k, v.clone().into());
        }
    }
    if auto.contains("fields") {
        for (k, v) in e.fields() {
            if k != "time" {
                set(&k, text(&v).into());
            }
        }
    }
    for (k, v) in attributes {
        set(k, v.clone().into());
    }
    Value::Object(body)
}

impl Handler for BigPanda {
    fn info() -> Info {
        Info::new(
            "bigpanda",
            "bigPanda",
            "bigpanda",
            json!({
                "enabled": false, "global": false, "state-changes-only": false,
                "app-key": "", "token": "", "url": "https://api.bigpanda.io/data/v2/alerts",
                "insecure-skip-verify": false, "auto-attributes": "tags,fields",
            }),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(
            options,
            &[
                "app-key",
                "url",
                "host",
                "primary-property",
                "secondary-property",
                "attributes",
                "attribute",
            ],
        )
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let body = payload(cx, &attributes(cx)?);
        // The token is the section's only.
        let r = Request::post(cx.setting("url"))
            .header(
                "Authorization",
                format!("Bearer {}", cx.config_str("token")),
            )
            .json(&body)
            .send()?;
        if r.status != 201 {
            return Err(r.refusal("BigPanda", "error"));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(BigPanda);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(config: Value, options: Value, level: Level, msg: &str) -> Context {
        Context::example(config, options, Event::example(level, msg))
    }

    #[test]
    fn a_critical_event_with_tags_and_fields() {
        let c = cx(
            json!({"app-key": "111111", "auto-attributes": "tags,fields"}),
            json!({}),
            Level::Critical,
            "cpu:a is CRITICAL",
        );
        let attrs = attributes(&c).unwrap();
        assert_eq!(
            payload(&c, &attrs),
            json!({
                "app_key": "111111", "check": "cpu:host=a", "description": "cpu:a is CRITICAL",
                "status": "critical", "task": "cpu_alert:cpu", "timestamp": 1_795_687_200,
                // The tag `host` is overwritten by the (unset) host attribute, as in Kapacitor.
                "host": "", "value": "97.5",
            })
        );
    }

    #[test]
    fn an_ok_event_with_handler_options_and_no_auto_attributes() {
        let mut c = cx(
            json!({"app-key": "config-key", "auto-attributes": ""}),
            json!({"app-key": "handler-key", "host": "serverA", "primary-property": "host",
                "secondary-property": "", "attribute": {"ticks": 666, "ratio": 0.5, "up": true,
                "link": "https://example.org/x"}}),
            Level::Ok,
            "cpu:a is OK",
        );
        c.event.details = "https://example.org/link?a=1&amp;b=&#34;2&#34;".into();
        let attrs = attributes(&c).unwrap();
        assert_eq!(
            payload(&c, &attrs),
            json!({
                "app_key": "handler-key", "check": "cpu:host=a", "description": "cpu:a is OK",
                "details": "https://example.org/link?a=1&b=\"2\"", "status": "ok",
                "task": "cpu_alert:cpu", "timestamp": 1_795_687_200, "host": "serverA",
                "primary_property": "host", "ticks": "666", "ratio": "0.5", "up": "true",
                "link": "https://example.org/x",
            })
        );
    }

    #[test]
    fn default_details_json_and_empty_ids_are_left_out() {
        let mut c = cx(json!({}), json!({}), Level::Info, "");
        c.event.details = "{&#34;Name&#34;:&#34;cpu&#34;}".into();
        c.event.id.clear();
        let p = payload(&c, &[]);
        assert_eq!(
            p,
            json!({"app_key": "", "status": "ok", "task": "cpu_alert:cpu",
                "timestamp": 1_795_687_200})
        );
        assert_eq!(status(Level::Warning), "warning");
    }

    #[test]
    fn numbers_read_as_go_writes_them() {
        assert_eq!(text(&json!(10.0)), "10");
        assert_eq!(text(&json!(97.5)), "97.5");
        assert_eq!(text(&json!(1e21)), "1e+21");
        assert_eq!(text(&json!(1.5e-7)), "1.5e-7");
        assert_eq!(text(&json!(-3)), "-3");
        assert_eq!(html_unescape("a&lt;b&#x3e;c&#39;&bogus;"), "a<b>c'&bogus;");
    }

    #[test]
    fn options_are_kapacitors_and_tickscripts() {
        let ok = json!({"attributes": {}, "attribute": {}, "url": "u", "app-key": "k"});
        assert!(BigPanda::check(ok.as_object().unwrap()).is_ok());
        assert!(BigPanda::check(json!({"token": "t"}).as_object().unwrap()).is_err());
    }
}
