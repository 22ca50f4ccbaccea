//! `httpOut('name')`: keeps the latest result of each group for `GET /kapacitor/v1/tasks/<id>/<name>`.

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value as Json, json};

use super::NodeExec;
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, GroupKey, GroupMap, Name, Value};
use crate::pipeline::{PlanNode, Value as PV};
use crate::time::format_rfc3339_nanos;

/// The latest result of each group, in the order groups first arrived. Kept as data and
/// rendered to JSON only when read: writing a result is on the hot path, reading is not.
#[derive(Default)]
pub struct HttpOutData {
    index: GroupMap<usize>,
    /// Per group: its key, its latest result and when (host wall clock) it was set.
    rows: Vec<(GroupKey, Row, i64)>,
}

enum Row {
    Point(BatchPoint),
    Batch(Batch),
}

impl HttpOutData {
    /// Kapacitor's result document: `{"series": [...]}`, `{"series": null}` before any data.
    pub fn to_json(&self) -> Json {
        if self.rows.is_empty() {
            return json!({ "series": null });
        }
        let series: Vec<Json> = self
            .rows
            .iter()
            .map(|(_, row, _)| match row {
                // A stream point's tags are all series tags, never columns.
                Row::Point(p) => series_json(
                    p.series.measurement,
                    &p.series.tags,
                    std::slice::from_ref(p),
                ),
                Row::Batch(b) => series_json(b.name, &b.tags, &b.points),
            })
            .collect();
        json!({ "series": series })
    }

    fn set(&mut self, group: &GroupKey, row: Row) {
        let now = crate::expr::now();
        match self.index.get(group) {
            Some(&i) => self.rows[i] = (group.clone(), row, now),
            None => {
                self.index.insert(group.clone(), self.rows.len());
                self.rows.push((group.clone(), row, now));
            }
        }
    }

    fn retain(&mut self, keep: impl Fn(&GroupKey, i64) -> bool) -> usize {
        let before = self.rows.len();
        self.rows.retain(|(g, _, seen)| keep(g, *seen));
        if self.rows.len() != before {
            self.index = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, (g, _, _))| (g.clone(), i))
                .collect();
        }
        before - self.rows.len()
    }
}

pub struct HttpOut {
    data: Arc<Mutex<HttpOutData>>,
    /// Usually the last node: then results are moved into the store, not copied.
    leaf: bool,
}

impl HttpOut {
    pub fn new(node: &PlanNode) -> Result<(HttpOut, String, Arc<Mutex<HttpOutData>>), String> {
        let Some(PV::Str(endpoint)) = node.args.first() else {
            return Err("httpOut needs an endpoint name".into());
        };
        let data = Arc::new(Mutex::new(HttpOutData::default()));
        let out = HttpOut {
            data: data.clone(),
            leaf: node.children.is_empty(),
        };
        Ok((out, endpoint.clone(), data))
    }
}

fn json_value(v: &Value) -> Json {
    match v {
        Value::Float(f) => json!(f),
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Str(s) => json!(s.as_ref()),
        Value::Bool(b) => json!(b),
    }
}

/// One series: name, tags, columns (`time`, then the first point's tags that are not series
/// tags and its fields, sorted together), rows.
pub(crate) fn series_json(name: Name, tags: &[(Name, Box<str>)], points: &[BatchPoint]) -> Json {
    // Columns come from the first point: its fields and the tags that are not series tags.
    let mut columns: Vec<Name> = Vec::new();
    if let Some(p) = points.first() {
        columns.extend(
            p.series
                .tags
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !tags.iter().any(|(t, _)| t == k)),
        );
        for (k, _) in &p.fields {
            if !columns.contains(k) {
                columns.push(*k);
            }
        }
    }
    columns.sort();
    let values: Vec<Json> = points
        .iter()
        .map(|p| {
            let mut row = vec![json!(format_rfc3339_nanos(p.time))];
            for c in &columns {
                let cell = match p.fields.iter().find(|(k, _)| k == c) {
                    Some((_, v)) => json_value(v),
                    None => p.series.tag(*c).map_or(Json::Null, |t| json!(t)),
                };
                row.push(cell);
            }
            Json::Array(row)
        })
        .collect();
    let mut tag_map = Map::new();
    for (k, v) in tags {
        tag_map.insert(k.to_string(), json!(v.as_ref()));
    }
    let mut cols = vec![json!("time")];
    cols.extend(columns.iter().map(|c| json!(c.as_str())));
    let mut s = Map::new();
    s.insert("name".into(), json!(name.as_str()));
    if !tag_map.is_empty() {
        s.insert("tags".into(), Json::Object(tag_map));
    }
    s.insert("columns".into(), Json::Array(cols));
    s.insert("values".into(), Json::Array(values));
    Json::Object(s)
}

impl NodeExec for HttpOut {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let bp = BatchPoint {
            time: p.point.time,
            series: p.point.series.clone(),
            fields: p.point.fields.clone(),
        };
        self.data.lock().set(&p.group, Row::Point(bp));
        if !self.leaf {
            out.push(Msg::Point(p));
        }
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.leaf {
            self.data.lock().set(&b.group.clone(), Row::Batch(b));
        } else {
            self.data
                .lock()
                .set(&b.group.clone(), Row::Batch(b.clone()));
            out.push(Msg::Batch(b));
        }
        Ok(())
    }

    fn delete_group(&mut self, _input: usize, group: &GroupKey) {
        self.data.lock().retain(|g, _| g != group);
    }

    fn expire(&mut self, cutoff: i64) -> usize {
        self.data.lock().retain(|_, seen| seen >= cutoff)
    }

    fn cardinality(&self) -> usize {
        self.data.lock().rows.len()
    }

    fn state_bytes(&self) -> usize {
        let d = self.data.lock();
        d.rows.capacity() * std::mem::size_of::<(GroupKey, Row, i64)>()
            + d.rows
                .iter()
                .map(|(_, r, _)| match r {
                    Row::Batch(b) => b.points.capacity() * std::mem::size_of::<BatchPoint>(),
                    Row::Point(_) => 0,
                })
                .sum::<usize>()
    }
}
