//! Small stateless nodes: pass-through, where, groupBy, default, delete, log.

use crate::exec::groups::{GroupTable, Groups};
use std::sync::Arc;

use super::NodeExec;
use crate::exec::{Dims, Msg, StreamPoint};
use crate::expr::{Compiled, ExprState, Scope};
use crate::model::{Batch, Fields, GroupKey, Name, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

/// `stream`, `noop`: passes everything on.
pub struct Pass;

impl NodeExec for Pass {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        out.push(Msg::Point(p));
        Ok(())
    }
    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        out.push(Msg::Batch(b));
        Ok(())
    }
}

/// `query`, `queryFlux`: the source of a batch task's batches (queried by the host, or
/// replayed), passed on as they come.
#[derive(Default)]
pub struct Query {
    batches: i64,
    points: i64,
}

impl NodeExec for Query {
    fn point(&mut self, _p: StreamPoint, _out: &mut Vec<Msg>) -> Result<(), String> {
        Err("a query node takes batches".into())
    }
    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        self.batches += 1;
        self.points += b.points.len() as i64;
        out.push(Msg::Batch(b));
        Ok(())
    }
    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        out.push(("batches_queried", self.batches));
        out.push(("points_queried", self.points));
    }
}

/// The lambda given as argument `i` (or as the property `prop`).
pub(super) fn lambda_arg(node: &PlanNode, i: usize) -> Result<Compiled, String> {
    match node.args.get(i) {
        Some(PV::Lambda(l)) => Compiled::new(l).map_err(|e| e.to_string()),
        _ => Err(format!("{} needs a lambda", node.method)),
    }
}

/// `where(lambda)`: keeps points (and batch points) for which the lambda is true.
pub struct Where {
    pred: Compiled,
    /// Per group, the state of the lambda's stateful functions (when it has any).
    states: Groups<ExprState>,
}

impl Where {
    pub fn new(node: &PlanNode) -> Result<Where, String> {
        Ok(Where {
            pred: lambda_arg(node, 0)?,
            states: Groups::new(),
        })
    }
}

impl NodeExec for Where {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.states)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.states)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        super::pass_in_place(self, p, out)
    }

    fn passes_in_place(&self) -> bool {
        true
    }

    fn point_in_place(&mut self, p: &mut StreamPoint) -> Result<bool, String> {
        let state = if self.pred.is_stateful() {
            let pred = &self.pred;
            Some(
                self.states
                    .get_or_insert_with(&p.group, || pred.new_state()),
            )
        } else {
            None
        };
        let mut scope = Scope::of(&p.point.fields, &p.point.series, p.point.time).with_state(state);
        self.pred.eval_bool(&mut scope).map_err(|e| e.to_string())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut err = None;
        b.points.retain(|bp| {
            let mut scope = Scope::of(&bp.fields, &bp.series, bp.time);
            match self.pred.eval_bool(&mut scope) {
                Ok(k) => k,
                Err(e) => {
                    err.get_or_insert(e.to_string());
                    false
                }
            }
        });
        out.push(Msg::Batch(b));
        err.map_or(Ok(()), Err)
    }
}

/// `groupBy(tags...)`: regroups points.
pub struct GroupBy {
    /// Batch input: regrouped batches waiting for a batch with another time.
    buffered: Vec<Batch>,
    star: bool,
    exclude: Vec<Name>,
    by_name: bool,
    dims: Arc<Dims>,
}

impl GroupBy {
    pub fn new(node: &PlanNode) -> Result<GroupBy, String> {
        let (tags, star) = tag_list(&node.args);
        let exclude = node
            .properties
            .iter()
            .filter(|p| p.name == "exclude")
            .flat_map(|p| tag_list(&p.args).0)
            .collect();
        let by_name = node.property("byMeasurement").is_some();
        let mut sorted = tags.clone();
        sorted.sort();
        Ok(GroupBy {
            buffered: Vec::new(),
            dims: Arc::new(Dims {
                by_name,
                tags: sorted,
            }),
            star,
            exclude,
            by_name,
        })
    }
}

/// Tag names and whether `*` was given, from string, star and list arguments.
pub(super) fn tag_list(args: &[PV]) -> (Vec<Name>, bool) {
    let mut tags = Vec::new();
    let mut star = false;
    for a in args {
        match a {
            PV::Str(s) => tags.push(Name::new(s)),
            PV::Star => star = true,
            PV::List(items) => {
                let (t, s) = tag_list(items);
                tags.extend(t);
                star |= s;
            }
            _ => {}
        }
    }
    (tags, star)
}

/// The group of a series for these dimensions.
pub(super) fn group_of(series: &Series, dims: &Dims) -> GroupKey {
    GroupKey::of(series, &dims.tags, dims.by_name)
}

