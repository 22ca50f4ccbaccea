//! `influxDBOut()`: writes points to an InfluxDB cluster through the host. Points gather in
//! the node until `.buffer()` of them wait or `.flushInterval()` has passed (host clock), as
//! Kapacitor's write buffer does; the host then writes them in order and retries while the
//! cluster is away. Points pass on to children unchanged.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::{NodeExec, prop_count, prop_dur, prop_str};
use crate::exec::{InfluxCounters, InfluxWrite, Io, Msg, StreamPoint, TaskEnv};
use crate::lineproto::Precision;
use crate::model::{Batch, Name, Point, Series};
use crate::pipeline::PlanNode;

pub struct InfluxDbOut {
    io: Arc<dyn Io>,
    cluster: String,
    database: String,
    retention_policy: String,
    measurement: Option<Name>,
    tags: Vec<(Name, Box<str>)>,
    precision: Precision,
    consistency: String,
    buffer: usize,
    flush_interval: i64,
    pending: Vec<Point>,
    /// Host time of the last hand-over (0: none yet).
    flushed_at: i64,
    counters: Arc<InfluxCounters>,
}

impl InfluxDbOut {
    pub fn new(node: &PlanNode, env: &TaskEnv) -> Result<InfluxDbOut, String> {
        let cluster = prop_str(node, "cluster").unwrap_or_default();
        env.io.influxdb(&cluster)?;
        // Without `.database()`, Kapacitor writes to the database the point was written to:
        // for a task reading one db/rp, that one.
        let (db, rp) = env.dbrps.first().cloned().unwrap_or_default();
        let database = prop_str(node, "database")
            .filter(|d| !d.is_empty())
            .unwrap_or(db);
        if database.is_empty() {
            return Err("influxDBOut needs .database()".into());
        }
        let retention_policy = prop_str(node, "retentionPolicy")
            .filter(|r| !r.is_empty())
            .unwrap_or(rp);
        let precision = match prop_str(node, "precision").as_deref() {
            None | Some("") => Precision::Nanoseconds,
            Some(p) => Precision::parse(p).ok_or_else(|| format!("invalid precision {p:?}"))?,
        };
        let tags = super::static_tags(node);
        let buffer = match prop_count(node, "buffer") {
            0 => 1000,
            n => n,
        };
        if node.property("create").is_some() {
            env.io
                .create_database(&cluster, &database, &retention_policy);
        }
        Ok(InfluxDbOut {
            io: env.io.clone(),
            cluster,
            database,
            retention_policy,
            measurement: prop_str(node, "measurement")
                .filter(|m| !m.is_empty())
                .map(|m| Name::new(&m)),
            tags,
            precision,
            consistency: prop_str(node, "writeConsistency").unwrap_or_default(),
            buffer,
            flush_interval: prop_dur(node, "flushInterval", 10_000_000_000),
            pending: Vec::new(),
            flushed_at: 0,
            counters: Arc::default(),
        })
    }

    /// The point as written: the node's measurement and tags over the point's own.
    fn add(&mut self, time: i64, name: Name, series: &Arc<Series>, fields: crate::model::Fields) {
        let name = self.measurement.unwrap_or(name);
        let series = if self.tags.is_empty() && name == series.measurement {
            series.clone()
        } else {
            let mut tags = series.tags.to_vec();
            for (k, v) in &self.tags {
                match tags.iter_mut().find(|(t, _)| t == k) {
                    Some(t) => t.1 = v.clone(),
                    None => tags.push((*k, v.clone())),
                }
            }
            Arc::new(Series::new(name, tags))
        };
        self.pending.push(Point {
            time,
            series,
            fields,
        });
    }

    fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.flushed_at = crate::expr::now();
        self.io.write_influxdb(InfluxWrite {
            cluster: self.cluster.clone(),
            database: self.database.clone(),
            retention_policy: self.retention_policy.clone(),
            precision: self.precision,
            consistency: self.consistency.clone(),
            points: std::mem::take(&mut self.pending),
            counters: self.counters.clone(),
        });
    }

    fn maybe_hand_over(&mut self) {
        if self.pending.len() >= self.buffer {
            self.hand_over();
        }
    }
}

impl NodeExec for InfluxDbOut {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let fields = p.point.fields.clone();
        self.add(p.point.time, p.point.name(), &p.point.series, fields);
        self.maybe_hand_over();
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        for bp in &b.points {
            self.add(bp.time, b.name, &bp.series, bp.fields.clone());
        }
        self.maybe_hand_over();
        out.push(Msg::Batch(b));
        Ok(())
    }

    fn ticks(&self) -> bool {
        true
    }

    fn tick(&mut self, now: i64, _out: &mut Vec<Msg>) {
        if self.flushed_at == 0 {
            self.flushed_at = now;
        }
        if now - self.flushed_at >= self.flush_interval {
            self.hand_over();
            self.flushed_at = now;
        }
    }

    fn finish(&mut self, _out: &mut Vec<Msg>) {
        self.hand_over();
    }

    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        out.push(("points_written", self.counters.written.load(Relaxed)));
        out.push(("write_errors", self.counters.errors.load(Relaxed)));
    }
}

impl Drop for InfluxDbOut {
    /// A stopped or replaced task still writes what it holds.
    fn drop(&mut self) {
        self.hand_over();
    }
}
