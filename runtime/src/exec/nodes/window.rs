//! `window()`: turns each group's stream into batches by time (`period`, `every`, `align`,
//! `fillPeriod`) or by count (`periodCount`, `everyCount`), driven only by the points' times.
//!
//! Kapacitor's rules, kept exactly: windows are [tmax − period, tmax) when `every` > 0 and are
//! emitted when a point at or past tmax arrives (one emission per arriving point; the next
//! window is anchored on that point); with `every` = 0 each point emits (t − period, t].
//! Buffered points keep their arrival order; late points are kept for the next window.

use crate::exec::groups::{GroupTable, Groups};
use std::collections::VecDeque;

use super::{NodeExec, prop_count, prop_dur, truncate_time};
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, GroupKey, Name};
use crate::pipeline::PlanNode;

pub struct Window {
    period: i64,
    every: i64,
    align: bool,
    fill_period: bool,
    period_count: usize,
    every_count: usize,
    groups: Groups<Group>,
}

struct Group {
    buf: VecDeque<BatchPoint>,
    /// The measurement of the group's first point.
    name: Name,
    by_name: bool,
    next_emit: Option<i64>,
    count: usize,
}

impl Window {
    pub fn new(node: &PlanNode) -> Result<Window, String> {
        let w = Window {
            period: prop_dur(node, "period", 0),
            every: prop_dur(node, "every", 0),
            align: node.property("align").is_some(),
            fill_period: node.property("fillPeriod").is_some(),
            period_count: prop_count(node, "periodCount"),
            every_count: prop_count(node, "everyCount"),
            groups: Groups::new(),
        };
        if w.period == 0 && w.period_count == 0 {
            return Err(
                "window node must have either a non zero period or non zero period count".into(),
            );
        }
        if w.period != 0 && w.period_count != 0 {
            return Err("cannot specify both period and periodCount".into());
        }
        if w.period_count != 0 && w.every_count == 0 {
            return Err("everyCount must be greater than zero".into());
        }
        Ok(w)
    }

    fn batch(g: &Group, group: &GroupKey, tmax: i64) -> Msg {
        let mut b = Batch::new(g.name, tmax, group.clone(), g.by_name);
        b.points = g.buf.iter().cloned().collect();
        Msg::Batch(b)
    }
}

impl NodeExec for Window {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.groups)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.groups)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let StreamPoint { point, group, dims } = p;
        let t = point.time;
        let g = self.groups.get_or_insert_with(&group, || Group {
            buf: VecDeque::new(),
            name: point.name(),
            by_name: dims.by_name,
            next_emit: None,
            count: 0,
        });
        // The point moves into the buffer: no copy of its fields.
        let bp = BatchPoint {
            time: t,
            series: point.series,
            fields: point.fields,
        };

        if self.period_count > 0 {
            g.buf.push_back(bp);
            if g.buf.len() > self.period_count {
                g.buf.pop_front();
            }
            g.count += 1;
            let first = if self.fill_period {
                self.period_count
            } else {
                self.every_count
            };
            if g.count >= first && (g.count - first).is_multiple_of(self.every_count) {
                out.push(Window::batch(g, &group, t));
            }
            return Ok(());
        }

        let (period, every) = (self.period, self.every);
        if every == 0 {
            let next = *g
                .next_emit
                .get_or_insert(if self.fill_period { t + period } else { t });
            g.buf.push_back(bp);
            if t >= next {
                while g.buf.front().is_some_and(|x| x.time <= t - period) {
                    g.buf.pop_front();
                }
                out.push(Window::batch(g, &group, t));
                g.next_emit = Some(t);
            }
            return Ok(());
        }

        let next = *g
            .next_emit
            .get_or_insert(match (self.fill_period, self.align) {
                (false, false) => t + every,
                (false, true) => truncate_time(t + every, every),
                (true, false) => t + period,
                (true, true) => truncate_time(t + period, every) + every,
            });
        if t >= next {
            while g.buf.front().is_some_and(|x| x.time < next - period) {
                g.buf.pop_front();
            }
            let new_next = if self.align {
                truncate_time(t + every, every)
            } else {
                t + every
            };
            // Tumbling windows: when no buffered point can be in the next window, the batch
            // takes the buffer instead of a copy.
            if g.buf.iter().all(|x| x.time < new_next - period) {
                let mut b = Batch::new(g.name, next, group.clone(), g.by_name);
                b.points = std::mem::take(&mut g.buf).into();
                out.push(Msg::Batch(b));
            } else {
                out.push(Window::batch(g, &group, next));
            }
            g.next_emit = Some(new_next);
        }
        g.buf.push_back(bp);
        Ok(())
    }

    /// A barrier at or past the next emission emits the window as a point would, and is not
    /// passed on (Kapacitor's rule); count windows ignore barriers.
    fn barrier(
        &mut self,
        _input: usize,
        group: GroupKey,
        time: i64,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        if self.period_count > 0 {
            out.push(Msg::Barrier { group, time });
            return Ok(());
        }
        let (period, every, align) = (self.period, self.every, self.align);
        let Some(g) = self.groups.get_mut(&group) else {
            return Ok(());
        };
        let Some(next) = g.next_emit.filter(|&next| time >= next) else {
            return Ok(());
        };
        if every == 0 {
            while g.buf.front().is_some_and(|x| x.time <= time - period) {
                g.buf.pop_front();
            }
            out.push(Window::batch(g, &group, time));
            g.next_emit = Some(time);
        } else {
            while g.buf.front().is_some_and(|x| x.time < next - period) {
                g.buf.pop_front();
            }
            out.push(Window::batch(g, &group, next));
            g.next_emit = Some(if align {
                truncate_time(time + every, every)
            } else {
                time + every
            });
        }
        Ok(())
    }

    fn state_bytes(&self) -> usize {
        self.groups
            .bytes(|g| g.buf.capacity() * std::mem::size_of::<BatchPoint>())
    }
}
