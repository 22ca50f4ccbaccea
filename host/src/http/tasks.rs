//! `/kapacitor/v1/tasks`: task definitions, stored durably.
//!
//! Tasks are kept as Kapacitor's JSON describes them. A script is checked before it is stored
//! (an invalid one is refused with every problem and its line:column), and the task's `dot`
//! shows its pipeline. An enabled task runs from the moment it is stored (and again at every
//! start); its node statistics and httpOut results are served here.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

use super::error::{ApiError, ApiResult, respond};
use super::with_state;
use crate::server::State;
use farad_runtime::pipeline::{self, BuildOptions};

use crate::store::{self, DbRp, TaskRecord, TaskStatus, TaskType};

const MAX_BODY: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CreateTask {
    #[serde(default)]
    id: String,
    #[serde(default)]
    template_id: String,
    #[serde(rename = "type")]
    kind: Option<TaskType>,
    #[serde(default)]
    dbrps: Vec<DbRp>,
    #[serde(default)]
    script: String,
    #[serde(default)]
    status: Option<TaskStatus>,
    #[serde(default)]
    vars: serde_json::Map<String, Value>,
}

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let list = warp::path!("kapacitor" / "v1" / "tasks")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|s: Arc<State>, q: String| blocking(move || list(&s, &q)));
    let create = warp::path!("kapacitor" / "v1" / "tasks")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::bytes())
        .then(|s: Arc<State>, body: bytes::Bytes| blocking(move || create(&s, &body)));
    let get = warp::path!("kapacitor" / "v1" / "tasks" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<ViewParams>())
        .then(|id: String, s: Arc<State>, q: ViewParams| blocking(move || get(&s, &id, &q)));
    let delete = warp::path!("kapacitor" / "v1" / "tasks" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .then(|id: String, s: Arc<State>| blocking(move || delete(&s, &id)));
    let update = warp::path!("kapacitor" / "v1" / "tasks" / String)
        .and(warp::patch())
        .and(with_state(state.clone()))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::bytes())
        .then(|id: String, s: Arc<State>, body: bytes::Bytes| {
            blocking(move || update(&s, &id, &body))
        });
    let output = warp::path!("kapacitor" / "v1" / "tasks" / String / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(|id: String, endpoint: String, s: Arc<State>| {
            blocking(move || http_out(&s, &id, &endpoint))
        });
    list.or(create)
        .unify()
        .or(update)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(output)
        .unify()
}

/// Runs a store-touching handler off the async workers.
pub(super) async fn blocking(
    f: impl FnOnce() -> ApiResult + Send + 'static,
) -> warp::reply::Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => respond(r),
        Err(e) => respond(Err(ApiError::internal(anyhow::anyhow!(
            "handler panicked: {e}"
        )))),
    }
}

/// Checks a task's script against its type and vars: the plan, or the error text.
pub(crate) fn compile(state: &State, t: &TaskRecord) -> Result<pipeline::Plan, String> {
    let vars = pipeline::vars::from_json(&t.vars)?;
    let task_type = match t.kind {
        TaskType::Stream => pipeline::TaskType::Stream,
        TaskType::Batch => pipeline::TaskType::Batch,
    };
    let opts = BuildOptions {
        task_type: Some(task_type),
        vars,
        allow_unset_vars: false,
        udfs: Some(state.udfs.signatures()),
    };
    pipeline::compile(&t.script, &opts)
        .map_err(|d| format!("invalid TICKscript: {}", d.one_line(&t.script)))
}

/// How a task is shown: its script `formatted` (Kapacitor's default) or `raw`; its DOT with
/// `attributes` (default) or `labels`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct ViewParams {
    #[serde(default)]
    script_format: String,
    #[serde(default)]
    dot_view: String,
}

#[derive(Clone, Copy)]
struct View {
    formatted: bool,
    labels: bool,
}

const DEFAULT_VIEW: View = View {
    formatted: true,
    labels: false,
};

