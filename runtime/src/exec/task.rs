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
    /// Per node, whether it takes points in place ([`NodeExec::point_in_place`]).
    in_place: Vec<bool>,
    /// Per node, its children and which of each child's parents it is.
    outputs: Vec<Vec<(usize, usize)>>,
    /// Counters gathered during a push, published once at its end (no atomics per message).
    counts: Vec<Counts>,
    stats: Arc<Vec<(String, NodeStats)>>,
    http_out: HashMap<String, Arc<Mutex<HttpOutData>>>,
    /// The `from` nodes under the stream source, with their db/rp filters.
    froms: Vec<(usize, Option<String>, Option<String>)>,
    /// The `stream` or `batch` node.
    source: usize,
    /// A batch task's query nodes, in the order of the batch node's children.
    queries: Vec<usize>,
    /// Last error per node, for logs.
    pub last_error: Option<String>,
    /// Per node, how its errors are reported.
    quiet: Vec<Quiet>,
    /// Output buffers, reused so that a message does not allocate one.
    buffers: Vec<Vec<Msg>>,
    /// Messages seen per node, to pick the ones to time.
    sampled: Vec<u64>,
    /// What `now()` returns (set by the host; the runtime reads no clock).
    now: i64,
    /// Nodes with wall-clock timers.
    tickers: Vec<usize>,
    /// Nodes that gather messages until the end of a write, parents before children.
    flushers: Vec<usize>,
    /// Node ids in Kapacitor's walk order (for DOT).
    order: Vec<usize>,
    /// Per node, the per-group output counts a `stats` node reads, when one watches it.
    watched: Vec<Option<nodes::GroupCounts>>,
}

/// How a node's errors are reported (`.quiet()`): as Kapacitor, a quiet node's errors are
/// counted but not logged, and a quiet `eval`'s neither.
#[derive(Clone, Copy, PartialEq)]
enum Quiet {
    No,
    Counted,
    Silent,
}

#[derive(Clone, Copy, Default)]
struct Counts {
    collected: u64,
    emitted: u64,
    errors: u64,
    exec_ns: u64,
}

/// One message in this many is timed for `avg_exec_time_ns`.
const TIMING_SAMPLE: u64 = 32;

impl Task {
    /// Instantiates every node of `plan`, with no outside world (see [`Task::with_env`]).
    pub fn new(plan: &Plan) -> Result<Task, BuildError> {
        Task::with_env(plan, &super::TaskEnv::default())
    }

