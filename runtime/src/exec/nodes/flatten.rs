//! `flatten().on(tags...)`: folds a group's points that share a (rounded) time into one point
//! whose fields are named by the `on` tags' values: `<tag values><delimiter><field>`. A time's
//! point is emitted when a point with a later time arrives, as in Kapacitor.

use crate::exec::groups::{GroupTable, Groups};
use std::sync::Arc;

use super::{NodeExec, names, prop_dur, prop_str, round_time};
use crate::exec::{Dims, Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, Name, Point, Series};
use crate::pipeline::{PlanNode, Value as PV};

pub struct Flatten {
    on: Vec<Name>,
    delimiter: String,
    tolerance: i64,
    drop_field_name: bool,
    groups: Groups<Pending>,
}

struct Pending {
    time: i64,
    name: Name,
    dims: Arc<Dims>,
    points: Vec<Point>,
}

impl Flatten {
    pub fn new(node: &PlanNode) -> Result<Flatten, String> {
        let drop_field_name = match node
            .property("dropOriginalFieldName")
            .map(|p| p.args.as_slice())
        {
            Some([PV::Bool(b)]) => *b,
            Some([]) => true,
            _ => false,
        };
        Ok(Flatten {
            on: node
                .property("on")
                .map(|p| names(&p.args))
                .unwrap_or_default(),
            delimiter: prop_str(node, "delimiter").unwrap_or_else(|| ".".into()),
            tolerance: prop_dur(node, "tolerance", 0),
            drop_field_name,
            groups: Groups::new(),
        })
    }

    /// The flattened fields of one time's points; points missing an `on` tag are skipped.
    fn flatten(&self, points: &[Point]) -> (Fields, usize) {
        let mut fields = Fields::new();
        let mut skipped = 0;
        'points: for p in points {
            let mut prefix = String::new();
            for (i, tag) in self.on.iter().enumerate() {
                let Some(v) = p.tag(*tag) else {
                    skipped += 1;
                    continue 'points;
                };
                if i > 0 {
                    prefix.push_str(&self.delimiter);
                }
                prefix.push_str(v);
            }
            for (k, v) in &p.fields {
                let name = if self.drop_field_name {
                    prefix.clone()
                } else if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}{}{k}", self.delimiter)
                };
                let name = Name::new(&name);
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => fields.push((name, v.clone())),
                }
            }
        }
        fields.sort_by_key(|(k, _)| *k);
        (fields, skipped)
    }
}

impl NodeExec for Flatten {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.groups)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.groups)
    }

    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let t = round_time(p.point.time, self.tolerance);
        p.point.time = t;
        let pending = self.groups.get_or_insert_with(&p.group, || Pending {
            time: t,
            name: p.point.name(),
            dims: p.dims.clone(),
            points: Vec::new(),
        });
        if pending.time == t {
            pending.points.push(p.point);
            return Ok(());
        }
        let done = std::mem::replace(&mut pending.points, vec![p.point]);
        let done_time = std::mem::replace(&mut pending.time, t);
        let (name, dims) = (pending.name, pending.dims.clone());
        let (fields, skipped) = self.flatten(&done);
        if !fields.is_empty() {
            let series = Arc::new(Series::new(name, p.group.tags().to_vec()));
            let point = Point {
                time: done_time,
                series,
                fields,
            };
            out.push(Msg::Point(StreamPoint {
                point,
                group: p.group,
                dims,
            }));
        }
        if skipped > 0 {
            return Err(format!(
                "point missing tag for flatten operation ({skipped} point(s))"
            ));
        }
        Ok(())
    }

    /// Within each batch on its own: each run of points with one (rounded) time becomes one
    /// point tagged with the batch's tags.
    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let series = Arc::new(Series::new(b.name, b.tags.to_vec()));
        let mut flat = Vec::new();
        let mut run: Vec<Point> = Vec::new();
        let mut skipped = 0;
        let mut finish = |run: &mut Vec<Point>, flat: &mut Vec<BatchPoint>| {
            let Some(time) = run.first().map(|p| p.time) else {
                return;
            };
            let (fields, missed) = self.flatten(run);
            skipped += missed;
            if !fields.is_empty() {
                flat.push(BatchPoint {
                    time,
                    series: series.clone(),
                    fields,
                });
            }
            run.clear();
        };
        for p in std::mem::take(&mut b.points) {
            let time = round_time(p.time, self.tolerance);
            if run.first().is_some_and(|r| r.time != time) {
                finish(&mut run, &mut flat);
            }
            run.push(Point {
                time,
                series: p.series,
                fields: p.fields,
            });
        }
        finish(&mut run, &mut flat);
        b.points = flat;
        out.push(Msg::Batch(b));
        if skipped > 0 {
            return Err(format!(
                "point missing tag for flatten operation ({skipped} point(s))"
            ));
        }
        Ok(())
    }
}
