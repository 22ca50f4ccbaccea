//! The HTTP API under `/kapacitor/v1`: one module per area, all routes joined here.
//!
//! Every response carries Kapacitor's `X-Kapacitor-Version` and `Request-Id` headers; every
//! error is `{"error": "..."}` with Kapacitor's status code (see [`error`]).

mod alerts;
mod config;
mod debug;
pub mod error;
pub mod logs;
mod metrics;
mod ping;
mod plugins;
mod replay;
mod service_tests;
pub mod silences;
mod storage;
pub mod tasks;
pub mod templates;
mod udfs;
mod users;
mod write;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use warp::Filter;
use warp::http::HeaderValue;

use crate::server::State;

/// Base path of the API.
pub const BASE: &str = "kapacitor";

/// All routes, with the common headers and error mapping.
pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    let api = users::guard(state.clone()).and(
        ping::routes(state.clone())
            .or(write::routes(state.clone()))
            .or(debug::routes(state.clone()))
            .or(metrics::routes(state.clone()))
            .or(tasks::routes(state.clone()))
            .or(templates::routes(state.clone()))
            .or(udfs::routes(state.clone()))
            .or(plugins::routes(state.clone()))
            .or(service_tests::routes(state.clone()))
            .or(alerts::routes(state.clone()))
            .or(silences::routes(state.clone()))
            .or(storage::routes(state.clone()))
            .or(config::routes(state.clone()))
            .or(users::routes(state.clone()))
            .or(replay::routes(state.clone())),
    );
    let request_ids = Arc::new(AtomicU64::new(1));
    let log = state.config.http.log_enabled;
    api.recover(error::recover)
        .map(move |reply| {
            let id = request_ids.fetch_add(1, Relaxed);
            let mut resp = warp::reply::Reply::into_response(reply);
            let h = resp.headers_mut();
            h.insert(
                "X-Kapacitor-Version",
                HeaderValue::from_static(crate::VERSION),
            );
            h.insert("Request-Id", HeaderValue::from(id));
            resp
        })
        .with(warp::log::custom(move |info| {
            if log {
                tracing::debug!(
                    method = %info.method(),
                    path = info.path(),
                    status = info.status().as_u16(),
                    elapsed_us = info.elapsed().as_micros() as u64,
                    "http request"
                );
            }
        }))
}

/// Injects the shared state into a handler.
pub(crate) fn with_state(
    state: Arc<State>,
) -> impl Filter<Extract = (Arc<State>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}
