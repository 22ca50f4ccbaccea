//! Host points and batches to the `udf` world's columns and back.
//!
//! The [`Encoder`] keeps, per instance, the series and groups it has sent (each goes across
//! once, then rows name it by index) and fills columns in place, reusing its buffers from one
//! call to the next. The [`Decoder`] mirrors the guest's output series table.

use std::collections::HashMap;
use std::sync::Arc;

use super::wit;
use crate::exec::groups::Groups;
use crate::exec::{Dims, Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, GroupKey, Name, Point, Series, Value, type_tag};

/// Past this many series and groups sent, the tables start over (bounded memory on both
/// sides of the boundary).
const TABLE_LIMIT: usize = 1 << 16;

/// Builds [`wit::Input`]s from points and batches.
pub struct Encoder {
    input: wit::Input,
    /// Field name and type of each column in `input.rows.columns`.
    col_keys: Vec<(Name, u8)>,
    /// Series sent, by address; the `Arc`s in `series` keep those addresses from being reused.
    series_ids: HashMap<usize, u32, foldhash::fast::RandomState>,
    series: Vec<Arc<Series>>,
    last_series: Option<(usize, u32)>,
    /// Every group the guest has state for, stamped when last seen (for expiry), with its
    /// index in the current table or [`NOT_SENT`] (new, or the tables started over since).
    group_ids: Groups<u32>,
    /// Each group index's key and dimensions, for decoding what the guest emits.
    pub(super) groups: Vec<(GroupKey, Arc<Dims>)>,
}

const NOT_SENT: u32 = u32::MAX;

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            input: empty_input(),
            col_keys: Vec::new(),
            series_ids: HashMap::default(),
            series: Vec::new(),
            last_series: None,
            group_ids: Groups::new(),
            groups: Vec::new(),
        }
    }
}

fn empty_input() -> wit::Input {
    wit::Input {
        reset: false,
        new_series: Vec::new(),
        new_groups: Vec::new(),
        forget: Vec::new(),
        rows: empty_rows(),
    }
}

fn empty_rows() -> wit::Rows {
    wit::Rows {
        times: Vec::new(),
        series: Vec::new(),
        groups: Vec::new(),
        columns: Vec::new(),
        batches: Vec::new(),
    }
}

fn tags_of(tags: &[(Name, Box<str>)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_string()))
        .collect()
}

impl Encoder {
    /// Rows waiting to be sent.
    pub fn len(&self) -> usize {
        self.input.rows.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.input.forget.is_empty()
    }

    /// True when the next input starts the guest's tables over (and so its output series).
    pub fn resets(&self) -> bool {
        self.input.reset
    }

    /// Forgets the tables: the next input tells the guest to start its own over. Groups stay
    /// known (the guest keeps their state by id), so they can still be forgotten on expiry.
    pub fn reset(&mut self) {
        self.series_ids.clear();
        self.series.clear();
        self.last_series = None;
        for (_, i) in self.group_ids.iter_mut_untouched() {
            *i = NOT_SENT;
        }
        self.groups.clear();
        self.input.reset = true;
        self.input.new_series.clear();
        self.input.new_groups.clear();
    }

    fn series_index(&mut self, s: &Arc<Series>) -> u32 {
        let addr = Arc::as_ptr(s) as usize;
        if let Some((a, i)) = self.last_series
            && a == addr
        {
            return i;
        }
        let i = match self.series_ids.get(&addr) {
            Some(&i) => i,
            None => {
                let i = self.series.len() as u32;
                self.series.push(s.clone());
                self.series_ids.insert(addr, i);
                self.input.new_series.push(wit::Series {
                    name: s.measurement.as_str().to_owned(),
                    tags: tags_of(&s.tags),
                });
                i
            }
        };
        self.last_series = Some((addr, i));
        i
    }

    /// The group's index in the current table (sending it first if needed); marks it seen.
    fn group_index(&mut self, g: &GroupKey, dims: &Arc<Dims>) -> u32 {
        let slot = self.group_ids.get_or_insert_with(g, || NOT_SENT);
        if *slot != NOT_SENT {
            return *slot;
        }
        let i = self.groups.len() as u32;
        *slot = i;
        self.groups.push((g.clone(), dims.clone()));
        self.input.new_groups.push(wit::Group {
            id: g.id(),
            tags: tags_of(g.tags()),
            by_name: dims.by_name,
        });
        i
    }

    fn row(&mut self, time: i64, series: &Arc<Series>, group: u32, fields: &[(Name, Value)]) {
        let row = self.input.rows.times.len();
        let s = self.series_index(series);
        let rows = &mut self.input.rows;
        rows.times.push(time);
        rows.series.push(s);
        rows.groups.push(group);
        for (name, value) in fields {
            let key = (*name, type_tag(value));
            let c = match self.col_keys.iter().position(|k| *k == key) {
                Some(c) => c,
                None => {
                    self.col_keys.push(key);
                    rows.columns.push(new_column(*name, value));
                    rows.columns.len() - 1
                }
            };
            push_value(&mut rows.columns[c], row, value);
        }
    }

