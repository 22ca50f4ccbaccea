//! Batch tasks' schedules: each enabled batch task has a thread that runs its query nodes'
//! InfluxQL on their `.every()` ticks, against the `[[influxdb]]` cluster they name, and
//! pushes the answers into the task as batches (stamped with the query's stop time unless
//! they are grouped by time, as Kapacitor does).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use farad_runtime::exec::{Io, Task};
use farad_runtime::query::{BatchQuery, result_to_batches};
use farad_runtime::recording::batch::NO_TIME;
use parking_lot::Mutex;

/// How often a schedule looks at the clock (and at its stop flag) while it waits.
const GRANULARITY: Duration = Duration::from_millis(100);

/// The query nodes of a batch task, in the order the task numbers them.
pub fn queries(plan: &farad_runtime::pipeline::Plan) -> Result<Vec<BatchQuery>, String> {
    plan.batch_queries()
        .iter()
        .map(|&id| {
            let node = &plan.nodes[id];
            BatchQuery::from_node(node).map_err(|e| format!("node {}: {e}", node.name()))
        })
        .collect()
}

/// Starts the schedule of task `id`; it ends when `stop` is set or the task is gone.
pub fn start(
    id: &str,
    task: Weak<Mutex<Task>>,
    queries: Vec<BatchQuery>,
    io: Arc<dyn Io>,
    stop: Arc<AtomicBool>,
) {
    let id = id.to_owned();
    let spawned = std::thread::Builder::new()
        .name(format!("batch-{id}"))
        .spawn(move || run(&id, &task, &queries, io.as_ref(), &stop));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a batch schedule");
    }
}

fn run(id: &str, task: &Weak<Mutex<Task>>, queries: &[BatchQuery], io: &dyn Io, stop: &AtomicBool) {
    let now = crate::server::now_ns();
    let mut next: Vec<i64> = queries.iter().map(|q| q.next_tick(now, None)).collect();
    while !stop.load(Relaxed) {
        let Some((i, due)) = next.iter().copied().enumerate().min_by_key(|&(_, t)| t) else {
            return;
        };
        let now = crate::server::now_ns();
        if due > now {
            std::thread::sleep(GRANULARITY.min(Duration::from_nanos((due - now) as u64)));
            continue;
        }
        let q = &queries[i];
        // A schedule that fell behind skips the ticks it missed rather than running them all.
        next[i] = match q.next_tick(now, Some(due)) {
            n if n > now => n,
            _ => q.next_tick(now, None),
        };
        let (start, stop_time) = q.range(due);
        let text = q.render(start, stop_time);
        tracing::debug!(task = id, query = text, "starting batch query");
        let batches = run_query(io, q, &text, stop_time);
        let Some(task) = task.upgrade() else { return };
        match batches {
            Ok(batches) => {
                let mut t = task.lock();
                t.set_now(crate::server::now_ns());
                if let Err(e) = t.push_batches(i, batches) {
                    tracing::error!(task = id, error = e, "batch not delivered");
                }
                if let Some(e) = t.last_error.take() {
                    tracing::debug!(task = id, error = e, "node error");
                }
            }
            Err(e) => tracing::warn!(task = id, query = text, error = e, "batch query failed"),
        }
    }
}

/// Runs one query and returns its batches, stamped with `stop` unless grouped by time.
pub fn run_query(
    io: &dyn Io,
    q: &BatchQuery,
    text: &str,
    stop: i64,
) -> Result<Vec<farad_runtime::model::Batch>, String> {
    let json = io.query_influxdb(&q.cluster, text)?;
    let mut all = Vec::new();
    for result in json["results"].as_array().into_iter().flatten() {
        all.extend(result_to_batches(result, q.by_name)?);
    }
    for b in &mut all {
        if b.tmax == NO_TIME || !q.grouped_by_time() {
            b.tmax = stop;
        }
    }
    Ok(all)
}
