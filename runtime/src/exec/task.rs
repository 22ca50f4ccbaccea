//! A running task: its executors, the edges between them, statistics and httpOut results.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::nodes::{self, HttpOutData, NodeExec};
use super::stats::NodeStats;
use super::{Msg, StreamPoint};
use crate::model::{GroupKey, Point};
use crate::pipeline::Plan;
use crate::pipeline::schema::NodeKind;

/// Why a plan could not be made into a running task.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("node {node}: {reason}")]
pub struct BuildError {
    pub node: String,
    pub reason: String,
}

/// A task, ready to take points.
pub struct Task {
    execs: Vec<Box<dyn NodeExec>>,
    children: Vec<Vec<usize>>,
    parents: Vec<Vec<usize>>,
    stats: Arc<Vec<(String, NodeStats)>>,
    http_out: HashMap<String, Arc<Mutex<HttpOutData>>>,
    /// The `from` nodes under the stream source, with their db/rp filters.
    froms: Vec<(usize, Option<String>, Option<String>)>,
    source: usize,
    /// Last error per node, for logs.
    pub last_error: Option<String>,
    /// Output buffers, reused so that a message does not allocate one.
    buffers: Vec<Vec<Msg>>,
    /// Messages seen per node, to pick the ones to time.
    sampled: Vec<u64>,
}

/// One message in this many is timed for `avg_exec_time_ns`.
const TIMING_SAMPLE: u64 = 32;

impl Task {
    /// Instantiates every node of `plan`.
    pub fn new(plan: &Plan) -> Result<Task, BuildError> {
        let mut execs = Vec::with_capacity(plan.nodes.len());
        let mut http_out = HashMap::new();
        let mut froms = Vec::new();
        for n in &plan.nodes {
            let built = nodes::build(n).map_err(|reason| BuildError {
                node: n.name(),
                reason,
            })?;
            if let Some((endpoint, data)) = built.http_out {
                http_out.insert(endpoint, data);
            }
            if n.kind == NodeKind::From {
                let prop = |name: &str| match n.property(name).and_then(|p| p.args.first()) {
                    Some(crate::pipeline::Value::Str(s)) => Some(s.clone()),
                    _ => None,
                };
                froms.push((n.id, prop("database"), prop("retentionPolicy")));
            }
            execs.push(built.exec);
        }
        let source = plan
            .nodes
            .iter()
            .find(|n| n.kind == NodeKind::Stream)
            .map(|n| n.id)
            .ok_or_else(|| BuildError {
                node: "task".into(),
                reason: "only stream tasks run yet".into(),
            })?;
        let stats = plan
            .nodes
            .iter()
            .map(|n| (n.name(), NodeStats::default()))
            .collect();
        Ok(Task {
            execs,
            children: plan.nodes.iter().map(|n| n.children.clone()).collect(),
            parents: plan.nodes.iter().map(|n| n.parents.clone()).collect(),
            stats: Arc::new(stats),
            http_out,
            froms,
            source,
            last_error: None,
            buffers: Vec::new(),
            sampled: vec![0; plan.nodes.len()],
        })
    }

    /// Node statistics, by node name in plan order; shared, readable while the task runs.
    pub fn stats(&self) -> Arc<Vec<(String, NodeStats)>> {
        self.stats.clone()
    }

    /// The result store of an httpOut endpoint.
    pub fn http_out(&self, endpoint: &str) -> Option<Arc<Mutex<HttpOutData>>> {
        self.http_out.get(endpoint).cloned()
    }

    /// Runs the points of one write to `db`/`rp` through the pipeline.
    pub fn push(&mut self, db: &str, rp: &str, points: &[Point]) {
        let source_stats = &self.stats[self.source].1;
        NodeStats::add(&source_stats.collected, points.len() as u64);
        NodeStats::add(&source_stats.emitted, points.len() as u64);
        let dims = nodes::no_dims();
        for i in 0..self.froms.len() {
            let (id, db_f, rp_f) = &self.froms[i];
            if db_f.as_deref().is_some_and(|d| d != db) || rp_f.as_deref().is_some_and(|r| r != rp)
            {
                continue;
            }
            let id = *id;
            for p in points {
                let sp = StreamPoint {
                    point: p.clone(),
                    group: GroupKey::NIL,
                    dims: dims.clone(),
                };
                self.send(id, 0, Msg::Point(sp));
            }
        }
    }

    /// Which of `child`'s parents `parent` is.
    fn input_index(&self, child: usize, parent: usize) -> usize {
        self.parents[child]
            .iter()
            .position(|&p| p == parent)
            .unwrap_or(0)
    }

    /// Runs `node` on a message from its `input`-th parent.
    fn send(&mut self, node: usize, input: usize, msg: Msg) {
        // Reading the clock costs as much as a simple node: time one message in TIMING_SAMPLE.
        self.sampled[node] = self.sampled[node].wrapping_add(1);
        let start = self.sampled[node]
            .is_multiple_of(TIMING_SAMPLE)
            .then(Instant::now);
        let mut out = self.buffers.pop().unwrap_or_default();
        let result = match msg {
            Msg::Point(p) => self.execs[node].point_from(input, p, &mut out),
            Msg::Batch(b) => self.execs[node].batch(b, &mut out),
        };
        let stats = &self.stats[node].1;
        NodeStats::add(&stats.collected, 1);
        if let Some(start) = start {
            NodeStats::add(
                &stats.exec_ns,
                start.elapsed().as_nanos() as u64 * TIMING_SAMPLE,
            );
        }
        NodeStats::add(&stats.emitted, out.len() as u64);
        stats.working_cardinality.store(
            self.execs[node].cardinality() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        if let Err(e) = result {
            NodeStats::add(&stats.errors, 1);
            self.last_error = Some(format!("{}: {e}", self.stats[node].0));
        }
        if !out.is_empty()
            && let Some((&last, rest)) = self.children[node].clone().split_last()
        {
            for m in out.drain(..) {
                for &c in rest {
                    let input = self.input_index(c, node);
                    self.send(c, input, m.clone());
                }
                let input = self.input_index(last, node);
                self.send(last, input, m);
            }
        }
        out.clear();
        self.buffers.push(out);
    }
}
