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
use super::with_state;
use crate::server::State;
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
    let delete = warp::path!("kapacitor" / "v1" / "alerts" / "topics" / String)
        .and(warp::delete())
        .and(with_state(state))
        .map(|id: String, s: Arc<State>| {
            s.outputs.topics.delete(&decode(&id));
            StatusCode::NO_CONTENT.into_response()
        });
    list.or(topic)
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
