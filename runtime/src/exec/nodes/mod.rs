//! One executor per node kind, created from a plan node by [`build`].

mod alert;
mod barrier;
mod basic;
mod combine;
mod eval;
mod flatten;
mod from;
mod holt_winters;
pub(crate) mod http_out;
mod http_post;
mod influxdb_out;
mod influxql;
mod influxql_rows;
mod join;
mod loopback;
mod sideload;
mod stateful;
mod stats;
mod udf;
mod union;
mod window;

use std::sync::Arc;

pub use http_out::HttpOutData;
pub use stats::GroupCounts;

use super::groups::GroupTable;
use super::msg::Msg;
use super::{Dims, StreamPoint};
use crate::model::{Batch, GroupKey};
use crate::pipeline::PlanNode;
use crate::pipeline::schema::NodeKind;

/// Runs one node. Emitted messages go to `out`; an `Err` counts as a node error (the message
/// is dropped, as in Kapacitor) and is logged by the task.
pub trait NodeExec: Send {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String>;

    /// True for nodes that pass each point on at most once, changed in place (from, where,
    /// eval): the task then calls [`NodeExec::point_in_place`] instead of `point`.
    fn passes_in_place(&self) -> bool {
        false
    }

    /// The point, changed in place; `Ok(false)` drops it. Only called when
    /// [`NodeExec::passes_in_place`]; must do what `point` does.
    fn point_in_place(&mut self, p: &mut StreamPoint) -> Result<bool, String> {
        let _ = p;
        unreachable!("point_in_place on a node that does not pass points in place")
    }

    /// A point from the `input`-th parent; only nodes with several parents need to know.
    fn point_from(
        &mut self,
        input: usize,
        p: StreamPoint,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        let _ = input;
        self.point(p, out)
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let _ = (b, out);
        Err("this node does not take batches yet".into())
    }

    /// A batch from the `input`-th parent; only nodes with several parents need to know.
    fn batch_from(&mut self, input: usize, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let _ = input;
        self.batch(b, out)
    }

    /// The end of the input (a replay's end): nodes that hold data back let it go, as
    /// Kapacitor's do when their inputs close.
    fn finish(&mut self, out: &mut Vec<Msg>) {
        let _ = out;
    }

    /// A barrier from the `input`-th parent; most nodes pass it on.
    fn barrier(
        &mut self,
        input: usize,
        group: GroupKey,
        time: i64,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        let _ = input;
        out.push(Msg::Barrier { group, time });
        Ok(())
    }

    /// The node's per-group state, when it keeps one table of it: the defaults of
    /// `delete_group`, `expire`, `cardinality` and `state_bytes` work on it.
    fn groups(&self) -> Option<&dyn GroupTable> {
        None
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        None
    }

    /// Drops the group's state; the task passes the deletion on to the children.
    fn delete_group(&mut self, input: usize, group: &GroupKey) {
        let _ = input;
        if let Some(g) = self.groups_mut() {
            g.remove_group(group);
        }
    }

    /// Drops the state of groups not seen since `cutoff` (host wall-clock ns); returns how
    /// many groups went.
    fn expire(&mut self, cutoff: i64) -> usize {
        self.groups_mut().map_or(0, |g| g.expire(cutoff))
    }

    /// Wall-clock timers (barriers): called by the host with its clock.
    fn tick(&mut self, now: i64, out: &mut Vec<Msg>) {
        let _ = (now, out);
    }

    /// True when [`tick`](NodeExec::tick) does something for this node.
    fn ticks(&self) -> bool {
        false
    }

    /// True for nodes that gather messages and need [`flush`](NodeExec::flush) at the end of
    /// each write (UDFs, which cross into Wasm once per micro-batch).
    fn flushes(&self) -> bool {
        false
    }

    /// Processes what has gathered.
    fn flush(&mut self, out: &mut Vec<Msg>) -> Result<(), String> {
        let _ = out;
        Ok(())
    }

    /// State that cannot be rebuilt from the data to come (a UDF's), to keep across restarts
    /// and task updates; `None` for nodes that keep none.
    fn snapshot(&mut self) -> Option<Result<Vec<u8>, String>> {
        None
    }

