//! What flows on edges.

use std::sync::Arc;

use crate::model::{Batch, GroupKey, Name, Point};

/// The dimensions a stream is grouped by (Kapacitor's `models.Dimensions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dims {
    pub by_name: bool,
    pub tags: Vec<Name>,
}

/// A point on a stream edge, with its group.
#[derive(Clone, Debug)]
pub struct StreamPoint {
    pub point: Point,
    pub group: GroupKey,
    pub dims: Arc<Dims>,
}

/// A message between nodes.
#[derive(Clone, Debug)]
pub enum Msg {
    Point(StreamPoint),
    /// A whole batch (begin, points, end) of one group.
    Batch(Batch),
    /// Nothing older than `time` is coming for `group` any more (Kapacitor's barrier): lets
    /// nodes that wait for more data (windows, joins, unions) move on.
    Barrier {
        group: GroupKey,
        time: i64,
    },
    /// Forget every bit of state kept for `group`.
    Delete(GroupKey),
}

impl Msg {
    /// Points and batches: what Kapacitor's node statistics count.
    pub fn is_data(&self) -> bool {
        matches!(self, Msg::Point(_) | Msg::Batch(_))
    }
}
