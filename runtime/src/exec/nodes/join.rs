//! `join(others...)`: pairs the points of several parents that share a group and a time
//! (rounded to `.tolerance()`), naming their fields `<as><delimiter><field>`.
//!
//! Kapacitor's rules: per group, sets keyed by rounded time; a point goes into the first set at
//! its time that lacks its parent (so the k-th points of each parent in a bucket pair up). A
//! complete set in the group's oldest bucket is emitted at once; an incomplete one is filled (or
//! dropped without `.fill()`) once every parent has sent the group something later.

use crate::exec::groups::Groups;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::{NodeExec, names, prop_dur, prop_str, round_time};
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, GroupKey, Name, Point, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

enum Fill {
    None,
    Null,
    Value(Value),
}

pub struct Join {
    prefixes: Vec<String>,
    delimiter: String,
    stream_name: Option<Name>,
    tolerance: i64,
    fill: Fill,
    /// `.deleteAll()`: a group deletion resets every parent's low marks, not just the sender's.
    delete_all: bool,
    groups: Groups<Group>,
    /// Set with `.on(dims...)`.
    on: Option<On>,
}

/// `.on()` state: points grouped by fewer dimensions ("match" points) are buffered per on-group
/// and copied into each more specific group ("specific" points) at the same rounded time.
struct On {
    dims: Vec<Name>,
    /// Per on-group and parent, the rounded time of the parent's latest point.
    low_marks: Groups<Vec<Option<i64>>>,
    matches: Groups<VecDeque<(usize, Item)>>,
    specifics: Groups<VecDeque<(usize, Item)>>,
    reported: Vec<bool>,
    all_reported: bool,
}

struct Group {
    sets: BTreeMap<i64, VecDeque<Set>>,
    /// Per parent, the rounded time of its latest point in this group.
    head: Vec<Option<i64>>,
    oldest: Option<i64>,
}

struct Set {
    time: i64,
    values: Vec<Option<Item>>,
}

/// What a join pairs: points of stream parents, or whole batches of batch parents.
#[derive(Clone)]
enum Item {
    Point(StreamPoint),
    Batch(Batch),
}

impl Item {
    fn time(&self) -> i64 {
        match self {
            Item::Point(p) => p.point.time,
            Item::Batch(b) => b.tmax,
        }
    }

    fn group(&self) -> &GroupKey {
        match self {
            Item::Point(p) => &p.group,
            Item::Batch(b) => &b.group,
        }
    }

    fn name(&self) -> Name {
        match self {
            Item::Point(p) => p.point.name(),
            Item::Batch(b) => b.name,
        }
    }

    fn by_name(&self) -> bool {
        match self {
            Item::Point(p) => p.dims.by_name,
            Item::Batch(b) => b.by_name,
        }
    }

    /// The group's dimensions: tag names.
    fn dim_tags(&self) -> Vec<Name> {
        match self {
            Item::Point(p) => p.dims.tags.clone(),
            Item::Batch(b) => b.group.tags().iter().map(|(k, _)| *k).collect(),
        }
    }

    fn tag(&self, k: Name) -> Option<&str> {
        match self {
            Item::Point(p) => p.point.tag(k),
            Item::Batch(b) => b.tags.iter().find(|(t, _)| *t == k).map(|(_, v)| &**v),
        }
    }
}

impl Set {
    fn ready(&self) -> bool {
        self.values.iter().all(Option::is_some)
    }
}

