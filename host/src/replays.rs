//! Replays: a recording played into a fresh instance of a task, on a thread of its own.
//!
//! As in Kapacitor, the replay's instance is separate from the task's live one (which may run
//! alongside) and starts without state; its alerts, posts and writes go out as live ones do.
//! Times are rebased onto the replay's start unless `recording-time` keeps them; the `fast`
//! clock delivers everything at once, the `real` clock with the recorded spacing. The
//! instance's httpOut results stay readable at the task's endpoints afterwards (see
//! [`crate::tasks::Tasks::set_replayed`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use farad_runtime::model::Point;
use farad_runtime::recording::{self, StreamPoint};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::recordings::{Data, RecordingRecord};
use crate::server::State;
use crate::store::{self, TaskRecord};

/// A replay as Kapacitor shows it (without the `link`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReplayRecord {
    pub id: String,
    pub task: String,
    pub recording: String,
    pub recording_time: bool,
    /// `fast` or `real`.
    pub clock: String,
    pub date: String,
    pub error: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    pub progress: f64,
    /// The task's `task-stats` and `node-stats` at the end.
    pub stats: Value,
}

/// Why a replay could not start.
#[derive(Debug)]
pub enum ReplayError {
    Invalid(String),
    NotFound(String),
    Conflict(String),
    Internal(anyhow::Error),
}

/// Where a replay's data comes from.
pub enum Source {
    /// A stored recording, by id.
    Recording(String),
    /// `replay-live batch`: a batch task's own queries over `[start, stop]`, from InfluxDB.
    Batch { start: i64, stop: i64 },
    /// `replay-live query`: an ad-hoc query's result, as a stream or a batch by the task's type.
    Query { query: String, cluster: String },
}

/// Replays under way: their current record and a flag to stop them.
#[derive(Default)]
pub struct Replays {
    running: Mutex<HashMap<String, (ReplayRecord, Arc<AtomicBool>)>>,
}

/// Points per push into the task: large enough to amortize the lock, small enough for
/// progress to move.
const CHUNK: usize = 4096;

