//! Sensu: the alert as a check result (`name`, `source`, `output`, `status`, `handlers` and
//! metadata), one JSON line written to the Sensu client's socket, which answers `ok`.

use farad_handler_sdk::{Context, Error, Handler, Info, Level, render, tcp_send};
use serde_json::{Map, Value, json};

pub struct Sensu;

/// Sensu's check statuses.
fn status(level: Level) -> i64 {
    match level {
        Level::Ok | Level::Info => 0,
        Level::Warning => 1,
        Level::Critical => 2,
    }
}

/// Sensu takes check names of word characters, `.` and `-` only.
fn valid_name(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// The check result; `source` is already rendered.
pub fn payload(cx: &Context, source: &str) -> Result<Value, Error> {
    let id = &cx.event.id;
    if !valid_name(id) {
        return Err(Error(format!(
            "invalid name {id:?} for sensu alert. Must match ^[\\w\\.-]+$"
        )));
    }
    let source = if source.is_empty() {
        cx.config_str("source").to_owned()
    } else {
        source.to_owned()
    };
    let handlers = cx.setting_list("handlers");
    let mut out = Map::new();
    out.insert("name".into(), json!(id));
    out.insert("source".into(), json!(source));
    out.insert("output".into(), json!(cx.event.message));
    out.insert("status".into(), json!(status(cx.event.level)));
    out.insert(
        "handlers".into(),
        if handlers.is_empty() {
            Value::Null
        } else {
            json!(handlers)
        },
    );
    if let Some(Value::Object(meta)) = cx.options.get("metadata") {
        for (k, v) in meta {
            // Metadata never replaces the check's own keys.
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(Value::Object(out))
}

impl Handler for Sensu {
    fn info() -> Info {
        Info::new(
            "sensu",
            "sensu",
            "sensu",
            json!({"enabled": false, "addr": "", "source": "Kapacitor", "handlers": []}),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(options, &["source", "handlers", "metadata"])
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        let source = render(cx.option_str("source").unwrap_or(""))?;
        let mut line = payload(cx, &source)?.to_string().into_bytes();
        line.push(b'\n');
        let answer = tcp_send(cx.config_str("addr"), &line)?;
        let answer = String::from_utf8_lossy(&answer);
        if answer != "ok" {
            return Err(Error(format!("sensu socket error: {answer}")));
        }
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Sensu);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_handler_sdk::Event;

    fn cx(options: Value, level: Level, id: &str) -> Context {
        let mut event = Event::example(level, "cpu is high");
        event.id = id.into();
        Context::example(
            json!({"addr": "127.0.0.1:3030", "source": "Kapacitor", "handlers": ["default"]}),
            options,
            event,
        )
    }

    #[test]
    fn check_results_carry_status_handlers_and_metadata() {
        let c = cx(
            json!({"handlers": ["sns", "slack"], "metadata": {"team": "ops", "status": 9}}),
            Level::Warning,
            "cpu.host-a",
        );
        assert_eq!(
            payload(&c, "host-a").unwrap(),
            json!({"name": "cpu.host-a", "source": "host-a", "output": "cpu is high",
                "status": 1, "handlers": ["sns", "slack"], "team": "ops"})
        );
        let ok = cx(json!({}), Level::Ok, "x");
        let p = payload(&ok, "").unwrap();
        assert_eq!(p["status"], 0);
        assert_eq!(p["source"], "Kapacitor");
        assert_eq!(p["handlers"], json!(["default"]));
    }

    #[test]
    fn names_sensu_refuses_are_not_sent() {
        let c = cx(json!({}), Level::Critical, "cpu:host=a");
        assert!(payload(&c, "").unwrap_err().0.contains("invalid name"));
    }
}
