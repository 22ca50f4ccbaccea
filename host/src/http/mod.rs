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

/// Every route, as `GET /kapacitor/v1/:routes` lists them (method, pattern).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/kapacitor/v1/ping"),
    ("HEAD", "/kapacitor/v1/ping"),
    ("POST", "/kapacitor/v1/write"),
    ("POST", "/write"),
    ("GET", "/kapacitor/v1/:routes"),
    ("POST", "/kapacitor/v1/loglevel"),
    ("GET", "/kapacitor/v1/debug/vars"),
    ("GET", "/metrics"),
    ("GET", "/kapacitor/v1/tasks"),
    ("POST", "/kapacitor/v1/tasks"),
    ("GET", "/kapacitor/v1/tasks/"),
    ("PATCH", "/kapacitor/v1/tasks/"),
    ("DELETE", "/kapacitor/v1/tasks/"),
    ("GET", "/kapacitor/v1/templates"),
    ("POST", "/kapacitor/v1/templates"),
    ("GET", "/kapacitor/v1/templates/"),
    ("PATCH", "/kapacitor/v1/templates/"),
    ("DELETE", "/kapacitor/v1/templates/"),
    ("GET", "/kapacitor/v1/recordings"),
    ("GET", "/kapacitor/v1/recordings/"),
    ("DELETE", "/kapacitor/v1/recordings/"),
    ("POST", "/kapacitor/v1/recordings/stream"),
    ("POST", "/kapacitor/v1/recordings/batch"),
    ("POST", "/kapacitor/v1/recordings/query"),
    ("POST", "/kapacitor/v1/recordings/import"),
    ("GET", "/kapacitor/v1/replays"),
    ("POST", "/kapacitor/v1/replays"),
    ("POST", "/kapacitor/v1/replays/batch"),
    ("POST", "/kapacitor/v1/replays/query"),
    ("GET", "/kapacitor/v1/replays/"),
    ("DELETE", "/kapacitor/v1/replays/"),
    ("GET", "/kapacitor/v1/alerts/topics"),
    ("GET", "/kapacitor/v1/alerts/topics/"),
    ("DELETE", "/kapacitor/v1/alerts/topics/"),
    ("POST", "/kapacitor/v1/alerts/topics/"),
    ("PUT", "/kapacitor/v1/alerts/topics/"),
    ("PATCH", "/kapacitor/v1/alerts/topics/"),
    ("GET", "/kapacitor/v1/alerts/silences"),
    ("POST", "/kapacitor/v1/alerts/silences"),
    ("GET", "/kapacitor/v1/alerts/silences/"),
    ("DELETE", "/kapacitor/v1/alerts/silences/"),
    ("GET", "/kapacitor/v1/config"),
    ("GET", "/kapacitor/v1/config/"),
    ("POST", "/kapacitor/v1/config/"),
    ("GET", "/kapacitor/v1/service-tests"),
    ("GET", "/kapacitor/v1/service-tests/"),
    ("POST", "/kapacitor/v1/service-tests/"),
    ("GET", "/kapacitor/v1/storage/backup"),
    ("GET", "/kapacitor/v1/storage/stores"),
    ("POST", "/kapacitor/v1/storage/stores/"),
    ("POST", "/kapacitor/v1/sideload/reload"),
    ("POST", "/kapacitor/v1/subscriptions"),
    ("GET", "/kapacitor/v1/users"),
    ("POST", "/kapacitor/v1/users"),
    ("GET", "/kapacitor/v1/users/"),
    ("PATCH", "/kapacitor/v1/users/"),
    ("DELETE", "/kapacitor/v1/users/"),
    ("GET", "/kapacitor/v1/udfs"),
    ("GET", "/kapacitor/v1/udfs/"),
    ("POST", "/kapacitor/v1/udfs/"),
    ("DELETE", "/kapacitor/v1/udfs/"),
    ("GET", "/kapacitor/v1/handler-plugins"),
    ("GET", "/kapacitor/v1/handler-plugins/"),
    ("POST", "/kapacitor/v1/handler-plugins/"),
    ("DELETE", "/kapacitor/v1/handler-plugins/"),
    ("GET", "/kapacitor/v1preview/logs"),
];

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

/// The parameters of Kapacitor's lists of templates and users: `pattern` (a glob on ids),
/// `offset`, `limit` (default 100) and `fields` (each repeatable; given fields always get
/// `key` and `link`). As Go's `Query().Get`, the first of a repeated parameter counts.
pub(crate) struct ListQuery<'a> {
    pub pattern: &'a str,
    pub offset: usize,
    pub limit: usize,
    pub fields: Vec<&'a str>,
}

impl<'a> ListQuery<'a> {
    pub(crate) fn parse(
        q: &'a [(String, String)],
        all_fields: &[&'a str],
        key: &'a str,
    ) -> Result<ListQuery<'a>, error::ApiError> {
        let param = |k: &str| {
            q.iter()
                .find(|(n, _)| n == k)
                .map_or("", |(_, v)| v.as_str())
        };
        let number = |k: &str, default: usize| match param(k) {
            "" => Ok(default),
            v => v.parse().map_err(|e| {
                error::ApiError::bad_request(format!(
                    "invalid {k} parameter {v:?} must be an integer: {e}"
                ))
            }),
        };
        let mut fields: Vec<&str> = q
            .iter()
            .filter(|(k, _)| k == "fields")
            .map(|(_, v)| v.as_str())
            .collect();
        if fields.is_empty() {
            fields = all_fields.to_vec();
        } else {
            fields.extend([key, "link"]);
        }
        Ok(ListQuery {
            pattern: param("pattern"),
            offset: number("offset", 0)?,
            limit: number("limit", 100)?,
            fields,
        })
    }
}

/// Injects the shared state into a handler.
pub(crate) fn with_state(
    state: Arc<State>,
) -> impl Filter<Extract = (Arc<State>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}
