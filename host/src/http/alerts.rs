//! `/kapacitor/v1/alerts/topics`: the topics alert nodes collect into, their state and events,
//! in Kapacitor's JSON (links, `min-level` and `pattern` filters, 404s with its wording).

use std::collections::HashMap;
use std::sync::Arc;

use farad_runtime::duration::format_go_duration;
use farad_runtime::time::format_rfc3339_nanos;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult, respond};
use super::tasks::blocking;
use super::with_state;
use crate::handlers::HandlerSpec;
use crate::server::State;
use crate::store;
use crate::topics::{EventState, TopicSummary, parse_level};

const TOPICS: &str = "/kapacitor/v1/alerts/topics";

type Query = HashMap<String, String>;

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "alerts" / "topics")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<Query>())
        .map(|s: Arc<State>, q: Query| respond(list(&s, &q)));
    let topic = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|id: String, s: Arc<State>| respond(topic(&s, &id)));
    let events = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "events")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<Query>())
        .map(|id: String, s: Arc<State>, q: Query| respond(events(&s, &id, &q)));
    let event = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "events" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|id: String, ev: String, s: Arc<State>| respond(event(&s, &id, &ev)));
    let state_for_handlers = state.clone();
    let delete = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String)
        .and(warp::delete())
        .and(with_state(state))
        .map(|id: String, s: Arc<State>| {
            s.outputs.topics.delete(&decode(&id));
            StatusCode::NO_CONTENT.into_response()
        });
    let handlers = handler_routes(state_for_handlers);
    list.or(topic)
        .unify()
        .or(handlers)
        .unify()
        .or(events)
        .unify()
        .or(event)
        .unify()
        .or(delete)
        .unify()
}

/// Path segments arrive percent-encoded (`main%3Atask%3Aalert2` from some clients).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn min_level(q: &Query) -> Result<usize, ApiError> {
    parse_level(q.get("min-level").map_or("", String::as_str)).map_err(ApiError::bad_request)
}

fn topic_json(t: &TopicSummary) -> Value {
    json!({
        "link": {"rel": "self", "href": format!("{TOPICS}/{}", t.id)},
        "id": t.id,
        "level": t.level,
        "collected": t.collected,
        "events-link": {"rel": "events", "href": format!("{TOPICS}/{}/events", t.id)},
        "handlers-link": {"rel": "handlers", "href": format!("{TOPICS}/{}/handlers", t.id)},
    })
}

fn event_json(topic: &str, id: &str, e: &EventState) -> Value {
    json!({
        "link": {"rel": "self", "href": format!("{TOPICS}/{topic}/events/{id}")},
        "id": id,
        "state": {
            "message": e.message,
            "details": e.details,
            "time": format_rfc3339_nanos(e.time),
            "duration": format_go_duration(e.duration),
            "level": e.level,
        },
    })
}

fn list(state: &State, q: &Query) -> ApiResult {
    let pattern = q.get("pattern").map_or("", String::as_str);
    if pattern.matches('[').count() != pattern.matches(']').count() {
        return Err(ApiError::bad_request(
            "invalid pattern: syntax error in pattern",
        ));
    }
    let min = min_level(q)?;
    let topics: Vec<Value> = state
        .outputs
        .topics
        .list(pattern, min)
        .iter()
        .map(topic_json)
        .collect();
    let mut self_link = TOPICS.to_owned();
    if !q.is_empty() {
        let mut qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        qs.sort();
        self_link = format!("{self_link}?{}", qs.join("&"));
    }
    Ok(warp::reply::json(&json!({
        "link": {"rel": "self", "href": self_link},
        "topics": topics,
    }))
    .into_response())
}

fn topic(state: &State, id: &str) -> ApiResult {
    let id = decode(id);
    match state.outputs.topics.get(&id) {
        Some(t) => Ok(warp::reply::json(&topic_json(&t)).into_response()),
        None => Err(ApiError::not_found(format!("unknown topic: {id:?}"))),
    }
}

fn events(state: &State, id: &str, q: &Query) -> ApiResult {
    let id = decode(id);
    let min = min_level(q)?;
    // Kapacitor answers an unknown topic with an empty list.
    let events = state.outputs.topics.events(&id, min).unwrap_or_default();
    let items: Vec<Value> = events
        .iter()
        .map(|(ev, e)| event_json(&id, ev, e))
        .collect();
    Ok(warp::reply::json(&json!({
        "link": {"rel": "self", "href": format!("{TOPICS}/{id}/events")},
        "topic": id,
        "events": items,
    }))
    .into_response())
}

fn event(state: &State, topic: &str, event: &str) -> ApiResult {
    let (topic, event) = (decode(topic), decode(event));
    match state.outputs.topics.event(&topic, &event) {
        Some(e) => Ok(warp::reply::json(&event_json(&topic, &event, &e)).into_response()),
        None => Err(ApiError::not_found(format!(
            "unknown event {event:?} in topic {topic:?}"
        ))),
    }
}

/// Largest handler spec body taken.
const MAX_SPEC: u64 = 1 << 20;

