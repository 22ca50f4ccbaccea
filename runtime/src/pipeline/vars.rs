//! A task's `vars` as Kapacitor's API carries them:
//! `{"name": {"type": "float", "value": 90, "description": "..."}}`.

use std::collections::HashMap;

use super::plan::{Value, VarType};
use crate::duration::parse_go_duration;
use crate::tick::parse_lambda;
use crate::tick::parser::parse_duration_literal;

/// Converts the JSON object of a task's vars into typed values, naming the first bad one.
pub fn from_json(
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<HashMap<String, Value>, String> {
    let mut out = HashMap::with_capacity(vars.len());
    for (name, var) in vars {
        let v = one(var).map_err(|e| format!("invalid var {name:?}: {e}"))?;
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// A script's declared variables as Kapacitor shows a template's `vars`: type, value (null
/// when the template leaves it to the task) and description.
pub fn to_json(
    vars: &std::collections::BTreeMap<String, super::plan::TemplateVar>,
) -> serde_json::Map<String, serde_json::Value> {
    vars.iter()
        .map(|(name, v)| {
            let value = v
                .default
                .as_ref()
                .map_or(serde_json::Value::Null, value_json);
            let var = serde_json::json!({
                "type": v.ty.name(),
                "value": value,
                "description": "",
            });
            (name.clone(), var)
        })
        .collect()
}

fn value_json(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) | Value::Regex(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Duration(d) => json!(d),
        Value::Lambda(l) => json!(l.text),
        Value::Star => json!("*"),
        Value::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| match i {
                    Value::Star => json!({"type": "star", "value": "*"}),
                    other => json!({"type": "string", "value": value_json(other)}),
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

fn one(var: &serde_json::Value) -> Result<Value, String> {
    let ty = var
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("missing \"type\"")?;
    let ty = VarType::parse(ty).ok_or_else(|| format!("unknown type {ty:?}"))?;
    let value = var.get("value").ok_or("missing \"value\"")?;
    let bad = || format!("value {value} is not a {}", ty.name());
    Ok(match ty {
        VarType::Bool => Value::Bool(value.as_bool().ok_or_else(bad)?),
        VarType::Int => Value::Int(value.as_i64().ok_or_else(bad)?),
        VarType::Float => Value::Float(value.as_f64().ok_or_else(bad)?),
        VarType::String => Value::Str(value.as_str().ok_or_else(bad)?.to_owned()),
        VarType::Regex => {
            let r = value.as_str().ok_or_else(bad)?;
            regex::Regex::new(r).map_err(|e| format!("invalid regex: {e}"))?;
            Value::Regex(r.to_owned())
        }
        VarType::Duration => match value {
            serde_json::Value::Number(n) => Value::Duration(n.as_i64().ok_or_else(bad)?),
            serde_json::Value::String(s) => Value::Duration(
                parse_duration_literal(s)
                    .or_else(|| parse_go_duration(s).ok())
                    .ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        },
        VarType::Lambda => {
            let text = value.as_str().ok_or_else(bad)?;
            let e =
                parse_lambda(text).map_err(|d| format!("invalid lambda: {}", d.one_line(text)))?;
            let l = super::lambda::lower(&e)
                .map_err(|d| format!("invalid lambda: {}", d[0].one_line(text)))?;
            Value::Lambda(Box::new(l))
        }
        VarType::Star => Value::Star,
        VarType::List => {
            let items = value.as_array().ok_or_else(bad)?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match one(item)? {
                    v @ (Value::Str(_) | Value::Star) => out.push(v),
                    other => {
                        return Err(format!(
                            "a list holds strings and stars, not a {}",
                            other.type_name()
                        ));
                    }
                }
            }
            Value::List(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_every_type() {
        let vars = json!({
            "b": {"type": "bool", "value": true},
            "i": {"type": "int", "value": 3},
            "f": {"type": "float", "value": 2.5},
            "s": {"type": "string", "value": "x"},
            "r": {"type": "regex", "value": "^a.*"},
            "d1": {"type": "duration", "value": "10s"},
            "d2": {"type": "duration", "value": "1h30m"},
            "d3": {"type": "duration", "value": 5},
            "l": {"type": "lambda", "value": "\"v\" > 3"},
            "st": {"type": "star", "value": null},
            "li": {"type": "list", "value": [{"type": "string", "value": "host"}, {"type": "star", "value": null}]},
        });
        let v = from_json(vars.as_object().unwrap()).unwrap();
        assert_eq!(v["b"], Value::Bool(true));
        assert_eq!(v["d1"], Value::Duration(10_000_000_000));
        assert_eq!(v["d2"], Value::Duration(5_400_000_000_000));
        assert_eq!(v["d3"], Value::Duration(5));
        assert!(matches!(v["l"], Value::Lambda(_)));
        assert_eq!(
            v["li"],
            Value::List(vec![Value::Str("host".into()), Value::Star])
        );
        for bad in [
            json!({"x": {"type": "float", "value": "nope"}}),
            json!({"x": {"type": "int"}}),
            json!({"x": {"type": "color", "value": 1}}),
            json!({"x": {"type": "lambda", "value": "\"a\" >"}}),
            json!({"x": {"type": "regex", "value": "[a"}}),
        ] {
            let err = from_json(bad.as_object().unwrap()).unwrap_err();
            assert!(err.starts_with("invalid var \"x\""), "{err}");
        }
    }
}