impl GroupBy {
    fn dims_for(&self, series: &Series) -> Arc<Dims> {
        if self.star {
            let tags = series
                .tags
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !self.exclude.contains(k))
                .collect();
            Arc::new(Dims {
                by_name: self.by_name,
                tags,
            })
        } else {
            self.dims.clone()
        }
    }

    /// Emits the buffered batches, groups in the order they were first seen, points by time.
    fn flush(&mut self, out: &mut Vec<Msg>) {
        for mut b in self.buffered.drain(..) {
            b.points.sort_by_key(|p| p.time);
            out.push(Msg::Batch(b));
        }
    }
}

impl NodeExec for GroupBy {
    /// Batches are regrouped point by point; like Kapacitor, the regrouped batches go out when a
    /// batch with another time arrives.
    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.buffered.first().is_some_and(|x| x.tmax != b.tmax) {
            self.flush(out);
        }
        for p in b.points {
            let dims = self.dims_for(&p.series);
            let group = group_of(&p.series, &dims);
            match self.buffered.iter_mut().find(|x| x.group == group) {
                Some(x) => x.points.push(p),
                None => {
                    let mut nb = Batch::new(b.name, b.tmax, group, dims.by_name || b.by_name);
                    nb.points.push(p);
                    self.buffered.push(nb);
                }
            }
        }
        Ok(())
    }

    fn cardinality(&self) -> usize {
        self.buffered.len()
    }

    fn state_bytes(&self) -> usize {
        self.buffered
            .iter()
            .map(|b| b.points.capacity() * std::mem::size_of::<crate::model::BatchPoint>())
            .sum()
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.star {
            let tags: Vec<Name> = p
                .point
                .series
                .tags
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !self.exclude.contains(k))
                .collect();
            p.dims = Arc::new(Dims {
                by_name: self.by_name,
                tags,
            });
        } else {
            p.dims = self.dims.clone();
        }
        p.group = group_of(&p.point.series, &p.dims);
        out.push(Msg::Point(p));
        Ok(())
    }
}

fn key_value_pairs(node: &PlanNode, prop: &str) -> Vec<(Name, PV)> {
    node.properties
        .iter()
        .filter(|p| p.name == prop)
        .filter_map(|p| match p.args.as_slice() {
            [PV::Str(k), v] => Some((Name::new(k), v.clone())),
            [PV::Str(k)] => Some((Name::new(k), PV::Str(String::new()))),
            _ => None,
        })
        .collect()
}

pub(super) fn to_field(v: &PV) -> Option<Value> {
    Some(match v {
        PV::Int(i) => Value::Int(*i),
        PV::Float(f) => Value::Float(*f),
        PV::Str(s) => Value::Str(s.as_str().into()),
        PV::Bool(b) => Value::Bool(*b),
        PV::Duration(d) => Value::Int(*d),
        _ => return None,
    })
}

/// `default().field(k, v).tag(k, v)`: fills in what is missing.
pub struct Default {
    fields: Vec<(Name, Value)>,
    tags: Vec<(Name, String)>,
    fields_defaulted: i64,
    tags_defaulted: i64,
}

impl Default {
    pub fn new(node: &PlanNode) -> Result<Default, String> {
        let fields = key_value_pairs(node, "field")
            .into_iter()
            .filter_map(|(k, v)| Some((k, to_field(&v)?)))
            .collect();
        let tags = key_value_pairs(node, "tag")
            .into_iter()
            .map(|(k, v)| (k, if let PV::Str(s) = v { s } else { String::new() }))
            .collect();
        Ok(Default {
            fields,
            tags,
            fields_defaulted: 0,
            tags_defaulted: 0,
        })
    }
}

impl Default {
    /// Fills in missing fields (when given) and tags; true when tags were added.
    fn fill(&mut self, fields: Option<&mut Fields>, series: &mut Arc<Series>) -> bool {
        if let Some(fields) = fields {
            for (k, v) in &self.fields {
                if let Err(i) = fields.binary_search_by(|(f, _)| f.cmp(k)) {
                    fields.insert(i, (*k, v.clone()));
                    self.fields_defaulted += 1;
                }
            }
        }
        let missing: Vec<(Name, Box<str>)> = self
            .tags
            .iter()
            .filter(|(k, _)| series.tag(*k).is_none_or(str::is_empty))
            .map(|(k, v)| (*k, v.as_str().into()))
            .collect();
        if missing.is_empty() {
            return false;
        }
        self.tags_defaulted += missing.len() as i64;
        let mut tags = series.tags.to_vec();
        tags.extend(missing);
        *series = Arc::new(Series::new(series.measurement, tags));
        true
    }
}

impl NodeExec for Default {
    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.fill(Some(&mut p.point.fields), &mut p.point.series) {
            p.group = group_of(&p.point.series, &p.dims);
        }
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut head = Arc::new(Series::new(b.name, b.tags.to_vec()));
        if self.fill(None, &mut head) {
            set_batch_tags(&mut b, &head.tags);
        }
        for p in &mut b.points {
            self.fill(Some(&mut p.fields), &mut p.series);
        }
        out.push(Msg::Batch(b));
        Ok(())
    }

    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        out.push(("fields_defaulted", self.fields_defaulted));
        out.push(("tags_defaulted", self.tags_defaulted));
    }
}