    /// Puts back what [`snapshot`](NodeExec::snapshot) returned.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let _ = state;
        Ok(())
    }

    /// Number of groups with state.
    fn cardinality(&self) -> usize {
        self.groups().map_or(0, |g| g.len())
    }

    /// Approximate bytes of state this node keeps (groups, buffered points).
    fn state_bytes(&self) -> usize {
        self.groups().map_or(0, |g| g.table_bytes())
    }

    /// This node kind's own counters, as Kapacitor names them.
    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        let _ = out;
    }
}

/// What building an executor can produce besides the executor.
pub struct Built {
    pub exec: Box<dyn NodeExec>,
    /// Set for `httpOut`: the endpoint name and where its results are kept.
    pub http_out: Option<(String, Arc<parking_lot::Mutex<HttpOutData>>)>,
    /// Set for `stats`: the watched node and the per-group counts the task keeps of it.
    pub watch: Option<(usize, GroupCounts)>,
}

/// Makes the executor of a plan node, or says why this node cannot run (yet).
pub fn build(node: &PlanNode, env: &crate::exec::TaskEnv) -> Result<Built, String> {
    let plain = |exec: Box<dyn NodeExec>| {
        Ok(Built {
            exec,
            http_out: None,
            watch: None,
        })
    };
    match node.kind {
        NodeKind::Stream | NodeKind::Batch | NodeKind::Noop => plain(Box::new(basic::Pass)),
        // A Flux query node takes replayed batches as a query node does (live queries are
        // refused when the task is scheduled).
        NodeKind::Query | NodeKind::QueryFlux => plain(Box::<basic::Query>::default()),
        NodeKind::From => plain(Box::new(from::From::new(node)?)),
        NodeKind::Where => plain(Box::new(basic::Where::new(node)?)),
        NodeKind::Eval => plain(Box::new(eval::Eval::new(node)?)),
        NodeKind::GroupBy => plain(Box::new(basic::GroupBy::new(node)?)),
        NodeKind::Default => plain(Box::new(basic::Default::new(node)?)),
        NodeKind::Delete => plain(Box::new(basic::Delete::new(node)?)),
        NodeKind::Log => plain(Box::new(basic::Log::new(node))),
        NodeKind::Window => plain(Box::new(window::Window::new(node)?)),
        NodeKind::InfluxQl => match node.method.as_str() {
            "top" | "bottom" | "distinct" => plain(Box::new(influxql_rows::Rows::new(node)?)),
            "holtWinters" | "holtWintersWithFit" => {
                plain(Box::new(holt_winters::HoltWinters::new(node)?))
            }
            "difference" | "cumulativeSum" | "movingAverage" | "elapsed" => {
                plain(Box::new(influxql_rows::Transform::new(node)?))
            }
            _ => plain(Box::new(influxql::InfluxQl::new(node)?)),
        },
        NodeKind::HttpPost => plain(Box::new(http_post::HttpPost::new(node, env.io.clone())?)),
        NodeKind::InfluxDbOut => plain(Box::new(influxdb_out::InfluxDbOut::new(node, env)?)),
        NodeKind::KapacitorLoopback => plain(Box::new(loopback::Loopback::new(node, env)?)),
        // A deadman is an alert on its stats' rate; the plan gave it its crit, id and message.
        NodeKind::Alert | NodeKind::Deadman => plain(Box::new(alert::Alert::new(node, env)?)),
        NodeKind::Sideload => plain(Box::new(sideload::Sideload::new(node, env)?)),
        NodeKind::Trickle => plain(Box::new(basic::Trickle)),
        NodeKind::Barrier => plain(Box::new(barrier::Barrier::new(node)?)),
        NodeKind::Join => plain(Box::new(join::Join::new(node)?)),
        NodeKind::Combine => plain(Box::new(combine::Combine::new(node)?)),
        NodeKind::Flatten => plain(Box::new(flatten::Flatten::new(node)?)),
        NodeKind::Union => plain(Box::new(union::Union::new(node)?)),
        NodeKind::Derivative => plain(Box::new(stateful::Derivative::new(node)?)),
        NodeKind::ChangeDetect => plain(Box::new(stateful::ChangeDetect::new(node)?)),
        NodeKind::StateDuration => plain(Box::new(stateful::StateTracking::new(node, false)?)),
        NodeKind::StateCount => plain(Box::new(stateful::StateTracking::new(node, true)?)),
        NodeKind::Shift => plain(Box::new(stateful::Shift::new(node)?)),
        NodeKind::Sample => plain(Box::new(stateful::Sample::new(node)?)),
        NodeKind::HttpOut => {
            let (exec, endpoint, data) = http_out::HttpOut::new(node)?;
            Ok(Built {
                exec: Box::new(exec),
                http_out: Some((endpoint, data)),
                watch: None,
            })
        }
        NodeKind::Stats => {
            let (exec, counts) = stats::Stats::new(node)?;
            let watched = node
                .watches
                .ok_or_else(|| format!("no node found for {}", node.name()))?;
            Ok(Built {
                exec: Box::new(exec),
                http_out: None,
                watch: Some((watched, counts)),
            })
        }
        NodeKind::Udf => plain(Box::new(udf::Udf::new(node, env)?)),
        other => Err(format!("{other:?} nodes do not run yet")),
    }
}