impl Replays {
    /// Starts replaying `source` into `task` in the background; returns the running
    /// replay's record.
    pub fn start(
        &self,
        state: &Arc<State>,
        id: Option<String>,
        task_id: &str,
        source: Source,
        real_clock: bool,
        recording_time: bool,
    ) -> Result<ReplayRecord, ReplayError> {
        let id = crate::http::tasks::given_or_new_id(id, "replay").map_err(ReplayError::Invalid)?;
        if self.running.lock().contains_key(&id)
            || state
                .store
                .get(&store::REPLAYS, &id)
                .map_err(ReplayError::Internal)?
                .is_some()
        {
            return Err(ReplayError::Conflict(format!(
                "a replay with id {id:?} already exists"
            )));
        }
        let task: TaskRecord = state
            .store
            .get(&store::TASKS, task_id)
            .map_err(ReplayError::Internal)?
            .ok_or_else(|| ReplayError::NotFound(format!("task load: unknown task {task_id}")))?;
        let rec = match &source {
            Source::Recording(recording_id) => Some(
                state
                    .recordings
                    .get(recording_id)
                    .map_err(ReplayError::Internal)?
                    .ok_or_else(|| {
                        ReplayError::NotFound(format!(
                            "recording not found: unknown recording {recording_id}"
                        ))
                    })?,
            ),
            Source::Batch { .. } if task.kind == crate::store::TaskType::Stream => {
                return Err(ReplayError::Invalid(format!(
                    "cannot replay batch against stream task: {task_id}"
                )));
            }
            Source::Query { query, .. } if query.trim().is_empty() => {
                return Err(ReplayError::Invalid("must provide query".into()));
            }
            _ => None,
        };
        let replay = ReplayRecord {
            id: id.clone(),
            task: task_id.to_owned(),
            recording: rec.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
            recording_time,
            clock: if real_clock { "real" } else { "fast" }.into(),
            date: farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns()),
            error: String::new(),
            status: "running".into(),
            progress: 0.0,
            stats: serde_json::json!({}),
        };
        state
            .store
            .put(&store::REPLAYS, &id, &replay)
            .map_err(ReplayError::Internal)?;
        let stop = Arc::new(AtomicBool::new(false));
        self.running
            .lock()
            .insert(id.clone(), (replay.clone(), stop.clone()));
        let state = state.clone();
        let started = replay.clone();
        std::thread::Builder::new()
            .name(format!("replay-{id}"))
            .spawn(move || {
                let mut replay = started;
                let outcome = data(&state, &task, rec.as_ref(), source)
                    .and_then(|data| run(&state, &mut replay, &task, data, &stop, real_clock));
                match outcome {
                    Ok(()) => replay.status = "finished".into(),
                    Err(e) => {
                        tracing::warn!(replay = replay.id, error = e, "replay failed");
                        replay.status = "failed".into();
                        replay.error = e;
                    }
                }
                if !stop.load(Relaxed)
                    && let Err(e) = state.store.put(&store::REPLAYS, &replay.id, &replay)
                {
                    tracing::error!(
                        replay = replay.id,
                        error = format!("{e:#}"),
                        "saving replay"
                    );
                }
                state.replays.running.lock().remove(&replay.id);
            })
            .map_err(|e| ReplayError::Internal(e.into()))?;
        Ok(replay)
    }

    /// A replay, running or done.
    pub fn get(&self, state: &State, id: &str) -> anyhow::Result<Option<ReplayRecord>> {
        if let Some((r, _)) = self.running.lock().get(id) {
            return Ok(Some(r.clone()));
        }
        state.store.get(&store::REPLAYS, id)
    }

    /// All replays, running ones included, by id.
    pub fn list(&self, state: &State) -> anyhow::Result<Vec<ReplayRecord>> {
        let mut all: std::collections::BTreeMap<String, ReplayRecord> =
            state.store.list(&store::REPLAYS)?.into_iter().collect();
        for (id, (r, _)) in self.running.lock().iter() {
            all.insert(id.clone(), r.clone());
        }
        Ok(all.into_values().collect())
    }

    /// Deletes a replay (stopping it when it runs); false when there was none.
    pub fn delete(&self, state: &State, id: &str) -> anyhow::Result<bool> {
        let running = self.running.lock().remove(id);
        if let Some((_, stop)) = &running {
            stop.store(true, Relaxed);
        }
        Ok(state.store.delete(&store::REPLAYS, id)? || running.is_some())
    }

    fn set_progress(&self, id: &str, progress: f64) {
        if let Some((r, _)) = self.running.lock().get_mut(id) {
            r.progress = progress;
        }
    }
}

/// Marks the replays a previous run left running as failed (at start).
pub fn mark_interrupted(store: &crate::store::Store) -> anyhow::Result<()> {
    for (id, mut r) in store.list(&store::REPLAYS)? {
        if r.status == "running" {
            r.status = "failed".into();
            r.error = "the server stopped during the replay".into();
            store.put(&store::REPLAYS, &id, &r)?;
        }
    }
    Ok(())
}

/// The replay's data: the recording's, or what InfluxDB returns now.
fn data(
    state: &State,
    task: &TaskRecord,
    rec: Option<&RecordingRecord>,
    source: Source,
) -> Result<Data, String> {
    use crate::recordings::{RecordingType, query_data, query_runs};
    use crate::store::TaskType;
    let io: Arc<dyn farad_runtime::exec::Io> = state.outputs.clone();
    match (source, rec) {
        (Source::Recording(_), Some(rec)) => {
            let matches = matches!(
                (rec.kind, task.kind),
                (RecordingType::Stream, TaskType::Stream) | (RecordingType::Batch, TaskType::Batch)
            );
            if !matches {
                return Err(format!(
                    "data source open: a {:?} recording cannot feed a {:?} task",
                    rec.kind, task.kind
                )
                .to_lowercase());
            }
            state
                .recordings
                .load(rec)
                .map_err(|e| format!("load data source: {e:#}"))
        }
        (Source::Batch { start, stop }, _) => {
            let plan =
                crate::http::tasks::compile(state, task).map_err(|e| format!("task start: {e}"))?;
            let queries = crate::schedule::queries(&plan)?;
            let now = crate::server::now_ns();
            query_runs(&queries, start, stop, now, io.as_ref()).map(Data::Batch)
        }
        (Source::Query { query, cluster }, _) => {
            let kind = match task.kind {
                TaskType::Stream => RecordingType::Stream,
                TaskType::Batch => RecordingType::Batch,
            };
            query_data(kind, &query, &cluster, io.as_ref())
        }
        (Source::Recording(id), None) => Err(format!("unknown recording {id}")),
    }
}

