//! One running copy of a module: its store (memory cap, deadline) and calls into it.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::Udf;
use super::engine::{UdfError, UdfModule};
use super::wit;

/// What a store holds for the guest: WASI with nothing granted but clocks and random, the
/// memory limiter, and where its log lines go.
pub(crate) struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limiter,
    /// `task/node`, for log lines.
    label: String,
    /// The guest's last error-level log line (the SDK logs panics): explains a trap.
    last_error: Option<String>,
    /// The end of what the guest wrote to stderr (a Python traceback): explains a trap too.
    stderr: GuestStderr,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The `types` interface has no functions, only types.
impl wit::Host for Host {}

impl super::bindings::UdfImports for Host {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        // Bounded: a guest must not fill the log or memory through this import.
        let mut message = message;
        if message.len() > 4096 {
            let mut cut = 4096;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let udf = self.label.as_str();
        match level {
            wit::LogLevel::Debug => tracing::debug!(udf, "{message}"),
            wit::LogLevel::Info => tracing::info!(udf, "{message}"),
            wit::LogLevel::Warn => tracing::warn!(udf, "{message}"),
            wit::LogLevel::Error => {
                tracing::error!(udf, "{message}");
                self.last_error = Some(message);
            }
        }
    }
}

/// A module instantiated for one task node.
pub struct UdfInstance {
    store: Store<Host>,
    udf: Udf,
    ticks: u64,
    calls: std::sync::Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for UdfInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdfInstance")
            .field("label", &self.store.data().label)
            .finish()
    }
}

impl UdfInstance {
    /// Instantiates `module`; `label` names the task and node in logs.
    pub fn new(module: &UdfModule, label: &str) -> Result<UdfInstance, UdfError> {
        let engine = &module.engine;
        let stderr = GuestStderr::default();
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stderr(stderr.clone())
            .build();
        let host = Host {
            wasi,
            table: ResourceTable::new(),
            limits: Limiter {
                memory_cap: engine.limits.memory_bytes,
                memory_used: 0,
            },
            label: label.to_owned(),
            last_error: None,
            stderr,
        };
        let mut store = Store::new(&engine.engine, host);
        store.limiter(|h| &mut h.limits);
        store.epoch_deadline_trap();
        let ticks = engine.deadline_ticks();
        store.set_epoch_deadline(ticks);
        let udf = module.pre.instantiate(&mut store).map_err(|e| {
            UdfError::Trap(format!("cannot instantiate UDF {}: {e:#}", module.name))
        })?;
        Ok(UdfInstance {
            store,
            udf,
            ticks,
            calls: engine.calls.clone(),
        })
    }

    /// Runs one call under the deadline, turning traps into [`UdfError::Trap`].
    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&Udf, &mut Store<Host>) -> wasmtime::Result<R> + Send,
    ) -> Result<R, UdfError>
    where
        R: Send,
    {
        self.store.set_epoch_deadline(self.ticks);
        self.store.data_mut().last_error = None;
        let (udf, store) = (&self.udf, &mut self.store);
        // WASI's synchronous bindings block on the ambient tokio runtime, which panics on one
        // of its worker threads (where a server's writes run tasks): there, the call runs on
        // the engine's call threads while this one waits. Elsewhere (tests, replays, blocking
        // threads) it runs here.
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            let call = std::panic::AssertUnwindSafe(|| f(udf, store));
            self.calls.install(|| {
                std::panic::catch_unwind(call)
                    .unwrap_or_else(|_| Err(wasmtime::Error::msg("the UDF call panicked")))
            })
        } else {
            f(udf, store)
        };
        result.map_err(|e| {
            let why = match e.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::Interrupt) => "ran past its deadline".to_owned(),
                Some(wasmtime::Trap::OutOfFuel) => "ran out of fuel".to_owned(),
                Some(t) => match (
                    &self.store.data().last_error,
                    self.store.data().stderr.tail(),
                ) {
                    (Some(msg), _) => format!("trapped ({t}): {msg}"),
                    (None, Some(err)) => format!("trapped ({t}); its stderr ends: {err}"),
                    (None, None) => format!("trapped: {t}"),
                },
                None => format!("{e:#}"),
            };
            let limits = &self.store.data().limits;
            let why = if limits.memory_used >= limits.memory_cap || format!("{e:#}").contains(OOM) {
                format!("ran out of memory (limit {} MiB)", limits.memory_cap >> 20)
            } else {
                why
            };
            UdfError::Trap(format!("{what}: the UDF {why}"))
        })
    }

    /// The module's declaration of itself.
    pub fn info(&mut self) -> Result<wit::Info, UdfError> {
        self.call("info", |u, s| u.call_info(s))
    }

    /// Passes the task's options; the guest's refusal is a [`UdfError::Guest`].
    pub fn init(&mut self, options: &[wit::OptionValue]) -> Result<(), UdfError> {
        self.call("init", |u, s| u.call_init(s, options))?
            .map_err(UdfError::Guest)
    }

    /// Processes one micro-batch.
    pub fn process(&mut self, input: &wit::Input) -> Result<wit::Output, UdfError> {
        self.call("process", |u, s| u.call_process(s, input))?
            .map_err(UdfError::Guest)
    }

    /// The guest's state.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, UdfError> {
        self.call("snapshot", |u, s| u.call_snapshot(s))
    }

    /// Gives the guest state from [`snapshot`](Self::snapshot).
    pub fn restore(&mut self, state: &[u8]) -> Result<(), UdfError> {
        self.call("restore", |u, s| u.call_restore(s, state))?
            .map_err(UdfError::Guest)
    }

    /// Bytes of linear memory the guest has grown to.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limits.memory_used
    }
}

pub(super) const OOM: &str = "UDF memory limit reached";

/// Caps linear memory per instance and remembers how much the guest has asked for.
pub(super) struct Limiter {
    pub(super) memory_cap: usize,
    pub(super) memory_used: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            // An error (rather than `false`) traps at once with a reason, instead of leaving the
            // guest's allocator to abort with a bare `unreachable`.
            self.memory_used = desired;
            return Err(wasmtime::Error::msg(OOM));
        }
        self.memory_used = desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A guest's stderr: keeps the last few KiB (never blocks, never fails a write).
#[derive(Clone, Default)]
struct GuestStderr(std::sync::Arc<parking_lot::Mutex<std::collections::VecDeque<u8>>>);

const STDERR_TAIL: usize = 4096;

impl GuestStderr {
    /// The last lines written, if any.
    fn tail(&self) -> Option<String> {
        let buf = self.0.lock();
        let bytes: Vec<u8> = buf.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        // The last 1 KiB, from a line start when there is one.
        let start = text.len().saturating_sub(1024);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let tail = &text[start..];
        let tail = match tail.find('\n') {
            Some(i) if start > 0 => &tail[i + 1..],
            _ => tail,
        };
        Some(tail.replace('\n', " | "))
    }
}

impl wasmtime_wasi::cli::IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for GuestStderr {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for GuestStderr {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut buf = self.0.lock();
        buf.extend(data.iter().copied());
        let excess = buf.len().saturating_sub(STDERR_TAIL);
        buf.drain(..excess);
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
