//! `/kapacitor/v1/templates`: task templates, stored durably. A template is a TICKscript with
//! `var x type` declarations; tasks made from it (`template-id` and `vars`) take its script
//! and type, and follow it when it changes: a `PATCH` checks every dependent task against the
//! new script first, then stores them all and restarts the enabled ones.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult};
use super::tasks::{blocking, compile, valid_id};
use super::with_state;
use crate::server::State;
use crate::store::{self, DbRp, TaskRecord, TaskStatus, TaskType};
use farad_runtime::pipeline::{self, BuildOptions};

const MAX_BODY: u64 = 16 * 1024 * 1024;

/// A template as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: TaskType,
    pub script: String,
    pub created: String,
    pub modified: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TemplateRequest {
    #[serde(default)]
    id: String,
    #[serde(rename = "type", default)]
    kind: Option<TaskType>,
    #[serde(default)]
    script: String,
}

type Query = HashMap<String, String>;

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let s = move || with_state(state.clone());
    let list = warp::path!("kapacitor" / "v1" / "templates")
        .and(warp::get())
        .and(s())
        .and(warp::query::<Vec<(String, String)>>())
        .then(|s: Arc<State>, q: Vec<(String, String)>| blocking(move || list(&s, &q)));
    let create = warp::path!("kapacitor" / "v1" / "templates")
        .and(warp::post())
        .and(s())
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || create(&s, &body)));
    let get = warp::path!("kapacitor" / "v1" / "templates" / String)
        .and(warp::get())
        .and(s())
        .and(warp::query::<Query>())
        .then(|id: String, s: Arc<State>, q: Query| blocking(move || get(&s, &id, &q)));
    let update = warp::path!("kapacitor" / "v1" / "templates" / String)
        .and(warp::patch())
        .and(s())
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::bytes())
        .then(|id: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || update(&s, &id, &body))
        });
    let delete = warp::path!("kapacitor" / "v1" / "templates" / String)
        .and(warp::delete())
        .and(s())
        .then(|id: String, s: Arc<State>| {
            blocking(move || {
                s.store
                    .delete(&store::TEMPLATES, &id)
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

/// Checks a template's script as a template (vars may lack values): its plan.
fn check(state: &State, kind: TaskType, script: &str) -> Result<pipeline::Plan, String> {
    let opts = BuildOptions {
        task_type: Some(match kind {
            TaskType::Stream => pipeline::TaskType::Stream,
            TaskType::Batch => pipeline::TaskType::Batch,
        }),
        vars: HashMap::new(),
        allow_unset_vars: true,
        udfs: Some(state.udfs.signatures()),
    };
    pipeline::compile(script, &opts)
        .map_err(|d| format!("invalid TICKscript: {}", d.one_line(script)))
}

/// The task type a script's source node makes.
pub(super) fn script_type(script: &str) -> Result<TaskType, ApiError> {
    let opts = BuildOptions {
        allow_unset_vars: true,
        ..BuildOptions::default()
    };
    match pipeline::compile(script, &opts) {
        Ok(p) => Ok(match p.task_type {
            pipeline::TaskType::Stream => TaskType::Stream,
            pipeline::TaskType::Batch => TaskType::Batch,
        }),
        Err(d) => Err(ApiError::bad_request(format!(
            "invalid TICKscript: {}",
            d.one_line(script)
        ))),
    }
}

fn template_json(state: &State, t: &TemplateRecord, formatted: bool) -> Value {
    let (dot, vars, error) = match check(state, t.kind, &t.script) {
        Ok(plan) => (
            plan.dot(&t.id),
            Value::Object(pipeline::vars::to_json(&plan.vars)),
            String::new(),
        ),
        Err(e) => (String::new(), json!({}), e),
    };
    json!({
        "link": {"rel": "self", "href": format!("/kapacitor/v1/templates/{}", t.id)},
        "id": t.id,
        "type": t.kind,
        "script": script_view(&t.script, formatted),
        "vars": vars,
        "dot": dot,
        "error": error,
        "created": t.created,
        "modified": t.modified,
    })
}

/// The script as asked: Kapacitor's canonical format, unless it does not parse, or raw.
fn script_view(script: &str, formatted: bool) -> String {
    match farad_runtime::tick::parse(script) {
        (program, diags) if formatted && diags.is_empty() => {
            farad_runtime::tick::fmt::format(&program)
        }
        _ => script.to_owned(),
    }
}

fn script_format(q: &str) -> Result<bool, ApiError> {
    match q {
        "" | "formatted" => Ok(true),
        "raw" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "invalid script-format parameter {other:?}"
        ))),
    }
}

const ALL_FIELDS: [&str; 8] = [
    "link", "id", "type", "script", "dot", "error", "created", "modified",
];

fn list(state: &State, q: &[(String, String)]) -> ApiResult {
    let param = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let formatted = script_format(param("script-format"))?;
    let super::ListQuery {
        pattern,
        offset,
        limit,
        fields,
    } = super::ListQuery::parse(q, &ALL_FIELDS, "id")?;
    if let Some(bad) = fields
        .iter()
        .find(|f| !ALL_FIELDS.contains(f) && **f != "vars")
    {
        return Err(ApiError::bad_request(format!("unsupported field {bad:?}")));
    }
    let all = state
        .store
        .list(&store::TEMPLATES)
        .map_err(ApiError::internal)?;
    let templates: Vec<Value> = all
        .iter()
        .filter(|(id, _)| pattern.is_empty() || crate::topics::glob(pattern, id))
        .skip(offset)
        .take(limit)
        .map(|(_, t)| {
            let full = template_json(state, t, formatted);
            let picked: serde_json::Map<String, Value> = fields
                .iter()
                .map(|f| (f.to_string(), full[*f].clone()))
                .collect();
            Value::Object(picked)
        })
        .collect();
    Ok(warp::reply::json(&json!({ "templates": templates })).into_response())
}

fn get(state: &State, id: &str, q: &Query) -> ApiResult {
    let formatted = script_format(q.get("script-format").map_or("", String::as_str))?;
    match state
        .store
        .get(&store::TEMPLATES, id)
        .map_err(ApiError::internal)?
    {
        Some(t) => Ok(warp::reply::json(&template_json(state, &t, formatted)).into_response()),
        None => Err(ApiError::not_found(format!("unknown template {id}"))),
    }
}

fn create(state: &State, body: &[u8]) -> ApiResult {
    let req: TemplateRequest =
        serde_json::from_slice(body).map_err(|_| ApiError::bad_request("invalid JSON"))?;
    let id =
        super::tasks::given_or_new_id(Some(req.id), "template").map_err(ApiError::bad_request)?;
    if req.script.is_empty() {
        return Err(ApiError::bad_request("must provide TICKscript"));
    }
    let kind = match req.kind {
        Some(k) => k,
        None => script_type(&req.script)?,
    };
    check(state, kind, &req.script).map_err(ApiError::bad_request)?;
    let now = farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns());
    let t = TemplateRecord {
        id: id.clone(),
        kind,
        script: req.script,
        created: now.clone(),
        modified: now,
    };
    if !state
        .store
        .insert_new(&store::TEMPLATES, &id, &t)
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::bad_request(format!(
            "template {id} already exists"
        )));
    }
    Ok(warp::reply::json(&template_json(state, &t, true)).into_response())
}

