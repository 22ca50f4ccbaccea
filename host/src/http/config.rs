//! `/kapacitor/v1/config`: the services' sections as they stand (secrets redacted), and
//! changes to them (`set`/`delete` options, `add`/`remove` elements of list sections),
//! stored as overrides and applied to the running services at once. See
//! [`crate::overrides`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::overrides::{self, Element, Override};
use crate::server::State;
use crate::store;

const BASE: &str = "/kapacitor/v1/config";

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let root = warp::path!("kapacitor" / "v1" / "config")
        .and(warp::get())
        .and(warp::path::full())
        .and(with_state(state.clone()))
        .then(|full: warp::path::FullPath, s: Arc<State>| {
            // warp matches `config/` here too; Kapacitor wants a section after the slash.
            let slash = full.as_str().ends_with('/');
            blocking(move || get(&s, slash.then_some("")))
        });
    let get_one = warp::path("kapacitor")
        .and(warp::path("v1"))
        .and(warp::path("config"))
        .and(warp::path::tail())
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|tail: warp::path::Tail, s: Arc<State>| {
            let tail = tail.as_str().to_owned();
            blocking(move || get(&s, Some(&tail)))
        });
    let post = warp::path("kapacitor")
        .and(warp::path("v1"))
        .and(warp::path("config"))
        .and(warp::path::tail())
        .and(warp::post())
        .and(with_state(state))
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(
            |tail: warp::path::Tail, s: Arc<State>, body: bytes::Bytes| {
                let tail = tail.as_str().to_owned();
                blocking(move || update(&s, &tail, &body))
            },
        );
    root.or(get_one).unify().or(post).unify()
}

fn enabled(s: &State) -> Result<(), ApiError> {
    if s.config.config_override.enabled {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "config override service is not enabled",
        ))
    }
}

fn element_href(section: &str, element: &str) -> String {
    if element.is_empty() {
        format!("{BASE}/{section}/")
    } else {
        format!("{BASE}/{section}/{element}")
    }
}

fn element_json(section: &str, e: &Element) -> Value {
    json!({"link": {"rel": "self", "href": element_href(section, &e.name)},
        "options": e.options, "redacted": e.redacted})
}

fn section_json(section: &str, elements: &[Element]) -> Value {
    let elements: Vec<Value> = elements.iter().map(|e| element_json(section, e)).collect();
    json!({"link": {"rel": "self", "href": format!("{BASE}/{section}")}, "elements": elements})
}

/// `path`: `None` for the whole config, else what follows `config/`.
fn get(s: &State, path: Option<&str>) -> ApiResult {
    enabled(s)?;
    let defaults = s.outputs.services.plugins.default_configs();
    let view = overrides::view(&s.live_config.get(), &defaults).map_err(ApiError::internal)?;
    let Some(path) = path else {
        let sections: Map<String, Value> = view
            .iter()
            .map(|(name, els)| (name.clone(), section_json(name, els)))
            .collect();
        return Ok(
            warp::reply::json(&json!({"link": {"rel": "self", "href": BASE},
            "sections": sections}))
            .into_response(),
        );
    };
    let (section, element, has_element) = split(path);
    if section.is_empty() {
        return Err(ApiError::bad_request(
            "section not specified, do you have an extra trailing '/'?",
        ));
    }
    let Some(elements) = view.get(section) else {
        return Err(ApiError::not_found(format!("unknown section: {section}")));
    };
    if !has_element {
        return Ok(warp::reply::json(&section_json(section, elements)).into_response());
    }
    elements
        .iter()
        .find(|e| e.name == element)
        .map(|e| warp::reply::json(&element_json(section, e)).into_response())
        .ok_or_else(|| ApiError::not_found(format!("unknown section/element: {section}/{element}")))
}