/// Kapacitor's `SetTags` on a batch: the batch takes `tags`, and its group becomes all of them
/// (and the measurement, when grouped by it).
pub(super) fn set_batch_tags(b: &mut Batch, tags: &[(Name, Box<str>)]) {
    b.tags = tags.to_vec().into_boxed_slice();
    b.group = GroupKey::from_parts(b.by_name.then_some(b.name), tags.to_vec());
}

/// `delete().field(k).tag(k)`.
pub struct Delete {
    fields: Vec<Name>,
    tags: Vec<Name>,
    fields_deleted: i64,
    tags_deleted: i64,
}

impl Delete {
    pub fn new(node: &PlanNode) -> Result<Delete, String> {
        let names = |prop: &str| {
            key_value_pairs(node, prop)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        Ok(Delete {
            fields: names("field"),
            tags: names("tag"),
            fields_deleted: 0,
            tags_deleted: 0,
        })
    }
}

impl Delete {
    /// Deletes the fields (when given) and tags; true when tags went.
    fn strip(&mut self, fields: Option<&mut Fields>, series: &mut Arc<Series>) -> bool {
        if let Some(fields) = fields {
            let before = fields.len();
            fields.retain(|(k, _)| !self.fields.contains(k));
            self.fields_deleted += (before - fields.len()) as i64;
        }
        if !series.tags.iter().any(|(k, _)| self.tags.contains(k)) {
            return false;
        }
        let tags = series
            .tags
            .iter()
            .filter(|(k, _)| !self.tags.contains(k))
            .cloned()
            .collect::<Vec<_>>();
        self.tags_deleted += (series.tags.len() - tags.len()) as i64;
        *series = Arc::new(Series::new(series.measurement, tags));
        true
    }
}

impl NodeExec for Delete {
    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        out.push(("fields_deleted", self.fields_deleted));
        out.push(("tags_deleted", self.tags_deleted));
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.strip(Some(&mut p.point.fields), &mut p.point.series) {
            // Deleted tags leave the group too.
            if p.dims.tags.iter().any(|t| self.tags.contains(t)) {
                let kept = p
                    .dims
                    .tags
                    .iter()
                    .filter(|t| !self.tags.contains(t))
                    .copied()
                    .collect();
                p.dims = Arc::new(Dims {
                    by_name: p.dims.by_name,
                    tags: kept,
                });
            }
            p.group = group_of(&p.point.series, &p.dims);
        }
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut head = Arc::new(Series::new(b.name, b.tags.to_vec()));
        if self.strip(None, &mut head) {
            set_batch_tags(&mut b, &head.tags);
        }
        for p in &mut b.points {
            self.strip(Some(&mut p.fields), &mut p.series);
        }
        out.push(Msg::Batch(b));
        Ok(())
    }
}

/// `log()`: logs every message and passes it on.
pub struct Log {
    /// `.level()`: Kapacitor's `DEBUG` and `ERROR`; anything else logs as `INFO`.
    level: tracing::Level,
    prefix: String,
    /// The node's name (`log2`), a field of each record.
    node: String,
}

/// A `tracing` event at a level chosen at run time (the macros take a constant one).
macro_rules! log_at {
    ($level:expr, $($event:tt)+) => {
        match $level {
            tracing::Level::DEBUG => tracing::debug!($($event)+),
            tracing::Level::ERROR => tracing::error!($($event)+),
            _ => tracing::info!($($event)+),
        }
    };
}

impl Log {
    pub fn new(node: &PlanNode) -> Log {
        let text = |name| match node.property(name).and_then(|p| p.args.first()) {
            Some(PV::Str(s)) => s.clone(),
            _ => String::new(),
        };
        Log {
            level: match text("level").to_ascii_uppercase().as_str() {
                "DEBUG" => tracing::Level::DEBUG,
                "ERROR" => tracing::Level::ERROR,
                _ => tracing::Level::INFO,
            },
            prefix: text("prefix"),
            node: node.name(),
        }
    }
}

impl NodeExec for Log {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        log_at!(
            self.level,
            node = self.node,
            prefix = self.prefix,
            name = %p.point.name(),
            group = %p.group,
            time = %crate::time::format_rfc3339_nanos(p.point.time),
            tags = ?p.point.series.tags,
            fields = ?p.point.fields,
            "point"
        );
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        log_at!(
            self.level,
            node = self.node,
            prefix = self.prefix,
            name = %b.name,
            group = %b.group,
            tmax = %crate::time::format_rfc3339_nanos(b.tmax),
            points = b.points.len(),
            "batch"
        );
        out.push(Msg::Batch(b));
        Ok(())
    }
}

/// `trickle()`: a batch edge turned back into a stream, one point per batch point.
pub struct Trickle;

impl NodeExec for Trickle {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let dims = super::dims_of(&b);
        for bp in b.points {
            out.push(Msg::Point(StreamPoint {
                point: crate::model::Point {
                    time: bp.time,
                    series: bp.series,
                    fields: bp.fields,
                },
                group: b.group.clone(),
                dims: dims.clone(),
            }));
        }
        Ok(())
    }
}
