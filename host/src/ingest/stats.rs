//! Kapacitor's `ingress` statistics: points received per database, retention policy and
//! measurement.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use dashmap::DashMap;
use farad_runtime::model::Name;

/// Counters keyed by interned names, so an update hashes three pointers.
#[derive(Default)]
pub struct IngressStats {
    counts: DashMap<(Name, Name, Name), AtomicU64, foldhash::fast::RandomState>,
}

/// One counter's value.
#[derive(Clone, Debug)]
pub struct IngressEntry {
    pub database: Name,
    pub retention_policy: Name,
    pub measurement: Name,
    pub points: u64,
}

impl IngressStats {
    /// Adds `n` points received for `db`/`rp`/`measurement`.
    pub fn add(&self, db: Name, rp: Name, measurement: Name, n: u64) {
        let key = (db, rp, measurement);
        if let Some(c) = self.counts.get(&key) {
            c.fetch_add(n, Relaxed);
            return;
        }
        self.counts.entry(key).or_default().fetch_add(n, Relaxed);
    }

    /// A copy of every counter, sorted by database, retention policy and measurement.
    pub fn snapshot(&self) -> Vec<IngressEntry> {
        let mut v: Vec<IngressEntry> = self
            .counts
            .iter()
            .map(|e| IngressEntry {
                database: e.key().0,
                retention_policy: e.key().1,
                measurement: e.key().2,
                points: e.value().load(Relaxed),
            })
            .collect();
        v.sort_by(|a, b| {
            (a.database, a.retention_policy, a.measurement).cmp(&(
                b.database,
                b.retention_policy,
                b.measurement,
            ))
        });
        v
    }

    /// Sum over every counter.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|e| e.value().load(Relaxed)).sum()
    }
}
