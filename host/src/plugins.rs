//! Alert handler plugins: the SaaS handlers built into Farad (`guest-examples/handlers/`,
//! embedded by `build.rs`), compiled on first use and run by the output workers.
//!
//! A plugin's config is its section of the config file (`[[slack]]`, `[pagerduty2]`), laid
//! over the defaults the plugin declares; its requests go out through one HTTP agent, only
//! to hosts that section names (checked by the runtime before they reach [`Net`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use farad_runtime::exec::TopicEvent;
use farad_runtime::wasm::UdfEngine;
use farad_runtime::wasm::plugin::{HandlerPlugin, PluginNet, PluginRequest};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// Responses are read up to this much: enough for any vendor's error text.
const MAX_RESPONSE: u64 = 1 << 20;

pub struct Plugins {
    engine: UdfEngine,
    /// Config sections as written (`other` of the config: Farad has no struct for them).
    sections: crate::swap::Swap<BTreeMap<String, toml::Value>>,
    /// Compiled code, kept between starts: `<kind>-<digest>-<engine key>.cwasm`.
    cache: PathBuf,
    loaded: parking_lot::Mutex<HashMap<String, Arc<HandlerPlugin>>>,
    /// Plugins users uploaded (`<kind>.wasm` files under `dir`), loaded at start.
    uploaded: parking_lot::RwLock<HashMap<String, Uploaded>>,
    dir: PathBuf,
    net: Arc<dyn PluginNet>,
    /// Agents for sections with their own TLS settings (`ssl-ca`, `insecure-skip-verify`...),
    /// built on first use; emptied when the config changes, so files are read again.
    tls_nets: parking_lot::Mutex<HashMap<crate::tls::ClientTls, Arc<dyn PluginNet>>>,
    /// This server's API, for links back (PagerDuty's `client_url`).
    client_url: String,
}

/// A plugin a user uploaded.
#[derive(Clone)]
pub struct Uploaded {
    pub plugin: Arc<HandlerPlugin>,
    pub size: usize,
    pub digest: String,
}

/// Uploads larger than this are refused.
pub const MAX_PLUGIN_BYTES: usize = 32 << 20;

/// Sends plugins' requests with a blocking agent (they run on the output workers).
struct Net(ureq::Agent);

impl PluginNet for Net {
    fn send(&self, req: PluginRequest) -> Result<(u16, Vec<u8>), String> {
        let mut b = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&req.url);
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        let r = b.body(req.body).map_err(|e| format!("{}: {e}", req.url))?;
        let mut resp = self
            .0
            .run(r)
            .map_err(|e| format!("sending to {}: {e}", req.url))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .unwrap_or_default();
        Ok((status, body))
    }

    fn tcp(&self, addr: &str, data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        use std::io::{Read, Write};
        use std::net::ToSocketAddrs;
        let timeout = Duration::from_secs(30);
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| format!("{addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("{addr}: no address"))?;
        let mut conn = std::net::TcpStream::connect_timeout(&sock, timeout)
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        conn.set_read_timeout(Some(timeout)).ok();
        conn.write_all(data)
            .map_err(|e| format!("writing to {addr}: {e}"))?;
        let mut answer = Vec::new();
        conn.take(limit as u64)
            .read_to_end(&mut answer)
            .map_err(|e| format!("reading from {addr}: {e}"))?;
        Ok(answer)
    }
}

/// The agent plugins' requests go through (statuses are answers, not errors).
fn agent(tls: Option<ureq::tls::TlsConfig>) -> ureq::Agent {
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .user_agent(concat!("farad/", env!("CARGO_PKG_VERSION")));
    b = b.tls_config(tls.unwrap_or_else(crate::tls::system));
    b.build().into()
}

