//! Which tasks receive the points written to a database and retention policy.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use farad_runtime::model::{Name, Point};
use parking_lot::RwLock;

/// Something that takes the points written to a db/rp: a task's input.
pub trait PointSink: Send + Sync {
    /// Called on the writer's thread with the points of one write, in body order.
    fn deliver(&self, points: Vec<Point>);

    /// [`PointSink::deliver`] if that can start at once; else the points back.
    fn try_deliver(&self, points: Vec<Point>) -> Result<(), Vec<Point>> {
        self.deliver(points);
        Ok(())
    }
}

type Table = HashMap<(Name, Name), Vec<(u64, Arc<dyn PointSink>)>>;

/// Subscribers by db/rp. Reads (every write) take a shared lock on a small map;
/// subscribing (task start and stop) is rare.
#[derive(Default)]
pub struct Router {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    table: Table,
    next_id: u64,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    router: Weak<RwLock<Inner>>,
    key: (Name, Name),
    id: u64,
}

impl Router {
    /// Delivers the points written to `db`/`rp` to `sink` until the subscription is dropped.
    pub fn subscribe(&self, db: &str, rp: &str, sink: Arc<dyn PointSink>) -> Subscription {
        let key = (Name::new(db), Name::new(rp));
        let mut inner = self.inner.write();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.table.entry(key).or_default().push((id, sink));
        Subscription {
            router: Arc::downgrade(&self.inner),
            key,
            id,
        }
    }

    /// Whether anything listens to `db`/`rp`.
    pub fn has_subscribers(&self, db: Name, rp: Name) -> bool {
        self.inner.read().table.contains_key(&(db, rp))
    }

    /// Hands `points` to every subscriber of `db`/`rp`: first to those free to take them at
    /// once, then, waiting, to those busy with other writes. A small write is not held behind
    /// a large one that another task is working through (tasks are independent; each still
    /// gets this write's points once, in order). The last subscriber takes the points; the
    /// others get copies.
    pub fn deliver(&self, db: Name, rp: Name, points: Vec<Point>) {
        let sinks: Vec<Arc<dyn PointSink>> = match self.inner.read().table.get(&(db, rp)) {
            Some(v) => v.iter().map(|(_, s)| s.clone()).collect(),
            None => return,
        };
        let mut points = points;
        let mut busy: Vec<&Arc<dyn PointSink>> = Vec::new();
        for (i, s) in sinks.iter().enumerate() {
            let last = i + 1 == sinks.len() && busy.is_empty();
            let batch = if last {
                std::mem::take(&mut points)
            } else {
                points.clone()
            };
            if let Err(back) = s.try_deliver(batch) {
                if last {
                    points = back;
                }
                busy.push(s);
            }
        }
        let Some((last, others)) = busy.split_last() else {
            return;
        };
        for s in others {
            s.deliver(points.clone());
        }
        last.deliver(points);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(inner) = self.router.upgrade() else {
            return;
        };
        let mut inner = inner.write();
        if let Some(v) = inner.table.get_mut(&self.key) {
            v.retain(|(id, _)| *id != self.id);
            if v.is_empty() {
                inner.table.remove(&self.key);
            }
        }
    }
}
