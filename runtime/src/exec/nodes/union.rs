//! `union(others...)`: merges its parents into one stream ordered by time, as Kapacitor does:
//! a k-way merge that emits a message once every parent has shown a message at least as late
//! (ties in parent order, the node it was called on last). Nothing is changed but the name
//! (`.rename()`).

use std::collections::VecDeque;
use std::sync::Arc;

use super::{NodeExec, prop_str};
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, GroupKey, Name, Series};
use crate::pipeline::PlanNode;

pub struct Union {
    rename: Option<Name>,
    /// One queue per source, in Kapacitor's order: the arguments, then the receiver.
    queues: Vec<VecDeque<Msg>>,
    /// Per source, the time of its latest head seen.
    marks: Vec<Option<i64>>,
}

fn time_of(m: &Msg) -> i64 {
    match m {
        Msg::Point(p) => p.point.time,
        Msg::Batch(b) => b.tmax,
        Msg::Barrier { time, .. } => *time,
        Msg::Delete(_) => i64::MIN,
    }
}

impl Union {
    pub fn new(node: &PlanNode) -> Result<Union, String> {
        let n = node.parents.len().max(1);
        Ok(Union {
            rename: prop_str(node, "rename")
                .filter(|s| !s.is_empty())
                .map(|s| Name::new(&s)),
            queues: vec![VecDeque::new(); n],
            marks: vec![None; n],
        })
    }

    /// Kapacitor numbers the receiver last: `a|union(b, c)` has sources b, c, a.
    fn source(&self, input: usize) -> usize {
        let n = self.queues.len();
        if input == 0 { n - 1 } else { input - 1 }
    }

    fn emit_ready(&mut self, out: &mut Vec<Msg>) {
        loop {
            let mut mark: Option<i64> = None;
            let mut valid = 0;
            for i in 0..self.queues.len() {
                if let Some(h) = self.queues[i].front().map(time_of) {
                    mark = Some(mark.map_or(h, |m| m.min(h)));
                    self.marks[i] = Some(h);
                }
                if let Some(lm) = self.marks[i] {
                    valid += 1;
                    mark = Some(mark.map_or(lm, |m| m.min(lm)));
                }
            }
            if valid < self.queues.len() {
                return;
            }
            let Some(mark) = mark else { return };
            let mut emitted = false;
            for q in &mut self.queues {
                while q.front().is_some_and(|m| time_of(m) <= mark) {
                    out.push(q.pop_front().expect("front exists"));
                    emitted = true;
                }
            }
            if !emitted {
                return;
            }
        }
    }

    fn push(&mut self, input: usize, mut m: Msg, out: &mut Vec<Msg>) {
        if let Some(name) = self.rename {
            match &mut m {
                Msg::Point(p) => {
                    p.point.series = Arc::new(Series::new(name, p.point.series.tags.to_vec()));
                }
                Msg::Batch(b) => b.name = name,
                Msg::Barrier { .. } | Msg::Delete(_) => {}
            }
        }
        let src = self.source(input);
        self.queues[src].push_back(m);
        self.emit_ready(out);
    }
}

impl NodeExec for Union {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        self.push(0, Msg::Point(p), out);
        Ok(())
    }

    fn point_from(
        &mut self,
        input: usize,
        p: StreamPoint,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        self.push(input, Msg::Point(p), out);
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        self.push(0, Msg::Batch(b), out);
        Ok(())
    }

    /// A barrier takes its place in the merge like any message.
    fn barrier(
        &mut self,
        input: usize,
        group: GroupKey,
        time: i64,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        self.push(input, Msg::Barrier { group, time }, out);
        Ok(())
    }
}