/// The string arguments, as names (e.g. `.as('a', 'b')`, `changeDetect('f', 'g')`).
pub(super) fn names(args: &[crate::pipeline::Value]) -> Vec<crate::model::Name> {
    use crate::pipeline::Value as PV;
    args.iter()
        .filter_map(|a| {
            if let PV::Str(s) = a {
                Some(crate::model::Name::new(s))
            } else {
                None
            }
        })
        .collect()
}

/// The `.tag(key, value)` properties (influxDBOut, kapacitorLoopback).
pub(super) fn static_tags(node: &PlanNode) -> Vec<(crate::model::Name, Box<str>)> {
    use crate::pipeline::Value as PV;
    node.properties
        .iter()
        .filter(|p| p.name == "tag")
        .filter_map(|p| match p.args.as_slice() {
            [PV::Str(k), PV::Str(v)] => Some((crate::model::Name::new(k), v.as_str().into())),
            _ => None,
        })
        .collect()
}

/// The first argument of property `name`, if it is a string.
pub(super) fn prop_str(node: &PlanNode, name: &str) -> Option<String> {
    match node.property(name)?.args.first()? {
        crate::pipeline::Value::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// The first argument of property `name` if it is a duration, else `default`.
pub(super) fn prop_dur(node: &PlanNode, name: &str, default: i64) -> i64 {
    match node.property(name).and_then(|p| p.args.first()) {
        Some(crate::pipeline::Value::Duration(d)) => *d,
        _ => default,
    }
}

/// The first argument of property `name` if it is a positive int, else 0.
pub(super) fn prop_count(node: &PlanNode, name: &str) -> usize {
    match node.property(name).and_then(|p| p.args.first()) {
        Some(crate::pipeline::Value::Int(i)) if *i > 0 => *i as usize,
        _ => 0,
    }
}

/// `point` for nodes that pass points in place: what [`NodeExec::point_in_place`] keeps goes out.
pub(super) fn pass_in_place(
    node: &mut impl NodeExec,
    mut p: StreamPoint,
    out: &mut Vec<Msg>,
) -> Result<(), String> {
    if node.point_in_place(&mut p)? {
        out.push(Msg::Point(p));
    }
    Ok(())
}

/// Collects a stream's points per group until the timestamp changes: InfluxQL functions on
/// stream edges reduce the points that share a time, emitted when a later point arrives.
#[derive(Default)]
pub(super) struct SameTime {
    pending: crate::exec::groups::Groups<Pending>,
    /// A finished group's buffer, given back once reduced: on a grouped stream nearly every
    /// point finishes one, and this saves allocating the next.
    spare: Vec<crate::model::BatchPoint>,
}

struct Pending {
    time: i64,
    points: Vec<crate::model::BatchPoint>,
    dims: Arc<Dims>,
    /// The group's output series (the measurement and the group's tags), built once: a
    /// reduce on a grouped stream emits for nearly every point it takes.
    series: Option<Arc<crate::model::Series>>,
}

/// The points of one group and time, complete once a later point arrived.
pub(super) struct Finished {
    pub time: i64,
    pub points: Vec<crate::model::BatchPoint>,
    pub dims: Arc<Dims>,
    pub group: GroupKey,
    /// The measurement of the first point with the group's tags.
    pub series: Arc<crate::model::Series>,
}

impl SameTime {
    /// Adds a point; returns the previous timestamp's points once a point with another time
    /// arrives for the group.
    pub(super) fn push(&mut self, p: StreamPoint) -> Option<Finished> {
        let StreamPoint { point, group, dims } = p;
        let t = point.time;
        // The point moves into the buffer: no copy of its fields.
        let bp = crate::model::BatchPoint {
            time: t,
            series: point.series,
            fields: point.fields,
        };
        let entry = self.pending.get_or_insert_with(&group, || Pending {
            time: t,
            points: Vec::new(),
            dims: dims.clone(),
            series: None,
        });
        if entry.time == t {
            entry.points.push(bp);
            return None;
        }
        let mut next = std::mem::take(&mut self.spare);
        next.push(bp);
        let points = std::mem::replace(&mut entry.points, next);
        let name = points[0].series.measurement;
        let series = match &entry.series {
            Some(s) if s.measurement == name => s.clone(),
            _ => {
                let s = Arc::new(crate::model::Series::new(name, group.tags().to_vec()));
                entry.series = Some(s.clone());
                s
            }
        };
        Some(Finished {
            time: std::mem::replace(&mut entry.time, t),
            points,
            dims: std::mem::replace(&mut entry.dims, dims),
            group,
            series,
        })
    }

    /// Gives back a [`Finished`] group's points once they are no longer needed.
    pub(super) fn recycle(&mut self, mut points: Vec<crate::model::BatchPoint>) {
        points.clear();
        if points.capacity() <= 64 {
            self.spare = points;
        }
    }

    /// As [`SameTime::push`], the finished points made into their batch.
    pub(super) fn push_batch(&mut self, p: StreamPoint) -> Option<Batch> {
        let f = self.push(p)?;
        let mut b = Batch::new(f.series.measurement, f.time, f.group, f.dims.by_name);
        b.points = f.points;
        Some(b)
    }
}

impl GroupTable for SameTime {
    fn remove_group(&mut self, key: &GroupKey) {
        self.pending.remove(key);
    }

    fn expire(&mut self, cutoff: i64) -> usize {
        self.pending.expire(cutoff)
    }

    fn len(&self) -> usize {
        self.pending.len()
    }

    fn table_bytes(&self) -> usize {
        self.pending
            .bytes(|p| p.points.capacity() * std::mem::size_of::<crate::model::BatchPoint>())
    }
}

/// Go's `Time.Round` on nanoseconds: to the nearest multiple of `d`, halves up; `d <= 0` keeps `t`.
pub(super) fn round_time(t: i64, d: i64) -> i64 {
    if d <= 0 {
        return t;
    }
    let r = t.rem_euclid(d);
    if 2 * r < d { t - r } else { t + (d - r) }
}

/// Go's `Time.Truncate` on nanoseconds: down to a multiple of `d`; `d <= 0` keeps `t`.
pub(super) fn truncate_time(t: i64, d: i64) -> i64 {
    if d <= 0 { t } else { t - t.rem_euclid(d) }
}

/// The nil group's dimensions, shared.
pub fn no_dims() -> Arc<Dims> {
    static NONE: std::sync::LazyLock<Arc<Dims>> =
        std::sync::LazyLock::new(|| Arc::new(Dims::default()));
    NONE.clone()
}

/// The dimensions of a batch's group.
pub(crate) fn dims_of_batch(b: &Batch) -> Arc<Dims> {
    dims_of(b)
}

/// The dimensions of a batch's group.
pub(super) fn dims_of(b: &Batch) -> Arc<Dims> {
    Arc::new(Dims {
        by_name: b.by_name,
        tags: b.group.tags().iter().map(|(k, _)| *k).collect(),
    })
}
