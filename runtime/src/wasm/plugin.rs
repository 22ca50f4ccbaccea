//! Alert handler plugins: components of the `handler` world (`udf-sdk/wit/handler.wit`).
//!
//! A plugin is stateless: each call gets a fresh instance from the pool (a few tens of µs,
//! nothing beside an event's network round trip), so a trap or a timeout costs one event
//! and nothing carries over. Its one way out is the `send` import, checked here against the
//! origins its config section names and then handed to the host's [`PluginNet`].

use gotmpl::Value as T;
use serde_json::{Map, Value};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Store, StoreContextMut};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::engine::{UdfEngine, UdfError};
use super::instance::{Limiter, OOM};
use crate::exec::TopicEvent;

/// What one call may take, its requests included (they time out after 30 s in the host).
const CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "../udf-sdk/wit",
        world: "handler",
    });
}

use bindings::farad::udf::alerts as wit;

/// An HTTP request a plugin asked for, after its origin was checked.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The host's network, as plugins may use it.
pub trait PluginNet: Send + Sync {
    /// Sends `req` and waits: the status and body, or why there was none.
    fn send(&self, req: PluginRequest) -> Result<(u16, Vec<u8>), String>;

    /// Writes `data` to a TCP connection to `addr` (`host:port`) and reads the answer until
    /// the peer closes, up to `limit` bytes.
    fn tcp(&self, addr: &str, data: &[u8], limit: usize) -> Result<Vec<u8>, String>;
}

/// The most a `tcp-send` answer may hold.
const TCP_ANSWER: usize = 64 << 10;

/// What a plugin declared about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginInfo {
    pub kind: String,
    pub property: String,
    pub config_section: String,
    pub default_config: Map<String, Value>,
}

/// A compiled, checked handler plugin.
#[derive(Clone)]
pub struct HandlerPlugin {
    pub info: PluginInfo,
    engine: UdfEngine,
    pre: bindings::HandlerPre<PluginHost>,
}

impl std::fmt::Debug for HandlerPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerPlugin")
            .field("info", &self.info)
            .finish()
    }
}

/// A store's host state during one call.
pub(super) struct PluginHost {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limiter,
    kind: String,
    /// Origins (`scheme://host:port`) the call may send to.
    allowed: Vec<String>,
    /// `host:port`s its config names, for `tcp-send`.
    tcp_allowed: Vec<String>,
    net: Option<std::sync::Arc<dyn PluginNet>>,
    /// The event's template data, built on the first `render`.
    event: Option<TopicEvent>,
    template_data: Option<T>,
    /// The guest's last error-level log line (the SDK logs panics): explains a trap.
    last_error: Option<String>,
}

impl WasiView for PluginHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::farad::udf::types::Host for PluginHost {}
impl wit::Host for PluginHost {}

impl bindings::HandlerImports for PluginHost {
    fn send(&mut self, req: wit::Request) -> Result<wit::Response, String> {
        let origin =
            origin(&req.url).ok_or_else(|| format!("{:?} is not an http(s) URL", req.url))?;
        if !self.allowed.contains(&origin) {
            return Err(format!(
                "{} is not a host the [{}] config names; a handler plugin may send only there",
                origin, self.kind
            ));
        }
        let net = self
            .net
            .clone()
            .ok_or_else(|| "no network while checking options".to_string())?;
        let (status, body) = net.send(PluginRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        })?;
        Ok(wit::Response { status, body })
    }

    fn tcp_send(&mut self, addr: String, data: Vec<u8>) -> Result<Vec<u8>, String> {
        if !self
            .tcp_allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&addr))
        {
            return Err(format!(
                "{addr} is not an address the [{}] config names; a handler plugin may connect \
                 only there",
                self.kind
            ));
        }
        let net = self
            .net
            .clone()
            .ok_or_else(|| "no network while checking options".to_string())?;
        net.tcp(&addr, &data, TCP_ANSWER)
    }

    fn log(&mut self, level: bindings::farad::udf::types::LogLevel, message: String) {
        use bindings::farad::udf::types::LogLevel as L;
        let mut message = message;
        if message.len() > 4096 {
            let mut cut = 4096;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let handler = self.kind.as_str();
        match level {
            L::Debug => tracing::debug!(handler, "{message}"),
            L::Info => tracing::info!(handler, "{message}"),
            L::Warn => tracing::warn!(handler, "{message}"),
            L::Error => {
                tracing::error!(handler, "{message}");
                self.last_error = Some(message);
            }
        }
    }

    fn render(&mut self, template: String) -> Result<String, String> {
        if template.len() > 64 << 10 {
            return Err("template longer than 64 KiB".into());
        }
        let data = match &self.template_data {
            Some(d) => d,
            None => {
                let ev = self.event.as_ref().ok_or("no event to render")?;
                self.template_data.insert(ev.template_data())
            }
        };
        crate::template::text("handler", &template)
            .map_err(|e| format!("invalid template: {e}"))?
            .execute_to_string(data)
            .map_err(|e| format!("template: {e}"))
    }
}