fn handler_routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "handlers")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<Query>())
        .map(|t: String, s: Arc<State>, q: Query| respond(list_handlers(&s, &t, &q)));
    let create = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "handlers")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(MAX_SPEC))
        .and(warp::body::bytes())
        .then(|t: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || put_handler(&s, &decode(&t), None, &body))
        });
    let get = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "handlers" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|t: String, h: String, s: Arc<State>| {
            let (t, h) = (decode(&t), decode(&h));
            respond(match s.outputs.topics.handler(&t, &h) {
                Some(spec) => Ok(warp::reply::json(&handler_json(&spec)).into_response()),
                None => Err(ApiError::not_found(format!("unknown handler: {h:?}"))),
            })
        });
    let replace =
        warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "handlers" / String)
            .and(warp::put())
            .and(with_state(state.clone()))
            .and(warp::body::content_length_limit(MAX_SPEC))
            .and(warp::body::bytes())
            .then(|t: String, h: String, s: Arc<State>, body: bytes::Bytes| {
                blocking(move || put_handler(&s, &decode(&t), Some(&decode(&h)), &body))
            });
    let patch =
        warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "handlers" / String)
            .and(warp::patch())
            .and(with_state(state.clone()))
            .and(warp::body::content_length_limit(MAX_SPEC))
            .and(warp::body::bytes())
            .then(|t: String, h: String, s: Arc<State>, body: bytes::Bytes| {
                blocking(move || patch_handler(&s, &decode(&t), &decode(&h), &body))
            });
    let delete =
        warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String / "handlers" / String)
            .and(warp::delete())
            .and(with_state(state))
            .then(|t: String, h: String, s: Arc<State>| {
                blocking(move || delete_handler(&s, &decode(&t), &decode(&h)))
            });
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(replace)
        .unify()
        .or(patch)
        .unify()
        .or(delete)
        .unify()
}

fn handler_json(spec: &HandlerSpec) -> Value {
    json!({
        "link": {"rel": "self", "href": format!("{TOPICS}/{}/handlers/{}", spec.topic, spec.id)},
        "id": spec.id,
        "kind": spec.kind,
        "options": spec.options,
        "match": spec.match_,
    })
}

fn list_handlers(state: &State, topic: &str, q: &Query) -> ApiResult {
    let topic = decode(topic);
    let pattern = q.get("pattern").map_or("", String::as_str);
    let items: Vec<Value> = state
        .outputs
        .topics
        .handlers(&topic)
        .iter()
        .filter(|h| pattern.is_empty() || crate::topics::glob(pattern, &h.id))
        .map(handler_json)
        .collect();
    Ok(warp::reply::json(&json!({
        "link": {"rel": "self", "href": format!("{TOPICS}/{topic}/handlers")},
        "topic": topic,
        "handlers": items,
    }))
    .into_response())
}

/// Creates (`old` none) or replaces handler `old` of `topic`, stored before it is answered.
fn put_handler(state: &State, topic: &str, old: Option<&str>, body: &[u8]) -> ApiResult {
    let mut spec: HandlerSpec = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid handler json: {e}")))?;
    spec.topic = topic.to_owned();
    spec.validate(&state.outputs.services.plugins)
        .map_err(|e| ApiError::bad_request(format!("invalid handler spec: {e}")))?;
    let topics = &state.outputs.topics;
    match old {
        None if topics.handler(topic, &spec.id).is_some() => {
            return Err(ApiError::bad_request(format!(
                "failed to create handler: handler {:?} already exists",
                spec.id
            )));
        }
        Some(old) if topics.handler(topic, old).is_none() => {
            return Err(ApiError::not_found(format!("unknown handler: {old:?}")));
        }
        _ => {}
    }
    let value = serde_json::to_value(&spec).map_err(|e| ApiError::internal(e.into()))?;
    state
        .store
        .put(&store::HANDLERS, &handler_key(topic, &spec.id), &value)
        .map_err(ApiError::internal)?;
    if let Some(old) = old.filter(|o| *o != spec.id) {
        state
            .store
            .delete(&store::HANDLERS, &handler_key(topic, old))
            .map_err(ApiError::internal)?;
        topics.delete_handler(topic, old);
    }
    let reply = handler_json(&spec);
    topics.set_handler(spec);
    Ok(warp::reply::json(&reply).into_response())
}

/// `PATCH`: a JSON Patch (RFC 6902) applied to the handler's spec (`id`, `kind`, `options`,
/// `match`), checked and stored like a replacement.
fn patch_handler(state: &State, topic: &str, id: &str, body: &[u8]) -> ApiResult {
    let Some(spec) = state.outputs.topics.handler(topic, id) else {
        return Err(ApiError::not_found(format!("unknown handler: {id:?}")));
    };
    let patch: json_patch::Patch = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid patch json: {e}")))?;
    let mut doc = handler_json(&spec);
    if let Some(o) = doc.as_object_mut() {
        o.remove("link");
    }
    json_patch::patch(&mut doc, &patch)
        .map_err(|e| ApiError::bad_request(format!("failed to apply patch: {e}")))?;
    let body = serde_json::to_vec(&doc).map_err(|e| ApiError::internal(e.into()))?;
    put_handler(state, topic, Some(id), &body)
}

fn delete_handler(state: &State, topic: &str, id: &str) -> ApiResult {
    if state.outputs.topics.handler(topic, id).is_none() {
        return Err(ApiError::not_found(format!("unknown handler: {id:?}")));
    }
    state
        .store
        .delete(&store::HANDLERS, &handler_key(topic, id))
        .map_err(ApiError::internal)?;
    state.outputs.topics.delete_handler(topic, id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A handler's key in the store.
pub fn handler_key(topic: &str, id: &str) -> String {
    format!("{topic}/{id}")
}
