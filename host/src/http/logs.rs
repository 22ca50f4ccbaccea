//! `GET /kapacitor/v1preview/logs`: a log session that streams the server's log records
//! matching the query's tags (`?task=cpu&lvl=error`, `lvl=warn+` for a level and above) until
//! the client goes away; JSON lines when the client accepts `application/json`, logfmt
//! otherwise. Served beside warp (see [`crate::listen`]): its body has no end.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;

use crate::log_sessions;
use crate::server::State;

type BoxBody =
    http_body_util::combinators::BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn reply(status: StatusCode, content_type: &str, body: BoxBody) -> hyper::Response<BoxBody> {
    let mut r = hyper::Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = content_type.parse() {
        h.insert("Content-Type", v);
    }
    if let Ok(v) = crate::VERSION.parse() {
        h.insert("X-Kapacitor-Version", v);
    }
    r
}

fn error(status: StatusCode, message: &str) -> hyper::Response<BoxBody> {
    let body = serde_json::json!({ "error": message }).to_string();
    let body = http_body_util::Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed();
    reply(status, "application/json; charset=utf-8", body)
}

pub async fn serve(
    state: &Arc<State>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<BoxBody> {
    if req.method() != hyper::Method::GET {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    if state.auth.enabled {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (s, q) = (state.clone(), query.clone());
        let decided = tokio::task::spawn_blocking(move || {
            s.auth
                .check("GET", "/kapacitor/v1preview/logs", auth.as_deref(), &q)
        })
        .await;
        match decided {
            Ok(Ok(())) => {}
            Ok(Err(crate::auth::Denied::Forbidden(m))) => {
                return error(StatusCode::FORBIDDEN, &m);
            }
            Ok(Err(crate::auth::Denied::Unauthenticated(m))) => {
                return error(StatusCode::UNAUTHORIZED, &m);
            }
            Err(_) => return error(StatusCode::UNAUTHORIZED, "authorization failed"),
        }
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let mut tags = Vec::new();
    let mut min = tracing::Level::TRACE;
    for (i, (k, v)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(p, _)| p == k) {
            return error(
                StatusCode::BAD_REQUEST,
                "query params cannot contain duplicate params",
            );
        }
        // Credentials in the query are not tags.
        if state.auth.enabled && (k == "u" || k == "p") {
            continue;
        }
        if let Some(level) = v.strip_suffix('+').filter(|_| k == "lvl") {
            match log_sessions::parse_level(level) {
                Some(l) => min = l,
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid level {level:?}: debug, info, warn or error"),
                    );
                }
            }
            continue;
        }
        tags.push((k.clone(), v.clone()));
    }
    let json =
        req.headers().get("accept").and_then(|v| v.to_str().ok()) == Some("application/json");
    let session = log_sessions::subscribe(tags, min, json);
    let frames = futures_util::stream::unfold(session, |mut s| async move {
        let line = s.rx.recv().await?;
        Some((Ok(hyper::body::Frame::data(line)), s))
    });
    let body = http_body_util::StreamBody::new(frames).boxed();
    let content_type = if json {
        "application/json"
    } else {
        "application/logfmt"
    };
    reply(StatusCode::OK, content_type, body)
}
