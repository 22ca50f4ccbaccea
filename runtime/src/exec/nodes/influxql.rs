//! InfluxQL functions over batches: aggregates (mean, sum, count, median, mode, spread, stddev)
//! and selectors (first, last, min, max) emit one point per batch at the batch's time
//! (a selector at its point's time with `.usePointTimes()`).

use super::NodeExec;
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, Name, Value};
use crate::pipeline::{PlanNode, Value as PV};

pub struct InfluxQl {
    func: Func,
    field: Name,
    out_name: Name,
    use_point_times: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
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
        })
    }

    fn is_selector(&self) -> bool {
        matches!(self.func, Func::First | Func::Last | Func::Min | Func::Max)
    }

    fn reduce(&self, b: &Batch) -> Option<(i64, Value, Option<usize>)> {
        let vals: Vec<(&BatchPoint, &Value)> = b
            .points
            .iter()
            .filter_map(|p| {
                p.fields
                    .iter()
                    .find(|(k, _)| *k == self.field)
                    .map(|(_, v)| (p, v))
            })
            .collect();
        if self.func == Func::Count {
            return Some((b.tmax, Value::Int(vals.len() as i64), None));
        }
        if vals.is_empty() {
            return None;
        }
        let all_int = vals.iter().all(|(_, v)| matches!(v, Value::Int(_)));
        let nums: Vec<f64> = vals.iter().filter_map(|(_, v)| v.as_f64()).collect();
        let time = b.tmax;
        let select = |i: usize| -> (i64, Value, Option<usize>) {
            let (p, v) = vals[i];
            let index = b.points.iter().position(|q| std::ptr::eq(q, p));
            (
                if self.use_point_times { p.time } else { time },
                v.clone(),
                index,
            )
        };
        Some(match self.func {
            Func::Mean => (
                time,
                Value::Float(nums.iter().sum::<f64>() / nums.len() as f64),
                None,
            ),
            Func::Sum if all_int => (
                time,
                Value::Int(
                    vals.iter()
                        .map(|(_, v)| if let Value::Int(i) = v { *i } else { 0 })
                        .sum(),
                ),
                None,
            ),
            Func::Sum => (time, Value::Float(nums.iter().sum()), None),
            Func::First => select(0),
            Func::Last => select(vals.len() - 1),
            Func::Min | Func::Max => {
                let mut best = 0;
                for i in 1..vals.len() {
                    let (a, c) = (
                        vals[i].1.as_f64().unwrap_or(f64::NAN),
                        vals[best].1.as_f64().unwrap_or(f64::NAN),
                    );
                    if (self.func == Func::Min && a < c) || (self.func == Func::Max && a > c) {
                        best = i;
                    }
                }
                select(best)
            }
            Func::Spread => {
                let (lo, hi) = nums
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    });
                if all_int {
                    (time, Value::Int((hi - lo) as i64), None)
                } else {
                    (time, Value::Float(hi - lo), None)
                }
            }
            Func::Stddev => {
                if nums.len() < 2 {
                    return None;
                }
                let mean = nums.iter().sum::<f64>() / nums.len() as f64;
                let var =
                    nums.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nums.len() - 1) as f64;
                (time, Value::Float(var.sqrt()), None)
            }
            Func::Median => {
                let mut s = nums.clone();
                s.sort_by(|a, b| a.total_cmp(b));
                let n = s.len();
                let m = if n % 2 == 1 {
                    s[n / 2]
                } else {
                    (s[n / 2 - 1] + s[n / 2]) / 2.0
                };
                (time, Value::Float(m), None)
            }
            Func::Mode => {
                let mut s: Vec<&Value> = vals.iter().map(|(_, v)| *v).collect();
                s.sort_by(|a, b| {
                    a.as_f64()
                        .unwrap_or(0.0)
                        .total_cmp(&b.as_f64().unwrap_or(0.0))
                });
                let (mut best, mut best_n, mut i) = (s[0], 0, 0);
                while i < s.len() {
                    let mut j = i;
                    while j < s.len() && s[j] == s[i] {
                        j += 1;
                    }
                    if j - i > best_n {
                        best = s[i];
                        best_n = j - i;
                    }
                    i = j;
                }
                (time, best.clone(), None)
            }
            Func::Count => unreachable!("handled above"),
        })
    }
}

impl NodeExec for InfluxQl {
    fn point(&mut self, _p: StreamPoint, _out: &mut Vec<Msg>) -> Result<(), String> {
        Err("InfluxQL functions on stream edges do not run yet; use |window() first".into())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let Some((time, value, selected)) = self.reduce(&b) else {
            return Ok(());
        };
        // An aggregate carries the group's tags; a selector its point's.
        let tags: Vec<(Name, Box<str>)> = match selected {
            Some(i) if self.is_selector() => b.points[i].series.tags.to_vec(),
            _ => b.tags.to_vec(),
        };
        let series = std::sync::Arc::new(crate::model::Series::new(b.name, tags.clone()));
        let mut fields = Fields::new();
        fields.push((self.out_name, value));
        let mut result = Batch::new(b.name, b.tmax, b.group.clone(), b.by_name);
        result.tags = tags.into_boxed_slice();
        result.points.push(BatchPoint {
            time,
            series,
            fields,
        });
        out.push(Msg::Batch(result));
        Ok(())
    }
}
