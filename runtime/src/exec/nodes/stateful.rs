//! Per-group stream nodes: derivative, changeDetect, stateDuration, stateCount, shift, sample.

use crate::exec::groups::{GroupTable, Groups};

use super::basic::lambda_arg;
use super::{NodeExec, names, prop_dur, prop_str};
use crate::exec::{Msg, StreamPoint};
use crate::expr::{Compiled, Scope};
use crate::model::{Batch, Name, Point, Value};
use crate::pipeline::{PlanNode, Value as PV};

fn str_arg(node: &PlanNode, i: usize) -> Option<String> {
    match node.args.get(i) {
        Some(PV::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn set_field(p: &mut Point, name: Name, v: Value) {
    p.set_field(name, v);
}

/// `derivative(field)`: rate of change between a group's consecutive points.
pub struct Derivative {
    field: Name,
    as_name: Name,
    unit: i64,
    non_negative: bool,
    prev: Groups<(i64, f64)>,
}

impl Derivative {
    pub fn new(node: &PlanNode) -> Result<Derivative, String> {
        let field = str_arg(node, 0).ok_or("derivative needs a field")?;
        Ok(Derivative {
            field: Name::new(&field),
            as_name: Name::new(&prop_str(node, "as").unwrap_or(field)),
            unit: prop_dur(node, "unit", 1_000_000_000),
            non_negative: node.property("nonNegative").is_some(),
            prev: Groups::new(),
        })
    }
}

impl NodeExec for Derivative {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.prev)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.prev)
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let Some(v) = p.point.field(self.field).and_then(Value::as_f64) else {
            return Err(format!(
                "cannot perform derivative: field {:?} is missing or the wrong type",
                self.field.as_str()
            ));
        };
        let t = p.point.time;
        let Some((pt, pv)) = self.prev.insert(p.group.clone(), (t, v)) else {
            return Ok(());
        };
        let elapsed = t - pt;
        if elapsed == 0 {
            return Err("cannot perform derivative: elapsed time was 0".into());
        }
        let d = (v - pv) / (elapsed as f64 / self.unit as f64);
        if self.non_negative && d < 0.0 {
            return Ok(());
        }
        set_field(&mut p.point, self.as_name, Value::Float(d));
        out.push(Msg::Point(p));
        Ok(())
    }

    /// Within each batch on its own, as Kapacitor: the first point has no previous one.
    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut prev: Option<(i64, f64)> = None;
        let mut error = None;
        b.points.retain_mut(|p| {
            let Some(v) = field_f64(&p.fields, self.field) else {
                error.get_or_insert_with(|| {
                    format!(
                        "cannot perform derivative: field {:?} is missing or the wrong type",
                        self.field.as_str()
                    )
                });
                return false;
            };
            let Some((pt, pv)) = prev.replace((p.time, v)) else {
                return false;
            };
            let elapsed = p.time - pt;
            if elapsed == 0 {
                error.get_or_insert_with(|| "cannot perform derivative: elapsed time was 0".into());
                return false;
            }
            if self.non_negative && v - pv < 0.0 {
                return false;
            }
            let d = (v - pv) / (elapsed as f64 / self.unit as f64);
            set_batch_field(&mut p.fields, self.as_name, Value::Float(d));
            true
        });
        out.push(Msg::Batch(b));
        error.map_or(Ok(()), Err)
    }
}

fn field_f64(fields: &crate::model::Fields, name: Name) -> Option<f64> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| match v {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        })
}

fn set_batch_field(fields: &mut crate::model::Fields, key: Name, value: Value) {
    match fields.binary_search_by(|(k, _)| k.cmp(&key)) {
        Ok(i) => fields[i].1 = value,
        Err(i) => fields.insert(i, (key, value)),
    }
}

/// `changeDetect(fields...)`: passes a point when any of the fields changed in its group.
pub struct ChangeDetect {
    fields: Vec<Name>,
    last: Groups<Vec<Option<Value>>>,
}

impl ChangeDetect {
    pub fn new(node: &PlanNode) -> Result<ChangeDetect, String> {
        let fields = names(&node.args);
        Ok(ChangeDetect {
            fields,
            last: Groups::new(),
        })
    }
}

impl NodeExec for ChangeDetect {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.last)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.last)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let current: Vec<Option<Value>> = self
            .fields
            .iter()
            .map(|f| p.point.field(*f).cloned())
            .collect();
        let missing = self
            .fields
            .iter()
            .zip(&current)
            .find(|(_, v)| v.is_none())
            .map(|(f, _)| *f);
        let changed = match self.last.get(&p.group) {
            None => true,
            Some(prev) => current.iter().zip(prev).any(|(c, pr)| {
                c.is_some()
                    && (pr.is_none()
                        || c != pr
                        || c.as_ref().and_then(Value::as_f64).is_some_and(f64::is_nan))
            }),
        };
        if changed {
            self.last.insert(p.group.clone(), current);
            out.push(Msg::Point(p));
        }
        match missing {
            Some(f) => Err(format!(
                "Invalid field in change detect: expected field {} not found",
                f.as_str()
            )),
            None => Ok(()),
        }
    }

    /// Within each batch on its own: a batch's first point always counts as a change.
    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut prev: Option<Vec<Option<Value>>> = None;
        let mut missing = None;
        b.points.retain(|p| {
            let current: Vec<Option<Value>> = self
                .fields
                .iter()
                .map(|f| {
                    p.fields
                        .iter()
                        .find(|(k, _)| k == f)
                        .map(|(_, v)| v.clone())
                })
                .collect();
            if let Some(i) = current.iter().position(Option::is_none) {
                missing.get_or_insert(self.fields[i]);
            }
            // Kapacitor compares each present field with the previous point's (none: changed).
            let changed = current.iter().enumerate().any(|(i, c)| {
                c.is_some()
                    && prev.as_ref().is_none_or(|pr| {
                        pr[i].is_none()
                            || pr[i] != *c
                            || c.as_ref().and_then(Value::as_f64).is_some_and(f64::is_nan)
                    })
            });
            if changed {
                prev = Some(current);
            }
            changed
        });
        out.push(Msg::Batch(b));
        match missing {
            Some(f) => Err(format!(
                "Invalid field in change detect: expected field {} not found",
                f.as_str()
            )),
            None => Ok(()),
        }
    }
}

