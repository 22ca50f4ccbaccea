//! `eval(lambdas...).as(names...)`: computes fields (or tags) from each point.

use std::sync::Arc;

use super::NodeExec;
use super::basic::lambda_arg;
use crate::exec::{Msg, StreamPoint};
use crate::expr::{Compiled, Scope};
use crate::model::{Fields, Name, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

pub struct Eval {
    exprs: Vec<(Compiled, Name)>,
    /// Results written as tags instead of fields.
    as_tags: Vec<Name>,
    /// `keep()`: keep every existing field; `keep(a, b)`: keep those (and the results).
    keep: Option<Vec<Name>>,
}

impl Eval {
    pub fn new(node: &PlanNode) -> Result<Eval, String> {
        let names: Vec<Name> = node
            .property("as")
            .map(|p| {
                p.args
                    .iter()
                    .filter_map(|a| {
                        if let PV::Str(s) = a {
                            Some(Name::new(s))
                        } else {
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if names.len() != node.args.len() {
            return Err(format!(
                "eval has {} expressions but {} names in .as()",
                node.args.len(),
                names.len()
            ));
        }
        let exprs = (0..node.args.len())
            .map(|i| Ok((lambda_arg(node, i)?, names[i])))
            .collect::<Result<_, String>>()?;
        let as_tags = node
            .properties
            .iter()
            .filter(|p| p.name == "tags")
            .flat_map(|p| {
                p.args.iter().filter_map(|a| {
                    if let PV::Str(s) = a {
                        Some(Name::new(s))
                    } else {
                        None
                    }
                })
            })
            .collect();
        let keep = node.property("keep").map(|p| {
            p.args
                .iter()
                .filter_map(|a| {
                    if let PV::Str(s) = a {
                        Some(Name::new(s))
                    } else {
                        None
                    }
                })
                .collect()
        });
        Ok(Eval {
            exprs,
            as_tags,
            keep,
        })
    }
}

impl NodeExec for Eval {
    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        // Later expressions see earlier results.
        let mut results: Vec<(Name, Value)> = Vec::with_capacity(self.exprs.len());
        for (expr, name) in &self.exprs {
            let v = {
                let mut scope = Scope {
                    fields: &p.point.fields,
                    series: &p.point.series,
                    time: p.point.time,
                    extra: &results,
                };
                expr.eval(&mut scope).map_err(|e| e.to_string())?
            };
            results.push((*name, v.into_field()));
        }
        let mut fields: Fields = match &self.keep {
            None => Fields::new(),
            Some(list) if list.is_empty() => p.point.fields.clone(),
            Some(list) => p
                .point
                .fields
                .iter()
                .filter(|(k, _)| list.contains(k))
                .cloned()
                .collect(),
        };
        let mut new_tags: Vec<(Name, Box<str>)> = Vec::new();
        for (name, v) in results {
            if self.as_tags.contains(&name) {
                new_tags.push((name, v.to_string().into()));
            } else {
                match fields.binary_search_by(|(k, _)| k.cmp(&name)) {
                    Ok(i) => fields[i].1 = v,
                    Err(i) => fields.insert(i, (name, v)),
                }
            }
        }
        if !new_tags.is_empty() {
            let mut tags = p.point.series.tags.to_vec();
            tags.extend(new_tags);
            p.point.series = Arc::new(Series::new(p.point.series.measurement, tags));
        }
        fields.sort_by_key(|(k, _)| *k);
        p.point.fields = fields;
        out.push(Msg::Point(p));
        Ok(())
    }
}
