//! `stream|from()`: selects the points a task works on and gives them their first group.

use std::collections::HashMap;
use std::sync::Arc;

use super::basic::{group_of, tag_list};
use super::{NodeExec, prop_dur, prop_str, round_time, truncate_time};
use crate::exec::{Dims, Msg, StreamPoint};
use crate::expr::{Compiled, Scope};
use crate::model::{GroupKey, Name, Series};
use crate::pipeline::{PlanNode, Value as PV};

/// The database and retention policy filters are applied by the task before a point gets here.
pub struct From {
    /// Group keys by series, so that a series' key is built once. Each entry holds its series
    /// alive, so the address it is keyed by cannot be reused.
    groups: HashMap<usize, (Arc<Series>, GroupKey), foldhash::fast::FixedState>,
    measurement: Option<Name>,
    wheres: Vec<Compiled>,
    group_tags: Vec<Name>,
    group_star: bool,
    dims: Arc<Dims>,
    truncate: i64,
    round: i64,
}

/// How many series' group keys `from` remembers.
const GROUP_CACHE: usize = 16_384;

impl From {
    pub fn new(node: &PlanNode) -> Result<From, String> {
        let mut wheres = Vec::new();
        for p in node.properties.iter().filter(|p| p.name == "where") {
            if let Some(PV::Lambda(l)) = p.args.first() {
                wheres.push(Compiled::new(l).map_err(|e| e.to_string())?);
            }
        }
        let (mut group_tags, group_star) = node
            .properties
            .iter()
            .rfind(|p| p.name == "groupBy")
            .map(|p| tag_list(&p.args))
            .unwrap_or_default();
        group_tags.sort();
        let by_name = node.property("groupByMeasurement").is_some();
        Ok(From {
            groups: HashMap::default(),
            measurement: prop_str(node, "measurement").map(|m| Name::new(&m)),
            wheres,
            // The ungrouped stream shares the source's dims, so a point keeps its own.
            dims: if group_tags.is_empty() && !by_name {
                super::no_dims()
            } else {
                Arc::new(Dims {
                    by_name,
                    tags: group_tags.clone(),
                })
            },
            group_tags,
            group_star,
            truncate: prop_dur(node, "truncate", 0),
            round: prop_dur(node, "round", 0),
        })
    }
}

impl NodeExec for From {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        super::pass_in_place(self, p, out)
    }

    fn passes_in_place(&self) -> bool {
        true
    }

    fn point_in_place(&mut self, p: &mut StreamPoint) -> Result<bool, String> {
        if let Some(m) = self.measurement
            && p.point.name() != m
        {
            return Ok(false);
        }
        if self.round > 0 {
            p.point.time = round_time(p.point.time, self.round);
        } else if self.truncate > 0 {
            p.point.time = truncate_time(p.point.time, self.truncate);
        }
        for w in &self.wheres {
            let mut scope = Scope::of(&p.point.fields, &p.point.series, p.point.time);
            if !w.eval_bool(&mut scope).map_err(|e| e.to_string())? {
                return Ok(false);
            }
        }
        if self.group_star {
            p.dims = Arc::new(Dims {
                by_name: self.dims.by_name,
                tags: p.point.series.tags.iter().map(|(k, _)| *k).collect(),
            });
        } else if !Arc::ptr_eq(&p.dims, &self.dims) {
            p.dims = self.dims.clone();
        }
        p.group = if self.group_star {
            group_of(&p.point.series, &p.dims)
        } else if self.group_tags.is_empty() && !self.dims.by_name {
            GroupKey::NIL
        } else {
            let key = Arc::as_ptr(&p.point.series) as usize;
            match self.groups.get(&key) {
                Some((_, g)) => g.clone(),
                None => {
                    if self.groups.len() >= GROUP_CACHE {
                        self.groups.clear();
                    }
                    let g = group_of(&p.point.series, &p.dims);
                    self.groups.insert(key, (p.point.series.clone(), g.clone()));
                    g
                }
            }
        };
        Ok(true)
    }
}
