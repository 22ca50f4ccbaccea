//! The process-wide wasmtime engine and compiled modules.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::UdfPre;
use super::instance::{Host, UdfInstance};
use crate::pipeline::schema::Edge;
use crate::pipeline::{UdfArg, UdfOption, UdfSignature};

/// How often the epoch advances: the granularity of call deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sandbox limits for every UDF instance.
#[derive(Clone, Debug)]
pub struct UdfLimits {
    /// Linear memory an instance may grow to.
    pub memory_bytes: usize,
    /// Wall time one call (a micro-batch, `init`, `snapshot`...) may take.
    pub call_timeout: Duration,
    /// Instances that may exist at once (slots of the pooling allocator).
    pub max_instances: u32,
}

impl Default for UdfLimits {
    fn default() -> Self {
        UdfLimits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(1),
            max_instances: 256,
        }
    }
}

/// Why a module could not be loaded or a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UdfError {
    /// The bytes are not a component of the `udf` world.
    #[error("{0}")]
    Invalid(String),
    /// The guest trapped, ran out of time or memory: the instance is unusable.
    #[error("{0}")]
    Trap(String),
    /// The guest returned an error; the instance is fine.
    #[error("{0}")]
    Guest(String),
}

/// The engine all modules are compiled for, with its linker and epoch ticker.
#[derive(Clone)]
pub struct UdfEngine {
    pub(super) engine: Engine,
    pub(super) linker: Arc<Linker<Host>>,
    /// The `handler` world's linker: alert handler plugins share the engine and its pool.
    pub(super) plugin_linker: Arc<Linker<super::plugin::PluginHost>>,
    pub(super) limits: UdfLimits,
    /// Threads that run calls made from tokio's workers, where WASI's synchronous bindings
    /// cannot block on the runtime. Kept warm: a thread per call cost 6% of W4.
    pub(super) calls: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for UdfEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdfEngine")
            .field("limits", &self.limits)
            .finish()
    }
}

impl UdfEngine {
    /// Creates the engine and starts the thread that advances its epoch.
    pub fn new(limits: UdfLimits) -> Result<UdfEngine, String> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(limits.max_instances)
            .total_core_instances(limits.max_instances * 2)
            .total_memories(limits.max_instances * 2)
            .total_tables(limits.max_instances * 2)
            .max_memory_size(limits.memory_bytes);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| format!("wasm engine: {e:#}"))?;
        let mut linker = Linker::<Host>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| format!("wasm engine: {e:#}"))?;
        super::bindings::Udf::add_to_linker::<Host, wasmtime::component::HasSelf<Host>>(
            &mut linker,
            |h| h,
        )
        .map_err(|e| format!("wasm engine: {e:#}"))?;
        let mut plugin_linker = Linker::<super::plugin::PluginHost>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut plugin_linker)
            .map_err(|e| format!("wasm engine: {e:#}"))?;
        super::plugin::bindings::Handler::add_to_linker::<
            super::plugin::PluginHost,
            wasmtime::component::HasSelf<super::plugin::PluginHost>,
        >(&mut plugin_linker, |h| h)
        .map_err(|e| format!("wasm engine: {e:#}"))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("farad-wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| format!("wasm engine: {e}"))?;
        let calls = rayon::ThreadPoolBuilder::new()
            .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name(|i| format!("farad-udf-call-{i}"))
            .build()
            .map_err(|e| format!("wasm engine: {e}"))?;
        Ok(UdfEngine {
            engine,
            linker: Arc::new(linker),
            plugin_linker: Arc::new(plugin_linker),
            limits,
            calls: Arc::new(calls),
        })
    }

    /// Runs `f` where WASI's synchronous bindings may block: on the calling thread, or on
    /// the engine's call threads when this one is a tokio worker (they would panic there).
    pub(super) fn off_tokio<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.calls.install(f)
        } else {
            f()
        }
    }

    /// The limits instances run under.
    pub fn limits(&self) -> &UdfLimits {
        &self.limits
    }

    /// Epoch ticks a call may take.
    pub(super) fn deadline_ticks(&self) -> u64 {
        ticks(self.limits.call_timeout)
    }

    /// A key that changes whenever compiled artifacts stop being loadable by this engine.
    pub fn artifact_key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        h.finish()
    }

    /// Compiles a component to this engine's native code (the slow step, done once at upload).
    pub fn precompile(&self, wasm: &[u8]) -> Result<Vec<u8>, UdfError> {
        if wasmparser_is_core_module(wasm) {
            return Err(UdfError::Invalid(
                "this is a core Wasm module, not a component: build the UDF for \
                 wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
                    .into(),
            ));
        }
        self.engine
            .precompile_component(wasm)
            .map_err(|e| UdfError::Invalid(format!("not a valid Wasm component: {e:#}")))
    }

    /// Loads a module from [`precompile`](Self::precompile)'s output and checks it: the
    /// world's exports are there, its imports are only what Farad gives, and `info()` answers.
    pub fn load(&self, name: &str, artifact: &[u8]) -> Result<UdfModule, UdfError> {
        // SAFETY: artifacts come from `precompile` on an engine with the same compatibility
        // hash (the host keys its cache by `artifact_key`) and are read from Farad's own store.
        let component = unsafe { Component::deserialize(&self.engine, artifact) }
            .map_err(|e| UdfError::Invalid(format!("cannot load the compiled module: {e:#}")))?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            UdfError::Invalid(format!(
                "the component does not fit Farad's `udf` world (it imports something Farad \
                 does not give): {e:#}"
            ))
        })?;
        let pre = UdfPre::new(pre).map_err(|e| {
            UdfError::Invalid(format!(
                "the component does not export Farad's `udf` world: {e:#}"
            ))
        })?;
        let mut module = UdfModule {
            name: name.to_owned(),
            engine: self.clone(),
            pre,
            signature: UdfSignature::default(),
        };
        let mut probe = UdfInstance::new(&module, name)?;
        let info = probe.info()?;
        module.signature = signature(&info)?;
        Ok(module)
    }
}

