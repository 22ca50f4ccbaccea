//! InfluxQL functions that emit several rows (`top`, `bottom`, `distinct`, as a batch) and the
//! transformations that emit one value per input point (`difference`, `cumulativeSum`,
//! `movingAverage`, `elapsed`).

use crate::exec::groups::{GroupTable, Groups};
use std::collections::VecDeque;
use std::sync::Arc;

use super::NodeExec;
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, Name, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

fn out_name(node: &PlanNode) -> Name {
    match node.property("as").and_then(|p| p.args.first()) {
        Some(PV::Str(s)) => Name::new(s),
        _ => Name::new(&node.method),
    }
}

fn field_arg(node: &PlanNode, i: usize) -> Result<Name, String> {
    match node.args.get(i) {
        Some(PV::Str(s)) => Ok(Name::new(s)),
        _ => Err(format!("{} needs a field name", node.method)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RowsFunc {
    Top(usize),
    Bottom(usize),
    Distinct,
}

/// `top`, `bottom`, `distinct` over batches.
pub struct Rows {
    func: RowsFunc,
    field: Name,
    out_name: Name,
    use_point_times: bool,
    /// Stream input: per group, the points of the current timestamp.
    pending: super::SameTime,
}

impl Rows {
    pub fn new(node: &PlanNode) -> Result<Rows, String> {
        let count = |node: &PlanNode| match node.args.first() {
            Some(PV::Int(n)) if *n > 0 => Ok(*n as usize),
            _ => Err(format!("{} needs a positive count", node.method)),
        };
        let (func, field) = match node.method.as_str() {
            "top" => (RowsFunc::Top(count(node)?), field_arg(node, 1)?),
            "bottom" => (RowsFunc::Bottom(count(node)?), field_arg(node, 1)?),
            "distinct" => (RowsFunc::Distinct, field_arg(node, 0)?),
            other => return Err(format!("{other}() is not a multi-row function")),
        };
        Ok(Rows {
            func,
            field,
            out_name: out_name(node),
            use_point_times: node.property("usePointTimes").is_some(),
            pending: super::SameTime::default(),
        })
    }
}

impl NodeExec for Rows {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.pending)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.pending)
    }

    /// On a stream, the points sharing a timestamp form one batch, emitted when a later point
    /// arrives.
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        match self.pending.push_batch(p) {
            Some(b) => self.batch(b, out),
            None => Ok(()),
        }
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let vals: Vec<(usize, &Value)> = b
            .points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.fields
                    .iter()
                    .find(|(k, _)| *k == self.field)
                    .map(|(_, v)| (i, v))
            })
            .collect();
        let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        let chosen: Vec<(usize, Value)> = match self.func {
            RowsFunc::Top(n) | RowsFunc::Bottom(n) => {
                let top = matches!(self.func, RowsFunc::Top(_));
                let mut sorted = vals.clone();
                // By value (descending for top); ties go to the earlier point.
                sorted.sort_by(|a, c| {
                    let o = num(a.1).total_cmp(&num(c.1));
                    let o = if top { o.reverse() } else { o };
                    o.then(b.points[a.0].time.cmp(&b.points[c.0].time))
                });
                sorted
                    .into_iter()
                    .take(n)
                    .map(|(i, v)| (i, v.clone()))
                    .collect()
            }
            RowsFunc::Distinct => {
                let mut seen: Vec<(usize, Value)> = Vec::new();
                for (i, v) in vals {
                    if !seen.iter().any(|(_, s)| s == v) {
                        seen.push((i, v.clone()));
                    }
                }
                seen.sort_by(|a, c| {
                    b.points[a.0]
                        .time
                        .cmp(&b.points[c.0].time)
                        .then(num(&a.1).total_cmp(&num(&c.1)))
                });
                seen
            }
        };
        let mut result = Batch::new(b.name, b.tmax, b.group.clone(), b.by_name);
        result.tags = b.tags.clone();
        for (i, v) in chosen {
            let p = &b.points[i];
            // Distinct rows carry the group's tags; top and bottom their point's too.
            let series = match self.func {
                RowsFunc::Distinct => Arc::new(Series::new(b.name, b.tags.to_vec())),
                _ => p.series.clone(),
            };
            let mut fields = Fields::new();
            fields.push((self.out_name, v));
            let time = if self.use_point_times { p.time } else { b.tmax };
            result.tmax = result.tmax.max(time);
            result.points.push(BatchPoint {
                time,
                series,
                fields,
            });
        }
        out.push(Msg::Batch(result));
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TransformFunc {
    Difference,
    CumulativeSum,
    MovingAverage(usize),
    Elapsed(i64),
}

