//! Running a [`Udf`] natively, without Wasm or Farad: for a detector's unit tests.
//!
//! ```ignore
//! let mut h = Harness::<MovingAverage>::new(&[("field", &[Value::Str("v".into())])])?;
//! let out = h.points(&[TestPoint::new("cpu", 1).group("host=a").float("v", 2.0)])?;
//! ```

use std::collections::HashMap;
use std::marker::PhantomData;

use crate::bindings::farad::udf::types as wit;
use crate::{Error, FieldValue, Udf, Value};

/// A point going into or coming out of a UDF under test.
#[derive(Clone, Debug, PartialEq)]
pub struct TestPoint {
    pub time: i64,
    pub name: String,
    pub tags: Vec<(String, String)>,
    /// The group id (`""`: not grouped).
    pub group: String,
    pub fields: Vec<(String, Field)>,
}

/// An owned field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Float(f64),
    Int(i64),
    UInt(u64),
    Str(String),
    Bool(bool),
}

impl TestPoint {
    pub fn new(name: &str, time: i64) -> TestPoint {
        TestPoint {
            time,
            name: name.to_owned(),
            tags: Vec::new(),
            group: String::new(),
            fields: Vec::new(),
        }
    }

    pub fn tag(mut self, k: &str, v: &str) -> Self {
        self.tags.push((k.to_owned(), v.to_owned()));
        self.tags.sort();
        self
    }

    pub fn group(mut self, id: &str) -> Self {
        self.group = id.to_owned();
        self
    }

    pub fn float(mut self, k: &str, v: f64) -> Self {
        self.fields.push((k.to_owned(), Field::Float(v)));
        self
    }

    pub fn int(mut self, k: &str, v: i64) -> Self {
        self.fields.push((k.to_owned(), Field::Int(v)));
        self
    }

    pub fn string(mut self, k: &str, v: &str) -> Self {
        self.fields.push((k.to_owned(), Field::Str(v.to_owned())));
        self
    }

    pub fn bool(mut self, k: &str, v: bool) -> Self {
        self.fields.push((k.to_owned(), Field::Bool(v)));
        self
    }

    /// A field's value.
    pub fn get(&self, k: &str) -> Option<&Field> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    /// A numeric field as `f64`.
    pub fn number(&self, k: &str) -> Option<f64> {
        match self.get(k)? {
            Field::Float(f) => Some(*f),
            Field::Int(i) => Some(*i as f64),
            Field::UInt(u) => Some(*u as f64),
            _ => None,
        }
    }
}

/// An output batch.
#[derive(Clone, Debug, PartialEq)]
pub struct TestBatch {
    pub group: String,
    pub name: String,
    pub tmax: i64,
    pub points: Vec<TestPoint>,
}

/// Drives a UDF the way Farad does, through the same export functions, natively.
pub struct Harness<U: Udf> {
    series: HashMap<(String, Vec<(String, String)>), u32>,
    groups: HashMap<String, u32>,
    group_ids: Vec<String>,
    out_series: Vec<wit::Series>,
    _udf: PhantomData<U>,
}

impl<U: Udf> Harness<U> {
    /// Initialises the UDF with these options.
    pub fn new(options: &[(&str, &[Value])]) -> Result<Self, Error> {
        let opts = options
            .iter()
            .map(|(n, a)| wit::OptionValue {
                name: (*n).to_owned(),
                args: a.to_vec(),
            })
            .collect();
        crate::rt::init::<U>(opts).map_err(Error)?;
        Ok(Harness {
            series: HashMap::new(),
            groups: HashMap::new(),
            group_ids: Vec::new(),
            out_series: Vec::new(),
            _udf: PhantomData,
        })
    }

    fn input(&mut self, points: &[TestPoint], forget: &[&str]) -> wit::Input {
        let mut input = wit::Input {
            reset: false,
            new_series: Vec::new(),
            new_groups: Vec::new(),
            forget: forget.iter().map(|s| (*s).to_owned()).collect(),
            rows: wit::Rows {
                times: Vec::new(),
                series: Vec::new(),
                groups: Vec::new(),
                columns: Vec::new(),
                batches: Vec::new(),
            },
        };
        for g in forget {
            self.groups.remove(*g);
        }
        let n = points.len();
        for (row, p) in points.iter().enumerate() {
            let key = (p.name.clone(), p.tags.clone());
            let next = self.series.len() as u32;
            let s = *self.series.entry(key).or_insert_with(|| {
                input.new_series.push(wit::Series {
                    name: p.name.clone(),
                    tags: p.tags.clone(),
                });
                next
            });
            let g = match self.groups.get(&p.group) {
                Some(&g) => g,
                None => {
                    let g = self.group_ids.len() as u32;
                    self.group_ids.push(p.group.clone());
                    self.groups.insert(p.group.clone(), g);
                    input.new_groups.push(wit::Group {
                        id: p.group.clone(),
                        tags: Vec::new(),
                        by_name: false,
                    });
                    g
                }
            };
            input.rows.times.push(p.time);
            input.rows.series.push(s);
            input.rows.groups.push(g);
            for (name, v) in &p.fields {
                let col = column(&mut input.rows.columns, name, v, n);
                col.present[row] = 1;
                use wit::ColumnData as D;
                match (&mut col.data, v) {
                    (D::Double(d), Field::Float(x)) => d[row] = *x,
                    (D::Int(d), Field::Int(x)) => d[row] = *x,
                    (D::Uint(d), Field::UInt(x)) => d[row] = *x,
                    (D::Str(d), Field::Str(x)) => d[row] = x.clone(),
                    (D::Boolean(d), Field::Bool(x)) => d[row] = *x,
                    _ => unreachable!(),
                }
            }
        }
        input
    }

