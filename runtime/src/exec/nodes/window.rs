//! `window()`: turns each group's stream into batches by time (`period`, `every`, `align`,
//! `fillPeriod`) or by count (`periodCount`, `everyCount`). Time is the points' time.

use std::collections::{HashMap, VecDeque};

use super::NodeExec;
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, GroupKey, Name};
use crate::pipeline::{PlanNode, Value as PV};

pub struct Window {
    period: i64,
    every: i64,
    align: bool,
    fill_period: bool,
    period_count: usize,
    every_count: usize,
    groups: HashMap<GroupKey, Group>,
}

struct Group {
    buf: VecDeque<BatchPoint>,
    name: Name,
    by_name: bool,
    /// Time-based: when the next window is emitted (0 until the first point).
    next_emit: i64,
    first: Option<i64>,
    /// Count-based: points since the last emit.
    since_emit: usize,
}

fn dur(node: &PlanNode, name: &str) -> i64 {
    match node.property(name).and_then(|p| p.args.first()) {
        Some(PV::Duration(d)) => *d,
        _ => 0,
    }
}

fn int(node: &PlanNode, name: &str) -> usize {
    match node.property(name).and_then(|p| p.args.first()) {
        Some(PV::Int(i)) if *i > 0 => *i as usize,
        _ => 0,
    }
}

impl Window {
    pub fn new(node: &PlanNode) -> Result<Window, String> {
        let w = Window {
            period: dur(node, "period"),
            every: dur(node, "every"),
            align: node.property("align").is_some(),
            fill_period: node.property("fillPeriod").is_some(),
            period_count: int(node, "periodCount"),
            every_count: int(node, "everyCount"),
            groups: HashMap::new(),
        };
        let by_time = w.period > 0 || w.every > 0;
        let by_count = w.period_count > 0 || w.every_count > 0;
        if by_time == by_count {
            return Err("window needs either period/every or periodCount/everyCount".into());
        }
        Ok(w)
    }

    fn emit(g: &Group, group: &GroupKey, tmax: i64, from: i64, out: &mut Vec<Msg>) {
        let points: Vec<BatchPoint> = g
            .buf
            .iter()
            .filter(|p| p.time >= from && p.time < tmax)
            .cloned()
            .collect();
        let mut b = Batch::new(g.name, tmax, group.clone(), g.by_name);
        b.points = points;
        out.push(Msg::Batch(b));
    }
}

impl NodeExec for Window {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let t = p.point.time;
        let g = self.groups.entry(p.group.clone()).or_insert_with(|| Group {
            buf: VecDeque::new(),
            name: p.point.name(),
            by_name: p.dims.by_name,
            next_emit: 0,
            first: None,
            since_emit: 0,
        });
        g.name = p.point.name();
        let bp = BatchPoint {
            time: t,
            series: p.point.series.clone(),
            fields: p.point.fields.clone(),
        };
        if self.period_count > 0 || self.every_count > 0 {
            let period = if self.period_count > 0 {
                self.period_count
            } else {
                self.every_count
            };
            let every = if self.every_count > 0 {
                self.every_count
            } else {
                period
            };
            g.buf.push_back(bp);
            while g.buf.len() > period {
                g.buf.pop_front();
            }
            g.since_emit += 1;
            let full = g.buf.len() == period;
            if g.since_emit >= every && (full || !self.fill_period) {
                g.since_emit = 0;
                let mut b = Batch::new(g.name, t, p.group.clone(), g.by_name);
                b.points = g.buf.iter().cloned().collect();
                out.push(Msg::Batch(b));
            }
            return Ok(());
        }
        let (period, every) = match (self.period, self.every) {
            (0, e) => (e, e),
            (p, 0) => (p, 0),
            (p, e) => (p, e),
        };
        if every == 0 {
            // Emit on every point: the window (t - period, t].
            g.buf.push_back(bp);
            while g.buf.front().is_some_and(|x| x.time <= t - period) {
                g.buf.pop_front();
            }
            let mut b = Batch::new(g.name, t, p.group.clone(), g.by_name);
            b.points = g.buf.iter().cloned().collect();
            out.push(Msg::Batch(b));
            return Ok(());
        }
        if g.next_emit == 0 {
            g.first = Some(t);
            g.next_emit = if self.align {
                t - t.rem_euclid(every) + every
            } else {
                t + every
            };
            if self.fill_period {
                let ready = if self.align {
                    t - t.rem_euclid(every) + period
                } else {
                    t + period
                };
                while g.next_emit < ready {
                    g.next_emit += every;
                }
            }
        }
        if t >= g.next_emit {
            let from = g.next_emit - period;
            while g.buf.front().is_some_and(|x| x.time < from) {
                g.buf.pop_front();
            }
            Window::emit(g, &p.group, g.next_emit, from, out);
            g.next_emit += every;
            // A point past several boundaries moves the next emit to the window containing it.
            while t >= g.next_emit {
                g.next_emit += every;
            }
        }
        g.buf.push_back(bp);
        Ok(())
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}