    /// Instantiates every node of `plan`; nodes that send data out go through `env.io`.
    pub fn with_env(plan: &Plan, env: &super::TaskEnv) -> Result<Task, BuildError> {
        let mut execs = Vec::with_capacity(plan.nodes.len());
        let mut http_out = HashMap::new();
        let mut froms = Vec::new();
        let mut watchers = Vec::new();
        for n in &plan.nodes {
            let built = nodes::build(n, env).map_err(|reason| BuildError {
                node: n.name(),
                reason,
            })?;
            if let Some((endpoint, data)) = built.http_out {
                http_out.insert(endpoint, data);
            }
            if let Some(w) = built.watch {
                watchers.push(w);
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
            .find(|n| matches!(n.kind, NodeKind::Stream | NodeKind::Batch))
            .ok_or_else(|| BuildError {
                node: "task".into(),
                reason: "a task starts with stream or batch".into(),
            })?;
        // Kapacitor hands a batch task's query nodes their data in its walk order, not in
        // the order the script creates them.
        let order = plan.topological();
        let queries = plan.batch_queries();
        let source = source.id;
        let tickers = (0..execs.len()).filter(|&i| execs[i].ticks()).collect();
        let flushers = order
            .iter()
            .copied()
            .filter(|&i| execs[i].flushes())
            .collect();
        let stats = plan
            .nodes
            .iter()
            .map(|n| (n.name(), NodeStats::default()))
            .collect();
        Ok(Task {
            in_place: execs.iter().map(|e| e.passes_in_place()).collect(),
            execs,
            outputs: plan
                .nodes
                .iter()
                .map(|n| {
                    let input = |c: usize| {
                        plan.nodes[c]
                            .parents
                            .iter()
                            .position(|&p| p == n.id)
                            .unwrap_or(0)
                    };
                    n.children.iter().map(|&c| (c, input(c))).collect()
                })
                .collect(),
            counts: vec![Counts::default(); plan.nodes.len()],
            stats: Arc::new(stats),
            http_out,
            froms,
            source,
            queries,
            last_error: None,
            quiet: plan
                .nodes
                .iter()
                .map(|n| match (n.property("quiet").is_some(), n.kind) {
                    (false, _) => Quiet::No,
                    (true, NodeKind::Eval) => Quiet::Silent,
                    (true, _) => Quiet::Counted,
                })
                .collect(),
            buffers: Vec::new(),
            sampled: vec![0; plan.nodes.len()],
            now: 0,
            tickers,
            flushers,
            order,
            watched: {
                let mut w: Vec<Option<nodes::GroupCounts>> = vec![None; plan.nodes.len()];
                for (node, counts) in watchers {
                    w[node] = Some(counts);
                }
                w
            },
        })
    }

    /// The running task in DOT with its statistics, as Kapacitor's task `dot` shows it:
    /// attributes on nodes and edges, or (`labels`) Graphviz labels.
    pub fn dot(&self, id: &str, throughput: f64, labels: bool) -> String {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering::Relaxed;
        let mut s = format!("digraph {id} {{\n");
        if labels {
            let _ = writeln!(
                s,
                "graph [label=\"Throughput: {throughput:.2} points/s\" forcelabels=true pad=\"0.8,0.5\"];"
            );
        } else {
            let _ = writeln!(s, "graph [throughput=\"{throughput:.2} points/s\"];");
        }
        for &n in &self.order {
            let (name, st) = &self.stats[n];
            let mut attrs: Vec<(String, String)> = vec![
                (
                    "avg_exec_time_ns".into(),
                    crate::duration::format_go_duration(st.avg_exec_time_ns() as i64),
                ),
                ("errors".into(), st.errors.load(Relaxed).to_string()),
                (
                    "working_cardinality".into(),
                    st.working_cardinality.load(Relaxed).to_string(),
                ),
            ];
            attrs.extend(
                st.extra
                    .lock()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            attrs.sort();
            if labels {
                let text: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = writeln!(s, "\n{name} [xlabel=\"{}\"];", text.join("\\r"));
            } else {
                let text: String = attrs.iter().map(|(k, v)| format!("{k}=\"{v}\" ")).collect();
                let _ = writeln!(s, "\n{name} [{text}];");
            }
            let processed = st.emitted.load(Relaxed);
            for &(c, _) in &self.outputs[n] {
                let child = &self.stats[c].0;
                if labels {
                    let _ = writeln!(s, "{name} -> {child} [label=\"processed={processed}\"];");
                } else {
                    let _ = writeln!(s, "{name} -> {child} [processed=\"{processed}\"];");
                }
            }
        }
        s.push('}');
        s
    }

    /// Approximate bytes of state the task's nodes keep (walks every group: for the API, not
    /// for the hot path).
    pub fn state_bytes(&self) -> usize {
        self.execs.iter().map(|e| e.state_bytes()).sum()
    }

    /// Points (stream) or batches (batch) taken in so far.
    pub fn collected(&self) -> u64 {
        let count = |n: usize| {
            self.stats[n]
                .1
                .collected
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        if self.queries.is_empty() {
            count(self.source)
        } else {
            self.queries.iter().map(|&q| count(q)).sum()
        }
    }

    /// How many query nodes a batch task has (0 for a stream task): what
    /// [`Task::push_batches`] takes batches for.
    pub fn query_count(&self) -> usize {
        self.queries.len()
    }

    /// Runs batches through a batch task as the `query`-th query node's results (in the
    /// order of the batch node's children).
    pub fn push_batches(
        &mut self,
        query: usize,
        batches: impl IntoIterator<Item = crate::model::Batch>,
    ) -> Result<(), String> {
        let Some(&node) = self.queries.get(query) else {
            return Err(format!(
                "the task has {} queries, not {}",
                self.queries.len(),
                query + 1
            ));
        };
        crate::expr::set_now(self.now);
        for b in batches {
            self.send(node, 0, Msg::Batch(b));
        }
        self.flush();
        self.publish_stats();
        Ok(())
    }

    /// Node statistics, by node name in plan order; shared, readable while the task runs.
    pub fn stats(&self) -> Arc<Vec<(String, NodeStats)>> {
        self.stats.clone()
    }

    /// The result store of an httpOut endpoint.
    pub fn http_out(&self, endpoint: &str) -> Option<Arc<Mutex<HttpOutData>>> {
        self.http_out.get(endpoint).cloned()
    }

    /// Sets the wall-clock time lambdas see through `now()` for the next writes.
    pub fn set_now(&mut self, ns: i64) {
        self.now = ns;
    }

    /// Runs the points of one write to `db`/`rp` through the pipeline.
    pub fn push(&mut self, db: &str, rp: &str, points: &[Point]) {
        self.push_owned(db, rp, points.to_vec());
    }

    /// As [`Task::push`], taking the points: the last matching `from` gets them without a copy.
    pub fn push_owned(&mut self, db: &str, rp: &str, points: Vec<Point>) {
        self.push_some(db, rp, &mut points.into_iter(), usize::MAX);
        self.settle();
    }

    /// Runs up to `n` of `points` (taken from the front) through the pipeline, without
    /// [`Task::settle`]: a large write goes through in parts, another writer's small one
    /// between them (see the host's task sink).
    pub fn push_some(
        &mut self,
        db: &str,
        rp: &str,
        points: &mut std::vec::IntoIter<Point>,
        n: usize,
    ) {
        let n = n.min(points.len());
        crate::expr::set_now(self.now);
        let source_stats = &self.stats[self.source].1;
        NodeStats::add(&source_stats.collected, n as u64);
        NodeStats::add(&source_stats.emitted, n as u64);
        let dims = nodes::no_dims();
        let matching: Vec<usize> = self
            .froms
            .iter()
            .filter(|(_, db_f, rp_f)| {
                db_f.as_deref().is_none_or(|d| d == db) && rp_f.as_deref().is_none_or(|r| r == rp)
            })
            .map(|(id, _, _)| *id)
            .collect();
        let Some((&last, others)) = matching.split_last() else {
            // Taken all the same: no `from` reads this db/rp.
            if n > 0 {
                points.nth(n - 1);
            }
            return;
        };
        let stream_point = |point: Point| StreamPoint {
            point,
            group: GroupKey::NIL,
            dims: dims.clone(),
        };
        for &id in others {
            for p in &points.as_slice()[..n] {
                self.send(id, 0, Msg::Point(stream_point(p.clone())));
            }
        }
        for p in points.by_ref().take(n) {
            self.send(last, 0, Msg::Point(stream_point(p)));
        }
    }

    /// Ends a write: nodes that hold output back until then (flushers) let it go, and the
    /// node statistics are published.
    pub fn settle(&mut self) {
        self.flush();
        self.publish_stats();
    }

    /// The state of nodes that keep some beyond their groups (UDFs), by node name; failures
    /// are logged and skipped.
    pub fn snapshot(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (i, e) in self.execs.iter_mut().enumerate() {
            match e.snapshot() {
                Some(Ok(state)) if !state.is_empty() => out.push((self.stats[i].0.clone(), state)),
                Some(Err(error)) => {
                    tracing::warn!(node = self.stats[i].0, error, "state not saved")
                }
                _ => {}
            }
        }
        out
    }

    /// Puts back state from [`Task::snapshot`]; returns what could not be restored (the node
    /// then starts afresh).
    pub fn restore(&mut self, saved: &[(String, Vec<u8>)]) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, state) in saved {
            match self.stats.iter().position(|(n, _)| n == name) {
                Some(i) => {
                    if let Err(e) = self.execs[i].restore(state) {
                        problems.push(format!("{name}: {e}"));
                    }
                }
                None => problems.push(format!("{name}: no such node any more")),
            }
        }
        problems
    }

    /// A node's error: counted and kept for the log, as its `.quiet()` says.
    fn failed(&mut self, node: usize, e: String) {
        if self.quiet[node] != Quiet::Silent {
            self.counts[node].errors += 1;
        }
        if self.quiet[node] == Quiet::No {
            self.last_error = Some(format!("{}: {e}", self.stats[node].0));
        }
    }

    /// Makes the nodes that gather messages (UDFs) process them now; done after every write.
    pub fn flush(&mut self) {
        for i in 0..self.flushers.len() {
            let node = self.flushers[i];
            let mut out = self.buffers.pop().unwrap_or_default();
            let result = self.execs[node].flush(&mut out);
            let counts = &mut self.counts[node];
            counts.emitted += out.iter().filter(|m| m.is_data()).count() as u64;
            if let Err(e) = result {
                self.failed(node, e);
            }
            self.route(node, &mut out);
            self.buffers.push(out);
        }
    }

    /// Ends the input: each node, parents before children, lets go of what it holds back
    /// (a replay's end of stream).
    pub fn finish(&mut self) {
        for i in 0..self.order.len() {
            let node = self.order[i];
            let mut out = self.buffers.pop().unwrap_or_default();
            self.execs[node].finish(&mut out);
            self.counts[node].emitted += out.iter().filter(|m| m.is_data()).count() as u64;
            self.route(node, &mut out);
            self.buffers.push(out);
        }
        self.flush();
        self.publish_stats();
    }

    /// Runs `node` on a message from its `input`-th parent.
    fn send(&mut self, node: usize, input: usize, msg: Msg) {
        match msg {
            Msg::Point(p) if self.in_place[node] => self.send_in_place(node, p),
            msg => self.send_queued(node, input, msg),
        }
    }

    /// Runs a point down a chain of in-place nodes (from, where, eval): no queue between them,
    /// no move of the point, until a node drops it or a node of another kind takes it.
    fn send_in_place(&mut self, mut node: usize, mut p: StreamPoint) {
        loop {
            self.sampled[node] = self.sampled[node].wrapping_add(1);
            let start = self.sampled[node]
                .is_multiple_of(TIMING_SAMPLE)
                .then(Instant::now);
            let result = self.execs[node].point_in_place(&mut p);
            let counts = &mut self.counts[node];
            counts.collected += 1;
            if let Some(start) = start {
                counts.exec_ns += start.elapsed().as_nanos() as u64 * TIMING_SAMPLE;
            }
            match result {
                Ok(true) => counts.emitted += 1,
                Ok(false) => return,
                Err(e) => return self.failed(node, e),
            }
            match self.outputs[node].as_slice() {
                [] => return,
                &[(child, input)] if self.watched[node].is_none() => {
                    if !self.in_place[child] {
                        return self.send_queued(child, input, Msg::Point(p));
                    }
                    node = child;
                }
                _ => {
                    let mut out = self.buffers.pop().unwrap_or_default();
                    out.push(Msg::Point(p));
                    self.route(node, &mut out);
                    self.buffers.push(out);
                    return;
                }
            }
        }
    }

    fn send_queued(&mut self, node: usize, input: usize, msg: Msg) {
        // Reading the clock costs as much as a simple node: time one message in TIMING_SAMPLE.
        self.sampled[node] = self.sampled[node].wrapping_add(1);
        let start = self.sampled[node]
            .is_multiple_of(TIMING_SAMPLE)
            .then(Instant::now);
        let mut out = self.buffers.pop().unwrap_or_default();
        let data = msg.is_data();
        let result = match msg {
            Msg::Point(p) => self.execs[node].point_from(input, p, &mut out),
            Msg::Batch(b) => self.execs[node].batch_from(input, b, &mut out),
            Msg::Barrier { group, time } => self.execs[node].barrier(input, group, time, &mut out),
            Msg::Delete(group) => {
                self.execs[node].delete_group(input, &group);
                out.push(Msg::Delete(group));
                Ok(())
            }
        };
        let counts = &mut self.counts[node];
        counts.collected += data as u64;
        counts.emitted += out.iter().filter(|m| m.is_data()).count() as u64;
        if let Some(start) = start {
            counts.exec_ns += start.elapsed().as_nanos() as u64 * TIMING_SAMPLE;
        }
        if let Err(e) = result {
            self.failed(node, e);
        }
        self.route(node, &mut out);
        self.buffers.push(out);
    }

    /// Hands what `node` emitted to its children.
    fn route(&mut self, node: usize, out: &mut Vec<Msg>) {
        let fanout = self.outputs[node].len();
        if fanout > 0
            && let Some(counts) = &self.watched[node]
        {
            let mut counts = counts.lock();
            for m in out.iter() {
                let (group, by_name) = match m {
                    Msg::Point(p) => (&p.group, p.dims.by_name),
                    Msg::Batch(b) => (&b.group, b.by_name),
                    _ => continue,
                };
                match counts.get_mut(group) {
                    Some(c) => c.0 += 1,
                    None => {
                        counts.insert(group.clone(), (1, by_name));
                    }
                }
            }
        }
        for m in out.drain(..) {
            for k in 0..fanout {
                let (child, input) = self.outputs[node][k];
                if k + 1 == fanout {
                    self.send(child, input, m);
                    break;
                }
                self.send(child, input, m.clone());
            }
        }
    }

    /// True when some node keeps wall-clock timers: the host should call [`Task::tick`].
    pub fn has_timers(&self) -> bool {
        !self.tickers.is_empty()
    }

    /// Fires the nodes' wall-clock timers (barriers) due at `now` (host ns).
    pub fn tick(&mut self, now: i64) {
        self.now = now;
        crate::expr::set_now(now);
        for i in 0..self.tickers.len() {
            let node = self.tickers[i];
            let mut out = self.buffers.pop().unwrap_or_default();
            self.execs[node].tick(now, &mut out);
            self.counts[node].emitted += out.iter().filter(|m| m.is_data()).count() as u64;
            self.route(node, &mut out);
            self.buffers.push(out);
        }
        self.flush();
        self.publish_stats();
    }

    /// Forgets, in every node, the groups not seen since `cutoff` (host ns); returns how many
    /// node-groups went.
    pub fn expire(&mut self, cutoff: i64) -> usize {
        let gone = self.execs.iter_mut().map(|e| e.expire(cutoff)).sum();
        self.publish_stats();
        gone
    }

    /// Publishes the counters gathered since the last call to the shared statistics.
    fn publish_stats(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        for (i, c) in self.counts.iter_mut().enumerate() {
            let s = &self.stats[i].1;
            if c.collected > 0 || c.emitted > 0 {
                NodeStats::add(&s.collected, c.collected);
                NodeStats::add(&s.emitted, c.emitted);
                NodeStats::add(&s.errors, c.errors);
                NodeStats::add(&s.exec_ns, c.exec_ns);
                *c = Counts::default();
            }
            // Barriers and deletions change cardinality without counting as data.
            s.working_cardinality
                .store(self.execs[i].cardinality() as u64, Relaxed);
            let mut extra = s.extra.lock();
            extra.clear();
            self.execs[i].extra_stats(&mut extra);
        }
    }
}
