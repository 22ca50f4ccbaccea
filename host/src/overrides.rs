//! Config overrides: changes to the services' sections made over the API
//! (`POST /kapacitor/v1/config/<section>[/<element>]`), stored, and laid over the config file
//! (after its environment overrides) at every start, unless `skip-config-overrides`.
//!
//! An override belongs to a section (`smtp`) or to one element of a list section, named by
//! its element key (`[[influxdb]] name`, `[[slack]] workspace`): it sets options, creates an
//! element that the file does not have, or removes one. The effective config is always the
//! file with every override applied, so deleting an overridden option brings the file's value
//! back.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;

/// The sections the API shows and changes (Kapacitor's), with their element key when they
/// are lists.
pub const SECTIONS: &[(&str, Option<&str>)] = &[
    ("alerta", None),
    ("azure", Some("id")),
    ("bigpanda", None),
    ("consul", Some("id")),
    ("discord", Some("workspace")),
    ("dns", Some("id")),
    ("ec2", Some("id")),
    ("file-discovery", Some("id")),
    ("gce", Some("id")),
    ("hipchat", None),
    ("httppost", Some("endpoint")),
    ("influxdb", Some("name")),
    ("kafka", Some("id")),
    ("kubernetes", Some("id")),
    ("marathon", Some("id")),
    ("mqtt", Some("name")),
    ("nerve", Some("id")),
    ("opsgenie", None),
    ("opsgenie2", None),
    ("pagerduty", None),
    ("pagerduty2", None),
    ("pushover", None),
    ("scraper", Some("name")),
    ("sensu", None),
    ("serverset", Some("id")),
    ("servicenow", None),
    ("slack", Some("workspace")),
    ("smtp", None),
    ("snmptrap", None),
    ("static-discovery", Some("id")),
    ("swarm", Some("id")),
    ("talk", None),
    ("teams", None),
    ("telegram", None),
    ("triton", Some("id")),
    ("victorops", None),
    ("zenoss", None),
];

/// Options never shown, only whether they are set (Kapacitor's `redact` fields).
fn redacted(section: &str, key: &str) -> bool {
    match key {
        "password"
        | "token"
        | "api-key"
        | "service-key"
        | "routing-key"
        | "user-key"
        | "secret-key"
        | "client-secret"
        | "bearer-token"
        | "community"
        | "basic-auth"
        | "sasl-password"
        | "sasl-access-token"
        | "sasl-oauth-client-secret" => true,
        "url" => matches!(section, "slack" | "talk"),
        _ => false,
    }
}

/// A section's element key; `None` for an unknown section.
pub fn element_key(section: &str) -> Option<Option<&'static str>> {
    SECTIONS
        .iter()
        .find(|(s, _)| *s == section)
        .map(|(_, k)| *k)
}

/// One stored override.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// `section/` or `section/element`.
    pub id: String,
    #[serde(default)]
    pub options: Map<String, Value>,
    /// The element is the override's own (added over the API).
    #[serde(default)]
    pub create: bool,
    /// The file's element is removed.
    #[serde(default)]
    pub delete: bool,
}

impl Override {
    pub fn section(&self) -> &str {
        self.id.split_once('/').map_or(&self.id, |(s, _)| s)
    }
    pub fn element(&self) -> &str {
        self.id.split_once('/').map_or("", |(_, e)| e)
    }
}

/// `id` of a section's or an element's override.
pub fn id(section: &str, element: &str) -> String {
    format!("{section}/{element}")
}

/// `config` with `overrides` laid over it, checked as a config file would be.
pub fn apply(config: &Config, overrides: &[Override]) -> Result<Config> {
    let mut root = toml::Value::try_from(config).context("config as TOML")?;
    let table = root.as_table_mut().context("config is a table")?;
    for o in overrides {
        let section = o.section();
        let Some(key) = element_key(section) else {
            bail!("unknown section {section:?}");
        };
        match key {
            None => {
                let t = table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                let t = t
                    .as_table_mut()
                    .with_context(|| format!("[{section}] is not a table"))?;
                set(t, &o.options)?;
            }
            Some(key) => {
                let list = table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Array(Vec::new()));
                if let toml::Value::Table(t) = list {
                    // A list section written as a single table (`[slack]`).
                    *list = toml::Value::Array(vec![toml::Value::Table(t.clone())]);
                }
                let list = list
                    .as_array_mut()
                    .with_context(|| format!("[[{section}]] is not a list"))?;
                let element = o.element();
                let pos = list.iter().position(|e| {
                    e.get(key).and_then(toml::Value::as_str).unwrap_or("") == element
                });
                match (pos, o.create, o.delete) {
                    (Some(i), _, true) => {
                        list.remove(i);
                    }
                    (None, _, true) => {}
                    (Some(i), _, false) => {
                        let t = list[i].as_table_mut().context("element is not a table")?;
                        set(t, &o.options)?;
                    }
                    // The one unnamed element a list section has by default.
                    (None, true, false) | (None, false, false)
                        if o.create || (element.is_empty() && list.is_empty()) =>
                    {
                        let mut t = toml::map::Map::new();
                        t.insert(key.to_owned(), toml::Value::String(element.to_owned()));
                        set(&mut t, &o.options)?;
                        list.push(toml::Value::Table(t));
                    }
                    (None, _, false) => {
                        bail!("unknown element {element:?} of section {section:?}")
                    }
                }
            }
        }
    }
    let config: Config = root
        .try_into()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{}", e.to_string().trim()))?;
    config.check()?;
    Ok(config)
}

