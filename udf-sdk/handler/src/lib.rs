//! Write a Farad alert handler plugin in Rust.
//!
//! A handler is a type implementing [`Handler`], exported with [`export_handler!`] and built
//! for `wasm32-wasip2`. Farad calls it once per alert event with the handler's config section
//! and options as JSON; its only way out is [`Request::send`], to hosts its config names.
//!
//! ```ignore
//! use farad_handler_sdk::{Context, Error, Handler, Info, Request};
//! use serde_json::json;
//!
//! struct Chat;
//!
//! impl Handler for Chat {
//!     fn info() -> Info {
//!         Info::new("chat", "chat", "chat", json!({"enabled": false, "url": ""}))
//!     }
//!     fn handle(cx: &Context) -> Result<(), Error> {
//!         let body = json!({"text": cx.event.message});
//!         Request::post(cx.config_str("url")).json(&body).send()?.ok()?;
//!         Ok(())
//!     }
//! }
//!
//! farad_handler_sdk::export_handler!(Chat);
//! ```
//!
//! The contract is the `handler` world in `udf-sdk/wit/handler.wit`.

mod context;
pub mod go;
mod http;
mod options;
#[doc(hidden)]
pub mod rt;
mod time;
pub mod url;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "handler",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_handler_world",
        default_bindings_module: "farad_handler_sdk::bindings",
    });
}

pub use bindings::farad::udf::alerts::Level;
pub use bindings::farad::udf::types::LogLevel;
pub use context::{Context, Event};
pub use http::{Request, Response, tcp_send};
pub use options::OptionNames;
pub use time::rfc3339;

/// What a handler tells Farad about itself.
#[derive(Clone, Debug)]
pub struct Info {
    pub kind: String,
    pub property: String,
    pub config_section: String,
    pub default_config: serde_json::Value,
}

impl Info {
    /// `kind`: the topic handler kind; `property`: the alert node property (empty: none);
    /// `section`: the config section; `defaults`: that section's defaults.
    pub fn new(kind: &str, property: &str, section: &str, defaults: serde_json::Value) -> Info {
        Info {
            kind: kind.into(),
            property: property.into(),
            config_section: section.into(),
            default_config: defaults,
        }
    }
}

/// Why a handler failed: the text lands in Farad's log and the handler's error count.
#[derive(Clone, Debug, PartialEq)]
pub struct Error(pub String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Error {
        Error(msg.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Error {
    fn from(s: String) -> Error {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Error {
        Error(s.into())
    }
}

/// An alert handler.
pub trait Handler {
    /// Called once, when Farad loads the plugin.
    fn info() -> Info;

    /// Checks options when a task or topic handler is defined. The default accepts any.
    fn check(options: &serde_json::Map<String, serde_json::Value>) -> Result<(), Error> {
        let _ = options;
        Ok(())
    }

    /// Sends one event.
    fn handle(cx: &Context) -> Result<(), Error>;
}

/// Refuses options other than `allowed`, as Kapacitor does (a misspelt option would
/// otherwise be ignored in silence).
pub fn only_options(
    options: &serde_json::Map<String, serde_json::Value>,
    allowed: &[&str],
) -> Result<(), Error> {
    match options.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(Error(format!(
            "unknown option {k:?} (options: {})",
            allowed.join(", ")
        ))),
    }
}

/// Writes a line to Farad's log.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{level:?}: {message}");
}

/// Renders a Go text/template against the event being handled (`{{ .Name }}`,
/// `{{ index .Tags "host" }}`, `{{ .ID }}` ...), with Farad's template engine.
pub fn render(template: &str) -> Result<String, Error> {
    if !template.contains("{{") {
        return Ok(template.to_owned());
    }
    #[cfg(target_arch = "wasm32")]
    return bindings::render(template).map_err(Error);
    #[cfg(not(target_arch = "wasm32"))]
    Err(Error::new("templates render only inside Farad"))
}

/// Exports `$ty` (a [`Handler`]) as the component's `handler` world.
#[macro_export]
macro_rules! export_handler {
    ($ty:ty) => {
        const _: () = {
            struct FaradHandlerExport;

            impl $crate::bindings::Guest for FaradHandlerExport {
                fn info() -> $crate::bindings::farad::udf::alerts::PluginInfo {
                    $crate::rt::info::<$ty>()
                }
                fn check(
                    options: ::std::string::String,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::rt::check::<$ty>(&options)
                }
                fn handle(
                    config: ::std::string::String,
                    options: ::std::string::String,
                    event: $crate::bindings::farad::udf::alerts::Event,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::rt::handle::<$ty>(&config, &options, event)
                }
            }

            $crate::bindings::__export_handler_world!(FaradHandlerExport with_types_in $crate::bindings);
        };
    };
}
