//! `farad serve`: opens the store, binds the inputs, serves the API, shuts down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::ingest::{Ingest, udp};
use crate::logging::LevelHandle;
use crate::store::{self, Store, TaskStatus};

/// Identity of this server, kept in the store so that it survives restarts.
pub struct Ids {
    pub cluster_id: String,
    pub server_id: String,
}

/// Everything the API handlers share.
pub struct State {
    /// The config the server started with: the file, its environment overrides and the
    /// stored config overrides.
    pub config: Config,
    /// The file and environment alone, which overrides are laid over.
    pub file_config: Config,
    /// The config as the config API has changed it since.
    pub live_config: crate::swap::Swap<Config>,
    /// One config API change at a time.
    pub config_lock: parking_lot::Mutex<()>,
    pub store: Arc<Store>,
    pub ingest: Arc<Ingest>,
    pub ids: Ids,
    pub log_level: LevelHandle,
    pub started: Instant,
    pub bound_http: SocketAddr,
    pub udp: Vec<Arc<udp::UdpStats>>,
    pub tasks: crate::tasks::Tasks,
    pub outputs: Arc<crate::outputs::Outputs>,
    /// Where large HTTP writes run with `[http] realtime-priority` (see `ingest::Bulk`).
    pub bulk: Option<crate::ingest::Bulk>,
    pub udfs: crate::udfs::Udfs,
    pub recordings: Arc<crate::recordings::Recordings>,
    pub replays: crate::replays::Replays,
    pub auth: crate::auth::Auth,
    /// The InfluxDB subscription threads, to link now.
    pub subscriptions: parking_lot::Mutex<crate::subscriptions::Linker>,
    num_tasks: AtomicU64,
    num_enabled: AtomicU64,
}

impl State {
    /// Task counts for `debug/vars`.
    pub fn task_counts(&self) -> (u64, u64) {
        (self.num_tasks.load(Relaxed), self.num_enabled.load(Relaxed))
    }

    /// Recounts tasks after a change.
    pub fn refresh_task_counts(&self) {
        match self.store.list(&store::TASKS) {
            Ok(tasks) => {
                let enabled = tasks
                    .iter()
                    .filter(|(_, t)| t.status == TaskStatus::Enabled)
                    .count();
                self.num_tasks.store(tasks.len() as u64, Relaxed);
                self.num_enabled.store(enabled as u64, Relaxed);
            }
            Err(error) => tracing::error!(error = format!("{error:#}"), "counting tasks"),
        }
    }
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn serve(file_config: Config, log_level: LevelHandle) -> Result<()> {
    let mut config = file_config.clone();
    for section in config.unsupported_sections() {
        tracing::warn!(section, "config section is not supported yet; ignored");
    }
    let store_path = config.store_path();
    let store = Arc::new(tokio::task::spawn_blocking(move || Store::open(&store_path)).await??);
    if !config.skip_config_overrides {
        let overrides: Vec<_> = store
            .list(&store::CONFIG_OVERRIDES)?
            .into_iter()
            .map(|(_, o)| o)
            .collect();
        match crate::overrides::apply(&config, &overrides) {
            Ok(c) => config = c,
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "stored config overrides no longer apply to the config file; starting without them"
            ),
        }
    }
    let ids = Ids {
        cluster_id: store.meta_or_insert("cluster_id", new_id)?,
        server_id: store.meta_or_insert("server_id", new_id)?,
    };
    let ingest = Arc::new(Ingest::new(&config.default_retention_policy));

    let mut udp_stats = Vec::new();
    let mut udp_tasks = Vec::new();
    for u in config.udp.iter().filter(|u| u.enabled) {
        let (stats, fut) = udp::bind(u, ingest.clone(), now_ns).await?;
        udp_stats.push(stats);
        udp_tasks.push(tokio::spawn(fut));
    }

    let udfs = crate::udfs::Udfs::open(&config.data_dir, &config.udf, &store)?;
    let plugins = Arc::new(crate::plugins::Plugins::new(
        udfs.registry().engine().clone(),
        &config,
    ));
    let topics = crate::topics::Topics::open(store.clone())?;
    let outputs = crate::outputs::Outputs::start(&config, ingest.clone(), topics, plugins)
        .map_err(anyhow::Error::msg)?;
    for (key, spec) in store.list(&crate::store::HANDLERS)? {
        match serde_json::from_value::<crate::handlers::HandlerSpec>(spec) {
            Ok(spec) => outputs.topics.set_handler(spec),
            Err(e) => tracing::error!(handler = key, error = %e, "stored topic handler unreadable"),
        }
    }
    crate::http::silences::load(&store, &outputs.silences)?;
    let recordings = Arc::new(crate::recordings::Recordings::open(
        &config.replay_dir(),
        store.clone(),
    )?);
    crate::replays::mark_interrupted(&store)?;

