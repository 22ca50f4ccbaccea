//! Kapacitor's recording formats and how a replay plays them.
//!
//! - [`stream`]: stream recordings (`.srpl`): per point three lines, database, retention policy
//!   and the point in line protocol.
//! - [`batch`]: batch recordings (`.brpl`): per query node a sequence of JSON batches.
//!
//! Files and compression (gzip, zip) are the host's business; this module reads and writes the
//! text inside and rebases times as Kapacitor's replay does.

pub mod batch;
pub mod stream;

pub use batch::{batch_to_json, parse_batches};
pub use stream::{StreamPoint, parse_stream, write_stream_point};

/// Rebases recorded points onto a replay clock starting at `zero` (ns): the first point lands on
/// `zero` and the others keep their distance to it. Returns each point's release time (when a
/// real clock delivers it); with `recording_time` the points keep their own times.
pub fn rebase_stream(points: &mut [StreamPoint], zero: i64, recording_time: bool) -> Vec<i64> {
    let Some(first) = points.first().map(|p| p.point.time) else {
        return Vec::new();
    };
    let diff = zero.saturating_sub(first);
    points
        .iter_mut()
        .map(|p| {
            let at = p.point.time.saturating_add(diff);
            if !recording_time {
                p.point.time = at;
            }
            at
        })
        .collect()
}

/// As [`rebase_stream`] for one query's batches. A batch's time becomes the later of its
/// recorded time and its last point's; a batch without points keeps its time, or takes the
/// previous batch's when it has none (Kapacitor's rules).
pub fn rebase_batches(
    batches: &mut [crate::model::Batch],
    zero: i64,
    recording_time: bool,
) -> Vec<i64> {
    let first = batches
        .iter()
        .find_map(|b| b.points.first().map(|p| p.time));
    let diff = first.map_or(0, |f| zero.saturating_sub(f));
    let mut tmax = batch::NO_TIME;
    let mut release = 0;
    batches
        .iter_mut()
        .map(|b| {
            if b.points.is_empty() {
                if b.tmax == batch::NO_TIME {
                    b.tmax = tmax;
                } else {
                    tmax = b.tmax;
                }
                return release;
            }
            if !recording_time {
                for p in &mut b.points {
                    p.time = p.time.saturating_add(diff);
                }
            }
            let last = b.points.last().map_or(0, |p| p.time);
            release = if recording_time {
                last.saturating_add(diff)
            } else {
                last
            };
            if b.tmax < last {
                b.tmax = last;
            }
            tmax = b.tmax;
            release
        })
        .collect()
}

/// Why a recording could not be read: where (1-based line, or batch number) and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct RecordingError {
    pub at: String,
    pub reason: String,
}
