//! `GET/HEAD /kapacitor/v1/ping` and `POST /kapacitor/v1/loglevel`.

use std::sync::Arc;

use serde::Deserialize;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, respond};
use super::{BASE, with_state};
use crate::server::State;

#[derive(Deserialize)]
struct LevelBody {
    level: String,
}

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let ping = warp::path!("kapacitor" / "v1" / "ping")
        .and(warp::get().or(warp::head()).unify())
        .map(|| StatusCode::NO_CONTENT.into_response());
    let level = warp::path!("kapacitor" / "v1" / "loglevel")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::bytes())
        .map(|state: Arc<State>, body: bytes::Bytes| {
            respond((|| {
                let b: LevelBody = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
                state
                    .log_level
                    .set(&b.level)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                tracing::info!(level = b.level, "log level changed");
                Ok(StatusCode::NO_CONTENT.into_response())
            })())
        });
    let reload = warp::path!("kapacitor" / "v1" / "sideload" / "reload")
        .and(warp::post())
        .and(with_state(state.clone()))
        .then(|state: Arc<State>| async move {
            // Reading the files or URLs blocks: off the async workers.
            let result =
                tokio::task::spawn_blocking(move || state.outputs.sideloads.reload()).await;
            respond(match result {
                Ok(Ok(())) => Ok(StatusCode::NO_CONTENT.into_response()),
                Ok(Err(e)) => Err(ApiError::internal(anyhow::anyhow!(e))),
                Err(e) => Err(ApiError::internal(anyhow::anyhow!(e))),
            })
        });
    let subscriptions = warp::path!("kapacitor" / "v1" / "subscriptions")
        .and(warp::post())
        .and(with_state(state.clone()))
        .then(|state: Arc<State>| async move {
            let linked =
                tokio::task::spawn_blocking(move || state.subscriptions.lock().link_now()).await;
            respond(match linked {
                Ok(Ok(())) => Ok(StatusCode::NO_CONTENT.into_response()),
                Ok(Err(e)) => Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("failed to link subscriptions: {e}"),
                )),
                Err(e) => Err(ApiError::internal(anyhow::anyhow!(e))),
            })
        });
    let routes = warp::path!("kapacitor" / "v1" / ":routes")
        .and(warp::get())
        .map(|| {
            let mut m: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for (method, pattern) in super::ROUTES {
                m.entry(pattern).or_default().push(method);
            }
            warp::reply::json(&m).into_response()
        });
    let _ = BASE;
    ping.or(level)
        .unify()
        .or(reload)
        .unify()
        .or(subscriptions)
        .unify()
        .or(routes)
        .unify()
}
