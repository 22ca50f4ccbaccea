//! Building the output: points (stream) or batches, as columns.

use std::collections::HashMap;

use crate::bindings::farad::udf::types as wit;
use crate::groups::Group;
use crate::point::{BatchRef, FieldValue, PointRef};

type SeriesKey = (String, Vec<(String, String)>);

/// Where a UDF puts what it emits during one call.
#[derive(Default)]
pub struct Emitter {
    // The output series table, kept from call to call (Farad mirrors it).
    series_ids: HashMap<SeriesKey, u32>,
    series: Vec<SeriesKey>,
    /// Input series index -> output series index (`u32::MAX`: not yet known).
    from_input: Vec<u32>,
    new_series: Vec<wit::Series>,
    rows: Rows,
    col_keys: Vec<(String, u8)>,
    open_batch: Option<usize>,
}

#[derive(Default)]
struct Rows {
    times: Vec<i64>,
    series: Vec<u32>,
    groups: Vec<u32>,
    columns: Vec<wit::Column>,
    batches: Vec<wit::BatchSpan>,
}

impl Emitter {
    /// Starts the series table over (Farad did too).
    pub(crate) fn reset(&mut self) {
        self.series_ids.clear();
        self.series.clear();
        self.from_input.clear();
    }

    /// The call's output; the table of series stays.
    pub(crate) fn finish(&mut self) -> wit::Output {
        self.end_batch();
        let n = self.rows.times.len();
        let mut columns = std::mem::take(&mut self.rows.columns);
        for c in &mut columns {
            pad(c, n);
        }
        self.col_keys.clear();
        wit::Output {
            new_series: std::mem::take(&mut self.new_series),
            rows: wit::Rows {
                times: std::mem::take(&mut self.rows.times),
                series: std::mem::take(&mut self.rows.series),
                groups: std::mem::take(&mut self.rows.groups),
                columns,
                batches: std::mem::take(&mut self.rows.batches),
            },
        }
    }

    fn intern(&mut self, key: SeriesKey) -> u32 {
        if let Some(&i) = self.series_ids.get(&key) {
            return i;
        }
        let i = self.series.len() as u32;
        self.new_series.push(wit::Series {
            name: key.0.clone(),
            tags: key.1.clone(),
        });
        self.series.push(key.clone());
        self.series_ids.insert(key, i);
        i
    }

    fn series_of(&mut self, p: &PointRef<'_>) -> u32 {
        let s = p.series_index();
        if s < self.from_input.len() && self.from_input[s] != u32::MAX {
            return self.from_input[s];
        }
        let i = self.intern((p.name().to_owned(), p.tags().to_vec()));
        if s >= self.from_input.len() {
            self.from_input.resize(s + 1, u32::MAX);
        }
        self.from_input[s] = i;
        i
    }

