//! `/kapacitor/v1/recordings` and `/kapacitor/v1/replays`, in Kapacitor's JSON and status
//! codes (201 when a replay starts, 202 while it runs, 200 once done). Beyond Kapacitor:
//! `POST .../recordings/import` takes a recording's data (`.srpl`, `.brpl`, JSON batches or
//! plain line protocol) and `GET .../recordings/<id>/data` gives it back.

use std::collections::HashMap;
use std::sync::Arc;

use farad_runtime::lineproto::Precision;
use serde::Deserialize;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::recordings::{ImportError, ImportOptions, RecordingRecord, RecordingType};
use crate::replays::{ReplayError, ReplayRecord, Source};
use crate::server::State;

type Query = HashMap<String, String>;

/// The largest import body, bytes.
const MAX_IMPORT: u64 = 1 << 30;

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let s = move || with_state(state.clone());
    let list_recordings = warp::path!("kapacitor" / "v1" / "recordings")
        .and(warp::get())
        .and(s())
        .and(warp::query::<Query>())
        .then(|s: Arc<State>, q: Query| blocking(move || list_recordings(&s, &q)));
    let import = warp::path!("kapacitor" / "v1" / "recordings" / "import")
        .and(warp::post())
        .and(s())
        .and(warp::query::<Query>())
        .and(warp::body::content_length_limit(MAX_IMPORT))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, q: Query, body: bytes::Bytes| {
            blocking(move || import(&s, &q, &body))
        });
    let record_stream = warp::path!("kapacitor" / "v1" / "recordings" / "stream")
        .and(warp::post())
        .and(s())
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || record_stream(&s, &body)));
    let record_batch = warp::path!("kapacitor" / "v1" / "recordings" / "batch")
        .and(warp::post())
        .and(s())
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || record_batch(&s, &body)));
    let record_query = warp::path!("kapacitor" / "v1" / "recordings" / "query")
        .and(warp::post())
        .and(s())
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || record_query(&s, &body)));
    let recording = warp::path!("kapacitor" / "v1" / "recordings" / String)
        .and(warp::get())
        .and(s())
        .then(|id: String, s: Arc<State>| blocking(move || recording(&s, &id)));
    let data = warp::path!("kapacitor" / "v1" / "recordings" / String / "data")
        .and(warp::get())
        .and(s())
        .then(|id: String, s: Arc<State>| blocking(move || data(&s, &id)));
    let delete_recording = warp::path!("kapacitor" / "v1" / "recordings" / String)
        .and(warp::delete())
        .and(s())
        .then(|id: String, s: Arc<State>| {
            blocking(move || {
                s.recordings.delete(&id).map_err(ApiError::internal)?;
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        });
    let list_replays = warp::path!("kapacitor" / "v1" / "replays")
        .and(warp::get())
        .and(s())
        .and(warp::query::<Query>())
        .then(|s: Arc<State>, q: Query| blocking(move || list_replays(&s, &q)));
    let create_replay = warp::path!("kapacitor" / "v1" / "replays")
        .and(warp::post())
        .and(s())
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || create_replay(&s, &body)));
    let replay_live = warp::path!("kapacitor" / "v1" / "replays" / String)
        .and(warp::post())
        .and(s())
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(|kind: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || replay_live(&s, &kind, &body))
        });
    let replay = warp::path!("kapacitor" / "v1" / "replays" / String)
        .and(warp::get())
        .and(s())
        .then(|id: String, s: Arc<State>| blocking(move || replay(&s, &id)));
    let delete_replay = warp::path!("kapacitor" / "v1" / "replays" / String)
        .and(warp::delete())
        .and(s())
        .then(|id: String, s: Arc<State>| {
            blocking(move || {
                s.replays.delete(&s, &id).map_err(ApiError::internal)?;
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        });
    list_recordings
        .or(import)
        .unify()
        .or(record_stream)
        .unify()
        .or(record_batch)
        .unify()
        .or(record_query)
        .unify()
        .or(data)
        .unify()
        .or(recording)
        .unify()
        .or(delete_recording)
        .unify()
        .or(list_replays)
        .unify()
        .or(create_replay)
        .unify()
        .or(replay_live)
        .unify()
        .or(replay)
        .unify()
        .or(delete_replay)
        .unify()
}

fn recording_json(r: &RecordingRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["link"] = json!({"rel": "self", "href": format!("/kapacitor/v1/recordings/{}", r.id)});
    v
}

fn replay_json(r: &ReplayRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["link"] = json!({"rel": "self", "href": format!("/kapacitor/v1/replays/{}", r.id)});
    v
}

/// Kapacitor's list parameters: `pattern` (a glob on ids), `offset`, `limit`.
fn page<T>(items: Vec<T>, id: impl Fn(&T) -> &str, q: &Query) -> Result<Vec<T>, ApiError> {
    let num = |k: &str, default: usize| match q.get(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid {k} parameter {v:?}"))),
    };
    let (offset, limit) = (num("offset", 0)?, num("limit", 100)?);
    let pattern = q.get("pattern").filter(|p| !p.is_empty());
    Ok(items
        .into_iter()
        .filter(|i| pattern.is_none_or(|p| crate::topics::glob(p, id(i))))
        .skip(offset)
        .take(limit)
        .collect())
}

fn list_recordings(state: &State, q: &Query) -> ApiResult {
    let all = state.recordings.list().map_err(ApiError::internal)?;
    let items: Vec<Value> = page(all, |r| &r.id, q)?
        .iter()
        .map(recording_json)
        .collect();
    Ok(warp::reply::json(&json!({ "recordings": items })).into_response())
}

fn recording(state: &State, id: &str) -> ApiResult {
    match state.recordings.get(id).map_err(ApiError::internal)? {
        // 202 while it records, as Kapacitor answers.
        Some(r) if r.status == "running" => Ok(warp::reply::with_status(
            warp::reply::json(&recording_json(&r)),
            StatusCode::ACCEPTED,
        )
        .into_response()),
        Some(r) => Ok(warp::reply::json(&recording_json(&r)).into_response()),
        None => Err(ApiError::not_found(format!(
            "recording not found: unknown recording {id}"
        ))),
    }
}

fn data(state: &State, id: &str) -> ApiResult {
    let Some(r) = state.recordings.get(id).map_err(ApiError::internal)? else {
        return Err(ApiError::not_found(format!(
            "recording not found: unknown recording {id}"
        )));
    };
    let bytes = state.recordings.file(&r).map_err(ApiError::internal)?;
    let (ext, kind) = match r.kind {
        RecordingType::Stream => ("srpl", "application/gzip"),
        RecordingType::Batch => ("brpl", "application/zip"),
    };
    let resp = warp::http::Response::builder()
        .header("Content-Type", kind)
        .header(
            "Content-Disposition",
            format!("attachment; filename=\"{id}.{ext}\""),
        )
        .body(bytes.into())
        .map_err(|e| ApiError::internal(e.into()))?;
    Ok(resp)
}

fn import(state: &State, q: &Query, body: &[u8]) -> ApiResult {
    let kind = match q.get("type").map(String::as_str) {
        None | Some("") => None,
        Some("stream") => Some(RecordingType::Stream),
        Some("batch") => Some(RecordingType::Batch),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid recording type {other:?}: stream or batch"
            )));
        }
    };
    let precision = match q.get("precision") {
        None => Precision::Nanoseconds,
        Some(p) => Precision::parse(p)
            .ok_or_else(|| ApiError::bad_request(format!("invalid precision {p:?}")))?,
    };
    let opts = ImportOptions {
        id: q.get("id").cloned().filter(|i| !i.is_empty()),
        kind,
        precision,
        db: q.get("db").cloned().filter(|d| !d.is_empty()),
        rp: q.get("rp").cloned().filter(|r| !r.is_empty()),
    };
    created(state.recordings.import(body, &opts))
}