impl ViewParams {
    fn formatted(&self) -> Result<View, ApiError> {
        let formatted = match self.script_format.as_str() {
            "" | "formatted" => true,
            "raw" => false,
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid script-format parameter {other:?}"
                )));
            }
        };
        let labels = match self.dot_view.as_str() {
            "" | "attributes" => false,
            "labels" => true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid dot-view parameter {other:?}"
                )));
            }
        };
        Ok(View { formatted, labels })
    }
}

fn task_json(state: &State, t: &TaskRecord, view: View) -> Value {
    task_fields(state, t, view, &[])
}

/// The task as the API shows it: its `fields` only, when some are named (the DOT, the
/// formatted script and the stats are worked out only if asked for).
fn task_fields(state: &State, t: &TaskRecord, view: View, fields: &[&str]) -> Value {
    let wanted = |f: &str| fields.is_empty() || fields.contains(&f);
    let mut task = serde_json::Map::new();
    let mut put = |f: &str, value: &dyn Fn() -> Value| {
        if wanted(f) {
            task.insert(f.to_owned(), value());
        }
    };
    put(
        "link",
        &|| json!({"rel": "self", "href": format!("/kapacitor/v1/tasks/{}", t.id)}),
    );
    put("id", &|| json!(t.id));
    put("template-id", &|| json!(t.template_id));
    put("type", &|| json!(t.kind));
    put("dbrps", &|| json!(t.dbrps));
    put("script", &|| {
        json!(match farad_runtime::tick::parse(&t.script) {
            (program, diags) if view.formatted && diags.is_empty() => {
                farad_runtime::tick::fmt::format(&program)
            }
            _ => t.script.clone(),
        })
    });
    put("vars", &|| json!(t.vars));
    put("dot", &|| {
        json!(
            state
                .tasks
                .dot(&t.id, view.labels)
                .unwrap_or_else(|| { compile(state, t).map(|p| p.dot(&t.id)).unwrap_or_default() })
        )
    });
    put("status", &|| json!(t.status));
    put("executing", &|| json!(state.tasks.is_running(&t.id)));
    put("error", &|| json!(state.tasks.error(&t.id)));
    put("stats", &|| state.tasks.stats_json(&t.id));
    put("created", &|| json!(t.created));
    put("modified", &|| json!(t.modified));
    // Go's zero time for a task never enabled, as Kapacitor writes it (clients parse it).
    put("last-enabled", &|| match t.last_enabled.as_str() {
        "" => json!("0001-01-01T00:00:00Z"),
        at => json!(at),
    });
    Value::Object(task)
}

/// The fields of a task in a list, as Kapacitor names them.
const TASK_FIELDS: [&str; 15] = [
    "link",
    "id",
    "type",
    "dbrps",
    "script",
    "dot",
    "status",
    "executing",
    "error",
    "stats",
    "created",
    "modified",
    "last-enabled",
    "vars",
    "template-id",
];

/// `GET /kapacitor/v1/tasks` as Kapacitor answers it: tasks by id, those matching `pattern`
/// (a glob), from `offset`, at most `limit` (100 by default), with only the `fields` asked
/// for (repeated; `id` and `link` always). A negative `limit` is no limit; unlike Kapacitor,
/// which then returns every task, `pattern` and `offset` still apply.
fn list(state: &State, query: &str) -> ApiResult {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let param = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let view = ViewParams {
        script_format: param("script-format").to_owned(),
        dot_view: param("dot-view").to_owned(),
    }
    .formatted()?;
    let number = |k: &str, default: i64| match param(k) {
        "" => Ok(default),
        v => v.parse::<i64>().map_err(|e| {
            ApiError::bad_request(format!(
                "invalid {k} parameter {v:?} must be an integer: {e}"
            ))
        }),
    };
    let (offset, limit) = (number("offset", 0)?, number("limit", 100)?);
    let mut fields: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(f) = fields.iter().find(|f| !TASK_FIELDS.contains(f)) {
        return Err(ApiError::bad_request(format!("unsupported field {f:?}")));
    }
    if !fields.is_empty() {
        fields.extend(["id", "link"]);
    }
    let pattern = param("pattern");
    let all = state
        .store
        .list(&store::TASKS)
        .map_err(ApiError::internal)?;
    let matching = all
        .iter()
        .filter(|(id, _)| pattern.is_empty() || crate::topics::glob(pattern, id));
    // Kapacitor's page: at most `limit`, and none past `offset + limit` of all tasks.
    let size = if limit < 0 {
        usize::MAX
    } else {
        (offset.saturating_add(limit).min(all.len() as i64) - offset).max(0) as usize
    };
    let tasks: Vec<Value> = matching
        .skip(offset.max(0) as usize)
        .take(size)
        .map(|(_, t)| {
            let mut task = task_fields(state, t, view, &fields);
            if t.template_id.is_empty()
                && let Value::Object(m) = &mut task
            {
                m.remove("template-id");
            }
            task
        })
        .collect();
    Ok(warp::reply::json(&json!({ "tasks": tasks })).into_response())
}

