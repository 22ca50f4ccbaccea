//! Running tasks: each enabled task's executor, subscribed to its db/rps on the router.
//!
//! A task runs on the threads that write to it: the router hands a write's points to the task's
//! sink, which locks the task and pushes them through (see `farad_runtime::exec`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use farad_runtime::exec::{Io, Task, TaskEnv};
use farad_runtime::model::Point;
use farad_runtime::pipeline::Plan;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use crate::ingest::{PointSink, Router, Subscription};
use crate::store::DbRp;

struct Running {
    task: Arc<Mutex<Task>>,
    /// Set when the task stops: ends a batch task's query schedule.
    stop: Arc<std::sync::atomic::AtomicBool>,
    _subscriptions: Vec<Subscription>,
    /// Points per second over the last second, and what it was computed from.
    throughput: Arc<Mutex<Throughput>>,
}

struct Throughput {
    rate: f64,
    collected: u64,
    at: std::time::Instant,
}

struct TaskSink {
    task: Arc<Mutex<Task>>,
    db: String,
    rp: String,
    id: String,
    /// Small writes waiting for the task (through any of its db/rps): a large write in
    /// progress lets them in between its parts.
    small_waiting: Arc<AtomicUsize>,
}

/// A write of at most this many points is small: it goes ahead of a large one. (With
/// `[http] realtime-priority`, writes up to `ingest::LARGE_BODY`, about 700 points, run on the
/// request workers; all of them are small.)
const SMALL_WRITE: usize = 1024;
/// A large write checks for small ones waiting every this many points (about 0.2 ms of an
/// alert task's work).
const PART: usize = 256;

impl TaskSink {
    fn run(&self, mut task: parking_lot::MutexGuard<'_, Task>, points: Vec<Point>) {
        // Log records of the task's nodes carry its id (log sessions filter on it).
        let _task = tracing::info_span!("task", task = %self.id).entered();
        // One `now()` for the whole write, parts included.
        let now = crate::server::now_ns();
        task.set_now(now);
        let mut points = points.into_iter();
        loop {
            task.push_some(&self.db, &self.rp, &mut points, PART);
            if points.len() == 0 {
                break;
            }
            if self.small_waiting.load(Relaxed) > 0 {
                // Hands the task to the next waiter (FIFO); back in line behind it.
                task.settle();
                parking_lot::MutexGuard::bump(&mut task);
                task.set_now(now);
            }
        }
        task.settle();
        if let Some(e) = task.last_error.take() {
            tracing::debug!(task = self.id, error = e, "node error");
        }
    }
}

impl PointSink for TaskSink {
    fn deliver(&self, points: Vec<Point>) {
        let small = points.len() <= SMALL_WRITE;
        if small {
            self.small_waiting.fetch_add(1, Relaxed);
        }
        let task = self.task.lock();
        if small {
            self.small_waiting.fetch_sub(1, Relaxed);
        }
        self.run(task, points)
    }

    fn try_deliver(&self, points: Vec<Point>) -> Result<(), Vec<Point>> {
        match self.task.try_lock() {
            Some(task) => {
                self.run(task, points);
                Ok(())
            }
            None => Err(points),
        }
    }
}

/// The enabled tasks.
pub struct Tasks {
    /// Where tasks' outgoing requests go.
    io: Arc<dyn Io>,
    /// The server's identity for alert templates: hostname, cluster id, server id.
    identity: (String, String, String),
    udfs: Arc<farad_runtime::wasm::UdfRegistry>,
    /// Where node state (UDF snapshots) is kept across restarts.
    store: Arc<crate::store::Store>,
    running: Mutex<HashMap<String, Running>>,
    /// Why an enabled task is not running, by id.
    errors: Mutex<HashMap<String, String>>,
    /// Per task, the instance its latest replay ran (or runs): its httpOut results stay
    /// readable while the task itself is not running.
    replayed: Mutex<HashMap<String, Arc<Mutex<Task>>>>,
    /// Alert inhibitors: one registry for every task.
    inhibitors: Arc<farad_runtime::exec::inhibit::Inhibitors>,
    /// `[smtp] global` (and `state-changes-only`) when email is enabled.
    global_email: Option<bool>,
}

impl Tasks {
    pub fn new(
        io: Arc<dyn Io>,
        identity: (String, String, String),
        udfs: Arc<farad_runtime::wasm::UdfRegistry>,
        store: Arc<crate::store::Store>,
        global_email: Option<bool>,
    ) -> Tasks {
        Tasks {
            io,
            identity,
            udfs,
            store,
            running: Mutex::default(),
            errors: Mutex::default(),
            replayed: Mutex::default(),
            inhibitors: Arc::default(),
            global_email,
        }
    }