/// `smtp` → (smtp, "", false); `smtp/` → (smtp, "", true); `influxdb/a` → (influxdb, a, true).
fn split(path: &str) -> (&str, &str, bool) {
    match path.split_once('/') {
        Some((s, e)) => (s, e.trim_end_matches('/'), true),
        None => (path, "", false),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Action {
    #[serde(default)]
    set: Map<String, Value>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    add: Map<String, Value>,
    #[serde(default)]
    remove: Vec<String>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '+')
}

fn update(s: &State, path: &str, body: &[u8]) -> ApiResult {
    enabled(s)?;
    let (section, element, has_element) = split(path);
    if section.is_empty() {
        return Err(ApiError::bad_request("no section specified"));
    }
    let action: Action = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("failed to decode JSON: {e}")))?;
    let refuse = |m: String| ApiError::bad_request(format!("failed to apply update: {m}"));
    let invalid = |m: &str| refuse(format!("invalid update action: {m}"));
    if !valid_name(section) {
        return Err(invalid(&format!("invalid section name {section:?}")));
    }
    if !element.is_empty() && !valid_name(element) {
        return Err(invalid(&format!("invalid element name {element:?}")));
    }
    let set_delete = !action.set.is_empty() || !action.delete.is_empty();
    let add_remove = !action.add.is_empty() || !action.remove.is_empty();
    if set_delete && add_remove {
        return Err(invalid(
            "cannot provide both set/delete and add/remove actions in the same update",
        ));
    }
    if !action.add.is_empty() && !element.is_empty() {
        return Err(invalid(
            "must not provide an element name when adding an a new override",
        ));
    }
    if !action.remove.is_empty() && !element.is_empty() {
        return Err(invalid(
            "must not provide element when removing an override",
        ));
    }
    if !add_remove && !has_element {
        return Err(invalid(
            "element not specified, are you missing a trailing '/'?",
        ));
    }
    let Some(key) = overrides::element_key(section) else {
        return Err(refuse(format!("unknown section {section:?}")));
    };

    let _one_at_a_time = s.config_lock.lock();
    let stored: BTreeMap<String, Override> = s
        .store
        .list(&store::CONFIG_OVERRIDES)
        .map_err(ApiError::internal)?
        .into_iter()
        .collect();
    let mut all = stored.clone();
    if !action.add.is_empty() {
        let Some(key) = key else {
            return Err(refuse(format!(
                "section {section:?} is not a list, cannot add new element"
            )));
        };
        let name = match action.add.get(key) {
            Some(Value::String(n)) => n.clone(),
            Some(other) => {
                return Err(refuse(format!(
                    "expected {key:?} key to be a string, got {other}"
                )));
            }
            None => return Err(refuse(format!("missing key {key:?} in \"add\" map"))),
        };
        let id = overrides::id(section, &name);
        if all.get(&id).is_some_and(|o| !o.delete) {
            return Err(refuse(format!(
                "cannot add new override, override already exists for {id}"
            )));
        }
        all.insert(
            id.clone(),
            Override {
                id,
                options: action.add.clone(),
                create: true,
                delete: false,
            },
        );
    } else if !action.remove.is_empty() {
        if key.is_none() {
            return Err(refuse(format!(
                "section {section:?} is not a list, cannot remove an element"
            )));
        }
        for name in &action.remove {
            let id = overrides::id(section, name);
            match all.get(&id) {
                Some(o) if o.create => {
                    all.remove(&id);
                }
                _ => {
                    all.insert(
                        id.clone(),
                        Override {
                            id,
                            delete: true,
                            ..Default::default()
                        },
                    );
                }
            }
        }
    } else {
        let id = overrides::id(section, element);
        let o = all.entry(id.clone()).or_insert_with(|| Override {
            id,
            ..Default::default()
        });
        for (k, v) in &action.set {
            o.options.insert(k.clone(), v.clone());
        }
        for k in &action.delete {
            o.options.remove(k);
        }
    }
    let list: Vec<Override> = all.values().cloned().collect();
    let config = overrides::apply(&s.file_config, &list).map_err(|e| refuse(format!("{e:#}")))?;
    s.outputs.reconfigure(section, &config).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to update configuration {section}/{element}: {e}"),
        )
    })?;
    for (id, o) in &all {
        if stored.get(id) != Some(o) {
            s.store
                .put(&store::CONFIG_OVERRIDES, id, o)
                .map_err(ApiError::internal)?;
        }
    }
    for id in stored.keys().filter(|id| !all.contains_key(*id)) {
        s.store
            .delete(&store::CONFIG_OVERRIDES, id)
            .map_err(ApiError::internal)?;
    }
    s.live_config.set(config);
    Ok(StatusCode::NO_CONTENT.into_response())
}
