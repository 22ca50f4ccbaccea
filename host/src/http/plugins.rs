//! `/kapacitor/v1/handler-plugins`: alert handler plugins. Farad's own (Slack, PagerDuty,
//! ...) are listed; users upload theirs as components of the `handler` world (checked before
//! anything is stored: 400 with the reason) and name them as a topic handler's `kind`.

use std::sync::Arc;

use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::plugins::MAX_PLUGIN_BYTES;
use crate::server::State;

const BASE: &str = "/kapacitor/v1/handler-plugins";

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "handler-plugins")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|s: Arc<State>| {
            blocking(move || {
                let items = s.outputs.services.plugins.describe();
                Ok(
                    warp::reply::json(&json!({"link": {"rel": "self", "href": BASE},
                    "plugins": items}))
                    .into_response(),
                )
            })
        });
    let upload = warp::path!("kapacitor" / "v1" / "handler-plugins" / String)
        .and(warp::post().or(warp::put()).unify())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(MAX_PLUGIN_BYTES as u64))
        .and(warp::body::bytes())
        .then(|kind: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || upload(&s, &kind, &body))
        });
    let get = warp::path!("kapacitor" / "v1" / "handler-plugins" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|kind: String, s: Arc<State>| {
            blocking(move || {
                let all = s.outputs.services.plugins.describe();
                match all.into_iter().find(|p| p["kind"] == kind.as_str()) {
                    Some(p) => Ok(warp::reply::json(&p).into_response()),
                    None => Err(ApiError::not_found(format!(
                        "no handler plugin of kind {kind:?}"
                    ))),
                }
            })
        });
    let delete = warp::path!("kapacitor" / "v1" / "handler-plugins" / String)
        .and(warp::delete())
        .and(with_state(state))
        .then(|kind: String, s: Arc<State>| {
            blocking(move || match s.outputs.services.plugins.delete(&kind) {
                Ok(true) => Ok(StatusCode::NO_CONTENT.into_response()),
                Ok(false) => Err(ApiError::not_found(format!(
                    "no uploaded handler plugin of kind {kind:?}"
                ))),
                Err(e) => Err(ApiError::internal(anyhow::anyhow!(e))),
            })
        });
    list.or(upload).unify().or(get).unify().or(delete).unify()
}

fn upload(state: &State, kind: &str, body: &[u8]) -> ApiResult {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body must be the plugin: a Wasm component of the `handler` world",
        ));
    }
    state
        .outputs
        .services
        .plugins
        .upload(kind, body)
        .map_err(ApiError::bad_request)?;
    let shown = state
        .outputs
        .services
        .plugins
        .uploaded(kind)
        .unwrap_or_default();
    Ok(warp::reply::json(&shown).into_response())
}