/// `scheme://host:port` of an http(s) URL, lower-cased, with the default port filled in.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit('@').next()?.to_ascii_lowercase();
    if hostport.is_empty() {
        return None;
    }
    // `[::1]:8080`, `host:8080`, `host`.
    let has_port = match hostport.rfind(':') {
        Some(i) => !hostport.ends_with(']') && hostport[i + 1..].parse::<u16>().is_ok(),
        None => false,
    };
    Some(if has_port {
        format!("{scheme}://{hostport}")
    } else {
        format!("{scheme}://{hostport}:{default_port}")
    })
}

/// Every `host:port` among the config's string values (`sensu-client:3030`).
pub fn config_addrs(config: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = config.values().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some((host, port)) = s.rsplit_once(':')
                    && !host.is_empty()
                    && !host.contains('/')
                    && port.parse::<u16>().is_ok()
                    && !out.contains(s)
                {
                    out.push(s.clone());
                }
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    out
}

/// Every origin named by a URL among the config's string values.
pub fn config_origins(config: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<&Value> = config.values().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some(o) = origin(s)
                    && !out.contains(&o)
                {
                    out.push(o);
                }
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    out
}

fn level(l: &str) -> wit::Level {
    match l {
        "INFO" => wit::Level::Info,
        "WARNING" => wit::Level::Warning,
        "CRITICAL" => wit::Level::Critical,
        _ => wit::Level::Ok,
    }
}

