//! Batches: a group's points over a window or a query.

use std::sync::Arc;

use super::{Fields, GroupKey, Name, Series, Tags};

/// One point inside a batch. Its tags are the batch group's tags plus any others it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchPoint {
    pub time: i64,
    pub series: Arc<Series>,
    pub fields: Fields,
}

/// What flows on a batch edge between a begin and an end: Kapacitor's `BufferedBatch`.
#[derive(Clone, Debug)]
pub struct Batch {
    pub name: Name,
    /// The batch's time: the window's end or the query's stop time.
    pub tmax: i64,
    pub group: GroupKey,
    /// Whether the group includes the measurement.
    pub by_name: bool,
    /// The batch's tags: the group's, or a selected point's after a selector.
    pub tags: Tags,
    pub points: Vec<BatchPoint>,
}

impl Batch {
    /// An empty batch for `group` at `tmax`.
    pub fn new(name: Name, tmax: i64, group: GroupKey, by_name: bool) -> Batch {
        let tags = group.tags().to_vec().into_boxed_slice();
        Batch {
            name,
            tmax,
            group,
            by_name,
            tags,
            points: Vec::new(),
        }
    }
}