    /// A new instance of task `id`, wired to the outside world, without saved state.
    pub fn instantiate(&self, id: &str, plan: &Plan, dbrps: &[DbRp]) -> Result<Task, String> {
        let env = TaskEnv {
            io: self.io.clone(),
            dbrps: dbrps.iter().map(|d| (d.db.clone(), d.rp.clone())).collect(),
            task_id: id.to_owned(),
            hostname: self.identity.0.clone(),
            cluster_id: self.identity.1.clone(),
            server_id: self.identity.2.clone(),
            udfs: Some(self.udfs.clone()),
            inhibitors: self.inhibitors.clone(),
            global_email: self.global_email,
            ..TaskEnv::default()
        };
        Task::with_env(plan, &env).map_err(|e| e.to_string())
    }

    /// Makes `task` the instance whose httpOut results are served for `id` when the task
    /// itself is not running.
    pub fn set_replayed(&self, id: &str, task: Arc<Mutex<Task>>) {
        self.replayed.lock().insert(id.to_owned(), task);
    }

    /// Starts (or restarts) task `id` from its plan, subscribed to `dbrps`.
    pub fn start(
        &self,
        id: &str,
        plan: &Plan,
        dbrps: &[DbRp],
        router: &Router,
    ) -> Result<(), String> {
        self.stop(id);
        let task = match self.instantiate(id, plan, dbrps) {
            Ok(mut t) => {
                self.restore(id, &mut t);
                Arc::new(Mutex::new(t))
            }
            Err(msg) => {
                tracing::warn!(task = id, error = msg, "task cannot run");
                self.errors.lock().insert(id.to_owned(), msg.clone());
                return Err(msg);
            }
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let batch = task.lock().query_count() > 0;
        if batch {
            let queries = match crate::schedule::queries(plan) {
                Ok(q) => q,
                Err(msg) => {
                    tracing::warn!(task = id, error = msg, "task cannot run");
                    self.errors.lock().insert(id.to_owned(), msg.clone());
                    return Err(msg);
                }
            };
            crate::schedule::start(
                id,
                Arc::downgrade(&task),
                queries,
                self.io.clone(),
                stop.clone(),
            );
        }
        self.errors.lock().remove(id);
        // A batch task reads what its queries return, not the writes to its db/rps.
        let small_waiting = Arc::new(AtomicUsize::new(0));
        let subscriptions = dbrps
            .iter()
            .filter(|_| !batch)
            .map(|d| {
                let sink = TaskSink {
                    task: task.clone(),
                    db: d.db.clone(),
                    rp: d.rp.clone(),
                    id: id.to_owned(),
                    small_waiting: small_waiting.clone(),
                };
                router.subscribe(&d.db, &d.rp, Arc::new(sink))
            })
            .collect();
        self.running.lock().insert(
            id.to_owned(),
            Running {
                task,
                stop,
                _subscriptions: subscriptions,
                throughput: Arc::new(Mutex::new(Throughput {
                    rate: 0.0,
                    collected: 0,
                    at: std::time::Instant::now(),
                })),
            },
        );
        tracing::info!(task = id, "task started");
        Ok(())
    }

    /// Stops task `id`, saving its nodes' state; dropping its subscriptions detaches it from
    /// the router.
    pub fn stop(&self, id: &str) -> bool {
        self.errors.lock().remove(id);
        let stopped = self.running.lock().remove(id);
        if let Some(r) = &stopped {
            r.stop.store(true, Relaxed);
            self.save(id, &mut r.task.lock());
            tracing::info!(task = id, "task stopped");
        }
        stopped.is_some()
    }

    /// Forgets the saved state (and replay results) of a deleted task.
    pub fn forget_state(&self, id: &str) {
        self.replayed.lock().remove(id);
        if let Err(e) = self.store.delete(&crate::store::TASK_STATE, id) {
            tracing::error!(task = id, error = format!("{e:#}"), "deleting task state");
        }
    }

    /// Saves every running task's node state (on a timer and at shutdown).
    pub fn save_all(&self) {
        let tasks: Vec<(String, Arc<Mutex<Task>>)> = self
            .running
            .lock()
            .iter()
            .map(|(id, r)| (id.clone(), r.task.clone()))
            .collect();
        for (id, task) in tasks {
            self.save(&id, &mut task.lock());
        }
    }

    fn save(&self, id: &str, task: &mut Task) {
        use base64::Engine as _;
        let states = task.snapshot();
        if states.is_empty() {
            return;
        }
        let record: std::collections::BTreeMap<String, String> = states
            .into_iter()
            .map(|(node, bytes)| {
                (
                    node,
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                )
            })
            .collect();
        if let Err(e) = self.store.put(&crate::store::TASK_STATE, id, &record) {
            tracing::error!(task = id, error = format!("{e:#}"), "saving task state");
        }
    }

    fn restore(&self, id: &str, task: &mut Task) {
        use base64::Engine as _;
        let saved = match self.store.get(&crate::store::TASK_STATE, id) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(task = id, error = format!("{e:#}"), "reading task state");
                return;
            }
        };
        let states: Vec<(String, Vec<u8>)> = saved
            .into_iter()
            .filter_map(|(node, b64)| {
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                Some((node, bytes))
            })
            .collect();
        for problem in task.restore(&states) {
            tracing::warn!(
                task = id,
                problem,
                "node state not restored; it starts afresh"
            );
        }
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.running.lock().contains_key(id)
    }

    /// Why an enabled task is not running.
    pub fn error(&self, id: &str) -> String {
        self.errors.lock().get(id).cloned().unwrap_or_default()
    }

    /// Kapacitor's `stats` object of a task: `task-stats` and `node-stats`.
    pub fn stats_json(&self, id: &str) -> Value {
        let Some((task, throughput)) = self
            .running
            .lock()
            .get(id)
            .map(|r| (r.task.clone(), r.throughput.lock().rate))
        else {
            return json!({});
        };
        let t = task.lock();
        stats_json(&t, throughput)
    }

    /// Every running task's `stats` object, by id.
    pub fn all_stats(&self) -> Vec<(String, Value)> {
        let mut ids: Vec<String> = self.running.lock().keys().cloned().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let stats = self.stats_json(&id);
                (id, stats)
            })
            .collect()
    }

    /// The running task's DOT with its statistics; `None` when it is not running.
    pub fn dot(&self, id: &str, labels: bool) -> Option<String> {
        let (task, throughput) = self
            .running
            .lock()
            .get(id)
            .map(|r| (r.task.clone(), r.throughput.lock().rate))?;
        let dot = task.lock().dot(id, throughput, labels);
        Some(dot)
    }

    /// Fires due wall-clock timers (barriers) of every running task and, with a `cutoff`,
    /// forgets groups idle since then.
    pub fn tick(&self, now: i64, cutoff: Option<i64>) {
        type Entry = (String, Arc<Mutex<Task>>, Arc<Mutex<Throughput>>);
        let tasks: Vec<Entry> = self
            .running
            .lock()
            .iter()
            .map(|(id, r)| (id.clone(), r.task.clone(), r.throughput.clone()))
            .collect();
        for (id, task, throughput) in tasks {
            let mut task = task.lock();
            let mut t = throughput.lock();
            let secs = t.at.elapsed().as_secs_f64();
            if secs >= 1.0 {
                let collected = task.collected();
                t.rate = collected.saturating_sub(t.collected) as f64 / secs;
                t.collected = collected;
                t.at = std::time::Instant::now();
            }
            drop(t);
            if task.has_timers() {
                task.tick(now);
            }
            if let Some(cutoff) = cutoff {
                let gone = task.expire(cutoff);
                if gone > 0 {
                    tracing::debug!(task = id, groups = gone, "idle groups forgotten");
                }
            }
        }
    }

    /// The result of an httpOut endpoint of a running task, or else of its latest replay.
    pub fn http_out(&self, id: &str, endpoint: &str) -> Option<Value> {
        let running = self.running.lock().get(id).map(|r| r.task.clone());
        let task = running.or_else(|| self.replayed.lock().get(id).cloned())?;
        let data = task.lock().http_out(endpoint)?;
        let doc = data.lock().to_json();
        Some(doc)
    }
}

/// Kapacitor's `stats` object of a task instance.
pub fn stats_json(task: &Task, throughput: f64) -> Value {
    let (stats, state_bytes) = (task.stats(), task.state_bytes());
    let mut nodes = Map::new();
    for (name, s) in stats.iter() {
        let mut node = json!({
            "avg_exec_time_ns": s.avg_exec_time_ns(),
            "collected": s.collected.load(Relaxed),
            "emitted": s.emitted.load(Relaxed),
            "errors": s.errors.load(Relaxed),
            "working_cardinality": s.working_cardinality.load(Relaxed),
        });
        for (k, v) in s.extra.lock().iter() {
            node[*k] = json!(v);
        }
        nodes.insert(name.clone(), node);
    }
    json!({
        "task-stats": {"throughput": throughput, "state_bytes": state_bytes},
        "node-stats": nodes,
    })
}