/// Kapacitor's `RecordStreamOptions`.
#[derive(Deserialize)]
struct RecordStream {
    #[serde(default)]
    id: Option<String>,
    task: String,
    stop: String,
}

fn record_stream(state: &State, body: &[u8]) -> ApiResult {
    let opts: RecordStream =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let stop = farad_runtime::time::parse_rfc3339(&opts.stop)
        .ok_or_else(|| ApiError::bad_request(format!("invalid stop time {:?}", opts.stop)))?;
    let task = state
        .store
        .get(&crate::store::TASKS, &opts.task)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("task load: unknown task {}", opts.task)))?;
    if task.kind != crate::store::TaskType::Stream {
        return Err(ApiError::bad_request(format!(
            "task {} is not a stream task",
            opts.task
        )));
    }
    created(
        state
            .recordings
            .record_stream(opts.id, &task.dbrps, stop, &state.ingest.router),
    )
}

/// Kapacitor's `RecordBatchOptions`.
#[derive(Deserialize)]
struct RecordBatch {
    #[serde(default)]
    id: Option<String>,
    task: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
}

fn record_batch(state: &State, body: &[u8]) -> ApiResult {
    let opts: RecordBatch =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let time = |t: &str| {
        farad_runtime::time::parse_rfc3339(t)
            .ok_or_else(|| ApiError::bad_request(format!("invalid time {t:?}")))
    };
    if opts.start.is_empty() {
        return Err(ApiError::bad_request("must provide start time"));
    }
    let start = time(&opts.start)?;
    let stop = if opts.stop.is_empty() {
        crate::server::now_ns()
    } else {
        time(&opts.stop)?
    };
    let task = state
        .store
        .get(&crate::store::TASKS, &opts.task)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("unknown task {}", opts.task)))?;
    if task.kind != crate::store::TaskType::Batch {
        return Err(ApiError::bad_request(format!(
            "task {} is not a batch task",
            opts.task
        )));
    }
    let plan = super::tasks::compile(state, &task).map_err(ApiError::bad_request)?;
    let queries = crate::schedule::queries(&plan).map_err(ApiError::bad_request)?;
    let io: Arc<dyn farad_runtime::exec::Io> = state.outputs.clone();
    created(
        state
            .recordings
            .record_batch(opts.id, queries, start, stop, io),
    )
}

