//! `[load]`: tasks, templates and topic handlers kept as files (a GitOps workflow), loaded at
//! start through the server's own API as Kapacitor's load service does:
//!
//! - `<dir>/templates/<id>.tick`: templates;
//! - `<dir>/tasks/<id>.tick`: tasks (type and dbrps from the script), enabled;
//! - `<dir>/tasks/<id>.{json,yaml,yml}`: tasks made from a template (`template-id`, `vars`,
//!   `dbrps`), enabled;
//! - `<dir>/handlers/*.{json,yaml,yml}`: topic handlers (`topic`, `id`, `kind`, `options`).
//!
//! Existing ones are changed and reloaded. What an earlier load made and whose file is gone is
//! deleted (the store remembers what was loaded).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::server::State;
use crate::store;

/// Loads the directory in the background once the API answers at `url`.
pub fn start(state: Arc<State>, url: String) {
    if !state.config.load.enabled {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("farad-load".into())
        .spawn(move || {
            // Its own API, over loopback: the certificate names the public host, not this.
            let client = Client::new(Some(url))
                .with_bearer(state.auth.internal_token())
                .skip_verify(state.config.http.https_enabled);
            match load(&state, &client) {
                Ok(n) => {
                    tracing::info!(items = n, dir = %state.config.load.dir.display(), "loaded")
                }
                Err(e) => tracing::error!(error = format!("{e:#}"), "loading [load] dir failed"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the load service");
    }
}

/// The files of `dir` with one of `exts`, sorted.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    out.sort();
    out
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_doc(p: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let is_json = p.extension().is_some_and(|e| e == "json");
    if is_json {
        serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", p.display()))
    } else {
        serde_norway::from_str(&text).with_context(|| format!("{}: invalid YAML", p.display()))
    }
}

/// Creates a task, or changes and reloads it.
fn put_task(c: &Client, id: &str, mut body: Value) -> Result<()> {
    if c.get(&format!("/tasks/{id}")).is_ok() {
        c.patch(&format!("/tasks/{id}"), body.to_string().as_bytes())?;
        for status in ["disabled", "enabled"] {
            let s = json!({ "status": status }).to_string();
            c.patch(&format!("/tasks/{id}"), s.as_bytes())?;
        }
    } else {
        body["id"] = json!(id);
        body["status"] = json!("enabled");
        c.post("/tasks", body.to_string().as_bytes())?;
    }
    Ok(())
}

/// Loads everything; returns how many items. Stops at the first file that fails.
fn load(state: &State, c: &Client) -> Result<usize> {
    let dir = &state.config.load.dir;
    if !dir.is_dir() {
        tracing::debug!(dir = %dir.display(), "no load directory");
        return Ok(0);
    }
    let mut loaded: Vec<String> = Vec::new();
    for f in files(&dir.join("templates"), &["tick"]) {
        let id = stem(&f);
        let script = std::fs::read_to_string(&f)?;
        let body = json!({ "id": id, "script": script }).to_string();
        if c.get(&format!("/templates/{id}")).is_ok() {
            c.patch(&format!("/templates/{id}"), body.as_bytes())
        } else {
            c.post("/templates", body.as_bytes())
        }
        .with_context(|| format!("loading {}", f.display()))?;
        loaded.push(format!("templates/{id}"));
    }
    let tasks = dir.join("tasks");
    for f in files(&tasks, &["tick"]) {
        let id = stem(&f);
        let script = std::fs::read_to_string(&f)?;
        put_task(c, &id, json!({ "script": script }))
            .with_context(|| format!("loading {}", f.display()))?;
        loaded.push(format!("tasks/{id}"));
    }
    for f in files(&tasks, &["json", "yaml", "yml"]) {
        let id = stem(&f);
        let doc = read_doc(&f)?;
        let mut body = json!({});
        for key in ["template-id", "vars", "dbrps"] {
            if let Some(v) = doc.get(key) {
                body[key] = v.clone();
            }
        }
        put_task(c, &id, body).with_context(|| format!("loading {}", f.display()))?;
        loaded.push(format!("tasks/{id}"));
    }
    for f in files(&dir.join("handlers"), &["json", "yaml", "yml"]) {
        let doc = read_doc(&f)?;
        let (Some(topic), Some(id)) = (doc["topic"].as_str(), doc["id"].as_str()) else {
            bail!("{}: a handler needs a topic and an id", f.display());
        };
        let name = f.to_string_lossy().into_owned();
        crate::cli::client::define_topic_handler(c, &[name])
            .with_context(|| format!("loading {}", f.display()))?;
        loaded.push(format!("handlers/{topic}/{id}"));
    }
    // What an earlier load made and is no longer there goes.
    for (key, _) in state.store.list(&store::LOADED)? {
        if loaded.contains(&key) {
            continue;
        }
        let path = match key.split_once('/') {
            Some(("handlers", rest)) => match rest.split_once('/') {
                Some((topic, id)) => format!("/alerts/topics/{topic}/handlers/{id}"),
                None => continue,
            },
            _ => format!("/{key}"),
        };
        if let Err(e) = c.delete(&path) {
            tracing::warn!(
                item = key,
                error = format!("{e:#}"),
                "removing an unloaded item"
            );
        }
        state.store.delete(&store::LOADED, &key)?;
    }
    for key in &loaded {
        state.store.put(&store::LOADED, key, &Value::Null)?;
    }
    Ok(loaded.len())
}
