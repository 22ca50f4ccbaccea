//! Service tests (`/kapacitor/v1/service-tests`): each handler's configuration tried for real
//! with a test event or message, as Kapacitor's service tests do. Every handler plugin has
//! one, beside `smtp`, `mqtt`, `snmptrap`, `kafka`, `httppost` and `influxdb`.

use farad_runtime::exec::{EventData, HttpRequest, Io, TopicEvent};
use serde_json::{Map, Value, json};

use crate::outputs::Outputs;

/// The services that can be tested and their default options, by name.
pub fn list(outputs: &Outputs) -> Vec<(String, Value)> {
    let mut out = vec![
        (
            "httppost".to_owned(),
            json!({"endpoint": "example", "url": "http://localhost:3000/",
                "headers": {"Auth": "secret"}, "timeout": 0}),
        ),
        ("influxdb".to_owned(), json!({"cluster": ""})),
        (
            "mqtt".to_owned(),
            json!({"broker-name": "", "topic": "test", "message": "test MQTT message",
                "qos": "at-most-once", "retained": false}),
        ),
        (
            "smtp".to_owned(),
            json!({"to": [], "subject": "test subject", "body": "test body"}),
        ),
        (
            "snmptrap".to_owned(),
            json!({"trap-oid": "1.1.1.1", "data-list": [{"oid": "1.1.1.1.2", "type": "s",
                "value": "test snmptrap message"}]}),
        ),
        (
            "kafka".to_owned(),
            json!({"cluster": "example", "topic": "test", "key": "key",
                "message": "test kafka message"}),
        ),
    ];
    for kind in outputs.services.plugins.kinds() {
        let options = plugin_defaults(&kind);
        out.push((kind, options));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn plugin_defaults(kind: &str) -> Value {
    json!({"id": "testAlertID", "message": format!("test {kind} message"), "level": "CRITICAL"})
}

/// Runs the test of service `name` with `options` over its defaults: `None` when there is no
/// such service, else what the test found.
pub fn run(
    outputs: &Outputs,
    name: &str,
    options: &Map<String, Value>,
) -> Option<Result<(), String>> {
    let str_of = |k: &str, default: &str| -> String {
        options
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    Some(match name {
        "smtp" => {
            let to: Vec<String> = match options.get("to") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
                _ => Vec::new(),
            };
            outputs.services.mailer.get().send(
                &to,
                &str_of("subject", "test subject"),
                &str_of("body", "test body"),
            )
        }
        "mqtt" => {
            let qos = match str_of("qos", "at-most-once").as_str() {
                "at-most-once" | "0" => 0,
                "at-least-once" | "1" => 1,
                "exactly-once" | "2" => 2,
                q => return Some(Err(format!("invalid qos {q:?}"))),
            };
            outputs.services.mqtt.get().publish(
                &str_of("broker-name", ""),
                &str_of("topic", "test"),
                qos,
                options.get("retained").and_then(Value::as_bool) == Some(true),
                str_of("message", "test MQTT message").as_bytes(),
            )
        }
        "influxdb" => outputs
            .influxdb
            .check(&str_of("cluster", ""))
            .and_then(|()| {
                outputs
                    .influxdb
                    .query(&str_of("cluster", ""), "SHOW DATABASES")
                    .map(|_| ())
            }),
        "httppost" => {
            let url = match options.get("url").and_then(Value::as_str) {
                Some(u) if !u.is_empty() => u.to_owned(),
                _ => match outputs.endpoint(&str_of("endpoint", "example")) {
                    Some(e) => e.url,
                    None => return Some(Err("no url and no such endpoint".into())),
                },
            };
            let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
            if let Some(Value::Object(h)) = options.get("headers") {
                for (k, v) in h {
                    headers.push((k.clone(), v.as_str().unwrap_or_default().to_owned()));
                }
            }
            let code = outputs.post_and_wait(HttpRequest {
                url: url.clone(),
                headers,
                basic_auth: None,
                body: br#"{"test":"httppost"}"#.to_vec(),
                timeout_ns: 0,
                capture_response: false,
                skip_ssl_verification: false,
            });
            if (200..300).contains(&code) {
                Ok(())
            } else if code == 0 {
                Err(format!("failed to POST to {url}"))
            } else {
                Err(format!("POST to {url} answered {code}"))
            }
        }
        "snmptrap" => {
            let mut o = Map::new();
            o.insert("trap-oid".into(), json!(str_of("trap-oid", "1.1.1.1")));
            o.insert(
                "data-list".into(),
                options.get("data-list").cloned().unwrap_or_else(
                    || json!([{"oid": "1.1.1.1.2", "type": "s", "value": "test snmptrap message"}]),
                ),
            );
            crate::snmptrap::TrapOptions::parse(&o).and_then(|t| {
                outputs
                    .services
                    .snmptrap
                    .get()
                    .trap(&t.trap_oid, &t.data_list)
            })
        }
        "kafka" => {
            let target = crate::kafka::KafkaOptions {
                cluster: str_of("cluster", "example"),
                topic: str_of("topic", "test"),
                ..Default::default()
            };
            let kafka = outputs.services.kafka.get();
            kafka
                .write(
                    &target,
                    str_of("key", "key").as_bytes(),
                    str_of("message", "test kafka message").as_bytes(),
                )
                // A test reports delivery, not only queueing.
                .and_then(|()| kafka.flush_checked(std::time::Duration::from_secs(10)))
        }
        kind if outputs.services.plugins.has(kind) => plugin_test(outputs, kind, options),
        _ => return None,
    })
}

/// A plugin's test: an event of the given id, message and level through the handler, with
/// the remaining options as the handler's own.
fn plugin_test(outputs: &Outputs, kind: &str, options: &Map<String, Value>) -> Result<(), String> {
    let mut event_opts = plugin_defaults(kind)
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut handler_opts = Map::new();
    for (k, v) in options {
        match k.as_str() {
            "id" | "alert_id" | "alert-id" | "message" | "level" => {
                event_opts.insert(
                    k.replace("alert_id", "id").replace("alert-id", "id"),
                    v.clone(),
                );
            }
            _ => {
                handler_opts.insert(k.clone(), v.clone());
            }
        }
    }
    let level = event_opts["level"].as_str().unwrap_or("CRITICAL");
    let level = crate::topics::LEVELS[crate::topics::parse_level(level)?];
    let event = TopicEvent {
        topic: "service-test".into(),
        id: event_opts["id"].as_str().unwrap_or("testAlertID").into(),
        level,
        message: event_opts["message"].as_str().unwrap_or_default().into(),
        details: "".into(),
        time: crate::server::now_ns(),
        duration: 0,
        previous_level: "OK",
        recoverable: true,
        task: "".into(),
        row: EventData::Json(json!({"name": format!("test{kind}")})),
        group: farad_runtime::model::GroupKey::NIL,
    };
    outputs.services.plugins.check(kind, &handler_opts)?;
    outputs.services.plugins.handle(kind, &handler_opts, &event)
}
