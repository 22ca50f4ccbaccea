//! `/kapacitor/v1/alerts/silences`: create, list, show and delete silences
//! (`crate::silences`). Stored before they are answered.

use std::sync::Arc;

use farad_runtime::time::{format_rfc3339_nanos, parse_rfc3339};
use serde::Deserialize;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::{blocking, given_or_new_id};
use super::with_state;
use crate::server::{State, now_ns};
use crate::silences::Silence;
use crate::store;

const SILENCES: &str = "/kapacitor/v1/alerts/silences";

/// What a client sends: who to silence and until when (`duration` from now, or `expires`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSilence {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "alerts" / "silences")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|s: Arc<State>| blocking(move || list(&s)));
    let create = warp::path!("kapacitor" / "v1" / "alerts" / "silences")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || create(&s, &body)));
    let get = warp::path!("kapacitor" / "v1" / "alerts" / "silences" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|id: String, s: Arc<State>| blocking(move || get(&s, &id)));
    let delete = warp::path!("kapacitor" / "v1" / "alerts" / "silences" / String)
        .and(warp::delete())
        .and(with_state(state))
        .then(|id: String, s: Arc<State>| blocking(move || delete(&s, &id)));
    list.or(create).unify().or(get).unify().or(delete).unify()
}

fn silence_json(s: &Silence) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["link"] = json!({"rel": "self", "href": format!("{SILENCES}/{}", s.id)});
    v
}

/// The active silences; expired ones leave the store as they are met.
fn active(state: &State) -> Result<Vec<Silence>, ApiError> {
    let (active, expired) = state.outputs.silences.active(now_ns());
    for id in expired {
        state
            .store
            .delete(&store::SILENCES, &id)
            .map_err(ApiError::internal)?;
    }
    Ok(active)
}

fn list(state: &State) -> ApiResult {
    let items: Vec<Value> = active(state)?.iter().map(silence_json).collect();
    Ok(warp::reply::json(&json!({
        "link": {"rel": "self", "href": SILENCES},
        "silences": items,
    }))
    .into_response())
}

fn get(state: &State, id: &str) -> ApiResult {
    match active(state)?.into_iter().find(|s| s.id == id) {
        Some(s) => Ok(warp::reply::json(&silence_json(&s)).into_response()),
        None => Err(ApiError::not_found(format!("unknown silence: {id:?}"))),
    }
}

fn create(state: &State, body: &[u8]) -> ApiResult {
    let req: NewSilence = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid silence json: {e}")))?;
    let id = given_or_new_id(req.id, "silence").map_err(ApiError::bad_request)?;
    let now = now_ns();
    let expires_ns = match (req.duration.as_deref(), req.expires.as_deref()) {
        (Some(d), None) => {
            let d = farad_runtime::duration::parse_go_duration(d)
                .map_err(|e| ApiError::bad_request(format!("invalid duration: {e}")))?;
            if d <= 0 {
                return Err(ApiError::bad_request("duration must be positive"));
            }
            now.saturating_add(d)
        }
        (None, Some(t)) => {
            let t = parse_rfc3339(t).ok_or_else(|| {
                ApiError::bad_request(format!("invalid expires {t:?}: expected RFC 3339"))
            })?;
            if t <= now {
                return Err(ApiError::bad_request("expires is in the past"));
            }
            t
        }
        _ => {
            return Err(ApiError::bad_request(
                "a silence needs either a duration or an expires time",
            ));
        }
    };
    for pattern in [&req.topic, &req.event] {
        if pattern.matches('[').count() != pattern.matches(']').count() {
            return Err(ApiError::bad_request(format!(
                "invalid pattern {pattern:?}: unbalanced brackets"
            )));
        }
    }
    if active(state)?.iter().any(|s| s.id == id) {
        return Err(ApiError::bad_request(format!(
            "silence {id:?} already exists"
        )));
    }
    let silence = Silence {
        id,
        topic: req.topic,
        event: req.event,
        tags: req.tags,
        comment: req.comment,
        created: format_rfc3339_nanos(now),
        expires: format_rfc3339_nanos(expires_ns),
        expires_ns,
    };
    state
        .store
        .put(&store::SILENCES, &silence.id, &silence)
        .map_err(ApiError::internal)?;
    let reply = silence_json(&silence);
    state.outputs.silences.set(silence);
    Ok(warp::reply::json(&reply).into_response())
}

fn delete(state: &State, id: &str) -> ApiResult {
    if !state.outputs.silences.remove(id) {
        return Err(ApiError::not_found(format!("unknown silence: {id:?}")));
    }
    state
        .store
        .delete(&store::SILENCES, id)
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Loads stored silences at start (expired ones are dropped when first listed).
pub fn load(
    state_store: &store::Store,
    silences: &crate::silences::Silences,
) -> anyhow::Result<()> {
    for (id, mut s) in state_store.list(&store::SILENCES)? {
        match parse_rfc3339(&s.expires) {
            Some(t) => {
                s.expires_ns = t;
                silences.set(s);
            }
            None => tracing::error!(
                silence = id,
                "stored silence has no readable expiry; ignored"
            ),
        }
    }
    Ok(())
}
