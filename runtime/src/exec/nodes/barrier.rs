//! `barrier()`: tells the nodes below that a group's data up to a time is complete, so that
//! windows, joins and unions waiting for more data can move on. Driven by the host's wall
//! clock through [`NodeExec::tick`], as Kapacitor's per-group timers are.
//!
//! `.idle(d)`: when a group has had no data for `d` of wall time, a barrier at its last
//! point's time + `d`. `.period(d)`: every `d` of wall time, a barrier at the wall time.
//! `.delete()`: each barrier is followed by the group's deletion. Data older than the last
//! barrier of its group is dropped.

use super::{NodeExec, prop_dur};
use crate::exec::groups::{GroupTable, Groups};
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, GroupKey};
use crate::pipeline::{PlanNode, Value as PV};

pub struct Barrier {
    idle: i64,
    period: i64,
    delete: bool,
    groups: Groups<Timer>,
}

struct Timer {
    /// Idle: the data time the next barrier counts from.
    last_point: i64,
    last_barrier: Option<i64>,
    /// Wall-clock time of the next barrier.
    due: i64,
}

impl Barrier {
    pub fn new(node: &PlanNode) -> Result<Barrier, String> {
        let b = Barrier {
            idle: prop_dur(node, "idle", 0),
            period: prop_dur(node, "period", 0),
            delete: node.property("delete").is_some_and(|p| {
                p.args.is_empty() || matches!(p.args.first(), Some(PV::Bool(true)))
            }),
            groups: Groups::new(),
        };
        if b.idle <= 0 && b.period <= 0 {
            return Err(
                "barrier node must have either a non zero idle or a non zero period".into(),
            );
        }
        Ok(b)
    }

    /// Whether data at `time` for `group` passes; notes it for the idle timer.
    fn pass(&mut self, group: &GroupKey, time: i64) -> bool {
        let now = crate::expr::now();
        let (idle, period) = (self.idle, self.period);
        let t = self.groups.get_or_insert_with(group, || Timer {
            // Kapacitor starts an idle group's clock at the wall time it appeared.
            last_point: now,
            last_barrier: None,
            due: now + if idle > 0 { idle } else { period },
        });
        if t.last_barrier.is_some_and(|b| time < b) {
            return false;
        }
        if idle > 0 {
            t.last_point = time;
            t.due = now + idle;
        }
        true
    }
}

impl NodeExec for Barrier {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.groups)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.groups)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.pass(&p.group, p.point.time) {
            out.push(Msg::Point(p));
        }
        Ok(())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let Some(last) = b.points.last().map(|p| p.time) else {
            out.push(Msg::Batch(b));
            return Ok(());
        };
        if self.pass(&b.group, last) {
            let cut = self.groups.get(&b.group).and_then(|t| t.last_barrier);
            if let Some(cut) = cut {
                b.points.retain(|p| p.time >= cut);
            }
            out.push(Msg::Batch(b));
        }
        Ok(())
    }

    fn barrier(
        &mut self,
        _input: usize,
        group: GroupKey,
        time: i64,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        if self.pass(&group, time) {
            if let Some(t) = self.groups.get_mut(&group) {
                t.last_barrier = Some(time);
            }
            out.push(Msg::Barrier { group, time });
        }
        Ok(())
    }

    fn ticks(&self) -> bool {
        true
    }

    fn tick(&mut self, now: i64, out: &mut Vec<Msg>) {
        let (idle, period) = (self.idle, self.period);
        let mut deleted = Vec::new();
        for (group, t) in self.groups.iter_mut_untouched() {
            if now < t.due {
                continue;
            }
            let time = if idle > 0 {
                t.last_point += idle;
                t.due = now + idle;
                t.last_point
            } else {
                // Catch up without a burst if the host's ticks were late.
                t.due += period * (1 + (now - t.due) / period);
                now
            };
            t.last_barrier = Some(time);
            out.push(Msg::Barrier {
                group: group.clone(),
                time,
            });
            if self.delete {
                out.push(Msg::Delete(group.clone()));
                deleted.push(group.clone());
            }
        }
        for g in &deleted {
            self.groups.remove(g);
        }
    }

    fn state_bytes(&self) -> usize {
        self.groups.bytes(|_| 0)
    }
}