fn set(t: &mut toml::map::Map<String, toml::Value>, options: &Map<String, Value>) -> Result<()> {
    for (k, v) in options {
        match json_to_toml(v) {
            Some(v) => {
                t.insert(k.clone(), v);
            }
            None => {
                t.remove(k);
            }
        }
    }
    Ok(())
}

/// JSON to TOML; `null` is no value.
fn json_to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        Value::Object(m) => toml::Value::Table(
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect(),
        ),
    })
}

/// One element of a section as the API shows it.
#[derive(Debug, PartialEq)]
pub struct Element {
    /// The element key's value; empty for a plain section.
    pub name: String,
    pub options: Map<String, Value>,
    pub redacted: Vec<String>,
}

/// The sections of `config` as the API shows them: every known section with its elements
/// (a plain section always has one), options over `defaults` (a section's defaults when the
/// config names none, as plugin sections), secrets shown only as whether they are set.
pub fn view(
    config: &Config,
    defaults: &std::collections::BTreeMap<String, Map<String, Value>>,
) -> Result<std::collections::BTreeMap<String, Vec<Element>>> {
    let root = serde_json::to_value(config).context("config as JSON")?;
    let mut out = std::collections::BTreeMap::new();
    for (section, key) in SECTIONS {
        let written = root.get(*section);
        let base = defaults.get(*section);
        let elements: Vec<Map<String, Value>> = match (written, key) {
            (Some(Value::Array(list)), _) => {
                list.iter().filter_map(|e| e.as_object().cloned()).collect()
            }
            (Some(Value::Object(m)), _) => vec![m.clone()],
            (None, _) if base.is_some() => vec![Map::new()],
            _ => Vec::new(),
        };
        if elements.is_empty() && base.is_none() && written.is_none() {
            continue;
        }
        let shown = elements
            .into_iter()
            .map(|written| {
                let mut options = base.cloned().unwrap_or_default();
                options.extend(written);
                let mut redacted_keys = Vec::new();
                for (k, v) in options.iter_mut() {
                    if redacted(section, k) {
                        redacted_keys.push(k.clone());
                        *v = Value::Bool(is_set(v));
                    }
                }
                let name = key
                    .and_then(|k| options.get(k)?.as_str().map(str::to_owned))
                    .unwrap_or_default();
                Element {
                    name,
                    options,
                    redacted: redacted_keys,
                }
            })
            .collect();
        out.insert((*section).to_owned(), shown);
    }
    Ok(out)
}

fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => m.values().any(is_set),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn o(id: &str, options: Value) -> Override {
        Override {
            id: id.into(),
            options: options.as_object().unwrap().clone(),
            ..Default::default()
        }
    }

    fn config(text: &str) -> Config {
        Config::parse(text, "test", &[]).unwrap()
    }

    #[test]
    fn overrides_set_add_and_remove() {
        let base = config(
            "[smtp]\nhost = \"mail\"\n[[influxdb]]\nname = \"a\"\nurls = [\"http://a:8086\"]\n",
        );
        let c = apply(
            &base,
            &[
                o(
                    "smtp/",
                    json!({"enabled": true, "port": 2525, "password": "p", "from": "k@x"}),
                ),
                o("influxdb/a", json!({"username": "u"})),
                Override {
                    create: true,
                    ..o("influxdb/b", json!({"urls": ["http://b:8086"]}))
                },
            ],
        )
        .unwrap();
        assert!(c.smtp.enabled);
        assert_eq!((c.smtp.host.as_str(), c.smtp.port), ("mail", 2525));
        assert_eq!(c.influxdb.len(), 2);
        assert_eq!(c.influxdb[0].username, "u");
        assert_eq!(c.influxdb[1].name, "b");

        let gone = Override {
            delete: true,
            ..o("influxdb/a", json!({}))
        };
        assert!(apply(&base, &[gone]).unwrap().influxdb.is_empty());
        let err = apply(&base, &[o("influxdb/z", json!({"username": "u"}))]).unwrap_err();
        assert!(err.to_string().contains("unknown element"), "{err}");
        let err = apply(&base, &[o("smtp/", json!({"port": "many"}))]).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
        // Plugin sections are kept as written.
        let c = apply(&base, &[o("slack/", json!({"enabled": true}))]).unwrap();
        assert_eq!(c.other["slack"][0]["enabled"].as_bool(), Some(true));
    }

    #[test]
    fn the_view_redacts_secrets_and_fills_defaults() {
        let c = config(
            "[smtp]\npassword = \"secret\"\n[[slack]]\nworkspace = \"w\"\nurl = \"https://hooks\"\n",
        );
        let mut defaults = std::collections::BTreeMap::new();
        defaults.insert(
            "slack".to_owned(),
            json!({"enabled": false, "url": "", "channel": ""})
                .as_object()
                .unwrap()
                .clone(),
        );
        defaults.insert(
            "pushover".to_owned(),
            json!({"enabled": false, "token": ""})
                .as_object()
                .unwrap()
                .clone(),
        );
        let v = view(&c, &defaults).unwrap();
        let smtp = &v["smtp"][0];
        assert_eq!(smtp.options["password"], json!(true));
        assert!(smtp.redacted.contains(&"password".to_owned()));
        let slack = &v["slack"][0];
        assert_eq!(slack.name, "w");
        assert_eq!(slack.options["url"], json!(true));
        assert_eq!(slack.options["channel"], json!(""));
        assert_eq!(v["pushover"][0].options["token"], json!(false));
        assert!(v.contains_key("influxdb") && v["influxdb"].is_empty());
    }
}
