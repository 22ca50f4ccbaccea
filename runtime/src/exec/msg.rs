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
}
