//! `POST /write` and `POST /kapacitor/v1/write`: InfluxDB 1.x's write endpoint.
//!
//! 204 when every line was taken; 400 naming the bad lines when some were not (the others are
//! still taken: InfluxDB's partial write); 413 past `[http] max-body-size`.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Buf, Bytes, BytesMut};
use farad_runtime::lineproto::{Outcome, Precision};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult, respond};
use super::with_state;
use crate::ingest::LARGE_BODY;
use crate::server::State;

#[derive(Deserialize)]
struct WriteParams {
    #[serde(default)]
    db: String,
    #[serde(default)]
    rp: String,
    #[serde(default)]
    precision: String,
}

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let path = warp::path!("write")
        .or(warp::path!("kapacitor" / "v1" / "write"))
        .unify();
    path.and(warp::post())
        .and(with_state(state))
        .and(warp::query::<WriteParams>())
        .and(warp::header::optional::<String>("content-encoding"))
        .and(warp::body::stream())
        .then(
            |state: Arc<State>, q: WriteParams, enc: Option<String>, body| async move {
                respond(write(state, q, enc, body).await)
            },
        )
}

async fn write(
    state: Arc<State>,
    q: WriteParams,
    encoding: Option<String>,
    body: impl Stream<Item = Result<impl Buf, warp::Error>> + Unpin,
) -> ApiResult {
    let limit = state.config.http.max_body_size as usize;
    let raw = read_limited(body, limit).await?;
    let raw_len = raw.len();
    let c = &state.ingest.counters;
    c.write_req.fetch_add(1, Relaxed);
    c.write_req_bytes.fetch_add(raw_len as u64, Relaxed);
    if q.db.is_empty() {
        return Err(ApiError::bad_request("database is required"));
    }
    let precision = Precision::parse(&q.precision).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid precision {:?}: expected n, u, ms, s, m or h",
            q.precision
        ))
    })?;
    let gzip = matches!(encoding.as_deref(), Some(e) if e.eq_ignore_ascii_case("gzip"));
    let now = crate::server::now_ns();
    // Decodes, parses and routes the body; with `sync`, also stores the alert state it
    // changed, which must be stored before the write is acknowledged.
    let take = {
        let state = state.clone();
        let (db, rp) = (q.db.clone(), q.rp.clone());
        move |sync: bool| -> Result<(Outcome, Option<String>), ApiError> {
            let (text, gzip_error) = if gzip {
                let (text, error) = gunzip(&raw, limit)?;
                (Bytes::from(text), error)
            } else {
                (raw, None)
            };
            let outcome = state.ingest.write(&db, &rp, precision, &text, now);
            if sync {
                state.outputs.sync();
            }
            Ok((outcome, gzip_error))
        }
    };
    // A large body, or a compressed one (which may be large once decoded), goes to a bulk
    // thread when there are any.
    let bulk = state
        .bulk
        .as_ref()
        .filter(|_| gzip || raw_len >= LARGE_BODY);
    let (outcome, gzip_error) = match bulk {
        Some(bulk) => bulk
            .run(move || take(true))
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))??,
        None => {
            let taken = take(false)?;
            if !state.outputs.synced() {
                // Storing may wait for another write's commit: not on this worker, and
                // not on more than a few threads at once (one commit serves them all).
                let _slot = SYNCS.acquire().await.expect("never closed");
                let writer = state.clone();
                tokio::task::spawn_blocking(move || writer.outputs.sync())
                    .await
                    .map_err(|e| ApiError::internal(anyhow::anyhow!("storing alert state: {e}")))?;
            }
            taken
        }
    };
    let mut message = outcome.message();
    if let Some(g) = gzip_error {
        message = Some(match message {
            Some(m) => format!("{g}\n{m}"),
            None => g,
        });
    }
    match message {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(m) => {
            if state.config.http.write_tracing {
                tracing::info!(db = q.db, error = %m, "write had bad lines");
            }
            Err(ApiError::bad_request(m))
        }
    }
}

/// Blocking-pool threads storing small writes' alert state at once.
static SYNCS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

async fn read_limited(
    mut body: impl Stream<Item = Result<impl Buf, warp::Error>> + Unpin,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading body: {e}")))?;
        if buf.len() + chunk.remaining() > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body exceeds the limit of {limit} bytes"),
    )
}

/// Decodes a gzip body. A corrupt or truncated stream keeps the lines that arrived whole
/// (those ended by a newline) and reports the rest; a cut line is never taken.
fn gunzip(raw: &[u8], limit: usize) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let mut out = Vec::with_capacity(raw.len() * 4);
    let mut dec = flate2::read::MultiGzDecoder::new(raw).take(limit as u64 + 1);
    match dec.read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(too_large(limit)),
        Ok(_) => Ok((out, None)),
        Err(e) => {
            let whole = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let lost = out.len() - whole;
            out.truncate(whole);
            let msg = format!(
                "gzip body is corrupt or truncated ({e}): kept the {} complete lines before it, dropped {lost} trailing bytes",
                out.iter().filter(|&&b| b == b'\n').count()
            );
            Ok((out, Some(msg)))
        }
    }
}
