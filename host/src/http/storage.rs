//! `/kapacitor/v1/storage`: a backup of everything kept (see [`crate::backup`]), the list of
//! stores, and the `rebuild` action on one.

use std::sync::Arc;

use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::server::State;
use crate::store::Store;

const STORES: &str = "/kapacitor/v1/storage/stores";

/// Kapacitor's names for the stores both have; Farad's own keep their table names.
fn api_name(table: &str) -> &str {
    match table {
        "handlers" => "handler-specs",
        "loaded" => "load",
        "config_overrides" => "overrides",
        other => other,
    }
}

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let backup = warp::path!("kapacitor" / "v1" / "storage" / "backup")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|s: Arc<State>| {
            blocking(move || {
                let bytes =
                    crate::backup::create(&s.store, &s.config).map_err(ApiError::internal)?;
                let mut resp = bytes.into_response();
                let h = resp.headers_mut();
                h.insert(
                    "Content-Type",
                    warp::http::HeaderValue::from_static("application/octet-stream"),
                );
                h.insert(
                    "Content-Disposition",
                    warp::http::HeaderValue::from_static(
                        r#"attachment; filename="farad-backup.zip""#,
                    ),
                );
                Ok(resp)
            })
        });
    let list = warp::path!("kapacitor" / "v1" / "storage" / "stores")
        .and(warp::get())
        .then(|| async {
            let storage: Vec<_> = Store::table_names()
                .iter()
                .map(|t| {
                    let name = api_name(t);
                    json!({"link": {"rel": "self", "href": format!("{STORES}/{name}")},
                        "name": name})
                })
                .collect();
            warp::reply::json(&json!({"link": {"rel": "self", "href": STORES},
                "storage": storage}))
            .into_response()
        });
    let action = warp::path!("kapacitor" / "v1" / "storage" / "stores" / String)
        .and(warp::post())
        .and(with_state(state))
        .and(warp::body::content_length_limit(1 << 16))
        .and(warp::body::bytes())
        .then(|name: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || rebuild(&s, &name, &body))
        });
    backup.or(list).unify().or(action).unify()
}

/// Farad's stores keep no indexes to rebuild; `rebuild` reads every record of the store and
/// fails naming those that no longer decode.
fn rebuild(state: &State, name: &str, body: &[u8]) -> ApiResult {
    let Some(table) = Store::table_names()
        .into_iter()
        .find(|t| api_name(t) == name)
    else {
        return Err(ApiError::not_found(format!("unknown storage {name:?}")));
    };
    let action: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("failed to unmarshal storage action {e}")))?;
    match action.get("action").and_then(|a| a.as_str()) {
        Some("rebuild") => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown storage action {:?}",
                other.unwrap_or("")
            )));
        }
    }
    let bad = state
        .store
        .check_table(&table)
        .map_err(ApiError::internal)?
        .unwrap_or_default();
    if !bad.is_empty() {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to rebuild {name:?}: unreadable records {bad:?}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