/// Kapacitor's `RecordQueryOptions`.
#[derive(Deserialize)]
struct RecordQuery {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type")]
    kind: crate::recordings::RecordingType,
    #[serde(default)]
    query: String,
    #[serde(default)]
    cluster: String,
}

fn record_query(state: &State, body: &[u8]) -> ApiResult {
    let opts: RecordQuery =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let io: Arc<dyn farad_runtime::exec::Io> = state.outputs.clone();
    created(
        state
            .recordings
            .record_query(opts.id, opts.kind, opts.query, opts.cluster, io),
    )
}

/// A new recording: 201 with its JSON, or the reason it could not be made.
fn created(r: Result<RecordingRecord, ImportError>) -> ApiResult {
    match r {
        Ok(r) => Ok(warp::reply::with_status(
            warp::reply::json(&recording_json(&r)),
            StatusCode::CREATED,
        )
        .into_response()),
        Err(ImportError::Invalid(m)) => Err(ApiError::bad_request(m)),
        Err(ImportError::Conflict(m)) => Err(ApiError::new(StatusCode::CONFLICT, m)),
        Err(ImportError::Internal(e)) => Err(ApiError::internal(e)),
    }
}

fn list_replays(state: &State, q: &Query) -> ApiResult {
    let all = state.replays.list(state).map_err(ApiError::internal)?;
    let items: Vec<Value> = page(all, |r| &r.id, q)?.iter().map(replay_json).collect();
    Ok(warp::reply::json(&json!({ "replays": items })).into_response())
}

/// Kapacitor's `CreateReplayOptions`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CreateReplay {
    #[serde(default)]
    id: Option<String>,
    task: String,
    recording: String,
    #[serde(default)]
    recording_time: bool,
    #[serde(default)]
    clock: Option<String>,
}

fn create_replay(state: &Arc<State>, body: &[u8]) -> ApiResult {
    let opts: CreateReplay =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let source = Source::Recording(opts.recording);
    start_replay(
        state,
        opts.id,
        &opts.task,
        source,
        opts.clock,
        opts.recording_time,
    )
}

/// Kapacitor's `ReplayBatchOptions` and `ReplayQueryOptions` in one.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ReplayLive {
    #[serde(default)]
    id: Option<String>,
    task: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    recording_time: bool,
    #[serde(default)]
    clock: Option<String>,
}

/// `POST /kapacitor/v1/replays/batch` and `.../replays/query`: a replay straight from
/// InfluxDB, nothing stored.
fn replay_live(state: &Arc<State>, kind: &str, body: &[u8]) -> ApiResult {
    let opts: ReplayLive =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let source = match kind {
        "batch" => {
            let time = |t: &str| {
                farad_runtime::time::parse_rfc3339(t)
                    .ok_or_else(|| ApiError::bad_request(format!("invalid time {t:?}")))
            };
            let start = time(&opts.start)?;
            let stop = if opts.stop.is_empty() {
                crate::server::now_ns()
            } else {
                time(&opts.stop)?
            };
            Source::Batch { start, stop }
        }
        "query" => Source::Query {
            query: opts.query,
            cluster: opts.cluster,
        },
        other => {
            return Err(ApiError::not_found(format!(
                "no such replay source {other:?}: batch or query"
            )));
        }
    };
    start_replay(
        state,
        opts.id,
        &opts.task,
        source,
        opts.clock,
        opts.recording_time,
    )
}

fn start_replay(
    state: &Arc<State>,
    id: Option<String>,
    task: &str,
    source: Source,
    clock: Option<String>,
    recording_time: bool,
) -> ApiResult {
    let real = match clock.as_deref() {
        None | Some("") | Some("fast") => false,
        Some("real") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("invalid clock type {other}")));
        }
    };
    match state
        .replays
        .start(state, id, task, source, real, recording_time)
    {
        Ok(r) => Ok(warp::reply::with_status(
            warp::reply::json(&replay_json(&r)),
            StatusCode::CREATED,
        )
        .into_response()),
        Err(ReplayError::Invalid(m)) => Err(ApiError::bad_request(m)),
        Err(ReplayError::NotFound(m)) => Err(ApiError::not_found(m)),
        Err(ReplayError::Conflict(m)) => Err(ApiError::new(StatusCode::CONFLICT, m)),
        Err(ReplayError::Internal(e)) => Err(ApiError::internal(e)),
    }
}

fn replay(state: &State, id: &str) -> ApiResult {
    let Some(r) = state.replays.get(state, id).map_err(ApiError::internal)? else {
        return Err(ApiError::not_found(format!(
            "replay not found: unknown replay {id}"
        )));
    };
    let status = if r.status == "running" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(warp::reply::with_status(warp::reply::json(&replay_json(&r)), status).into_response())
}