impl HandlerPlugin {
    /// Loads a precompiled component and checks that it is a handler: its exports are the
    /// world's, it imports nothing else, and `info()` answers with a kind.
    pub fn load(engine: &UdfEngine, artifact: &[u8]) -> Result<HandlerPlugin, UdfError> {
        // SAFETY: as for UDFs, artifacts come from `UdfEngine::precompile` on an engine of the
        // same compatibility hash and from Farad's own files or binary.
        let component = unsafe { Component::deserialize(&engine.engine, artifact) }
            .map_err(|e| UdfError::Invalid(format!("cannot load the compiled plugin: {e:#}")))?;
        let pre = engine
            .plugin_linker
            .instantiate_pre(&component)
            .map_err(|e| {
                UdfError::Invalid(format!(
                    "the component does not fit Farad's `handler` world (it imports something \
                     Farad does not give): {e:#}"
                ))
            })?;
        let pre = bindings::HandlerPre::new(pre).map_err(|e| {
            UdfError::Invalid(format!(
                "the component does not export Farad's `handler` world: {e:#}"
            ))
        })?;
        let mut plugin = HandlerPlugin {
            info: PluginInfo {
                kind: String::new(),
                property: String::new(),
                config_section: String::new(),
                default_config: Map::new(),
            },
            engine: engine.clone(),
            pre,
        };
        let info = plugin.call("info", None, Default::default(), None, |h, s| {
            h.call_info(s)
        })?;
        let default_config = match serde_json::from_str(&info.default_config) {
            Ok(Value::Object(m)) => m,
            _ if info.default_config.trim().is_empty() => Map::new(),
            _ => {
                return Err(UdfError::Invalid(format!(
                    "info() gives a default config that is not a JSON object: {}",
                    info.default_config
                )));
            }
        };
        if info.kind.is_empty()
            || !info
                .kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(UdfError::Invalid(format!(
                "info() gives kind {:?}: a handler kind is letters, digits, '-' and '_'",
                info.kind
            )));
        }
        plugin.info = PluginInfo {
            kind: info.kind,
            property: info.property,
            config_section: info.config_section,
            default_config,
        };
        Ok(plugin)
    }

    /// Runs one export in a fresh instance, under the engine's deadline and memory cap.
    fn call<R: Send>(
        &self,
        what: &str,
        net: Option<std::sync::Arc<dyn PluginNet>>,
        allowed: (Vec<String>, Vec<String>),
        event: Option<TopicEvent>,
        f: impl FnOnce(&bindings::Handler, StoreContextMut<'_, PluginHost>) -> wasmtime::Result<R>
        + Send,
    ) -> Result<R, UdfError> {
        let engine = &self.engine;
        let host = PluginHost {
            wasi: WasiCtxBuilder::new()
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .build(),
            table: ResourceTable::new(),
            limits: Limiter {
                memory_cap: engine.limits.memory_bytes,
                memory_used: 0,
            },
            kind: self.info.kind.clone(),
            allowed: allowed.0,
            tcp_allowed: allowed.1,
            net,
            event,
            template_data: None,
            last_error: None,
        };
        let run = move || -> Result<R, String> {
            let mut store = Store::new(&engine.engine, host);
            store.limiter(|h| &mut h.limits);
            store.epoch_deadline_trap();
            store.set_epoch_deadline(super::engine::ticks(CALL_DEADLINE));
            let handler = self
                .pre
                .instantiate(&mut store)
                .map_err(|e| format!("could not be instantiated: {e:#}"))?;
            f(&handler, store.as_context_mut()).map_err(|e| {
                let h = store.data();
                let oom =
                    h.limits.memory_used >= h.limits.memory_cap || format!("{e:#}").contains(OOM);
                match (e.downcast_ref::<wasmtime::Trap>(), &h.last_error) {
                    _ if oom => format!(
                        "ran out of memory (limit {} MiB)",
                        h.limits.memory_cap >> 20
                    ),
                    (Some(wasmtime::Trap::Interrupt), _) => "ran past its deadline".to_owned(),
                    // The SDK logs a panic's message before the trap: that is the reason.
                    (Some(t), Some(msg)) => format!("trapped ({t}): {msg}"),
                    (Some(t), None) => format!("trapped: {t}"),
                    (None, _) => format!("failed: {e:#}"),
                }
            })
        };
        use wasmtime::AsContextMut;
        engine
            .off_tokio(run)
            .map_err(|why| UdfError::Trap(format!("{what}: the {} handler {why}", self.info.kind)))
    }

    /// Checks a handler's options; the error is the plugin's.
    pub fn check(&self, options: &Map<String, Value>) -> Result<(), String> {
        let options = Value::Object(options.clone()).to_string();
        self.call("check", None, Default::default(), None, |h, s| {
            h.call_check(s, &options)
        })
        .map_err(|e| e.to_string())?
    }

    /// Sends one event. `config` is the handler's config section with defaults filled in;
    /// requests may go only to the origins its URLs name.
    pub fn handle(
        &self,
        config: &Map<String, Value>,
        options: &Map<String, Value>,
        event: &TopicEvent,
        client_url: &str,
        net: std::sync::Arc<dyn PluginNet>,
    ) -> Result<(), String> {
        let (name, tags) = event.row.name_and_tags();
        let ev = wit::Event {
            id: event.id.to_string(),
            message: event.message.to_string(),
            details: event.details.to_string(),
            time: event.time,
            duration: event.duration,
            level: level(event.level),
            previous_level: level(event.previous_level),
            recoverable: event.recoverable,
            task: event.task.to_string(),
            topic: event.topic.to_string(),
            name,
            tags,
            client_url: client_url.to_owned(),
            json: event.to_json().to_string(),
        };
        let config_text = Value::Object(config.clone()).to_string();
        let options_text = Value::Object(options.clone()).to_string();
        self.call(
            "handle",
            Some(net),
            (config_origins(config), config_addrs(config)),
            Some(event.clone()),
            |h, s| h.call_handle(s, &config_text, &options_text, &ev),
        )
        .map_err(|e| e.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_fill_in_default_ports_and_drop_paths() {
        assert_eq!(
            origin("https://hooks.slack.com/services/x").as_deref(),
            Some("https://hooks.slack.com:443")
        );
        assert_eq!(
            origin("http://user:pw@127.0.0.1:8080/a?b").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("HTTP://[::1]/x").as_deref(), Some("http://[::1]:80"));
        assert_eq!(origin("ftp://x/"), None);
        assert_eq!(origin("#alerts"), None);
        let cfg = serde_json::json!({"url": "https://events.pagerduty.com/v2/enqueue",
            "channel": "#x", "nested": {"u": "http://127.0.0.1:9/"}});
        let mut got = config_origins(cfg.as_object().unwrap());
        got.sort();
        assert_eq!(
            got,
            ["http://127.0.0.1:9", "https://events.pagerduty.com:443"]
        );
        let cfg = serde_json::json!({"addr": "sensu-client:3030", "url": "http://a:1/",
            "x": "[::1]:99", "y": "no port:x"});
        let mut got = config_addrs(cfg.as_object().unwrap());
        got.sort();
        assert_eq!(got, ["[::1]:99", "sensu-client:3030"]);
    }
}
