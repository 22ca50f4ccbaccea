//! `KAPACITOR_<SECTION>_<KEY>` environment overrides, as Kapacitor applies them.
//!
//! The name of a setting is its path in upper case with `-` as `_`: `KAPACITOR_HTTP_BIND_ADDRESS`,
//! `KAPACITOR_HOSTNAME`; entries of arrays take their index: `KAPACITOR_UDP_0_DATABASE`. As in
//! Kapacitor, overrides change existing entries and never create new ones; an empty variable is
//! ignored. The value is read with the type the setting already has.

use anyhow::{Context, Result, bail};
use toml::Value;

use super::Config;

const PREFIX: &str = "KAPACITOR";

pub(super) fn apply(config: Config, env: &[(String, String)]) -> Result<Config> {
    if !env.iter().any(|(k, _)| k.starts_with("KAPACITOR_")) {
        return Ok(config);
    }
    let mut tree = Value::try_from(&config).context("config to tree")?;
    walk(PREFIX, &mut tree, env)?;
    tree.try_into().context("applying environment overrides")
}

fn walk(key: &str, node: &mut Value, env: &[(String, String)]) -> Result<()> {
    match node {
        Value::Table(t) => {
            for (name, child) in t.iter_mut() {
                let k = format!("{key}_{}", name.replace('-', "_").to_uppercase());
                walk(&k, child, env)?;
            }
        }
        Value::Array(items) if items.iter().all(Value::is_table) && !items.is_empty() => {
            let single = items.len() == 1;
            for (i, item) in items.iter_mut().enumerate() {
                if single {
                    walk(key, item, env)?;
                }
                walk(&format!("{key}_{i}"), item, env)?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(&format!("{key}_{i}"), item, env)?;
            }
        }
        leaf => {
            let Some((_, raw)) = env.iter().rev().find(|(k, v)| k == key && !v.is_empty()) else {
                return Ok(());
            };
            *leaf = convert(leaf, raw)
                .with_context(|| format!("environment variable {key}={raw:?}"))?;
        }
    }
    Ok(())
}

fn convert(like: &Value, raw: &str) -> Result<Value> {
    Ok(match like {
        Value::String(_) => Value::String(raw.to_owned()),
        Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" => Value::Boolean(true),
            "0" | "f" | "false" => Value::Boolean(false),
            _ => bail!("expected a boolean"),
        },
        Value::Integer(_) => Value::Integer(raw.parse().context("expected an integer")?),
        Value::Float(_) => Value::Float(raw.parse().context("expected a number")?),
        _ => bail!("this setting cannot be set from the environment"),
    })
}