    /// Adds a stream point.
    pub fn point(&mut self, p: &StreamPoint) {
        let g = self.group_index(&p.group, &p.dims);
        self.row(p.point.time, &p.point.series, g, &p.point.fields);
    }

    /// Adds a whole batch.
    pub fn batch(&mut self, b: &Batch) {
        let dims = crate::exec::nodes::dims_of_batch(b);
        let g = self.group_index(&b.group, &dims);
        let start = self.len() as u32;
        for p in &b.points {
            self.row(p.time, &p.series, g, &p.fields);
        }
        self.input.rows.batches.push(wit::BatchSpan {
            group: g,
            name: b.name.as_str().to_owned(),
            tmax: b.tmax,
            start,
            len: b.points.len() as u32,
        });
    }

    /// Tells the guest to drop a group's state (deleted in the host).
    pub fn forget(&mut self, g: &GroupKey) {
        if self.group_ids.remove(g).is_some() {
            self.input.forget.push(g.id());
        }
    }

    /// Tells the guest to drop the groups not seen since `cutoff`; returns how many.
    pub fn expire(&mut self, cutoff: i64) -> usize {
        let forget = &mut self.input.forget;
        self.group_ids
            .expire_with(cutoff, |g, _| forget.push(g.id()))
    }

    /// Groups the guest holds state for.
    pub fn groups_len(&self) -> usize {
        self.group_ids.len()
    }

    /// The input for the rows added since the last call; [`Encoder::sent`] must follow.
    pub fn input(&mut self) -> &wit::Input {
        let n = self.len();
        for c in &mut self.input.rows.columns {
            pad(c, n);
        }
        &self.input
    }

    /// Clears what was sent, keeping buffers; starts the tables over when they grew too big.
    pub fn sent(&mut self) {
        let i = &mut self.input;
        i.reset = false;
        i.new_series.clear();
        i.new_groups.clear();
        i.forget.clear();
        i.rows.times.clear();
        i.rows.series.clear();
        i.rows.groups.clear();
        i.rows.batches.clear();
        i.rows.columns.clear();
        self.col_keys.clear();
        if self.series.len() + self.groups.len() > TABLE_LIMIT {
            self.reset();
        }
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.series.len() * 64
            + self.groups.len() * 96
            + self.group_ids.bytes(|_| 0)
            + self.len() * 32
    }
}

fn new_column(name: Name, like: &Value) -> wit::Column {
    use wit::ColumnData as D;
    let data = match like {
        Value::Float(_) => D::Double(Vec::new()),
        Value::Int(_) => D::Int(Vec::new()),
        Value::UInt(_) => D::Uint(Vec::new()),
        Value::Str(_) => D::Str(Vec::new()),
        Value::Bool(_) => D::Boolean(Vec::new()),
    };
    wit::Column {
        name: name.as_str().to_owned(),
        data,
        present: Vec::new(),
    }
}

/// Fills rows the column does not have yet with absent defaults.
fn pad(c: &mut wit::Column, n: usize) {
    use wit::ColumnData as D;
    if c.present.len() >= n {
        return;
    }
    c.present.resize(n, 0);
    match &mut c.data {
        D::Double(v) => v.resize(n, 0.0),
        D::Int(v) => v.resize(n, 0),
        D::Uint(v) => v.resize(n, 0),
        D::Str(v) => v.resize(n, String::new()),
        D::Boolean(v) => v.resize(n, false),
    }
}

fn push_value(c: &mut wit::Column, row: usize, v: &Value) {
    use wit::ColumnData as D;
    pad(c, row);
    c.present.push(1);
    match (&mut c.data, v) {
        (D::Double(d), Value::Float(x)) => d.push(*x),
        (D::Int(d), Value::Int(x)) => d.push(*x),
        (D::Uint(d), Value::UInt(x)) => d.push(*x),
        (D::Str(d), Value::Str(x)) => d.push(x.to_string()),
        (D::Boolean(d), Value::Bool(x)) => d.push(*x),
        _ => unreachable!("columns are keyed by field name and type"),
    }
}

/// Turns the guest's outputs back into messages.
#[derive(Default)]
pub struct Decoder {
    series: Vec<Arc<Series>>,
}

impl Decoder {
    /// Forgets the guest's output series (the guest does too after a reset input or a new
    /// instance).
    pub fn reset(&mut self) {
        self.series.clear();
    }

