//! API errors as Kapacitor sends them: a status code and `{"error": "..."}`.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(error: anyhow::Error) -> ApiError {
        tracing::error!(error = format!("{error:#}"), "request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}"))
    }
}

impl warp::reject::Reject for ApiError {}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        warp::reply::with_status(
            warp::reply::json(&Body {
                error: &self.message,
            }),
            self.status,
        )
        .into_response()
    }
}

/// A handler's result: any reply, or an error reply.
pub type ApiResult = Result<Response, ApiError>;

/// Turns an [`ApiResult`] into a reply warp accepts.
pub fn respond(r: ApiResult) -> Response {
    match r {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

/// Maps warp's rejections (unknown path, wrong method, bad body) to Kapacitor-style errors.
pub async fn recover(rej: warp::Rejection) -> Result<Response, Infallible> {
    let e = if rej.is_not_found() {
        ApiError::not_found("not found")
    } else if let Some(e) = rej.find::<ApiError>() {
        ApiError::new(e.status, e.message.clone())
    } else if rej.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Kapacitor routes per method: a path it has under another method is unknown.
        ApiError::not_found("not found")
    } else if let Some(e) = rej.find::<warp::reject::PayloadTooLarge>() {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
    } else if let Some(e) = rej.find::<warp::filters::body::BodyDeserializeError>() {
        ApiError::bad_request(format!("invalid JSON: {e}"))
    } else if let Some(e) = rej.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(e.to_string())
    } else if let Some(e) = rej.find::<warp::reject::LengthRequired>() {
        ApiError::new(StatusCode::LENGTH_REQUIRED, e.to_string())
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, format!("{rej:?}"))
    };
    Ok(e.into_response())
}
