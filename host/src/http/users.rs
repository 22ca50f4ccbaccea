//! `/kapacitor/v1/users`: the API's users (see [`crate::auth`]), and the guard that checks
//! every request's credentials when `[http] auth-enabled` is on.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use warp::Filter;
use warp::http::{Method, StatusCode};
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::blocking;
use super::with_state;
use crate::auth::{Denied, Permission, UserRecord};
use crate::server::State;
use crate::store;

const BASE: &str = "/kapacitor/v1/users";

/// Passes a request whose credentials allow it; rejects it with 401 or 403 otherwise.
pub fn guard(state: Arc<State>) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(with_state(state))
        .and_then(
            |m: Method,
             path: warp::path::FullPath,
             header: Option<String>,
             query: String,
             s: Arc<State>| async move {
                if !s.auth.enabled {
                    return Ok(());
                }
                let path = path.as_str().to_owned();
                let decided = tokio::task::spawn_blocking(move || {
                    s.auth.check(m.as_str(), &path, header.as_deref(), &query)
                })
                .await
                .unwrap_or_else(|_| Err(Denied::Unauthenticated("authorization failed".into())));
                decided.map_err(|d| {
                    warp::reject::custom(match d {
                        Denied::Unauthenticated(m) => ApiError::new(StatusCode::UNAUTHORIZED, m),
                        Denied::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
                    })
                })
            },
        )
        .untuple_one()
}

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "users")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(with_state(state.clone()))
        .then(|q: Vec<(String, String)>, s: Arc<State>| blocking(move || list(&s, &q)));
    let create = warp::path!("kapacitor" / "v1" / "users")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(1 << 16))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || create(&s, &body)));
    let get = warp::path!("kapacitor" / "v1" / "users" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|name: String, s: Arc<State>| {
            blocking(move || Ok(warp::reply::json(&user_json(&find(&s, &name)?)).into_response()))
        });
    let update = warp::path!("kapacitor" / "v1" / "users" / String)
        .and(warp::patch())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(1 << 16))
        .and(warp::body::bytes())
        .then(|name: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || update(&s, &name, &body))
        });
    let delete = warp::path!("kapacitor" / "v1" / "users" / String)
        .and(warp::delete())
        .and(with_state(state))
        .then(|name: String, s: Arc<State>| {
            blocking(move || {
                s.auth.forget(&name);
                s.store
                    .delete(&store::USERS, &name)
                    .map_err(ApiError::internal)?;
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        });
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
}

fn user_json(u: &UserRecord) -> Value {
    json!({"link": {"rel": "self", "href": format!("{BASE}/{}", u.name)}, "name": u.name,
        "type": u.user_type(), "permissions": u.shown_permissions()})
}

fn find(s: &State, name: &str) -> Result<UserRecord, ApiError> {
    s.store
        .get(&store::USERS, name)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("user does not exist"))
}

fn list(s: &State, q: &[(String, String)]) -> ApiResult {
    let super::ListQuery {
        pattern,
        offset,
        limit,
        fields,
    } = super::ListQuery::parse(q, &["link", "name", "type", "permissions"], "name")?;
    let users = s.store.list(&store::USERS).map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for (_, u) in users
        .iter()
        .filter(|(n, _)| pattern.is_empty() || crate::topics::glob(pattern, n))
        .skip(offset)
        .take(limit)
    {
        let all = user_json(u);
        let mut m = Map::new();
        for f in &fields {
            match all.get(*f) {
                Some(v) => m.insert((*f).to_owned(), v.clone()),
                None => return Err(ApiError::bad_request(format!("unsupported field {f:?}"))),
            };
        }
        out.push(Value::Object(m));
    }
    Ok(warp::reply::json(&json!({ "users": out })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    permissions: Vec<Permission>,
}

fn admin(kind: Option<&str>) -> Result<Option<bool>, ApiError> {
    match kind {
        None | Some("") => Ok(None),
        Some("normal") => Ok(Some(false)),
        Some("admin") => Ok(Some(true)),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid JSON: unknown UserType {other}"
        ))),
    }
}

fn invalid(e: serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("invalid JSON: {e}"))
}

fn create(s: &State, body: &[u8]) -> ApiResult {
    let req: CreateUser = serde_json::from_slice(body).map_err(invalid)?;
    crate::auth::check_name(&req.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if req.password.is_empty() {
        return Err(ApiError::bad_request("password is required"));
    }
    let is_admin = admin(req.kind.as_deref())?.unwrap_or(false);
    if s.auth.enabled && !is_admin && s.auth.no_users() {
        return Err(ApiError::bad_request(
            "the first user must be an admin (\"type\": \"admin\")",
        ));
    }
    let user = UserRecord {
        name: req.name.clone(),
        hash: s.auth.hash(&req.password).map_err(ApiError::internal)?,
        admin: is_admin,
        permissions: req.permissions,
    };
    if !s
        .store
        .insert_new(&store::USERS, &user.name, &user)
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::bad_request(format!(
            "failed to create user: user {:?} already exists",
            user.name
        )));
    }
    Ok(warp::reply::json(&user_json(&user)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    #[serde(default)]
    password: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    /// Absent leaves them; `[]` clears them.
    #[serde(default)]
    permissions: Option<Vec<Permission>>,
}

fn update(s: &State, name: &str, body: &[u8]) -> ApiResult {
    let req: UpdateUser = serde_json::from_slice(body).map_err(invalid)?;
    let mut user = find(s, name)?;
    if !req.password.is_empty() {
        user.hash = s.auth.hash(&req.password).map_err(ApiError::internal)?;
    }
    if let Some(a) = admin(req.kind.as_deref())? {
        user.admin = a;
    }
    if let Some(p) = req.permissions {
        user.permissions = p;
    }
    s.store
        .put(&store::USERS, name, &user)
        .map_err(ApiError::internal)?;
    s.auth.forget(name);
    Ok(warp::reply::json(&user_json(&user)).into_response())
}