    /// Decodes `out` into stream points (`batches` false) or batches, appending to `msgs`.
    /// Group indexes refer to `enc`'s table as it was for the call.
    pub fn decode(
        &mut self,
        out: wit::Output,
        enc: &Encoder,
        batches: bool,
        msgs: &mut Vec<Msg>,
    ) -> Result<(), String> {
        for s in out.new_series {
            let tags = s
                .tags
                .into_iter()
                .map(|(k, v)| (Name::new(&k), v.into_boxed_str()))
                .collect();
            self.series
                .push(Arc::new(Series::new(Name::new(&s.name), tags)));
        }
        let rows = out.rows;
        let n = rows.times.len();
        if rows.series.len() != n || rows.groups.len() != n {
            return Err(format!(
                "output rows disagree: {n} times, {} series, {} groups",
                rows.series.len(),
                rows.groups.len()
            ));
        }
        let columns: Vec<(Name, &wit::Column)> = rows
            .columns
            .iter()
            .map(|c| (Name::new(&c.name), c))
            .collect();
        for (name, c) in &columns {
            if c.present.len() != n || data_len(&c.data) != n {
                return Err(format!("output column {name} does not have {n} rows"));
            }
        }
        let group_of = |i: u32| {
            enc.groups
                .get(i as usize)
                .ok_or_else(|| format!("output row names group {i}, which was never sent"))
        };
        let make = |r: usize| -> Result<(i64, Arc<Series>, Fields), String> {
            let s = rows.series[r] as usize;
            let series = self
                .series
                .get(s)
                .ok_or_else(|| format!("output row names series {s}, which was never declared"))?
                .clone();
            let mut fields = Fields::new();
            for (name, c) in &columns {
                if c.present[r] != 0 {
                    fields.push((*name, value_at(&c.data, r)));
                }
            }
            fields.sort_by_key(|f| f.0);
            Ok((rows.times[r], series, fields))
        };
        if !batches {
            for r in 0..n {
                let (time, series, fields) = make(r)?;
                let (group, dims) = group_of(rows.groups[r])?;
                msgs.push(Msg::Point(StreamPoint {
                    point: Point {
                        time,
                        series,
                        fields,
                    },
                    group: group.clone(),
                    dims: dims.clone(),
                }));
            }
            return Ok(());
        }
        for span in &rows.batches {
            let (group, dims) = group_of(span.group)?;
            let (start, len) = (span.start as usize, span.len as usize);
            if start + len > n {
                return Err(format!(
                    "output batch covers rows {start}..{} of {n}",
                    start + len
                ));
            }
            let mut b = Batch::new(
                Name::new(&span.name),
                span.tmax,
                group.clone(),
                dims.by_name,
            );
            b.points.reserve(len);
            for r in start..start + len {
                let (time, series, fields) = make(r)?;
                b.points.push(BatchPoint {
                    time,
                    series,
                    fields,
                });
            }
            msgs.push(Msg::Batch(b));
        }
        Ok(())
    }
}

fn data_len(d: &wit::ColumnData) -> usize {
    use wit::ColumnData as D;
    match d {
        D::Double(v) => v.len(),
        D::Int(v) => v.len(),
        D::Uint(v) => v.len(),
        D::Str(v) => v.len(),
        D::Boolean(v) => v.len(),
    }
}

fn value_at(d: &wit::ColumnData, r: usize) -> Value {
    use wit::ColumnData as D;
    match d {
        D::Double(v) => Value::Float(v[r]),
        D::Int(v) => Value::Int(v[r]),
        D::Uint(v) => Value::UInt(v[r]),
        D::Str(v) => Value::Str(v[r].as_str().into()),
        D::Boolean(v) => Value::Bool(v[r]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(host: &str) -> StreamPoint {
        let tag = Name::new("host");
        let tags = vec![(tag, host.into())];
        StreamPoint {
            point: Point {
                time: 1,
                series: Arc::new(Series::new(Name::new("cpu"), tags.clone())),
                fields: [(Name::new("value"), Value::Float(1.0))]
                    .into_iter()
                    .collect(),
            },
            group: GroupKey::from_parts(None, tags),
            dims: Arc::new(Dims {
                by_name: false,
                tags: vec![tag],
            }),
        }
    }

    #[test]
    fn groups_are_sent_once_and_again_after_a_reset() {
        let mut enc = Encoder::default();
        enc.point(&point("a"));
        enc.point(&point("a"));
        enc.point(&point("b"));
        let input = enc.input();
        assert_eq!(input.new_groups.len(), 2);
        assert_eq!(input.rows.groups, [0, 0, 1]);
        enc.sent();
        enc.point(&point("b"));
        assert!(enc.input().new_groups.is_empty());
        assert_eq!(enc.input().rows.groups, [1]);
        enc.sent();
        enc.reset();
        enc.point(&point("b"));
        let input = enc.input();
        assert!(input.reset);
        assert_eq!(input.new_groups.len(), 1);
        assert_eq!(input.rows.groups, [0]);
    }

    #[test]
    fn expiry_forgets_groups_even_after_the_tables_started_over() {
        let mut enc = Encoder::default();
        enc.point(&point("a"));
        enc.sent();
        // The guest keeps a group's state by id across table resets: expiry must still reach it.
        enc.reset();
        assert_eq!(enc.groups_len(), 1);
        assert_eq!(enc.expire(i64::MAX), 1);
        assert_eq!(enc.input().forget, [point("a").group.id()]);
        assert_eq!(enc.groups_len(), 0);
        enc.sent();
        enc.forget(&point("a").group);
        assert!(enc.input().forget.is_empty(), "forgotten once");
    }
}