/// `stateDuration(lambda)` and `stateCount(lambda)`: how long / how many points a predicate has held.
pub struct StateTracking {
    pred: Compiled,
    as_name: Name,
    unit: i64,
    count: bool,
    state: Groups<(i64, i64)>,
}

impl StateTracking {
    pub fn new(node: &PlanNode, count: bool) -> Result<StateTracking, String> {
        let default = if count {
            "state_count"
        } else {
            "state_duration"
        };
        Ok(StateTracking {
            pred: lambda_arg(node, 0)?,
            as_name: Name::new(&prop_str(node, "as").unwrap_or_else(|| default.into())),
            unit: prop_dur(node, "unit", 1_000_000_000),
            count,
            state: Groups::new(),
        })
    }
}

impl NodeExec for StateTracking {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.state)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.state)
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let holds = {
            let mut scope = Scope::of(&p.point.fields, &p.point.series, p.point.time);
            self.pred.eval_bool(&mut scope).map_err(|e| e.to_string())?
        };
        let t = p.point.time;
        let v = if holds {
            let (start, n) = self.state.get_or_insert_with(&p.group, || (t, 0));
            *n += 1;
            if self.count {
                Value::Int(*n)
            } else {
                Value::Float((t - *start) as f64 / self.unit as f64)
            }
        } else {
            self.state.remove(&p.group);
            if self.count {
                Value::Int(-1)
            } else {
                Value::Float(-1.0)
            }
        };
        set_field(&mut p.point, self.as_name, v);
        out.push(Msg::Point(p));
        Ok(())
    }

    /// Within each batch on its own; points whose predicate fails to evaluate are dropped.
    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut state: Option<(i64, i64)> = None;
        let mut error = None;
        b.points.retain_mut(|p| {
            let holds = {
                let mut scope = Scope::of(&p.fields, &p.series, p.time);
                self.pred.eval_bool(&mut scope)
            };
            let holds = match holds {
                Ok(h) => h,
                Err(e) => {
                    error.get_or_insert_with(|| e.to_string());
                    return false;
                }
            };
            let v = if holds {
                let (start, n) = state.get_or_insert((p.time, 0));
                *n += 1;
                if self.count {
                    Value::Int(*n)
                } else {
                    Value::Float((p.time - *start) as f64 / self.unit as f64)
                }
            } else {
                state = None;
                if self.count {
                    Value::Int(-1)
                } else {
                    Value::Float(-1.0)
                }
            };
            set_batch_field(&mut p.fields, self.as_name, v);
            true
        });
        out.push(Msg::Batch(b));
        error.map_or(Ok(()), Err)
    }
}

/// `shift(d)`: moves times by `d`.
pub struct Shift {
    by: i64,
}

impl Shift {
    pub fn new(node: &PlanNode) -> Result<Shift, String> {
        match node.args.first() {
            Some(PV::Duration(d)) if *d != 0 => Ok(Shift { by: *d }),
            _ => Err("invalid shift value: must be non zero duration".into()),
        }
    }
}

impl NodeExec for Shift {
    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        p.point.time += self.by;
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        b.tmax += self.by;
        for p in &mut b.points {
            p.time += self.by;
        }
        out.push(Msg::Batch(b));
        Ok(())
    }
}

/// `sample(n)` keeps every n-th point of a group; `sample(d)` keeps points on d boundaries.
pub struct Sample {
    every: i64,
    by_time: bool,
    counts: Groups<i64>,
}

impl Sample {
    pub fn new(node: &PlanNode) -> Result<Sample, String> {
        match node.args.first() {
            Some(PV::Int(n)) if *n > 0 => Ok(Sample {
                every: *n,
                by_time: false,
                counts: Groups::new(),
            }),
            Some(PV::Duration(d)) if *d > 0 => Ok(Sample {
                every: *d,
                by_time: true,
                counts: Groups::new(),
            }),
            _ => Err("sample needs a positive count or duration".into()),
        }
    }
}

impl NodeExec for Sample {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.counts)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.counts)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let keep = if self.by_time {
            p.point.time.rem_euclid(self.every) == 0
        } else {
            let c = self.counts.get_or_insert_with(&p.group, || 0);
            let keep = *c % self.every == 0;
            *c += 1;
            keep
        };
        if keep {
            out.push(Msg::Point(p));
        }
        Ok(())
    }

    /// Keeps points of each batch on its own: every n-th from its first, or those on a
    /// multiple of the duration.
    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut count = 0;
        let (every, by_time) = (self.every, self.by_time);
        b.points.retain(|p| {
            let keep = if by_time {
                p.time.rem_euclid(every) == 0
            } else {
                count % every == 0
            };
            count += 1;
            keep
        });
        out.push(Msg::Batch(b));
        Ok(())
    }
}
