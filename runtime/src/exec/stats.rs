//! Node statistics as Kapacitor reports them, readable while the task runs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one node.
#[derive(Debug, Default)]
pub struct NodeStats {
    pub collected: AtomicU64,
    pub emitted: AtomicU64,
    pub errors: AtomicU64,
    /// Sum of processing time (estimated from a sample of messages), for the average.
    pub exec_ns: AtomicU64,
    pub working_cardinality: AtomicU64,
    /// Counters only some node kinds have (`points_written`, `fields_defaulted`, ...).
    pub extra: parking_lot::Mutex<Vec<(&'static str, i64)>>,
}

impl NodeStats {
    /// Average processing time per collected message.
    pub fn avg_exec_time_ns(&self) -> u64 {
        self.exec_ns
            .load(Relaxed)
            .checked_div(self.collected.load(Relaxed))
            .unwrap_or(0)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}
