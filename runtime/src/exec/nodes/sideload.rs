//! `sideload()`: adds fields and tags looked up in files. Each point's tags fill in the
//! `.order()` path templates (`host/{{.host}}.yml`); the first of those files that has a key
//! gives its value, converted to the type of the key's default; otherwise the default.

use std::sync::Arc;

use gotmpl::{Template, Value as T};

use super::NodeExec;
use crate::exec::{Msg, SideloadSource, StreamPoint, TaskEnv};
use crate::model::{Batch, Fields, Name, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

pub struct Sideload {
    source: Arc<dyn SideloadSource>,
    order: Vec<(String, Template)>,
    fields: Vec<(Name, Value)>,
    tags: Vec<(Name, String)>,
}

impl Sideload {
    pub fn new(node: &PlanNode, env: &TaskEnv) -> Result<Sideload, String> {
        let source = super::prop_str(node, "source")
            .filter(|s| !s.is_empty())
            .ok_or("sideload needs a .source()")?;
        let mut order = Vec::new();
        if let Some(p) = node.property("order") {
            for a in &p.args {
                if let PV::Str(o) = a {
                    let t = Template::new("order")
                        .parse(o)
                        .map_err(|e| format!("invalid order template {o:?}: {e}"))?;
                    order.push((o.clone(), t));
                }
            }
        }
        let mut fields = Vec::new();
        let mut tags = Vec::new();
        for p in &node.properties {
            match (p.name, p.args.as_slice()) {
                ("field", [PV::Str(k), v]) => {
                    let v = match v {
                        PV::Int(i) => Value::Int(*i),
                        PV::Float(f) => Value::Float(*f),
                        PV::Bool(b) => Value::Bool(*b),
                        PV::Str(s) => Value::Str(s.as_str().into()),
                        other => return Err(format!("unsupported default {other:?} for {k}")),
                    };
                    fields.push((Name::new(k), v));
                }
                ("tag", [PV::Str(k), PV::Str(v)]) => tags.push((Name::new(k), v.clone())),
                _ => {}
            }
        }
        Ok(Sideload {
            source: env.io.sideload(&source)?,
            order,
            fields,
            tags,
        })
    }

    /// The new fields and tags for a point with `series`' tags.
    fn load(&self, series: &Series, fields: &mut Fields) -> Result<Option<Arc<Series>>, String> {
        let data = T::from(
            series
                .tags
                .iter()
                .map(|(k, v)| (k.to_string(), T::from(v.as_ref())))
                .collect::<std::collections::BTreeMap<String, T>>(),
        );
        let mut order = Vec::with_capacity(self.order.len());
        for (raw, t) in &self.order {
            order.push(
                t.execute_to_string(&data)
                    .map_err(|e| format!("failed to evaluate order template {raw:?}: {e}"))?,
            );
        }
        let mut problems = Vec::new();
        for (k, dflt) in &self.fields {
            let v = match self.source.lookup(&order, k.as_str()) {
                None => dflt.clone(),
                Some(found) => convert(&found, dflt).unwrap_or_else(|e| {
                    problems.push(format!("failed to load key {k}: {e}"));
                    dflt.clone()
                }),
            };
            match fields.iter_mut().find(|(f, _)| f == k) {
                Some(slot) => slot.1 = v,
                None => fields.push((*k, v)),
            }
        }
        fields.sort_by_key(|(k, _)| *k);
        let mut new_series = None;
        if !self.tags.is_empty() {
            let mut tags = series.tags.to_vec();
            for (k, dflt) in &self.tags {
                let v = match self.source.lookup(&order, k.as_str()) {
                    None => dflt.clone(),
                    Some(found) => match convert(&found, &Value::Str("".into())) {
                        Ok(Value::Str(s)) => s.to_string(),
                        _ => {
                            problems.push(format!("failed to load key {k}: not a string"));
                            dflt.clone()
                        }
                    },
                };
                match tags.iter_mut().find(|(t, _)| t == k) {
                    Some(slot) => slot.1 = v.into(),
                    None => tags.push((*k, v.into())),
                }
            }
            new_series = Some(Arc::new(Series::new(series.measurement, tags)));
        }
        if !problems.is_empty() {
            // The point still goes on, with defaults for what could not be loaded.
            tracing::warn!(problems = problems.join("; "), "sideload");
        }
        Ok(new_series)
    }
}

/// A loaded value as the type of `dflt` (Kapacitor's `convertType`).
fn convert(v: &serde_json::Value, dflt: &Value) -> Result<Value, String> {
    use serde_json::Value as J;
    let bad = || {
        Err(format!(
            "cannot convert value {v} to type {}",
            dflt.type_name()
        ))
    };
    match (dflt, v) {
        (Value::Int(_), J::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Value::Int(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Value::Int(f as i64)),
            _ => bad(),
        },
        (Value::Int(_), J::String(s)) => s.parse().map(Value::Int).or_else(|_| bad()),
        (Value::Float(_), J::Number(n)) => n.as_f64().map(Value::Float).map_or_else(bad, Ok),
        (Value::Float(_), J::String(s)) => s.parse().map(Value::Float).or_else(|_| bad()),
        (Value::Bool(_), J::Bool(b)) => Ok(Value::Bool(*b)),
        (Value::Bool(_), J::String(s)) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Value::Bool(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Value::Bool(false)),
            _ => bad(),
        },
        (Value::Str(_), J::String(s)) => Ok(Value::Str(s.as_str().into())),
        (Value::Str(_), J::Bool(b)) => Ok(Value::Str(b.to_string().into())),
        // Go's FormatFloat(f, 'f', -1): "3" for 3.0, as Rust's Display.
        (Value::Str(_), J::Number(n)) => Ok(Value::Str(match n.as_i64() {
            Some(i) => i.to_string().into(),
            None => n.as_f64().unwrap_or(f64::NAN).to_string().into(),
        })),
        _ => bad(),
    }
}

impl NodeExec for Sideload {
    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        if let Some(series) = self.load(&p.point.series, &mut p.point.fields)? {
            p.point.series = series;
        }
        out.push(Msg::Point(p));
        Ok(())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        for bp in &mut b.points {
            if let Some(series) = self.load(&bp.series, &mut bp.fields)? {
                bp.series = series;
            }
        }
        out.push(Msg::Batch(b));
        Ok(())
    }
}