    fn output(&mut self, out: wit::Output) -> Vec<TestPoint> {
        self.out_series.extend(out.new_series);
        let rows = &out.rows;
        (0..rows.times.len())
            .map(|r| {
                let s = &self.out_series[rows.series[r] as usize];
                TestPoint {
                    time: rows.times[r],
                    name: s.name.clone(),
                    tags: s.tags.clone(),
                    group: self.group_ids[rows.groups[r] as usize].clone(),
                    fields: rows
                        .columns
                        .iter()
                        .filter(|c| c.present[r] != 0)
                        .map(|c| {
                            use wit::ColumnData as D;
                            let v = match &c.data {
                                D::Double(d) => Field::Float(d[r]),
                                D::Int(d) => Field::Int(d[r]),
                                D::Uint(d) => Field::UInt(d[r]),
                                D::Str(d) => Field::Str(d[r].clone()),
                                D::Boolean(d) => Field::Bool(d[r]),
                            };
                            (c.name.clone(), v)
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Stream points in; the points the UDF emits out.
    pub fn points(&mut self, points: &[TestPoint]) -> Result<Vec<TestPoint>, Error> {
        let input = self.input(points, &[]);
        let out = crate::rt::process::<U>(input).map_err(Error)?;
        Ok(self.output(out))
    }

    /// One batch in (its points' groups are set to `group`); the batches emitted out.
    pub fn batch(
        &mut self,
        group: &str,
        name: &str,
        tmax: i64,
        points: &[TestPoint],
    ) -> Result<Vec<TestBatch>, Error> {
        let points: Vec<TestPoint> = points.iter().cloned().map(|p| p.group(group)).collect();
        let mut input = self.input(&points, &[]);
        let g = self.ensure_group(group, &mut input);
        input.rows.batches.push(wit::BatchSpan {
            group: g,
            name: name.to_owned(),
            tmax,
            start: 0,
            len: points.len() as u32,
        });
        let out = crate::rt::process::<U>(input).map_err(Error)?;
        let spans = out.rows.batches.clone();
        let pts = self.output(out);
        Ok(spans
            .iter()
            .map(|s| TestBatch {
                group: self.group_ids[s.group as usize].clone(),
                name: s.name.clone(),
                tmax: s.tmax,
                points: pts[s.start as usize..(s.start + s.len) as usize].to_vec(),
            })
            .collect())
    }

    fn ensure_group(&mut self, group: &str, input: &mut wit::Input) -> u32 {
        if let Some(&g) = self.groups.get(group) {
            return g;
        }
        let g = self.group_ids.len() as u32;
        self.group_ids.push(group.to_owned());
        self.groups.insert(group.to_owned(), g);
        input.new_groups.push(wit::Group {
            id: group.to_owned(),
            tags: Vec::new(),
            by_name: false,
        });
        g
    }

    /// Tells the UDF that groups went away.
    pub fn forget(&mut self, groups: &[&str]) -> Result<(), Error> {
        let input = self.input(&[], groups);
        crate::rt::process::<U>(input).map_err(Error)?;
        Ok(())
    }

    pub fn snapshot(&self) -> Vec<u8> {
        crate::rt::snapshot::<U>()
    }

    pub fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        crate::rt::restore::<U>(state.to_vec()).map_err(Error)
    }
}

fn column<'c>(
    cols: &'c mut Vec<wit::Column>,
    name: &str,
    v: &Field,
    n: usize,
) -> &'c mut wit::Column {
    use wit::ColumnData as D;
    let same = |c: &wit::Column| {
        c.name == name
            && matches!(
                (&c.data, v),
                (D::Double(_), Field::Float(_))
                    | (D::Int(_), Field::Int(_))
                    | (D::Uint(_), Field::UInt(_))
                    | (D::Str(_), Field::Str(_))
                    | (D::Boolean(_), Field::Bool(_))
            )
    };
    let i = match cols.iter().position(same) {
        Some(i) => i,
        None => {
            cols.push(wit::Column {
                name: name.to_owned(),
                data: match v {
                    Field::Float(_) => D::Double(vec![0.0; n]),
                    Field::Int(_) => D::Int(vec![0; n]),
                    Field::UInt(_) => D::Uint(vec![0; n]),
                    Field::Str(_) => D::Str(vec![String::new(); n]),
                    Field::Bool(_) => D::Boolean(vec![false; n]),
                },
                present: vec![0; n],
            });
            cols.len() - 1
        }
    };
    &mut cols[i]
}

impl From<FieldValue<'_>> for Field {
    fn from(v: FieldValue<'_>) -> Field {
        match v {
            FieldValue::Float(f) => Field::Float(f),
            FieldValue::Int(i) => Field::Int(i),
            FieldValue::UInt(u) => Field::UInt(u),
            FieldValue::Str(s) => Field::Str(s.to_owned()),
            FieldValue::Bool(b) => Field::Bool(b),
        }
    }
}