/// Epoch ticks in `d`, at least one.
pub(super) fn ticks(d: Duration) -> u64 {
    (d.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// A core module starts with the preamble `\0asm` version 1 layer 0; a component has layer 1.
fn wasmparser_is_core_module(wasm: &[u8]) -> bool {
    wasm.len() >= 8 && wasm[..4] == *b"\0asm" && wasm[4..8] == [1, 0, 0, 0]
}

fn signature(info: &super::wit::Info) -> Result<UdfSignature, UdfError> {
    use super::wit::{Edge as E, ValueType as T};
    let edge = |e: E| match e {
        E::Stream => Edge::Stream,
        E::Batch => Edge::Batch,
    };
    let mut options: Vec<UdfOption> = Vec::with_capacity(info.options.len());
    for o in &info.options {
        if o.name.is_empty() || options.iter().any(|p| p.name == o.name) {
            return Err(UdfError::Invalid(format!(
                "info() declares option {:?} twice or with no name",
                o.name
            )));
        }
        options.push(UdfOption {
            name: o.name.clone(),
            args: o
                .args
                .iter()
                .map(|t| match t {
                    T::Boolean => UdfArg::Bool,
                    T::Int => UdfArg::Int,
                    T::Double => UdfArg::Float,
                    T::Str => UdfArg::String,
                    T::Duration => UdfArg::Duration,
                })
                .collect(),
            doc: o.doc.clone(),
        });
    }
    Ok(UdfSignature {
        wants: edge(info.wants),
        provides: edge(info.provides),
        options,
    })
}

/// A compiled component that fits the `udf` world, and what it declared.
#[derive(Clone)]
pub struct UdfModule {
    pub name: String,
    pub(super) engine: UdfEngine,
    pub(super) pre: UdfPre<Host>,
    pub signature: UdfSignature,
}

impl std::fmt::Debug for UdfModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdfModule")
            .field("name", &self.name)
            .field("signature", &self.signature)
            .finish()
    }
}
