//! `/kapacitor/v1/service-tests`: list the testable services with their options, and run one
//! (`{"success": bool, "message": ...}`, as Kapacitor answers).

use std::sync::Arc;

use serde_json::{Map, Value, json};
use warp::Filter;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::server::State;

const BASE: &str = "/kapacitor/v1/service-tests";

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "service-tests")
        .and(warp::get())
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(with_state(state.clone()))
        .then(
            |q: std::collections::HashMap<String, String>, s: Arc<State>| {
                blocking(move || {
                    let pattern = q.get("pattern").map(String::as_str).unwrap_or("");
                    let services: Vec<Value> = crate::service_tests::list(&s.outputs)
                        .into_iter()
                        .filter(|(n, _)| pattern.is_empty() || crate::topics::glob(pattern, n))
                        .map(|(n, o)| service_json(&n, o))
                        .collect();
                    Ok(
                        warp::reply::json(&json!({"link": {"rel": "self", "href": BASE},
                    "services": services}))
                        .into_response(),
                    )
                })
            },
        );
    let get = warp::path!("kapacitor" / "v1" / "service-tests" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|name: String, s: Arc<State>| {
            blocking(move || {
                crate::service_tests::list(&s.outputs)
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .map(|(n, o)| warp::reply::json(&service_json(&n, o)).into_response())
                    .ok_or_else(|| ApiError::not_found(format!("service {name:?} not found")))
            })
        });
    let run = warp::path!("kapacitor" / "v1" / "service-tests" / String)
        .and(warp::post())
        .and(with_state(state))
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|name: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || run(&s, &name, &body))
        });
    list.or(get).unify().or(run).unify()
}

fn service_json(name: &str, options: Value) -> Value {
    json!({"link": {"rel": "self", "href": format!("{BASE}/{name}")}, "name": name,
        "options": options})
}

fn run(state: &State, name: &str, body: &[u8]) -> ApiResult {
    let options: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            Ok(other) => {
                return Err(ApiError::bad_request(format!(
                    "options must be a JSON object, got {other}"
                )));
            }
            Err(e) => return Err(ApiError::bad_request(format!("invalid options JSON: {e}"))),
        }
    };
    match crate::service_tests::run(&state.outputs, name, &options) {
        None => Err(ApiError::not_found(format!("service {name:?} not found"))),
        Some(r) => {
            let (success, message) = match r {
                Ok(()) => (true, String::new()),
                Err(e) => (false, e),
            };
            Ok(warp::reply::json(&json!({"success": success, "message": message})).into_response())
        }
    }
}