impl Join {
    pub fn new(node: &PlanNode) -> Result<Join, String> {
        let prefixes: Vec<String> = node
            .property("as")
            .map(|p| {
                p.args
                    .iter()
                    .filter_map(|a| {
                        if let PV::Str(s) = a {
                            Some(s.clone())
                        } else {
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if prefixes.is_empty() {
            return Err(
                "a call to join.as() is required to specify the output stream prefixes.".into(),
            );
        }
        if prefixes.len() != node.parents.len() {
            return Err(
                "number of prefixes specified by join.as() must match the number of joined streams"
                    .into(),
            );
        }
        let fill = match node.property("fill").and_then(|p| p.args.first()) {
            Some(PV::Str(s)) if s == "null" => Fill::Null,
            Some(PV::Str(s)) if s == "none" => Fill::None,
            Some(PV::Str(s)) => return Err(format!("unexpected fill option {s}")),
            Some(PV::Int(i)) => Fill::Value(Value::Int(*i)),
            Some(PV::Float(f)) => Fill::Value(Value::Float(*f)),
            _ => Fill::None,
        };
        Ok(Join {
            prefixes,
            delimiter: prop_str(node, "delimiter").unwrap_or_else(|| ".".into()),
            stream_name: prop_str(node, "streamName")
                .filter(|s| !s.is_empty())
                .map(|s| Name::new(&s)),
            tolerance: prop_dur(node, "tolerance", 0),
            fill,
            delete_all: node.property("deleteAll").is_some_and(|p| {
                p.args.is_empty() || matches!(p.args.first(), Some(PV::Bool(true)))
            }),
            groups: Groups::new(),
            on: Some(
                node.property("on")
                    .map(|p| names(&p.args))
                    .unwrap_or_default(),
            )
            .filter(|d| !d.is_empty())
            .map(|dims| On {
                dims,
                low_marks: Groups::new(),
                matches: Groups::new(),
                specifics: Groups::new(),
                reported: vec![false; node.parents.len()],
                all_reported: false,
            }),
        })
    }

    /// Puts a point into the first set of its group and rounded time that lacks its parent.
    fn collect(&mut self, input: usize, p: Item, out: &mut Vec<Msg>) {
        let n = self.prefixes.len();
        let t = round_time(p.time(), self.tolerance);
        let group_key = p.group().clone();
        let mut g = self.groups.remove(&group_key).unwrap_or_else(|| Group {
            sets: BTreeMap::new(),
            head: vec![None; n],
            oldest: None,
        });
        if g.oldest.is_none_or(|o| t < o) {
            g.oldest = Some(t);
        }
        let queue = g.sets.entry(t).or_default();
        match queue.iter_mut().find(|s| s.values[input].is_none()) {
            Some(set) => set.values[input] = Some(p),
            None => {
                let mut values = vec![None; n];
                values[input] = Some(p);
                queue.push_back(Set { time: t, values });
            }
        }
        g.head[input] = Some(t);
        let only_ready = Join::blocked(&g);
        self.emit(&mut g, only_ready, out);
        self.groups.insert(group_key, g);
    }

    /// `.on()` routing (Kapacitor's `matchPoints`), kept rule for rule: a specific point waits
    /// for the match point of its on-group and time, or goes alone once every parent has moved
    /// past its time.
    fn match_points(&mut self, on: &mut On, src: usize, p: Item, out: &mut Vec<Msg>) {
        if !on.all_reported {
            on.reported[src] = true;
            on.all_reported = on.reported.iter().all(|r| *r);
        }
        let t = round_time(p.time(), self.tolerance);
        let dim_tags = p.dim_tags();
        let tags = on
            .dims
            .iter()
            .map(|d| {
                let v = if dim_tags.contains(d) {
                    p.tag(*d).unwrap_or("")
                } else {
                    ""
                };
                (*d, Box::<str>::from(v))
            })
            .collect();
        let on_group = GroupKey::from_parts(p.by_name().then(|| p.name()), tags);
        let n = self.prefixes.len();
        on.low_marks.get_or_insert_with(&on_group, || vec![None; n])[src] = Some(t);

        // Not a plain minimum: an unreported parent resets the fold (Kapacitor's zero time).
        let mut low_mark = i64::MIN;
        if on.all_reported {
            let marks = on.low_marks.get(&on_group).expect("set above");
            for lm in marks.iter().map(|m| m.unwrap_or(i64::MIN)) {
                if low_mark == i64::MIN || lm < low_mark {
                    low_mark = lm;
                }
            }
            if let Some(buf) = on.specifics.get_mut(&on_group) {
                while let Some((_, front)) = buf.front() {
                    if round_time(front.time(), self.tolerance) >= low_mark {
                        break;
                    }
                    let (s, sp) = buf.pop_front().expect("front exists");
                    self.collect(s, sp, out);
                }
            }
        }

        if dim_tags.len() > on.dims.len() {
            let mut matched = false;
            if let Some(buf) = on.matches.get(&on_group) {
                let mut stop = buf.len();
                for (i, (ms, m)) in buf.iter().enumerate() {
                    let mt = round_time(m.time(), self.tolerance);
                    if mt == t {
                        self.send_matched(src, p.clone(), *ms, m, out);
                        matched = true;
                    }
                    if mt >= low_mark {
                        stop = i;
                        break;
                    }
                }
                if on.all_reported {
                    on.matches
                        .get_mut(&on_group)
                        .expect("buffer exists")
                        .drain(..stop);
                }
            }
            if !matched {
                if on.all_reported && t < low_mark {
                    self.collect(src, p, out);
                } else {
                    on.specifics
                        .get_or_insert_with(&on_group, Default::default)
                        .push_back((src, p));
                }
            }
        } else {
            if let Some(buf) = on.specifics.get_mut(&on_group) {
                while let Some((_, front)) = buf.front() {
                    if round_time(front.time(), self.tolerance) != t {
                        break;
                    }
                    let (s, sp) = buf.pop_front().expect("front exists");
                    self.send_matched(s, sp, src, &p, out);
                }
            }
            on.matches
                .get_or_insert_with(&on_group, Default::default)
                .push_back((src, p));
        }
    }

    /// Collects a specific point and a copy of its match point retagged with its group.
    fn send_matched(
        &mut self,
        src: usize,
        specific: Item,
        match_src: usize,
        m: &Item,
        out: &mut Vec<Msg>,
    ) {
        let copy = match (m, &specific) {
            (Item::Point(m), Item::Point(specific)) => {
                let tags = specific
                    .dims
                    .tags
                    .iter()
                    .map(|d| (*d, Box::<str>::from(specific.point.tag(*d).unwrap_or(""))))
                    .collect();
                Item::Point(StreamPoint {
                    point: Point {
                        time: m.point.time,
                        series: Arc::new(Series::new(m.point.name(), tags)),
                        fields: m.point.fields.clone(),
                    },
                    group: specific.group.clone(),
                    dims: specific.dims.clone(),
                })
            }
            (Item::Batch(m), Item::Batch(specific)) => {
                let mut copy = m.clone();
                super::basic::set_batch_tags(&mut copy, &specific.tags);
                Item::Batch(copy)
            }
            // A join's parents are all of one edge type.
            _ => return,
        };
        self.collect(src, specific, out);
        self.collect(match_src, copy, out);
    }

    /// The joined message of a set, or `None` when it is incomplete and not filled.
    fn output(&self, set: Set) -> Option<Msg> {
        match set.values.iter().flatten().next()? {
            Item::Point(_) => self.output_point(set).map(Msg::Point),
            Item::Batch(_) => self.output_batch(set).map(Msg::Batch),
        }
    }

    /// Kapacitor's `JoinIntoBatch`: the set's batches' points paired by rounded time, the
    /// earliest first; without `.fill()` a time some batch lacks is dropped.
    fn output_batch(&self, set: Set) -> Option<Batch> {
        let batches: Vec<Option<&Batch>> = set
            .values
            .iter()
            .map(|v| match v {
                Some(Item::Batch(b)) => Some(b),
                _ => None,
            })
            .collect();
        let first = batches.iter().flatten().next()?;
        let name = self.stream_name.unwrap_or(first.name);
        let group = GroupKey::from_parts(first.by_name.then_some(name), first.tags.to_vec());
        let mut joined = Batch::new(name, set.time, group, first.by_name);
        joined.tags = first.tags.clone();
        let series = Arc::new(Series::new(name, first.tags.to_vec()));
        let n = batches.len();
        let mut empty = vec![false; n];
        let mut empty_count = 0;
        let mut idx = vec![0usize; n];
        let mut field_names: Option<Vec<Name>> = None;
        'times: while empty_count < n {
            let mut chosen: Vec<Option<&BatchPoint>> = vec![None; n];
            let mut set_time: Option<i64> = None;
            let mut count = 0;
            for i in 0..n {
                if empty[i] {
                    continue;
                }
                let Some(b) = batches[i].filter(|b| idx[i] < b.points.len()) else {
                    empty_count += 1;
                    empty[i] = true;
                    continue;
                };
                let bp = &b.points[idx[i]];
                let t = round_time(bp.time, self.tolerance);
                let st = *set_time.get_or_insert(t);
                if t < st {
                    // An earlier time: start this time's set over from this point.
                    set_time = Some(t);
                    for j in 0..n {
                        if chosen[j].take().is_some() {
                            idx[j] -= 1;
                        }
                    }
                    chosen[i] = Some(bp);
                    idx[i] += 1;
                    count = 1;
                } else if t == st {
                    if field_names.is_none() {
                        field_names = Some(bp.fields.iter().map(|(k, _)| *k).collect());
                    }
                    chosen[i] = Some(bp);
                    idx[i] += 1;
                    count += 1;
                }
            }
            let Some(time) = set_time.filter(|_| count > 0) else {
                continue;
            };
            let mut fields = Fields::new();
            for (i, c) in chosen.iter().enumerate() {
                let prefix = &self.prefixes[i];
                match c {
                    Some(bp) => {
                        for (k, v) in &bp.fields {
                            fields.push((
                                Name::new(&format!("{prefix}{}{k}", self.delimiter)),
                                v.clone(),
                            ));
                        }
                    }
                    None => match &self.fill {
                        Fill::None => continue 'times,
                        // A null field is no field here.
                        Fill::Null => {}
                        Fill::Value(fv) => {
                            for k in field_names.iter().flatten() {
                                fields.push((
                                    Name::new(&format!("{prefix}{}{k}", self.delimiter)),
                                    fv.clone(),
                                ));
                            }
                        }
                    },
                }
            }
            fields.sort_by_key(|(k, _)| *k);
            joined.points.push(BatchPoint {
                time,
                series: series.clone(),
                fields,
            });
        }
        Some(joined)
    }

    /// The joined point of a set, or `None` when it is incomplete and not filled.
    fn output_point(&self, set: Set) -> Option<StreamPoint> {
        let first = match set.values.iter().flatten().next()? {
            Item::Point(p) => p.clone(),
            Item::Batch(_) => return None,
        };
        let complete = set.ready();
        if !complete && matches!(self.fill, Fill::None) {
            return None;
        }
        let mut fields = Fields::new();
        for (i, v) in set.values.iter().enumerate() {
            let prefix = &self.prefixes[i];
            match v {
                Some(Item::Point(p)) => {
                    for (k, val) in &p.point.fields {
                        fields.push((
                            Name::new(&format!("{prefix}{}{k}", self.delimiter)),
                            val.clone(),
                        ));
                    }
                }
                Some(Item::Batch(_)) => {}
                None => {
                    // Missing parents take the first present point's field names.
                    if let Fill::Value(fv) = &self.fill {
                        for (k, _) in &first.point.fields {
                            fields.push((
                                Name::new(&format!("{prefix}{}{k}", self.delimiter)),
                                fv.clone(),
                            ));
                        }
                    }
                }
            }
        }
        fields.sort_by_key(|(k, _)| *k);
        let name = self.stream_name.unwrap_or(first.point.name());
        let tags: Vec<(Name, Box<str>)> = first
            .dims
            .tags
            .iter()
            .map(|d| (*d, Box::<str>::from(first.point.tag(*d).unwrap_or(""))))
            .collect();
        let series = Arc::new(Series::new(name, tags));
        let group = GroupKey::of(&series, &first.dims.tags, first.dims.by_name);
        Some(StreamPoint {
            point: Point {
                time: set.time,
                series,
                fields,
            },
            group,
            dims: first.dims.clone(),
        })
    }

    fn emit(&self, g: &mut Group, mut only_ready: bool, out: &mut Vec<Msg>) {
        loop {
            let Some(oldest) = g.oldest else { return };
            let Some(queue) = g.sets.get_mut(&oldest) else {
                return;
            };
            while let Some(front) = queue.front() {
                if !front.ready() && only_ready {
                    break;
                }
                let set = queue.pop_front().expect("front exists");
                if let Some(m) = self.output(set) {
                    out.push(m);
                }
            }
            if queue.is_empty() {
                g.sets.remove(&oldest);
            }
            g.oldest = g.sets.keys().next().copied();
            if only_ready {
                return;
            }
            only_ready = Join::blocked(g);
        }
    }

    fn take(&mut self, input: usize, item: Item, out: &mut Vec<Msg>) {
        match self.on.take() {
            Some(mut on) => {
                self.match_points(&mut on, input, item, out);
                self.on = Some(on);
            }
            None => self.collect(input, item, out),
        }
    }

    /// True while some parent has not sent the group anything later than its oldest set.
    fn blocked(g: &Group) -> bool {
        let Some(oldest) = g.oldest else { return true };
        g.head.iter().any(|h| h.is_none_or(|h| h <= oldest))
    }
}

impl NodeExec for Join {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        self.point_from(0, p, out)
    }

    fn point_from(
        &mut self,
        input: usize,
        p: StreamPoint,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        let n = self.prefixes.len();
        if input >= n {
            return Err(format!("join got a point from parent {input} of {n}"));
        }
        self.take(input, Item::Point(p), out);
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        self.batch_from(0, b, out)
    }

    fn batch_from(&mut self, input: usize, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let n = self.prefixes.len();
        if input >= n {
            return Err(format!("join got a batch from parent {input} of {n}"));
        }
        self.take(input, Item::Batch(b), out);
        Ok(())
    }

    /// End of the input (a replay's): every set still waiting goes out, filled or dropped.
    fn finish(&mut self, out: &mut Vec<Msg>) {
        let keys: Vec<GroupKey> = self.groups.keys().cloned().collect();
        for key in keys {
            if let Some(mut g) = self.groups.remove(&key) {
                self.emit(&mut g, false, out);
            }
        }
    }

    /// A barrier moves its parent's head in the group (routed by its own group, even with
    /// `.on()`), which can release waiting sets; then it is passed on.
    fn barrier(
        &mut self,
        input: usize,
        group: GroupKey,
        time: i64,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        let n = self.prefixes.len();
        if input >= n {
            return Err(format!("join got a barrier from parent {input} of {n}"));
        }
        let t = round_time(time, self.tolerance);
        let mut g = self.groups.remove(&group).unwrap_or_else(|| Group {
            sets: BTreeMap::new(),
            head: vec![None; n],
            oldest: None,
        });
        // Unlike Kapacitor, `oldest` stays the oldest set's time: a barrier older than every
        // set (or one into an empty group) would make Go look up a missing set and crash.
        g.head[input] = Some(t);
        let only_ready = Join::blocked(&g);
        self.emit(&mut g, only_ready, out);
        self.groups.insert(group.clone(), g);
        out.push(Msg::Barrier { group, time });
        Ok(())
    }

    fn delete_group(&mut self, input: usize, group: &GroupKey) {
        self.groups.remove(group);
        if let Some(on) = &mut self.on {
            on.matches.remove(group);
            on.specifics.remove(group);
            if self.delete_all {
                on.low_marks = Groups::new();
            } else if let Some(m) = on.low_marks.get_mut(group) {
                m[input] = None;
            }
        }
    }

    fn expire(&mut self, cutoff: i64) -> usize {
        if let Some(on) = &mut self.on {
            on.matches.expire(cutoff);
            on.specifics.expire(cutoff);
            on.low_marks.expire(cutoff);
        }
        self.groups.expire(cutoff)
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }

    fn state_bytes(&self) -> usize {
        self.groups
            .bytes(|g| g.sets.values().map(|q| q.len() * 256).sum())
    }
}
