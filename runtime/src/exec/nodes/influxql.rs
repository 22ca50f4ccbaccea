//! InfluxQL functions: aggregates (count, sum, mean, median, mode, spread, stddev) and simple
//! selectors (first, last, min, max) over batches, or over points sharing a timestamp on a
//! stream (emitted when a later point arrives). Both emit points on a stream edge:
//! an aggregate carries the group's tags, a selector is the selected point itself with the
//! field renamed.

use crate::exec::groups::GroupTable;
use std::sync::Arc;

use super::NodeExec;
use crate::exec::{Dims, Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, GroupKey, Name, Point, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

pub struct InfluxQl {
    func: Func,
    field: Name,
    out_name: Name,
    use_point_times: bool,
    /// Stream input: per group, the points of the current timestamp.
    pending: super::SameTime,
}

#[derive(Clone, Copy, PartialEq)]
enum Func {
    Mean,
    Sum,
    Count,
    Min,
    Max,
    First,
    Last,
    Spread,
    Stddev,
    Median,
    Mode,
    Percentile(f64),
}

enum Output {
    Aggregate(Value),
    /// Index of the selected point.
    Selected(usize),
}

impl InfluxQl {
    pub fn new(node: &PlanNode) -> Result<InfluxQl, String> {
        let func = match node.method.as_str() {
            "mean" => Func::Mean,
            "sum" => Func::Sum,
            "count" => Func::Count,
            "min" => Func::Min,
            "max" => Func::Max,
            "first" => Func::First,
            "last" => Func::Last,
            "spread" => Func::Spread,
            "stddev" => Func::Stddev,
            "median" => Func::Median,
            "mode" => Func::Mode,
            "percentile" => match node.args.get(1) {
                Some(PV::Float(p)) => Func::Percentile(*p),
                Some(PV::Int(p)) => Func::Percentile(*p as f64),
                _ => return Err("percentile needs a percentage".into()),
            },
            other => return Err(format!("{other}() does not run yet")),
        };
        let Some(PV::Str(field)) = node.args.first() else {
            return Err("missing field".into());
        };
        let out_name = match node.property("as").and_then(|p| p.args.first()) {
            Some(PV::Str(s)) => Name::new(s),
            _ => Name::new(&node.method),
        };
        Ok(InfluxQl {
            func,
            field: Name::new(field),
            out_name,
            use_point_times: node.property("usePointTimes").is_some(),
            pending: super::SameTime::default(),
        })
    }

    /// Reduces points; the values taken are those of the first point's type (others are errors).
    fn reduce(&self, points: &[BatchPoint], errors: &mut usize) -> Option<Output> {
        // Inline for the few points a stream reduce usually sees per time: no allocation.
        let mut vals: smallvec::SmallVec<[(usize, &Value); 8]> =
            smallvec::SmallVec::with_capacity(points.len());
        let mut kind: Option<std::mem::Discriminant<Value>> = None;
        for (i, p) in points.iter().enumerate() {
            match p.fields.iter().find(|(k, _)| *k == self.field) {
                Some((_, v)) => {
                    let d = std::mem::discriminant(v);
                    if *kind.get_or_insert(d) == d {
                        vals.push((i, v));
                    } else {
                        *errors += 1;
                    }
                }
                None => *errors += 1,
            }
        }
        let all_int = vals
            .first()
            .is_some_and(|(_, v)| matches!(v, Value::Int(_)));
        match self.func {
            Func::Count => return Some(Output::Aggregate(Value::Int(vals.len() as i64))),
            Func::Sum if vals.is_empty() => return Some(Output::Aggregate(Value::Float(0.0))),
            _ if vals.is_empty() => return None,
            _ => {}
        }
        let nums: Vec<f64> = vals.iter().filter_map(|(_, v)| v.as_f64()).collect();
        let agg = |v: Value| Some(Output::Aggregate(v));
        match self.func {
            Func::Mean => agg(Value::Float(nums.iter().sum::<f64>() / nums.len() as f64)),
            Func::Sum if all_int => agg(Value::Int(
                vals.iter()
                    .map(|(_, v)| if let Value::Int(i) = v { *i } else { 0 })
                    .sum(),
            )),
            Func::Sum => agg(Value::Float(nums.iter().sum())),
            Func::First | Func::Last => {
                // Earliest (latest) time; on a time tie the larger value.
                let mut best = 0;
                for j in 1..vals.len() {
                    let (tb, tj) = (points[vals[best].0].time, points[vals[j].0].time);
                    let better_time = if self.func == Func::First {
                        tj < tb
                    } else {
                        tj > tb
                    };
                    let tie_larger = tj == tb && vals[j].1.as_f64() > vals[best].1.as_f64();
                    if better_time || tie_larger {
                        best = j;
                    }
                }
                Some(Output::Selected(vals[best].0))
            }
            Func::Min | Func::Max => {
                // On a value tie the earlier time.
                let mut best = 0;
                for j in 1..vals.len() {
                    let (a, b) = (
                        vals[j].1.as_f64().unwrap_or(f64::NAN),
                        vals[best].1.as_f64().unwrap_or(f64::NAN),
                    );
                    let better = if self.func == Func::Min { a < b } else { a > b };
                    let tie_earlier = a == b && points[vals[j].0].time < points[vals[best].0].time;
                    if better || tie_earlier {
                        best = j;
                    }
                }
                Some(Output::Selected(vals[best].0))
            }
            Func::Spread => {
                let (lo, hi) = nums
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    });
                agg(if all_int {
                    Value::Int((hi - lo) as i64)
                } else {
                    Value::Float(hi - lo)
                })
            }
            Func::Stddev => {
                if nums.len() < 2 {
                    return agg(Value::Float(f64::NAN));
                }
                let mean = nums.iter().sum::<f64>() / nums.len() as f64;
                let var =
                    nums.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nums.len() - 1) as f64;
                agg(Value::Float(var.sqrt()))
            }
            Func::Median => {
                let mut s = nums.clone();
                s.sort_by(|a, b| a.total_cmp(b));
                let n = s.len();
                let m = if n % 2 == 1 {
                    s[n / 2]
                } else {
                    let (lo, hi) = (s[n / 2 - 1], s[n / 2]);
                    lo + (hi - lo) / 2.0
                };
                agg(Value::Float(m))
            }
            Func::Mode => {
                // Most frequent; a tie goes to the value whose first point is earliest.
                let mut counts: Vec<(&Value, usize, usize)> = Vec::new();
                for (i, v) in &vals {
                    match counts.iter_mut().find(|(x, _, _)| *x == *v) {
                        Some(c) => c.1 += 1,
                        None => counts.push((v, 1, *i)),
                    }
                }
                let best = counts
                    .iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))?;
                agg(best.0.clone())
            }
            Func::Percentile(pct) => {
                let mut order: Vec<usize> = (0..vals.len()).collect();
                order.sort_by(|&a, &b| {
                    vals[a]
                        .1
                        .as_f64()
                        .unwrap_or(f64::NAN)
                        .total_cmp(&vals[b].1.as_f64().unwrap_or(f64::NAN))
                });
                let n = vals.len() as f64;
                let index = (n * pct / 100.0 + 0.5).floor() as i64 - 1;
                if index < 0 || index >= vals.len() as i64 {
                    return None;
                }
                Some(Output::Selected(vals[order[index as usize]].0))
            }
            Func::Count => unreachable!("handled above"),
        }
    }

    fn emit(
        &self,
        points: &[BatchPoint],
        tmax: i64,
        origin: Origin<'_>,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        let Origin {
            name,
            group,
            tags,
            dims,
            series,
        } = origin;
        let mut errors = 0;
        let result = self.reduce(points, &mut errors);
        match result {
            None => {}
            Some(Output::Aggregate(v)) => {
                let mut fields = Fields::new();
                fields.push((self.out_name, v));
                let series = series.unwrap_or_else(|| Arc::new(Series::new(name, tags.to_vec())));
                out.push(Msg::Point(StreamPoint {
                    point: Point {
                        time: tmax,
                        series,
                        fields,
                    },
                    group: group.clone(),
                    dims,
                }));
            }
            Some(Output::Selected(i)) => {
                let p = &points[i];
                let mut fields = p.fields.clone();
                if let Some(pos) = fields.iter().position(|(k, _)| *k == self.field) {
                    let (_, v) = fields.remove(pos);
                    match fields.binary_search_by(|(k, _)| k.cmp(&self.out_name)) {
                        Ok(j) => fields[j].1 = v,
                        Err(j) => fields.insert(j, (self.out_name, v)),
                    }
                }
                let time = if self.use_point_times { p.time } else { tmax };
                out.push(Msg::Point(StreamPoint {
                    point: Point {
                        time,
                        series: p.series.clone(),
                        fields,
                    },
                    group: group.clone(),
                    dims,
                }));
            }
        }
        if errors > 0 {
            return Err(format!(
                "field {:?} missing or of another type in {errors} point(s)",
                self.field.as_str()
            ));
        }
        Ok(())
    }
}

/// Where a result comes from: its measurement, group, group tags and dimensions.
struct Origin<'a> {
    name: Name,
    group: &'a GroupKey,
    tags: &'a [(Name, Box<str>)],
    dims: Arc<Dims>,
    /// The output series when already built (`name` with `tags`).
    series: Option<Arc<Series>>,
}

use super::dims_of;

impl NodeExec for InfluxQl {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let Some(f) = self.pending.push(p) else {
            return Ok(());
        };
        let result = self.emit(
            &f.points,
            f.time,
            Origin {
                name: f.series.measurement,
                group: &f.group,
                tags: &[],
                dims: f.dims,
                series: Some(f.series),
            },
            out,
        );
        self.pending.recycle(f.points);
        result
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let dims = dims_of(&b);
        self.emit(
            &b.points,
            b.tmax,
            Origin {
                name: b.name,
                group: &b.group,
                tags: &b.tags,
                dims,
                series: None,
            },
            out,
        )
    }

    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.pending)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.pending)
    }
}