fn run(
    state: &Arc<State>,
    replay: &mut ReplayRecord,
    task: &TaskRecord,
    data: Data,
    stop: &AtomicBool,
    real_clock: bool,
) -> Result<(), String> {
    let plan = crate::http::tasks::compile(state, task).map_err(|e| format!("task start: {e}"))?;
    let instance = state
        .tasks
        .instantiate(&task.id, &plan, &task.dbrps)
        .map_err(|e| format!("task start: {e}"))?;
    let instance = Arc::new(Mutex::new(instance));
    state.tasks.set_replayed(&task.id, instance.clone());
    let zero = crate::server::now_ns();
    let clock = Clock {
        real: real_clock,
        zero,
        started: std::time::Instant::now(),
    };
    let progress = |done: usize, total: usize| {
        state
            .replays
            .set_progress(&replay.id, done as f64 / total.max(1) as f64)
    };
    match data {
        Data::Stream(mut points) => {
            let wanted = |p: &StreamPoint| task.dbrps.iter().any(|d| d.db == p.db && d.rp == p.rp);
            points.retain(wanted);
            let release = recording::rebase_stream(&mut points, zero, replay.recording_time);
            let total = points.len();
            let mut i = 0;
            while i < total && !stop.load(Relaxed) {
                // One push: consecutive points of one db/rp, released together.
                let (db, rp) = (points[i].db.clone(), points[i].rp.clone());
                let mut end = i + 1;
                while end < total
                    && end - i < CHUNK
                    && points[end].db == db
                    && points[end].rp == rp
                    && (!real_clock || release[end] == release[i])
                {
                    end += 1;
                }
                clock.until(release[i]);
                let chunk: Vec<Point> = points[i..end].iter().map(|p| p.point.clone()).collect();
                let mut t = instance.lock();
                t.set_now(crate::server::now_ns());
                t.push_owned(&db, &rp, chunk);
                log_error(&replay.id, &mut t);
                drop(t);
                i = end;
                progress(i, total);
            }
        }
        Data::Batch(mut queries) => {
            let count = instance.lock().query_count();
            if queries.len() != count {
                return Err(format!(
                    "running replay: unexpected number of batch collectors. exp {} got {count}",
                    queries.len()
                ));
            }
            // Each query's batches are rebased on their own, then all are delivered in the
            // order a clock would release them (stable: a query's own order is kept).
            let mut order: Vec<(i64, usize, usize)> = Vec::new();
            for (q, batches) in queries.iter_mut().enumerate() {
                let release = recording::rebase_batches(batches, zero, replay.recording_time);
                order.extend(release.into_iter().enumerate().map(|(i, r)| (r, q, i)));
            }
            order.sort_by_key(|&(r, q, i)| (r, q, i));
            let mut taken: Vec<std::vec::IntoIter<_>> =
                queries.into_iter().map(|b| b.into_iter()).collect();
            let total = order.len();
            for (done, (at, q, _)) in order.into_iter().enumerate() {
                if stop.load(Relaxed) {
                    break;
                }
                let Some(batch) = taken[q].next() else { break };
                clock.until(at);
                let mut t = instance.lock();
                t.set_now(crate::server::now_ns());
                t.push_batches(q, [batch])?;
                log_error(&replay.id, &mut t);
                drop(t);
                progress(done + 1, total);
            }
        }
    }
    let mut t = instance.lock();
    if !stop.load(Relaxed) {
        t.finish();
        log_error(&replay.id, &mut t);
    }
    replay.stats = crate::tasks::stats_json(&t, 0.0);
    replay.progress = 1.0;
    Ok(())
}

fn log_error(replay: &str, task: &mut farad_runtime::exec::Task) {
    if let Some(error) = task.last_error.take() {
        tracing::debug!(replay, error, "node error");
    }
}

/// The replay's clock: `fast` releases at once; `real` waits for each release time, counted
/// from `zero` at the start.
struct Clock {
    real: bool,
    zero: i64,
    started: std::time::Instant,
}

impl Clock {
    fn until(&self, at: i64) {
        if !self.real {
            return;
        }
        let due = std::time::Duration::from_nanos(at.saturating_sub(self.zero).max(0) as u64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}