fn update(state: &State, id: &str, body: &[u8]) -> ApiResult {
    let req: TemplateRequest =
        serde_json::from_slice(body).map_err(|_| ApiError::bad_request("invalid JSON"))?;
    let Some(old) = state
        .store
        .get(&store::TEMPLATES, id)
        .map_err(ApiError::internal)?
    else {
        return Err(ApiError::not_found(
            "template does not exist, cannot update",
        ));
    };
    let mut new = old.clone();
    if !req.id.is_empty() {
        if !valid_id(&req.id) {
            return Err(ApiError::bad_request(format!(
                "template ID must contain only letters, numbers, '-', '.' and '_'. {:?}",
                req.id
            )));
        }
        new.id = req.id;
    }
    if let Some(k) = req.kind {
        new.kind = k;
    }
    if !req.script.is_empty() {
        new.script = req.script;
    }
    let plan = check(state, new.kind, &new.script).map_err(ApiError::bad_request)?;
    // Every task of the template, as it will be: all must compile before anything changes.
    let script_dbrps: Vec<DbRp> = plan
        .dbrps
        .iter()
        .map(|(db, rp)| DbRp {
            db: db.clone(),
            rp: rp.clone(),
        })
        .collect();
    let old_has_dbrps = check(state, old.kind, &old.script).is_ok_and(|p| !p.dbrps.is_empty());
    let now = farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns());
    let mut tasks: Vec<(TaskRecord, pipeline::Plan)> = Vec::new();
    for (_, mut t) in state
        .store
        .list(&store::TASKS)
        .map_err(ApiError::internal)?
        .into_iter()
        .filter(|(_, t)| t.template_id == old.id)
    {
        t.template_id = new.id.clone();
        t.script = new.script.clone();
        t.kind = new.kind;
        if old_has_dbrps || !script_dbrps.is_empty() {
            t.dbrps = script_dbrps.clone();
        }
        t.modified = now.clone();
        let plan = compile(state, &t).map_err(|e| {
            ApiError::bad_request(format!("error reloading associated task {}: {e}", t.id))
        })?;
        tasks.push((t, plan));
    }
    new.modified = now;
    if new.id != old.id {
        if !state
            .store
            .insert_new(&store::TEMPLATES, &new.id, &new)
            .map_err(ApiError::internal)?
        {
            return Err(ApiError::bad_request(format!(
                "template {} already exists",
                new.id
            )));
        }
        state
            .store
            .delete(&store::TEMPLATES, &old.id)
            .map_err(ApiError::internal)?;
    } else {
        state
            .store
            .put(&store::TEMPLATES, &new.id, &new)
            .map_err(ApiError::internal)?;
    }
    for (t, plan) in tasks {
        state
            .store
            .put(&store::TASKS, &t.id, &t)
            .map_err(ApiError::internal)?;
        if t.status == TaskStatus::Enabled {
            state.tasks.stop(&t.id);
            let _ = state
                .tasks
                .start(&t.id, &plan, &t.dbrps, &state.ingest.router);
        }
    }
    Ok(warp::reply::json(&template_json(state, &new, true)).into_response())
}

/// A task made from a template: its script and type are the template's.
pub fn apply(state: &State, task: &mut TaskRecord) -> Result<(), ApiError> {
    if task.template_id.is_empty() {
        return Ok(());
    }
    let Some(t) = state
        .store
        .get(&store::TEMPLATES, &task.template_id)
        .map_err(ApiError::internal)?
    else {
        return Err(ApiError::not_found(format!(
            "unknown template {}",
            task.template_id
        )));
    };
    task.script = t.script;
    task.kind = t.kind;
    Ok(())
}
