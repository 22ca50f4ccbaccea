//! A user's handler plugin: the event's JSON to `[webhook] url`, with a rendered header.

use farad_handler_sdk::{Context, Error, Handler, Info, Request, render};
use serde_json::{Map, Value, json};

struct Webhook;

impl Handler for Webhook {
    fn info() -> Info {
        Info::new(
            "webhook",
            "webhook",
            "webhook",
            json!({"enabled": true, "url": ""}),
        )
    }

    fn check(options: &Map<String, Value>) -> Result<(), Error> {
        farad_handler_sdk::only_options(options, &["elsewhere", "note", "panic", "hog"])
    }

    fn handle(cx: &Context) -> Result<(), Error> {
        // Misbehaving on request: a trap, and memory without bound.
        if cx.option_bool("panic") {
            panic!("told to panic");
        }
        if cx.option_bool("hog") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
            }
        }
        // Somewhere the config does not name: the host must refuse it.
        if let Some(url) = cx.option_str("elsewhere") {
            Request::post(url).json(&json!({})).send()?.ok()?;
        }
        let who = render("{{ .TaskName }}/{{ index .Tags \"host\" }}/{{ .Level }}")?;
        Request::post(cx.config_str("url"))
            .header("X-Alert", who)
            .header("X-Note", cx.setting("note"))
            .json(&json!({"event": cx.event.to_json(), "fields": cx.event.fields()}))
            .send()?
            .ok()?;
        Ok(())
    }
}

farad_handler_sdk::export_handler!(Webhook);