/// Per-group transformations, one output per input point (after the first, for some).
pub struct Transform {
    func: TransformFunc,
    field: Name,
    out_name: Name,
    state: Groups<State>,
}

#[derive(Default)]
struct State {
    prev: Option<(i64, Value)>,
    sum: Option<Value>,
    window: VecDeque<f64>,
}

impl Transform {
    pub fn new(node: &PlanNode) -> Result<Transform, String> {
        let func = match (node.method.as_str(), node.args.get(1)) {
            ("difference", _) => TransformFunc::Difference,
            ("cumulativeSum", _) => TransformFunc::CumulativeSum,
            ("movingAverage", Some(PV::Int(n))) if *n > 0 => {
                TransformFunc::MovingAverage(*n as usize)
            }
            ("elapsed", Some(PV::Duration(d))) if *d > 0 => TransformFunc::Elapsed(*d),
            (other, _) => return Err(format!("invalid arguments to {other}()")),
        };
        Ok(Transform {
            func,
            field: field_arg(node, 0)?,
            out_name: out_name(node),
            state: Groups::new(),
        })
    }

    /// The output value for one point, if any.
    fn step(
        func: TransformFunc,
        st: &mut State,
        time: i64,
        v: &Value,
    ) -> Result<Option<Value>, String> {
        Ok(match func {
            TransformFunc::Difference => {
                let prev = st.prev.replace((time, v.clone()));
                match prev {
                    // Later points with the same time as the previous one are ignored.
                    Some((pt, _)) if pt == time => {
                        st.prev = prev;
                        None
                    }
                    Some((_, Value::Int(a))) => match v {
                        Value::Int(b) => Some(Value::Int(b.wrapping_sub(a))),
                        _ => return Err("field value has wrong type".into()),
                    },
                    Some((_, pv)) => Some(Value::Float(
                        v.as_f64().unwrap_or(f64::NAN) - pv.as_f64().unwrap_or(f64::NAN),
                    )),
                    None => None,
                }
            }
            TransformFunc::CumulativeSum => {
                let next = match (&st.sum, v) {
                    (None, v) => v.clone(),
                    (Some(Value::Int(a)), Value::Int(b)) => Value::Int(a.wrapping_add(*b)),
                    (Some(a), b) => {
                        Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(f64::NAN))
                    }
                };
                st.sum = Some(next.clone());
                Some(next)
            }
            TransformFunc::MovingAverage(n) => {
                st.window
                    .push_back(v.as_f64().ok_or("field value has wrong type")?);
                if st.window.len() > n {
                    st.window.pop_front();
                }
                (st.window.len() == n)
                    .then(|| Value::Float(st.window.iter().sum::<f64>() / n as f64))
            }
            TransformFunc::Elapsed(unit) => {
                let prev = st.prev.replace((time, v.clone()));
                prev.map(|(pt, _)| Value::Int((time - pt) / unit))
            }
        })
    }
}

impl NodeExec for Transform {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.state)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.state)
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let Some(v) = p.point.field(self.field).cloned() else {
            return Err(format!(
                "field {:?} missing from point",
                self.field.as_str()
            ));
        };
        let st = self.state.get_or_insert_with(&p.group, Default::default);
        if let Some(result) = Transform::step(self.func, st, p.point.time, &v)? {
            let mut fields = Fields::new();
            fields.push((self.out_name, result));
            p.point.fields = fields;
            p.point.series = Arc::new(Series::new(p.point.name(), p.group.tags().to_vec()));
            out.push(Msg::Point(p));
        }
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut st = State::default();
        let mut result = Batch::new(b.name, b.tmax, b.group.clone(), b.by_name);
        result.tags = b.tags.clone();
        for p in &b.points {
            let Some(v) = p
                .fields
                .iter()
                .find(|(k, _)| *k == self.field)
                .map(|(_, v)| v)
            else {
                continue;
            };
            if let Some(r) = Transform::step(self.func, &mut st, p.time, v)? {
                let mut fields = Fields::new();
                fields.push((self.out_name, r));
                result.points.push(BatchPoint {
                    time: p.time,
                    series: Arc::new(Series::new(b.name, b.tags.to_vec())),
                    fields,
                });
            }
        }
        out.push(Msg::Batch(result));
        Ok(())
    }
}
