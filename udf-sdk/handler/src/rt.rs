//! The glue `export_handler!` expands to: JSON in, typed values to the handler.

use serde_json::{Map, Value};

use crate::bindings::farad::udf::alerts::{Event as WitEvent, PluginInfo};
use crate::{Context, Event, Handler};

/// Each call runs in a fresh instance: the hook logs a panic's message, which Farad shows as
/// the reason for the trap that follows.
fn install_panic_hook() {
    #[cfg(target_arch = "wasm32")]
    std::panic::set_hook(Box::new(|info| {
        crate::log(crate::LogLevel::Error, &format!("panic: {info}"));
    }));
}

pub fn info<H: Handler>() -> PluginInfo {
    install_panic_hook();
    let i = H::info();
    PluginInfo {
        kind: i.kind,
        property: i.property,
        config_section: i.config_section,
        default_config: i.default_config.to_string(),
    }
}

fn object(what: &str, text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(format!("{what} must be a JSON object, got {other}")),
        Err(e) => Err(format!("{what} is not JSON: {e}")),
    }
}

pub fn check<H: Handler>(options: &str) -> Result<(), String> {
    install_panic_hook();
    H::check(&object("options", options)?).map_err(|e| e.0)
}

pub fn handle<H: Handler>(config: &str, options: &str, event: WitEvent) -> Result<(), String> {
    install_panic_hook();
    let cx = Context {
        config: object("config", config)?,
        options: object("options", options)?,
        event: Event::from_wit(event),
    };
    H::handle(&cx).map_err(|e| e.0)
}