    let tls = if config.http.https_enabled {
        Some(crate::listen::acceptor(&config.http)?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let addr = config.http.socket_addr()?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding http listener {addr}"))?;
    let bound = listener.local_addr()?;
    let shutdown_timeout = config.http.shutdown_timeout.to_std();
    let identity = (
        config.hostname.clone(),
        ids.cluster_id.clone(),
        ids.server_id.clone(),
    );
    let auth = crate::auth::Auth::new(&config, store.clone())?;
    let global_email =
        (config.smtp.enabled && config.smtp.global).then_some(config.smtp.state_changes_only);
    let bulk = if config.http.realtime_priority {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Some(crate::ingest::Bulk::start(threads).context("starting the write threads")?)
    } else {
        None
    };
    let state = Arc::new(State {
        live_config: crate::swap::Swap::new(config.clone()),
        config_lock: parking_lot::Mutex::new(()),
        file_config,
        config,
        store: store.clone(),
        ingest,
        ids,
        log_level,
        started: Instant::now(),
        bound_http: bound,
        udp: udp_stats,
        tasks: crate::tasks::Tasks::new(
            outputs.clone(),
            identity,
            udfs.registry().clone(),
            store.clone(),
            global_email,
        ),
        outputs,
        bulk,
        udfs,
        recordings,
        replays: crate::replays::Replays::default(),
        auth,
        subscriptions: Default::default(),
        num_tasks: AtomicU64::new(0),
        num_enabled: AtomicU64::new(0),
    });
    state.refresh_task_counts();
    crate::http::tasks::start_enabled(&state);
    start_timers(Arc::downgrade(&state));
    let subs_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let query_state = Arc::downgrade(&state);
    let linker = crate::subscriptions::start(
        &state.config.influxdb,
        &crate::subscriptions::Endpoint {
            hostname: state.config.hostname.clone(),
            http_port: bound.port(),
            cluster_id: state.ids.cluster_id.clone(),
            server_id: state.ids.server_id.clone(),
            userinfo: state.auth.enabled.then(|| {
                format!(
                    "{}:{}",
                    crate::auth::SUBSCRIBER,
                    state.auth.subscription_token()
                )
            }),
        },
        Arc::new(move |cluster: &str, q: &str| match query_state.upgrade() {
            Some(s) => s.outputs.influxdb.query(cluster, q),
            None => Err("the server is stopping".into()),
        }),
        state.ingest.clone(),
        subs_stop.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    *state.subscriptions.lock() = linker;

    let api = match bound {
        std::net::SocketAddr::V4(a) if a.ip().is_unspecified() => {
            format!("{scheme}://127.0.0.1:{}", a.port())
        }
        std::net::SocketAddr::V6(a) if a.ip().is_unspecified() => {
            format!("{scheme}://[::1]:{}", a.port())
        }
        a => format!("{scheme}://{a}"),
    };
    crate::load::start(state.clone(), api);

    // Signals are caught from before anyone is told the daemon is up: a SIGTERM right after
    // the line below stops it cleanly instead of killing it.
    let stopped = signal();
    // Printed on stdout so that scripts and tests can find an OS-assigned port.
    println!("farad listening on {scheme}://{bound}");
    tracing::info!(addr = %bound, version = crate::VERSION, "farad started");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        stop_rx.await.ok();
    };
    let server = tokio::spawn(crate::listen::serve(
        listener,
        tls,
        state.clone(),
        stop,
        shutdown_timeout,
    ));

    stopped.await;
    tracing::info!("shutting down");
    subs_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let saver = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        saver.tasks.save_all();
        saver.outputs.sync();
    })
    .await;
    stop_tx.send(()).ok();
    for t in udp_tasks {
        t.abort();
    }
    // The listener waits for open connections up to the shutdown timeout itself.
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}

/// Wall-clock timers of running tasks (barriers) and idle-group expiry, on a thread of their
/// own so that a task busy with a large write never stalls the async workers.
fn start_timers(state: std::sync::Weak<State>) {
    const TICK: std::time::Duration = std::time::Duration::from_millis(100);
    std::thread::Builder::new()
        .name("farad-timers".into())
        .spawn(move || {
            let mut last_expiry = Instant::now();
            let mut last_save = Instant::now();
            while let Some(state) = state.upgrade() {
                let save_every = std::time::Duration::from_nanos(
                    state.config.task.snapshot_interval.0.max(0) as u64,
                );
                if !save_every.is_zero() && last_save.elapsed() >= save_every {
                    last_save = Instant::now();
                    state.tasks.save_all();
                }
                let idle = state.config.task.group_idle_timeout.0;
                // Expiry walks every group: do it a few times per timeout, at most once a second.
                let every = std::time::Duration::from_nanos((idle / 4).max(1) as u64)
                    .max(std::time::Duration::from_secs(1));
                let now = now_ns();
                let cutoff = (idle > 0 && last_expiry.elapsed() >= every).then(|| {
                    last_expiry = Instant::now();
                    now - idle
                });
                state.tasks.tick(now, cutoff);
                // Events from timers, batch tasks, UDP and replays: durable within a tick.
                state.outputs.flush_aggregates();
                state.outputs.sync();
                drop(state);
                crate::allocator::release_free_memory();
                std::thread::sleep(TICK);
            }
        })
        .expect("spawning the timer thread");
}

/// Installs the SIGINT and SIGTERM handlers now; the future ends at the first signal.
fn signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}

/// A random UUID-shaped id (server and cluster ids, ids of tasks created without one).
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::RandomState::default().build_hasher();
    h.write_i64(now_ns());
    h.write_u32(std::process::id());
    let a = h.finish();
    let b = a.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}