fn get(state: &State, id: &str, q: &ViewParams) -> ApiResult {
    let formatted = q.formatted()?;
    match state
        .store
        .get(&store::TASKS, id)
        .map_err(ApiError::internal)?
    {
        Some(t) => Ok(warp::reply::json(&task_json(state, &t, formatted)).into_response()),
        None => Err(ApiError::not_found(format!(
            "no task exists with id {id:?}"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct UpdateTask {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    template_id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<TaskType>,
    #[serde(default)]
    dbrps: Option<Vec<DbRp>>,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    status: Option<TaskStatus>,
    #[serde(default)]
    vars: Option<serde_json::Map<String, Value>>,
}

/// `PATCH /kapacitor/v1/tasks/<id>`: change a task's script, type, dbrps, vars or status; a
/// running task restarts with its new definition, and enabling or disabling starts or stops it.
fn update(state: &State, id: &str, body: &[u8]) -> ApiResult {
    let req: UpdateTask = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let Some(mut rec) = state
        .store
        .get(&store::TASKS, id)
        .map_err(ApiError::internal)?
    else {
        return Err(ApiError::not_found(format!(
            "no task exists with id {id:?}"
        )));
    };
    if req.id.as_deref().is_some_and(|new| new != id) {
        return Err(ApiError::bad_request(
            "renaming a task is not supported: delete and define it again",
        ));
    }
    let now = farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns());
    if let Some(t) = req.template_id {
        rec.template_id = t;
        super::templates::apply(state, &mut rec)?;
    }
    if let Some(k) = req.kind {
        rec.kind = k;
    }
    if let Some(d) = req.dbrps {
        rec.dbrps = d;
    }
    if let Some(s) = req.script {
        rec.script = s;
    }
    if let Some(v) = req.vars {
        rec.vars = v;
    }
    if let Some(st) = req.status {
        if st == TaskStatus::Enabled && rec.status != TaskStatus::Enabled {
            rec.last_enabled = now.clone();
        }
        rec.status = st;
    }
    let plan = compile(state, &rec).map_err(ApiError::bad_request)?;
    if rec.dbrps.is_empty() {
        rec.dbrps = plan
            .dbrps
            .iter()
            .map(|(db, rp)| DbRp {
                db: db.clone(),
                rp: rp.clone(),
            })
            .collect();
    }
    rec.modified = now;
    state
        .store
        .put(&store::TASKS, id, &rec)
        .map_err(ApiError::internal)?;
    state.refresh_task_counts();
    match rec.status {
        TaskStatus::Enabled => {
            let _ = state
                .tasks
                .start(id, &plan, &rec.dbrps, &state.ingest.router);
        }
        TaskStatus::Disabled => {
            state.tasks.stop(id);
        }
    }
    Ok(warp::reply::json(&task_json(state, &rec, DEFAULT_VIEW)).into_response())
}

fn delete(state: &State, id: &str) -> ApiResult {
    state.tasks.stop(id);
    state.tasks.forget_state(id);
    state.outputs.topics.delete_task(id);
    state
        .store
        .delete(&store::TASKS, id)
        .map_err(ApiError::internal)?;
    state.refresh_task_counts();
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn create(state: &State, body: &[u8]) -> ApiResult {
    let req: CreateTask = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let id = given_or_new_id(Some(req.id), "task").map_err(ApiError::bad_request)?;
    if req.template_id.is_empty() && req.script.is_empty() {
        return Err(ApiError::bad_request(
            "must provide TICKscript or template-id",
        ));
    }
    let kind = match (req.kind, req.template_id.is_empty()) {
        (Some(k), _) => k,
        // A template's task takes the template's type.
        (None, false) => TaskType::Stream,
        // As Kapacitor: the script's source node says.
        (None, true) => super::templates::script_type(&req.script)?,
    };
    let now = farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns());
    let status = req.status.unwrap_or(TaskStatus::Disabled);
    let mut rec = TaskRecord {
        id: id.clone(),
        template_id: req.template_id,
        kind,
        dbrps: req.dbrps,
        script: req.script,
        vars: req.vars,
        status,
        created: now.clone(),
        modified: now.clone(),
        last_enabled: if status == TaskStatus::Enabled {
            now
        } else {
            String::new()
        },
    };
    super::templates::apply(state, &mut rec)?;
    let plan = compile(state, &rec).map_err(ApiError::bad_request)?;
    if rec.dbrps.is_empty() {
        let from_script = plan.dbrps.iter().map(|(db, rp)| DbRp {
            db: db.clone(),
            rp: rp.clone(),
        });
        rec.dbrps = from_script.collect();
    }
    if rec.dbrps.is_empty() {
        return Err(ApiError::bad_request(
            "must provide at least one database and retention policy",
        ));
    }
    if !state
        .store
        .insert_new(&store::TASKS, &id, &rec)
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::bad_request(format!("task {id} already exists")));
    }
    state.refresh_task_counts();
    if rec.status == TaskStatus::Enabled {
        // A task that cannot run yet is still stored; its `error` says why.
        let _ = state
            .tasks
            .start(&id, &plan, &rec.dbrps, &state.ingest.router);
    }
    Ok(warp::reply::json(&task_json(state, &rec, DEFAULT_VIEW)).into_response())
}

/// Starts every enabled task in the store (at daemon start).
pub fn start_enabled(state: &State) {
    let tasks = match state.store.list(&store::TASKS) {
        Ok(t) => t,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "listing tasks");
            return;
        }
    };
    for (id, rec) in tasks
        .into_iter()
        .filter(|(_, t)| t.status == TaskStatus::Enabled)
    {
        match compile(state, &rec) {
            Ok(plan) => {
                let _ = state
                    .tasks
                    .start(&id, &plan, &rec.dbrps, &state.ingest.router);
            }
            Err(error) => tracing::error!(task = id, error, "stored task no longer compiles"),
        }
    }
}

/// `GET /kapacitor/v1/tasks/<id>/<endpoint>`: an httpOut node's latest results.
fn http_out(state: &State, id: &str, endpoint: &str) -> ApiResult {
    match state.tasks.http_out(id, endpoint) {
        Some(doc) => Ok(warp::reply::json(&doc).into_response()),
        None => Err(ApiError::not_found(format!(
            "no httpOut endpoint {endpoint:?} on a running task {id:?}"
        ))),
    }
}

/// The id asked for (empty or none: a fresh one), checked against [`valid_id`]; the error
/// names `what` it is for (`task`, `template`, `recording`, `replay`), as Kapacitor does.
pub fn given_or_new_id(id: Option<String>, what: &str) -> Result<String, String> {
    let id = id
        .filter(|i| !i.is_empty())
        .unwrap_or_else(crate::server::new_id);
    if valid_id(&id) {
        Ok(id)
    } else {
        Err(format!(
            "{what} ID must contain only letters, numbers, '-', '.' and '_'. {id:?}"
        ))
    }
}

/// Kapacitor's id rule: letters, digits, `-`, `.`, `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
}
