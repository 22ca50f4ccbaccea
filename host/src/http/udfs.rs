//! `/kapacitor/v1/udfs`: Wasm UDF modules. The body of a POST is the component itself; it is
//! compiled and checked against the `udf` world before anything is stored (400 with the
//! reason otherwise), and a new version replaces the old one in running tasks.

use std::sync::Arc;

use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::server::State;
use crate::store::UdfRecord;
use crate::udfs::{MAX_MODULE_BYTES, UploadError};

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "udfs")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|s: Arc<State>| blocking(move || list(&s)));
    let upload = warp::path!("kapacitor" / "v1" / "udfs" / String)
        .and(warp::post().or(warp::put()).unify())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(MAX_MODULE_BYTES as u64))
        .and(warp::body::bytes())
        .then(|name: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || upload(&s, &name, &body))
        });
    let get = warp::path!("kapacitor" / "v1" / "udfs" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|name: String, s: Arc<State>| blocking(move || get(&s, &name)));
    let delete = warp::path!("kapacitor" / "v1" / "udfs" / String)
        .and(warp::delete())
        .and(with_state(state))
        .then(|name: String, s: Arc<State>| blocking(move || delete(&s, &name)));
    list.or(upload).unify().or(get).unify().or(delete).unify()
}

fn udf_json(r: &UdfRecord) -> Value {
    let sig = &r.signature;
    json!({
        "link": {"rel": "self", "href": format!("/kapacitor/v1/udfs/{}", r.name)},
        "name": r.name,
        "version": r.version,
        "size": r.size,
        "digest": r.digest,
        "created": r.created,
        "modified": r.modified,
        "wants": sig.get("wants").cloned().unwrap_or(Value::Null),
        "provides": sig.get("provides").cloned().unwrap_or(Value::Null),
        "options": sig.get("options").cloned().unwrap_or_else(|| json!([])),
    })
}

fn list(state: &State) -> ApiResult {
    let udfs = state.udfs.list(&state.store).map_err(ApiError::internal)?;
    let items: Vec<Value> = udfs.iter().map(udf_json).collect();
    Ok(warp::reply::json(&json!({ "udfs": items })).into_response())
}

fn get(state: &State, name: &str) -> ApiResult {
    let udfs = state.udfs.list(&state.store).map_err(ApiError::internal)?;
    match udfs.iter().find(|u| u.name == name) {
        Some(u) => Ok(warp::reply::json(&udf_json(u)).into_response()),
        None => Err(ApiError::not_found(format!("no UDF named {name:?}"))),
    }
}

fn upload(state: &State, name: &str, body: &[u8]) -> ApiResult {
    match state.udfs.upload(&state.store, name, body) {
        Ok(rec) => Ok(warp::reply::json(&udf_json(&rec)).into_response()),
        Err(UploadError::Invalid(msg)) => Err(ApiError::bad_request(msg)),
        Err(UploadError::Internal(e)) => Err(ApiError::internal(e)),
    }
}

fn delete(state: &State, name: &str) -> ApiResult {
    match state.udfs.delete(&state.store, name) {
        Ok(_) => {
            Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
        }
        Err(UploadError::Invalid(msg)) => Err(ApiError::bad_request(msg)),
        Err(UploadError::Internal(e)) => Err(ApiError::internal(e)),
    }
}
