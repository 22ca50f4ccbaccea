//! `x|stats(interval)`: every `interval` of wall-clock time, one point per group of what node
//! `x` has emitted so far (`stats` measurement, field `emitted`, the group's tags). The node is
//! a source of its own; the task counts `x`'s output per group for it.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{NodeExec, round_time, truncate_time};
use crate::exec::{Dims, Msg, StreamPoint};
use crate::model::{Fields, GroupKey, GroupMap, Name, Point, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

/// Per group, the messages a node has emitted, and whether the group is by measurement.
pub type GroupCounts = Arc<Mutex<GroupMap<(u64, bool)>>>;

pub struct Stats {
    interval: i64,
    align: bool,
    next: Option<i64>,
    counts: GroupCounts,
}

impl Stats {
    pub fn new(node: &PlanNode) -> Result<(Stats, GroupCounts), String> {
        let interval = match node.args.first() {
            Some(PV::Duration(d)) => *d,
            _ => 0,
        };
        if interval <= 0 {
            return Err("stats node must have positive interval".into());
        }
        let counts = GroupCounts::default();
        let stats = Stats {
            interval,
            align: node.property("align").is_some(),
            next: None,
            counts: counts.clone(),
        };
        Ok((stats, counts))
    }
}

impl NodeExec for Stats {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        out.push(Msg::Point(p));
        Ok(())
    }

    fn ticks(&self) -> bool {
        true
    }

    fn tick(&mut self, now: i64, out: &mut Vec<Msg>) {
        let interval = self.interval;
        let next = *self.next.get_or_insert(if self.align {
            truncate_time(now, interval) + interval
        } else {
            now + interval
        });
        if now < next {
            return;
        }
        self.next = Some(next + interval * (1 + (now - next) / interval));
        let time = if self.align {
            round_time(now, interval)
        } else {
            now
        };
        let name = Name::new("stats");
        let emitted = Name::new("emitted");
        let counts = self.counts.lock();
        let point = |group: &GroupKey, n: u64, by_name: bool| {
            let tags = group.tags().to_vec();
            let dims = Dims {
                by_name,
                tags: tags.iter().map(|(k, _)| *k).collect(),
            };
            let mut fields = Fields::new();
            fields.push((emitted, Value::Int(n as i64)));
            Msg::Point(StreamPoint {
                point: Point {
                    time,
                    series: Arc::new(Series::new(name, tags)),
                    fields,
                },
                group: group.clone(),
                dims: Arc::new(dims),
            })
        };
        if counts.is_empty() {
            out.push(point(&GroupKey::NIL, 0, false));
        }
        // In the groups' order (by tags), not the table's: the same input, the same output.
        let mut groups: Vec<_> = counts.iter().collect();
        groups.sort_by_cached_key(|(g, _)| {
            g.tags()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_string()))
                .collect::<Vec<_>>()
        });
        for (group, (n, by_name)) in groups {
            out.push(point(group, *n, *by_name));
        }
    }
}
