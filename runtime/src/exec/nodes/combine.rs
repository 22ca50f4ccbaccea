//! `combine(lambdas...).as(names...)`: within a group and a (rounded) time, pairs points that
//! satisfy each lambda in turn, over every combination of the time's points, as Kapacitor does.
//! Fields become `<name><delimiter><field>`; tags that are not group dimensions likewise.
//! A time's combinations are emitted when a point with a later time arrives.

use crate::exec::groups::{GroupTable, Groups};
use std::sync::Arc;

use super::basic::lambda_arg;
use super::{NodeExec, names, prop_dur, prop_str, round_time};
use crate::exec::{Dims, Msg, StreamPoint};
use crate::expr::{Compiled, ExprState, Scope};
use crate::model::{Batch, Fields, GroupKey, Name, Point, Series};
use crate::pipeline::{PlanNode, Value as PV};

pub struct Combine {
    exprs: Vec<Compiled>,
    names: Vec<String>,
    delimiter: String,
    tolerance: i64,
    max: u64,
    groups: Groups<Pending>,
}

struct Pending {
    time: i64,
    name: Name,
    dims: Arc<Dims>,
    points: Vec<Point>,
    states: Vec<ExprState>,
}

/// n choose k, or `None` past `u64`.
fn choose(n: u64, k: u64) -> Option<u64> {
    let mut c: u64 = 1;
    for i in 0..k {
        c = c.checked_mul(n - i)? / (i + 1);
    }
    Some(c)
}

impl Combine {
    pub fn new(node: &PlanNode) -> Result<Combine, String> {
        let exprs = (0..node.args.len())
            .map(|i| lambda_arg(node, i))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = node
            .property("as")
            .map(|p| names(&p.args))
            .unwrap_or_default()
            .iter()
            .map(|n| n.to_string())
            .collect();
        if names.len() != exprs.len() {
            return Err(format!(
                "combine has {} expressions but {} names in .as()",
                exprs.len(),
                names.len()
            ));
        }
        let max = match node.property("max").and_then(|p| p.args.first()) {
            Some(PV::Int(m)) if *m > 0 => *m as u64,
            _ => 1_000_000,
        };
        Ok(Combine {
            exprs,
            names,
            delimiter: prop_str(node, "delimiter").unwrap_or_else(|| ".".into()),
            tolerance: prop_dur(node, "tolerance", 0),
            max,
            groups: Groups::new(),
        })
    }

    fn combine(&self, p: &mut Pending, group: &GroupKey, out: &mut Vec<Msg>) -> Result<(), String> {
        let (n, k) = (p.points.len(), self.exprs.len());
        if n < k || k == 0 {
            return Ok(());
        }
        let count = choose(n as u64, k as u64).unwrap_or(u64::MAX);
        if count > self.max {
            return Err(format!(
                "refusing to perform combination as total combinations {count} exceeds max combinations {}",
                self.max
            ));
        }
        // matches[s][i]: point i satisfies expression s.
        let mut matches = vec![vec![false; n]; k];
        let mut first_err = None;
        for (i, pt) in p.points.iter().enumerate() {
            for (s, e) in self.exprs.iter().enumerate() {
                let mut scope =
                    Scope::of(&pt.fields, &pt.series, pt.time).with_state(Some(&mut p.states[s]));
                match e.eval_bool(&mut scope) {
                    Ok(m) => matches[s][i] = m,
                    Err(err) => {
                        first_err.get_or_insert(err.to_string());
                    }
                }
            }
        }
        // Every k-combination of point indices, in lexicographic order.
        let mut idx: Vec<usize> = (0..k).collect();
        loop {
            let mut remaining = idx.clone();
            let mut chosen = Vec::with_capacity(k);
            for row in &matches {
                match remaining.iter().position(|&i| row[i]) {
                    Some(pos) => chosen.push(remaining.remove(pos)),
                    None => break,
                }
            }
            if chosen.len() == k {
                out.push(Msg::Point(self.merge(p, &chosen, group)));
            }
            let Some(i) = (0..k).rev().find(|&i| idx[i] != i + n - k) else {
                break;
            };
            idx[i] += 1;
            for j in i + 1..k {
                idx[j] = idx[j - 1] + 1;
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn merge(&self, p: &Pending, chosen: &[usize], group: &GroupKey) -> StreamPoint {
        let mut fields = Fields::new();
        let mut tags: Vec<(Name, Box<str>)> = Vec::new();
        for (s, &i) in chosen.iter().enumerate() {
            let pt = &p.points[i];
            let prefix = &self.names[s];
            for (k, v) in &pt.fields {
                fields.push((
                    Name::new(&format!("{prefix}{}{k}", self.delimiter)),
                    v.clone(),
                ));
            }
            for (k, v) in pt.series.tags.iter() {
                if p.dims.tags.contains(k) {
                    tags.push((*k, v.clone()));
                } else {
                    tags.push((
                        Name::new(&format!("{prefix}{}{k}", self.delimiter)),
                        v.clone(),
                    ));
                }
            }
        }
        fields.sort_by_key(|(k, _)| *k);
        let time = round_time(p.points[chosen[0]].time, self.tolerance);
        let series = Arc::new(Series::new(p.name, tags));
        StreamPoint {
            point: Point {
                time,
                series,
                fields,
            },
            group: group.clone(),
            dims: p.dims.clone(),
        }
    }
}

impl NodeExec for Combine {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.groups)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.groups)
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let t = round_time(p.point.time, self.tolerance);
        p.point.time = t;
        let mut pending = match self.groups.remove(&p.group) {
            Some(pending) => pending,
            None => Pending {
                time: t,
                name: p.point.name(),
                dims: p.dims.clone(),
                points: Vec::new(),
                states: self.exprs.iter().map(Compiled::new_state).collect(),
            },
        };
        let result = if pending.time == t {
            pending.points.push(p.point);
            Ok(())
        } else {
            let r = self.combine(&mut pending, &p.group, out);
            pending.time = t;
            pending.points.clear();
            pending.points.push(p.point);
            r
        };
        self.groups.insert(p.group, pending);
        result
    }

    /// The points of each batch on their own, as a stream of the batch's group: combine
    /// turns a batch edge into a stream, as in Kapacitor.
    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let dims = super::dims_of(&b);
        let mut pending = match self.groups.remove(&b.group) {
            Some(mut pending) => {
                pending.points.clear();
                pending.name = b.name;
                pending.dims = dims;
                pending
            }
            None => Pending {
                time: i64::MIN,
                name: b.name,
                dims,
                points: Vec::new(),
                states: self.exprs.iter().map(Compiled::new_state).collect(),
            },
        };
        let mut result = Ok(());
        for p in b.points {
            let t = round_time(p.time, self.tolerance);
            let point = Point {
                time: t,
                series: p.series,
                fields: p.fields,
            };
            if pending.points.is_empty() || pending.time == t {
                pending.time = t;
                pending.points.push(point);
            } else {
                let r = self.combine(&mut pending, &b.group, out);
                result = result.and(r);
                pending.time = t;
                pending.points.clear();
                pending.points.push(point);
            }
        }
        let r = self.combine(&mut pending, &b.group, out);
        pending.points.clear();
        self.groups.insert(b.group, pending);
        result.and(r)
    }
}
