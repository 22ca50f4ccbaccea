//! Ingest: line protocol from HTTP writes and UDP listeners, parsed and routed to tasks.
//!
//! [`Ingest::write`] is the one entry point every input uses. It parses a body with InfluxDB's
//! partial-write semantics, counts points per database/retention policy/measurement (Kapacitor's
//! `ingress` statistics), and hands the points to the [`Router`]'s subscribers. Points are only
//! built when some task subscribes to the db/rp written to.

mod bulk;
mod router;
mod stats;
pub mod udp;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use farad_runtime::lineproto::{self, Outcome, PointBuilder, Precision};
use farad_runtime::model::{Name, Point};

pub use bulk::{Bulk, LARGE_BODY};
pub use router::{PointSink, Router, Subscription};
pub use stats::IngressStats;

/// The write path shared by every input.
pub struct Ingest {
    pub router: Router,
    pub ingress: IngressStats,
    pub counters: WriteCounters,
    default_rp: Name,
}

/// Kapacitor's `http` write counters.
#[derive(Default)]
pub struct WriteCounters {
    pub write_req: AtomicU64,
    pub write_req_bytes: AtomicU64,
    pub points_written_ok: AtomicU64,
    pub points_written_fail: AtomicU64,
}

thread_local! {
    // One series cache per worker thread: no lock on the hot path.
    static BUILDER: RefCell<PointBuilder> = RefCell::new(PointBuilder::default());
}

impl Ingest {
    /// `default_rp` is used when a write names no retention policy.
    pub fn new(default_rp: &str) -> Ingest {
        let default_rp = if default_rp.is_empty() {
            "autogen"
        } else {
            default_rp
        };
        Ingest {
            router: Router::default(),
            ingress: IngressStats::default(),
            counters: WriteCounters::default(),
            default_rp: Name::new(default_rp),
        }
    }

    /// Routes points made inside the server (`kapacitorLoopback`) as a write to `db`/`rp`.
    pub fn write_points(&self, db: &str, rp: &str, points: Vec<Point>) {
        let (db, rp) = (Name::new(db), Name::new(rp));
        let mut counts: Vec<(Name, u64)> = Vec::new();
        for p in &points {
            match counts.iter_mut().find(|(m, _)| *m == p.name()) {
                Some(c) => c.1 += 1,
                None => counts.push((p.name(), 1)),
            }
        }
        for (m, c) in counts {
            self.ingress.add(db, rp, m, c);
        }
        self.router.deliver(db, rp, points);
    }

    /// Parses `body` and routes its valid points to `db`/`rp`. `now` stamps lines without a time.
    pub fn write(
        &self,
        db: &str,
        rp: &str,
        precision: Precision,
        body: &[u8],
        now: i64,
    ) -> Outcome {
        let db = Name::new(db);
        let rp = if rp.is_empty() {
            self.default_rp
        } else {
            Name::new(rp)
        };
        let routed = self.router.has_subscribers(db, rp);
        // Per-measurement counts for this body; a body rarely holds more than a few measurements.
        let mut counts: Vec<(Name, u64)> = Vec::with_capacity(2);
        // Sized up front: growing a `Vec` of points copies them all again.
        let mut points: Vec<Point> = if routed {
            Vec::with_capacity(lineproto::max_lines(body))
        } else {
            Vec::new()
        };
        let outcome = BUILDER.with_borrow_mut(|builder| {
            // Consecutive lines usually share a measurement: compare its text with the last one
            // before interning it.
            let mut last: (&str, Name) = ("", Name::new(""));
            lineproto::parse(body, precision, now, |line| {
                let text = line.measurement_text();
                let m = if text == last.0 {
                    last.1
                } else {
                    let m = Name::new(&line.scanned.measurement());
                    last = (text, m);
                    m
                };
                match counts.iter_mut().find(|(n, _)| *n == m) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((m, 1)),
                }
                if routed {
                    points.push(builder.build(line));
                }
            })
        });
        for (m, c) in counts {
            self.ingress.add(db, rp, m, c);
        }
        if !points.is_empty() {
            self.router.deliver(db, rp, points);
        }
        self.counters
            .points_written_ok
            .fetch_add(outcome.accepted as u64, Relaxed);
        self.counters
            .points_written_fail
            .fetch_add(outcome.rejected as u64, Relaxed);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Collect(Mutex<Vec<Point>>);
    impl PointSink for Collect {
        fn deliver(&self, points: Vec<Point>) {
            self.0.lock().unwrap().extend(points);
        }
    }

    #[test]
    fn routes_by_db_and_rp_and_counts() {
        let ingest = Ingest::new("");
        let sink = Arc::new(Collect::default());
        let sub = ingest.router.subscribe("db", "autogen", sink.clone());
        let out = ingest.write(
            "db",
            "",
            Precision::Seconds,
            b"cpu v=1 1\nmem v=2 2\nbad\n",
            0,
        );
        assert_eq!((out.accepted, out.rejected), (2, 1));
        ingest.write("other", "autogen", Precision::Seconds, b"cpu v=1 1\n", 0);
        assert_eq!(sink.0.lock().unwrap().len(), 2);
        let counts = ingest.ingress.snapshot();
        let find = |db: &str, m: &str| {
            counts
                .iter()
                .find(|e| e.database.as_str() == db && e.measurement.as_str() == m)
                .map(|e| e.points)
        };
        assert_eq!(find("db", "cpu"), Some(1));
        assert_eq!(find("db", "mem"), Some(1));
        assert_eq!(find("other", "cpu"), Some(1));
        drop(sub);
        ingest.write("db", "autogen", Precision::Seconds, b"cpu v=1 1\n", 0);
        assert_eq!(
            sink.0.lock().unwrap().len(),
            2,
            "no delivery after unsubscribe"
        );
        assert_eq!(find("db", "cpu"), Some(1), "snapshot is a copy");
        assert_eq!(ingest.counters.points_written_ok.load(Relaxed), 4);
        assert_eq!(ingest.counters.points_written_fail.load(Relaxed), 1);
    }
}
