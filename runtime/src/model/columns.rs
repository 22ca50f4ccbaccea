//! Columnar form of a batch of points, the shape data takes across the Wasm boundary.
//!
//! Each series appears once; each point names its series by index; each field is one primitive
//! vector with a presence mask. Building columns walks the points once and allocates per column,
//! never per point.

use std::collections::HashMap;
use std::sync::Arc;

use super::{BatchPoint, Name, Point, Series, Value};

/// The values of one field across all points.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    Float(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
    Str(Vec<Arc<str>>),
    Bool(Vec<bool>),
}

/// One field's column. `present[i]` is false where point `i` lacks the field (its slot then holds
/// a default value). A field whose type changes between points is split per type, keyed by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: Name,
    pub data: ColumnData,
    pub present: Vec<bool>,
}

/// Points as columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    pub times: Vec<i64>,
    /// Index into `series` for each point.
    pub series_index: Vec<u32>,
    pub series: Vec<Arc<Series>>,
    pub columns: Vec<Column>,
}

impl Columns {
    /// Columns of stream points.
    pub fn from_points(points: &[Point]) -> Columns {
        Self::build(
            points.iter().map(|p| (p.time, &p.series, &p.fields[..])),
            points.len(),
        )
    }

    /// Columns of a batch's points.
    pub fn from_batch_points(points: &[BatchPoint]) -> Columns {
        Self::build(
            points.iter().map(|p| (p.time, &p.series, &p.fields[..])),
            points.len(),
        )
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    fn build<'a>(
        rows: impl Iterator<Item = (i64, &'a Arc<Series>, &'a [(Name, Value)])>,
        n: usize,
    ) -> Columns {
        let mut out = Columns {
            times: Vec::with_capacity(n),
            series_index: Vec::with_capacity(n),
            ..Columns::default()
        };
        // Consecutive points usually share a series: check the last one before hashing.
        let mut series_ids: HashMap<*const Series, u32, foldhash::fast::RandomState> =
            HashMap::default();
        let mut last: Option<(*const Series, u32)> = None;
        let mut col_ids: HashMap<(Name, u8), usize, foldhash::fast::RandomState> =
            HashMap::default();
        for (row, (time, series, fields)) in rows.enumerate() {
            out.times.push(time);
            let ptr = Arc::as_ptr(series);
            let idx = match last {
                Some((p, i)) if p == ptr => i,
                _ => *series_ids.entry(ptr).or_insert_with(|| {
                    out.series.push(series.clone());
                    (out.series.len() - 1) as u32
                }),
            };
            last = Some((ptr, idx));
            out.series_index.push(idx);
            for (name, value) in fields {
                let key = (*name, type_tag(value));
                let ci = *col_ids.entry(key).or_insert_with(|| {
                    out.columns.push(Column::new(*name, value, n));
                    out.columns.len() - 1
                });
                out.columns[ci].set(row, value);
            }
        }
        out
    }
}

/// A small number per value type: columns are keyed by field name and type.
pub(crate) fn type_tag(v: &Value) -> u8 {
    match v {
        Value::Float(_) => 0,
        Value::Int(_) => 1,
        Value::UInt(_) => 2,
        Value::Str(_) => 3,
        Value::Bool(_) => 4,
    }
}

impl Column {
    fn new(name: Name, like: &Value, n: usize) -> Column {
        let data = match like {
            Value::Float(_) => ColumnData::Float(vec![0.0; n]),
            Value::Int(_) => ColumnData::Int(vec![0; n]),
            Value::UInt(_) => ColumnData::UInt(vec![0; n]),
            Value::Str(_) => ColumnData::Str(vec![Arc::from(""); n]),
            Value::Bool(_) => ColumnData::Bool(vec![false; n]),
        };
        Column {
            name,
            data,
            present: vec![false; n],
        }
    }

    fn set(&mut self, row: usize, v: &Value) {
        self.present[row] = true;
        match (&mut self.data, v) {
            (ColumnData::Float(c), Value::Float(x)) => c[row] = *x,
            (ColumnData::Int(c), Value::Int(x)) => c[row] = *x,
            (ColumnData::UInt(c), Value::UInt(x)) => c[row] = *x,
            (ColumnData::Str(c), Value::Str(x)) => c[row] = x.clone(),
            (ColumnData::Bool(c), Value::Bool(x)) => c[row] = *x,
            _ => unreachable!("columns are keyed by name and type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fields;

    #[test]
    fn points_to_columns() {
        let a = Arc::new(Series::new(
            Name::new("cpu"),
            vec![(Name::new("host"), "a".into())],
        ));
        let b = Arc::new(Series::new(
            Name::new("cpu"),
            vec![(Name::new("host"), "b".into())],
        ));
        let v = Name::new("value");
        let ok = Name::new("ok");
        let pt = |t, s: &Arc<Series>, f: Fields| Point {
            time: t,
            series: s.clone(),
            fields: f,
        };
        let points = vec![
            pt(1, &a, [(v, Value::Float(1.5))].into_iter().collect()),
            pt(
                2,
                &b,
                [(v, Value::Float(2.5)), (ok, Value::Bool(true))]
                    .into_iter()
                    .collect(),
            ),
            pt(3, &a, [(ok, Value::Bool(false))].into_iter().collect()),
        ];
        let c = Columns::from_points(&points);
        assert_eq!(c.times, [1, 2, 3]);
        assert_eq!(c.series_index, [0, 1, 0]);
        assert_eq!(c.series.len(), 2);
        assert_eq!(c.columns.len(), 2);
        assert_eq!(c.columns[0].name, v);
        assert_eq!(c.columns[0].data, ColumnData::Float(vec![1.5, 2.5, 0.0]));
        assert_eq!(c.columns[0].present, [true, true, false]);
        assert_eq!(
            c.columns[1].data,
            ColumnData::Bool(vec![false, true, false])
        );
        assert_eq!(c.columns[1].present, [false, true, true]);
    }
}