    /// Emits a point in `p`'s series and group at `p`'s time, with no fields yet.
    pub fn point(&mut self, p: &PointRef<'_>) -> PointBuilder<'_> {
        let series = self.series_of(p);
        self.rows.times.push(p.time());
        self.rows.series.push(series);
        self.rows.groups.push(p.group_index() as u32);
        PointBuilder {
            row: self.rows.times.len() - 1,
            em: self,
        }
    }

    /// Emits `p` as it is, with all its fields.
    pub fn copy(&mut self, p: &PointRef<'_>) -> PointBuilder<'_> {
        let mut b = self.point(p);
        for (name, v) in p.fields() {
            b = b.value(name, v);
        }
        b
    }

    /// Starts a batch in `group` (the rows emitted until [`Emitter::end_batch`] form it).
    pub fn begin_batch(&mut self, group: &Group<'_>, name: &str, tmax: i64) {
        self.end_batch();
        self.rows.batches.push(wit::BatchSpan {
            group: group.index,
            name: name.to_owned(),
            tmax,
            start: self.rows.times.len() as u32,
            len: 0,
        });
        self.open_batch = Some(self.rows.batches.len() - 1);
    }

    /// Starts a batch like `b` (same group, measurement and time).
    pub fn begin_batch_like(&mut self, b: &BatchRef<'_>) {
        self.begin_batch(&b.group(), b.name(), b.tmax());
    }

    /// Ends the open batch (also done by the next `begin_batch` and at the end of the call).
    pub fn end_batch(&mut self) {
        if let Some(i) = self.open_batch.take() {
            let span = &mut self.rows.batches[i];
            span.len = self.rows.times.len() as u32 - span.start;
        }
    }

    /// Rows emitted so far in this call.
    pub fn len(&self) -> usize {
        self.rows.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.times.is_empty()
    }

    fn set(&mut self, row: usize, name: &str, v: FieldValue<'_>) {
        let tag = match v {
            FieldValue::Float(_) => 0,
            FieldValue::Int(_) => 1,
            FieldValue::UInt(_) => 2,
            FieldValue::Str(_) => 3,
            FieldValue::Bool(_) => 4,
        };
        let c = match self
            .col_keys
            .iter()
            .position(|(n, t)| *t == tag && n == name)
        {
            Some(c) => c,
            None => {
                self.col_keys.push((name.to_owned(), tag));
                self.rows.columns.push(new_column(name, v));
                self.rows.columns.len() - 1
            }
        };
        let col = &mut self.rows.columns[c];
        if col.present.len() > row {
            // Set twice on one row: the last value wins.
            col.present.truncate(row);
            truncate(&mut col.data, row);
        }
        pad(col, row);
        col.present.push(1);
        use wit::ColumnData as D;
        match (&mut col.data, v) {
            (D::Double(d), FieldValue::Float(x)) => d.push(x),
            (D::Int(d), FieldValue::Int(x)) => d.push(x),
            (D::Uint(d), FieldValue::UInt(x)) => d.push(x),
            (D::Str(d), FieldValue::Str(x)) => d.push(x.to_owned()),
            (D::Boolean(d), FieldValue::Bool(x)) => d.push(x),
            _ => unreachable!("columns are keyed by name and type"),
        }
    }

    /// Changes a row's series (a new measurement or tag set).
    fn reseries(&mut self, row: usize, f: impl FnOnce(&mut SeriesKey)) {
        let mut key = self.series[self.rows.series[row] as usize].clone();
        f(&mut key);
        key.1.sort();
        let i = self.intern(key);
        self.rows.series[row] = i;
    }
}

fn new_column(name: &str, like: FieldValue<'_>) -> wit::Column {
    use wit::ColumnData as D;
    wit::Column {
        name: name.to_owned(),
        data: match like {
            FieldValue::Float(_) => D::Double(Vec::new()),
            FieldValue::Int(_) => D::Int(Vec::new()),
            FieldValue::UInt(_) => D::Uint(Vec::new()),
            FieldValue::Str(_) => D::Str(Vec::new()),
            FieldValue::Bool(_) => D::Boolean(Vec::new()),
        },
        present: Vec::new(),
    }
}

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

fn truncate(d: &mut wit::ColumnData, n: usize) {
    use wit::ColumnData as D;
    match d {
        D::Double(v) => v.truncate(n),
        D::Int(v) => v.truncate(n),
        D::Uint(v) => v.truncate(n),
        D::Str(v) => v.truncate(n),
        D::Boolean(v) => v.truncate(n),
    }
}

/// Sets the fields, time and series of the point just emitted.
pub struct PointBuilder<'e> {
    em: &'e mut Emitter,
    row: usize,
}

impl PointBuilder<'_> {
    pub fn value(self, name: &str, v: FieldValue<'_>) -> Self {
        self.em.set(self.row, name, v);
        self
    }

    pub fn float(self, name: &str, v: f64) -> Self {
        self.value(name, FieldValue::Float(v))
    }

    pub fn int(self, name: &str, v: i64) -> Self {
        self.value(name, FieldValue::Int(v))
    }

    pub fn uint(self, name: &str, v: u64) -> Self {
        self.value(name, FieldValue::UInt(v))
    }

    pub fn string(self, name: &str, v: &str) -> Self {
        self.value(name, FieldValue::Str(v))
    }

    pub fn bool(self, name: &str, v: bool) -> Self {
        self.value(name, FieldValue::Bool(v))
    }

    /// Sets the point's time (ns).
    pub fn time(self, t: i64) -> Self {
        self.em.rows.times[self.row] = t;
        self
    }

    /// Sets (or adds) a tag.
    pub fn tag(self, key: &str, value: &str) -> Self {
        self.em
            .reseries(self.row, |s| match s.1.iter_mut().find(|(k, _)| k == key) {
                Some(t) => t.1 = value.to_owned(),
                None => s.1.push((key.to_owned(), value.to_owned())),
            });
        self
    }

    /// Sets the measurement.
    pub fn measurement(self, name: &str) -> Self {
        self.em.reseries(self.row, |s| s.0 = name.to_owned());
        self
    }
}
