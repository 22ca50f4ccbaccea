//! Read-only views of the rows Farad sent: one point, or one batch.

use crate::bindings::farad::udf::types as wit;
use crate::groups::Group;
use crate::rt::Tables;

/// A field's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Float(f64),
    Int(i64),
    UInt(u64),
    Str(&'a str),
    Bool(bool),
}

impl FieldValue<'_> {
    /// Floats and integers as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::Float(f) => Some(f),
            FieldValue::Int(i) => Some(i as f64),
            FieldValue::UInt(u) => Some(u as f64),
            _ => None,
        }
    }
}

/// One point: its time, series (measurement and tags), group and fields.
#[derive(Clone, Copy)]
pub struct PointRef<'a> {
    pub(crate) rows: &'a wit::Rows,
    pub(crate) tables: &'a Tables,
    pub(crate) row: usize,
}

impl<'a> PointRef<'a> {
    /// Nanoseconds since the epoch.
    pub fn time(&self) -> i64 {
        self.rows.times[self.row]
    }

    pub(crate) fn series_index(&self) -> usize {
        self.rows.series[self.row] as usize
    }

    pub(crate) fn group_index(&self) -> usize {
        self.rows.groups[self.row] as usize
    }

    fn series(&self) -> &'a wit::Series {
        &self.tables.series[self.series_index()]
    }

    /// The measurement.
    pub fn name(&self) -> &'a str {
        &self.series().name
    }

    /// The tags, sorted by key.
    pub fn tags(&self) -> &'a [(String, String)] {
        &self.series().tags
    }

    /// One tag's value.
    pub fn tag(&self, key: &str) -> Option<&'a str> {
        self.tags()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The group the point belongs to (the nil group, id `""`, when not grouped).
    pub fn group(&self) -> Group<'a> {
        self.tables.group(self.group_index())
    }

    /// A field's value, whatever its type.
    pub fn field(&self, name: &str) -> Option<FieldValue<'a>> {
        let r = self.row;
        self.rows
            .columns
            .iter()
            .filter(|c| c.present[r] != 0 && c.name == name)
            .map(|c| value_at(&c.data, r))
            .next()
    }

    /// Every field of the point.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, FieldValue<'a>)> + 'a {
        let r = self.row;
        self.rows
            .columns
            .iter()
            .filter(move |c| c.present[r] != 0)
            .map(move |c| (c.name.as_str(), value_at(&c.data, r)))
    }

    /// A float field.
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.field(name)? {
            FieldValue::Float(f) => Some(f),
            _ => None,
        }
    }

    /// An integer field.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.field(name)? {
            FieldValue::Int(i) => Some(i),
            _ => None,
        }
    }

    /// A string field.
    pub fn string(&self, name: &str) -> Option<&'a str> {
        match self.field(name)? {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A boolean field.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.field(name)? {
            FieldValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A numeric field (float or integer) as `f64`.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.field(name)?.as_f64()
    }
}

fn value_at(d: &wit::ColumnData, r: usize) -> FieldValue<'_> {
    use wit::ColumnData as D;
    match d {
        D::Double(v) => FieldValue::Float(v[r]),
        D::Int(v) => FieldValue::Int(v[r]),
        D::Uint(v) => FieldValue::UInt(v[r]),
        D::Str(v) => FieldValue::Str(&v[r]),
        D::Boolean(v) => FieldValue::Bool(v[r]),
    }
}

/// One batch: a group's points with the batch's measurement and time.
#[derive(Clone, Copy)]
pub struct BatchRef<'a> {
    pub(crate) rows: &'a wit::Rows,
    pub(crate) tables: &'a Tables,
    pub(crate) span: &'a wit::BatchSpan,
}

impl<'a> BatchRef<'a> {
    /// The batch's measurement.
    pub fn name(&self) -> &'a str {
        &self.span.name
    }

    /// The batch's time (the window's end or the query's stop), ns.
    pub fn tmax(&self) -> i64 {
        self.span.tmax
    }

    pub fn group(&self) -> Group<'a> {
        self.tables.group(self.span.group as usize)
    }

    pub fn len(&self) -> usize {
        self.span.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.span.len == 0
    }

    /// The `i`-th point.
    pub fn point(&self, i: usize) -> PointRef<'a> {
        assert!(i < self.len(), "point {i} of a batch of {}", self.len());
        PointRef {
            rows: self.rows,
            tables: self.tables,
            row: self.span.start as usize + i,
        }
    }

    /// The points in time order.
    pub fn points(&self) -> impl Iterator<Item = PointRef<'a>> + 'a {
        let (rows, tables) = (self.rows, self.tables);
        let start = self.span.start as usize;
        (start..start + self.len()).map(move |row| PointRef { rows, tables, row })
    }
}
