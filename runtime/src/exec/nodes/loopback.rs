//! `kapacitorLoopback()`: writes the data back into the host's own input, under another
//! database and retention policy (never one the task reads: that would loop).

use std::sync::Arc;

use super::{NodeExec, prop_str};
use crate::exec::{Io, Msg, StreamPoint, TaskEnv};
use crate::model::{Batch, Name, Point, Series};
use crate::pipeline::PlanNode;

pub struct Loopback {
    io: Arc<dyn Io>,
    db: String,
    rp: String,
    measurement: Option<Name>,
    tags: Vec<(Name, Box<str>)>,
    written: i64,
}

impl Loopback {
    pub fn new(node: &PlanNode, env: &TaskEnv) -> Result<Loopback, String> {
        let db = prop_str(node, "database").unwrap_or_default();
        let rp = prop_str(node, "retentionPolicy").unwrap_or_default();
        if db.is_empty() {
            return Err("must specify a database".into());
        }
        if rp.is_empty() {
            return Err("must specify a retention policy".into());
        }
        if env.dbrps.iter().any(|(d, r)| *d == db && *r == rp) {
            return Err(format!("loop detected on dbrp: {db}.{rp}"));
        }
        let tags = super::static_tags(node);
        Ok(Loopback {
            io: env.io.clone(),
            db,
            rp,
            measurement: prop_str(node, "measurement")
                .filter(|m| !m.is_empty())
                .map(|m| Name::new(&m)),
            tags,
            written: 0,
        })
    }

    fn series(&self, name: Name, series: &Series) -> Arc<Series> {
        let mut tags = series.tags.to_vec();
        for (k, v) in &self.tags {
            match tags.iter_mut().find(|(t, _)| t == k) {
                Some(t) => t.1 = v.clone(),
                None => tags.push((*k, v.clone())),
            }
        }
        Arc::new(Series::new(name, tags))
    }
}

impl NodeExec for Loopback {
    fn point(&mut self, p: StreamPoint, _out: &mut Vec<Msg>) -> Result<(), String> {
        let name = self.measurement.unwrap_or(p.point.name());
        let point = Point {
            time: p.point.time,
            series: self.series(name, &p.point.series),
            fields: p.point.fields,
        };
        self.io.write_points(&self.db, &self.rp, vec![point]);
        self.written += 1;
        Ok(())
    }

    /// Batch points keep the batch's name: Kapacitor applies `.measurement()` to stream points
    /// only.
    fn batch(&mut self, b: Batch, _out: &mut Vec<Msg>) -> Result<(), String> {
        let points: Vec<Point> = b
            .points
            .into_iter()
            .map(|bp| Point {
                time: bp.time,
                series: self.series(b.name, &bp.series),
                fields: bp.fields,
            })
            .collect();
        self.written += points.len() as i64;
        self.io.write_points(&self.db, &self.rp, points);
        Ok(())
    }

    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        out.push(("points_written", self.written));
    }
}