impl Plugins {
    pub fn new(engine: UdfEngine, config: &crate::config::Config) -> Plugins {
        let agent = agent(None);
        let plugins = Plugins {
            engine,
            sections: crate::swap::Swap::new(config.other.clone()),
            cache: config.data_dir.join("plugins"),
            loaded: Default::default(),
            uploaded: Default::default(),
            dir: config.data_dir.join("handler-plugins"),
            net: Arc::new(Net(agent)),
            tls_nets: Default::default(),
            client_url: format!(
                "http://{}:{}/kapacitor/v1",
                config.hostname,
                config
                    .http
                    .bind_address
                    .rsplit(':')
                    .next()
                    .unwrap_or("9092")
            ),
        };
        plugins.load_uploaded();
        plugins
    }

    /// Loads the uploaded plugins kept under `dir`; one that fails is logged and skipped.
    fn load_uploaded(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            let Some(kind) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".wasm"))
                .map(str::to_owned)
            else {
                continue;
            };
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|wasm| self.compile(&kind, &wasm).map(|p| (p, wasm)));
            match loaded {
                Ok((plugin, wasm)) => {
                    self.uploaded.write().insert(
                        kind,
                        Uploaded {
                            plugin: Arc::new(plugin),
                            size: wasm.len(),
                            digest: hex(&Sha256::digest(&wasm)),
                        },
                    );
                }
                Err(e) => tracing::error!(kind, error = e, "handler plugin not loaded"),
            }
        }
    }

    /// Compiles (or reads from the cache) and checks a component claiming to be `kind`.
    fn compile(&self, kind: &str, wasm: &[u8]) -> Result<HandlerPlugin, String> {
        let digest = Sha256::digest(wasm);
        let path = self.cache.join(format!(
            "{kind}-{:016x}-{:016x}.cwasm",
            u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")),
            self.engine.artifact_key()
        ));
        let artifact = match std::fs::read(&path) {
            Ok(a) => a,
            Err(_) => {
                let a = self.engine.precompile(wasm).map_err(|e| e.to_string())?;
                // A cache: failing to keep it only costs the next start a compile.
                let _ = std::fs::create_dir_all(&self.cache).and_then(|_| {
                    crate::udfs::write_atomic(&path, &a).map_err(std::io::Error::other)
                });
                a
            }
        };
        let plugin = HandlerPlugin::load(&self.engine, &artifact).map_err(|e| e.to_string())?;
        if plugin.info.kind != kind {
            return Err(format!(
                "the plugin calls itself {:?}, not {kind:?}",
                plugin.info.kind
            ));
        }
        Ok(plugin)
    }

    /// Installs (or replaces) an uploaded plugin: checked, then kept on disk, then used by
    /// the next event.
    pub fn upload(&self, kind: &str, wasm: &[u8]) -> Result<Uploaded, String> {
        if bundled::BUNDLED.iter().any(|(k, _)| *k == kind)
            || crate::handlers::KINDS.contains(&kind)
        {
            return Err(format!("handler kind {kind:?} is built into Farad"));
        }
        if kind.is_empty()
            || !kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "invalid handler kind {kind:?}: use letters, digits, '-' and '_'"
            ));
        }
        let plugin = self.compile(kind, wasm)?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        crate::udfs::write_atomic(&self.dir.join(format!("{kind}.wasm")), wasm)
            .map_err(|e| format!("{e:#}"))?;
        let up = Uploaded {
            plugin: Arc::new(plugin),
            size: wasm.len(),
            digest: hex(&Sha256::digest(wasm)),
        };
        self.uploaded.write().insert(kind.to_owned(), up.clone());
        tracing::info!(kind, size = wasm.len(), "handler plugin installed");
        Ok(up)
    }

    /// Removes an uploaded plugin; false when there is none of that kind.
    pub fn delete(&self, kind: &str) -> Result<bool, String> {
        if self.uploaded.write().remove(kind).is_none() {
            return Ok(false);
        }
        let path = self.dir.join(format!("{kind}.wasm"));
        std::fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
        Ok(true)
    }

    /// Every plugin as the API lists it; bundled ones are loaded to say what they are.
    pub fn describe(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for kind in bundled::BUNDLED.iter().map(|(k, _)| *k) {
            let info = self.get(kind).map(|p| p.info.clone());
            out.push(match info {
                Ok(i) => serde_json::json!({"kind": kind, "property": i.property,
                    "config-section": i.config_section, "builtin": true}),
                Err(e) => serde_json::json!({"kind": kind, "builtin": true, "error": e}),
            });
        }
        for (kind, up) in self.uploaded.read().iter() {
            out.push(uploaded_json(kind, up));
        }
        out.sort_by(|a, b| a["kind"].as_str().cmp(&b["kind"].as_str()));
        out
    }

    /// An uploaded plugin as the API shows it.
    pub fn uploaded(&self, kind: &str) -> Option<serde_json::Value> {
        self.uploaded
            .read()
            .get(kind)
            .map(|u| uploaded_json(kind, u))
    }

    /// The kinds Farad has a plugin for.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = bundled::BUNDLED
            .iter()
            .map(|(k, _)| (*k).to_owned())
            .chain(self.uploaded.read().keys().cloned())
            .collect();
        kinds.sort_unstable();
        kinds
    }

    /// Whether a plugin handles `kind`.
    pub fn has(&self, kind: &str) -> bool {
        bundled::BUNDLED.iter().any(|(k, _)| *k == kind) || self.uploaded.read().contains_key(kind)
    }

    /// Whether config section `name` belongs to a plugin (so it is acted on).
    pub fn owns_section(name: &str) -> bool {
        bundled::BUNDLED.iter().any(|(k, _)| *k == name)
    }

    /// The built-in plugin for an alert node property (`pagerDuty2` -> `pagerduty2`).
    pub fn bundled_kind(property: &str) -> Option<&'static str> {
        let lower = property.to_ascii_lowercase();
        bundled::BUNDLED
            .iter()
            .map(|(k, _)| *k)
            .find(|k| *k == lower)
    }

    /// The plugin for an alert node property (`pagerDuty2` -> `pagerduty2`; an uploaded
    /// plugin's own property).
    pub fn kind_of_property(&self, property: &str) -> Option<String> {
        if let Some(k) = Plugins::bundled_kind(property) {
            return Some(k.to_owned());
        }
        self.uploaded
            .read()
            .iter()
            .find(|(_, u)| !u.plugin.info.property.is_empty() && u.plugin.info.property == property)
            .map(|(k, _)| k.clone())
    }

    /// Kinds whose enabled section (its default workspace, for `[[slack]]`) sets `global`,
    /// each with its `state-changes-only`.
    pub fn globals(&self) -> Vec<(String, bool)> {
        let flag = |t: &toml::Value, k: &str| t.get(k).and_then(toml::Value::as_bool) == Some(true);
        let sections = self.sections.get();
        self.kinds()
            .into_iter()
            .filter_map(|kind| {
                let section = match sections.get(&kind)? {
                    toml::Value::Array(entries) if entries.len() == 1 => entries.first()?,
                    toml::Value::Array(entries) => entries.iter().find(|e| flag(e, "default"))?,
                    table => table,
                };
                (flag(section, "enabled") && flag(section, "global"))
                    .then(|| (kind.clone(), flag(section, "state-changes-only")))
            })
            .collect()
    }

    /// Takes the plugins' config sections anew (from the config API).
    pub fn set_sections(&self, sections: &BTreeMap<String, toml::Value>) {
        self.sections.set(sections.clone());
        self.tls_nets.lock().clear();
    }

    /// Each plugin's config section and its defaults (plugins compiled as needed; one that
    /// fails is left out).
    pub fn default_configs(&self) -> BTreeMap<String, Map<String, Value>> {
        self.kinds()
            .into_iter()
            .filter_map(|kind| {
                let info = self.get(&kind).ok()?.info.clone();
                Some((info.config_section, info.default_config))
            })
            .collect()
    }

    /// The plugin for `kind`, compiled (or read from the cache) on first use.
    pub fn get(&self, kind: &str) -> Result<Arc<HandlerPlugin>, String> {
        if let Some(u) = self.uploaded.read().get(kind) {
            return Ok(u.plugin.clone());
        }
        let mut loaded = self.loaded.lock();
        if let Some(p) = loaded.get(kind) {
            return Ok(p.clone());
        }
        let (_, wasm) = bundled::BUNDLED
            .iter()
            .find(|(k, _)| *k == kind)
            .ok_or_else(|| format!("no handler plugin of kind {kind:?}"))?;
        let plugin = Arc::new(
            self.compile(kind, wasm)
                .map_err(|e| format!("handler plugin {kind}: {e}"))?,
        );
        loaded.insert(kind.to_owned(), plugin.clone());
        Ok(plugin)
    }

    /// Checks a handler's options (when a task or topic handler is defined).
    pub fn check(&self, kind: &str, options: &Map<String, Value>) -> Result<(), String> {
        self.get(kind)?.check(options)
    }

    /// Sends one event through plugin `kind`.
    pub fn handle(
        &self,
        kind: &str,
        options: &Map<String, Value>,
        event: &TopicEvent,
    ) -> Result<(), String> {
        let plugin = self.get(kind)?;
        let config = self.config(&plugin, options)?;
        let net = self.net_for(&config)?;
        plugin.handle(&config, options, event, &self.client_url, net)
    }

    /// Where a handler with this section's values sends: the shared agent, or one with the
    /// section's TLS settings.
    fn net_for(&self, config: &Map<String, Value>) -> Result<Arc<dyn PluginNet>, String> {
        let tls = crate::tls::ClientTls::from_section(config);
        if tls.is_default() {
            return Ok(self.net.clone());
        }
        let mut nets = self.tls_nets.lock();
        if let Some(n) = nets.get(&tls) {
            return Ok(n.clone());
        }
        let net: Arc<dyn PluginNet> = Arc::new(Net(agent(Some(tls.config()?))));
        nets.insert(tls, net.clone());
        Ok(net)
    }

    /// The section's values for one handler, over the plugin's defaults. A section written
    /// as an array (`[[slack]]`) is chosen by the handler's `workspace` option, else the
    /// entry marked `default`, else the only one.
    pub fn config(
        &self,
        plugin: &HandlerPlugin,
        options: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        let section = &plugin.info.config_section;
        let mut config = plugin.info.default_config.clone();
        let sections = self.sections.get();
        let written = match sections.get(section) {
            None => None,
            Some(toml::Value::Array(entries)) => {
                let workspace = options
                    .get("workspace")
                    .and_then(Value::as_str)
                    .filter(|w| !w.is_empty());
                fn ws(e: &toml::Value) -> Option<&str> {
                    e.get("workspace").and_then(toml::Value::as_str)
                }
                let pick = match workspace {
                    Some(w) => entries
                        .iter()
                        .find(|e| ws(e) == Some(w))
                        .ok_or_else(|| format!("[[{section}]] has no workspace {w:?}"))?,
                    None => entries
                        .iter()
                        .find(|e| e.get("default").and_then(toml::Value::as_bool) == Some(true))
                        .or(if entries.len() == 1 {
                            entries.first()
                        } else {
                            None
                        })
                        .ok_or_else(|| {
                            format!("[[{section}]] has several workspaces and none is the default")
                        })?,
                };
                Some(pick)
            }
            Some(table) => Some(table),
        };
        if let Some(w) = written {
            match serde_json::to_value(w) {
                Ok(Value::Object(m)) => config.extend(m),
                _ => return Err(format!("[{section}] must be a table")),
            }
        }
        if config.get("enabled").and_then(Value::as_bool) != Some(true) {
            return Err(format!("[{section}]: service is not enabled"));
        }
        Ok(config)
    }
}

fn uploaded_json(kind: &str, u: &Uploaded) -> serde_json::Value {
    let i = &u.plugin.info;
    serde_json::json!({"kind": kind, "property": i.property, "config-section": i.config_section,
        "builtin": false, "size": u.size, "digest": u.digest})
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
