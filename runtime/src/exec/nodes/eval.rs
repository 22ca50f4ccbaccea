//! `eval(lambdas...).as(names...)`: computes fields (or tags) from each point.

use crate::exec::groups::{GroupTable, Groups};
use std::sync::Arc;

use super::NodeExec;
use super::basic::lambda_arg;
use crate::exec::{Msg, StreamPoint};
use crate::expr::{Compiled, ExprState, Scope};
use crate::model::{Batch, Fields, GroupKey, Name, Series, Value};
use crate::pipeline::PlanNode;

pub struct Eval {
    /// Per group, the state of each expression's stateful functions (when any has some).
    states: Groups<Vec<ExprState>>,
    stateful: bool,
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
            .map(|p| super::names(&p.args))
            .unwrap_or_default();
        if names.len() != node.args.len() {
            return Err(format!(
                "eval has {} expressions but {} names in .as()",
                node.args.len(),
                names.len()
            ));
        }
        let exprs: Vec<(Compiled, Name)> = (0..node.args.len())
            .map(|i| Ok((lambda_arg(node, i)?, names[i])))
            .collect::<Result<_, String>>()?;
        let as_tags = node
            .properties
            .iter()
            .filter(|p| p.name == "tags")
            .flat_map(|p| super::names(&p.args))
            .collect();
        let keep = node.property("keep").map(|p| super::names(&p.args));
        let exprs_stateful = exprs.iter().any(|(e, _)| e.is_stateful());
        Ok(Eval {
            stateful: exprs_stateful,
            states: Groups::new(),
            exprs,
            as_tags,
            keep,
        })
    }
}

impl NodeExec for Eval {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.states)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.states)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        super::pass_in_place(self, p, out)
    }

    fn passes_in_place(&self) -> bool {
        true
    }

    fn point_in_place(&mut self, p: &mut StreamPoint) -> Result<bool, String> {
        let (fields, series) = (&mut p.point.fields, &mut p.point.series);
        if self.apply(&p.group, fields, series, p.point.time)? {
            p.group = super::basic::group_of(&p.point.series, &p.dims);
        }
        Ok(true)
    }

    /// Each point of the batch; points whose expressions fail are dropped, as in Kapacitor.
    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut error = None;
        let group = b.group.clone();
        b.points.retain_mut(
            |p| match self.apply(&group, &mut p.fields, &mut p.series, p.time) {
                Ok(_) => true,
                Err(e) => {
                    error.get_or_insert(e);
                    false
                }
            },
        );
        out.push(Msg::Batch(b));
        error.map_or(Ok(()), Err)
    }
}

impl Eval {
    /// Evaluates the expressions on one point, replacing its fields (and adding tags);
    /// true when its tags changed.
    fn apply(
        &mut self,
        group: &GroupKey,
        point_fields: &mut Fields,
        series: &mut Arc<Series>,
        time: i64,
    ) -> Result<bool, String> {
        // Later expressions see earlier results.
        let mut results: smallvec::SmallVec<[(Name, Value); 4]> = smallvec::SmallVec::new();
        let states =
            if self.stateful {
                let exprs = &self.exprs;
                Some(self.states.get_or_insert_with(group, || {
                    exprs.iter().map(|(e, _)| e.new_state()).collect()
                }))
            } else {
                None
            };
        let mut states = states.map(|s| s.iter_mut());
        for (expr, name) in &self.exprs {
            let state = states.as_mut().and_then(|s| s.next());
            let v = {
                let mut scope = Scope {
                    fields: point_fields,
                    series,
                    time,
                    extra: &results,
                    state,
                    event: None,
                };
                expr.eval(&mut scope).map_err(|e| e.to_string())?
            };
            results.push((*name, v.into_field()));
        }
        let mut new_tags: Vec<(Name, Box<str>)> = Vec::new();
        for (name, v) in &results {
            if self.as_tags.contains(name) {
                match v {
                    Value::Str(s) => new_tags.push((*name, s.as_ref().into())),
                    other => {
                        let go_type = match other {
                            Value::Float(_) => "float64",
                            Value::Int(_) => "int64",
                            Value::Bool(_) => "bool",
                            _ => "uint64",
                        };
                        return Err(format!(
                            "result of a tag expression must be of type string, got {go_type}"
                        ));
                    }
                }
            }
        }
        let mut fields: Fields = match &self.keep {
            // No keep: only the results that are not tags.
            None => {
                let tags = &self.as_tags;
                results.retain(|(k, _)| !tags.contains(k));
                Fields::from_iter(results.drain(..))
            }
            // keep(): every field and every result.
            Some(list) if list.is_empty() => {
                let mut f = point_fields.clone();
                for (k, v) in &results {
                    match f.iter_mut().find(|(x, _)| x == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => f.push((*k, v.clone())),
                    }
                }
                f
            }
            // keep(a, b): those names, from the results, else the fields, else the tags.
            Some(list) => {
                let mut f = Fields::new();
                for k in list {
                    let v = results
                        .iter()
                        .rev()
                        .find(|(x, _)| x == k)
                        .map(|(_, v)| v.clone())
                        .or_else(|| {
                            point_fields
                                .iter()
                                .find(|(x, _)| x == k)
                                .map(|(_, v)| v.clone())
                        })
                        .or_else(|| series.tag(*k).map(|t| Value::Str(t.into())));
                    match v {
                        Some(v) => f.push((*k, v)),
                        None => {
                            return Err(format!(
                                "cannot keep field {:?}, field does not exist",
                                k.as_str()
                            ));
                        }
                    }
                }
                f
            }
        };
        let tagged = !new_tags.is_empty();
        if tagged {
            let mut tags = series.tags.to_vec();
            tags.extend(new_tags);
            *series = Arc::new(Series::new(series.measurement, tags));
        }
        fields.sort_by_key(|(k, _)| *k);
        *point_fields = fields;
        Ok(tagged)
    }
}
