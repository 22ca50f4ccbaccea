//! The API client commands (`define-udf`, `define-topic-handler`, `show-topic`, `list`,
//! `delete`; `replay` and `import-recording` are in `replay.rs`), talking to a server at `-url`
//! (or `$KAPACITOR_URL`, default `http://localhost:9092`) as Kapacitor's CLI does.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::topics::glob;

/// `http://user:password@host:port` as the URL without its userinfo and the basic auth
/// header it asks for (Kapacitor's CLI takes credentials this way).
fn split_userinfo(url: &str) -> (String, Option<String>) {
    use base64::Engine;
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    let Some((userinfo, host)) = rest[..host_end].rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let creds = format!("{}:{}", decode(user), decode(pass));
    (
        format!("{scheme}://{host}{}", &rest[host_end..]),
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )),
    )
}

/// A server's API.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// The Authorization header: basic auth from the URL's `user:password@`, or a bearer.
    authorization: Option<String>,
}

impl Client {
    pub fn new(url: Option<String>) -> Client {
        let base = url
            .or_else(|| {
                std::env::var("KAPACITOR_URL")
                    .ok()
                    .filter(|u| !u.is_empty())
            })
            .unwrap_or_else(|| "http://localhost:9092".into());
        let mut agent = ureq::Agent::config_builder().http_status_as_error(false);
        if base.starts_with("https:") {
            agent = agent.tls_config(crate::tls::system());
        }
        let agent = agent.build().new_agent();
        let (base, authorization) = split_userinfo(base.trim_end_matches('/'));
        Client {
            base,
            agent,
            authorization,
        }
    }

    /// Accepts any server certificate (Kapacitor's `-skipVerify`): for self-signed ones.
    pub fn skip_verify(mut self, skip: bool) -> Client {
        if skip {
            let tls = ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build();
            self.agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .tls_config(tls)
                .build()
                .new_agent();
        }
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_bearer(mut self, token: &str) -> Client {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(a) => r.header("Authorization", a),
            None => r,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/kapacitor/v1{path}", self.base)
    }

    /// Reads a reply: the JSON body on success, the server's `{"error": ...}` otherwise.
    fn reply(&self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value> {
        let mut r = r.with_context(|| format!("cannot reach {}", self.base))?;
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?;
        let json: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).unwrap_or(Value::String(body))
        };
        if status >= 300 {
            match json.get("error").and_then(Value::as_str) {
                Some(e) => bail!("{e}"),
                None => bail!("the server answered {status}: {json}"),
            }
        }
        Ok(json)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.reply(self.auth(self.agent.get(self.url(path))).call())
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Result<Value> {
        self.reply(self.auth(self.agent.post(self.url(path))).send(body))
    }

    pub fn patch(&self, path: &str, body: &[u8]) -> Result<Value> {
        self.reply(self.auth(self.agent.patch(self.url(path))).send(body))
    }

    pub fn put(&self, path: &str, body: &[u8]) -> Result<Value> {
        self.reply(self.auth(self.agent.put(self.url(path))).send(body))
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        self.reply(self.auth(self.agent.delete(self.url(path))).call())
    }

    /// Every item of a paged list (`path` may carry a query; under `key`), asked for 100
    /// at a time as Kapacitor's CLI asks, as `{key: [...]}`.
    pub fn list_all(&self, path: &str, key: &str) -> Result<Value> {
        const PAGE: usize = 100;
        let join = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let page = self.get(&format!("{path}{join}offset={}&limit={PAGE}", items.len()))?;
            let got = page[key].as_array().cloned().unwrap_or_default();
            let n = got.len();
            items.extend(got);
            if n < PAGE {
                return Ok(serde_json::json!({ key: items }));
            }
        }
    }

    /// The ids listed at `path` (under `key`) that match any of `patterns` (Go's
    /// `path.Match`), as Kapacitor's CLI takes the ids it acts on: none is no error.
    pub fn matching(&self, path: &str, key: &str, patterns: &[String]) -> Result<Vec<String>> {
        if patterns.is_empty() {
            bail!("must pass at least one ID or pattern");
        }
        let all = self.list_all(path, key)?;
        Ok(all[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["id"].as_str())
            .filter(|id| patterns.iter().any(|p| glob(p, id)))
            .map(str::to_owned)
            .collect())
    }

    /// Follows the server's log (`GET /kapacitor/v1preview/logs` with `tags` as the query),
    /// copying each record to `out` as it comes, until the server closes the stream.
    pub fn follow_logs(
        &self,
        tags: &[(String, String)],
        out: &mut dyn std::io::Write,
    ) -> Result<()> {
        let query = serde_urlencoded::to_string(tags)?;
        let url = format!("{}/kapacitor/v1preview/logs?{query}", self.base);
        let r = self.auth(self.agent.get(&url)).call();
        let mut r = r.with_context(|| format!("cannot reach {}", self.base))?;
        if r.status().as_u16() >= 300 {
            return self.reply(Ok(r)).map(|_| ());
        }
        let mut body = r.body_mut().as_reader();
        let mut buf = [0u8; 8192];
        loop {
            let n = std::io::Read::read(&mut body, &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            out.write_all(&buf[..n])?;
            out.flush()?;
        }
    }

    /// Streams the body of a GET into `out`, with a progress bar; the bytes written and the
    /// length announced.
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> Result<(u64, Option<u64>)> {
        let r = self.auth(self.agent.get(self.url(path))).call();
        let mut r = r.with_context(|| format!("cannot reach {}", self.base))?;
        if r.status().as_u16() >= 300 {
            return self.reply(Ok(r)).map(|_| (0, None));
        }
        let announced = r
            .headers()
            .get("Content-Length")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let progress = super::progress::Progress::bytes(announced);
        let mut counted = super::progress::Counting {
            inner: out,
            progress: &progress,
        };
        let n = std::io::copy(&mut r.body_mut().as_reader(), &mut counted);
        progress.finish();
        Ok((n?, announced))
    }
}

/// `farad define-udf NAME FILE`: uploads a Wasm component as UDF `NAME`.
/// `farad logs [k=v ...]` and `farad watch TASK [k=v ...]`: the matching log records, as
/// they are written, until interrupted.
pub fn logs(c: &Client, task: Option<&str>, pairs: &[String]) -> Result<()> {
    let mut tags: Vec<(String, String)> = Vec::new();
    if let Some(t) = task {
        tags.push(("task".into(), t.into()));
    }
    for p in pairs {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.contains('=') => tags.push((k.into(), v.into())),
            _ => bail!("bad keyvalue pair: '{p}'"),
        }
    }
    c.follow_logs(&tags, &mut std::io::stdout().lock())
}

/// `show-topic-handler TOPIC HANDLER`, as Kapacitor prints it.
pub fn show_topic_handler(c: &Client, topic: &str, handler: &str) -> Result<()> {
    let h = c.get(&format!("/alerts/topics/{topic}/handlers/{handler}"))?;
    let text = |k: &str| h[k].as_str().unwrap_or("").to_owned();
    println!("ID: {}", text("id"));
    println!("Topic: {topic}");
    println!("Kind: {}", text("kind"));
    println!("Match: {}", text("match"));
    println!("Options: {}", h["options"]);
    Ok(())
}

pub fn define_udf(c: &Client, name: &str, file: &Path) -> Result<()> {
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let info = c.post(&format!("/udfs/{name}"), &wasm)?;
    println!(
        "UDF {name} version {} defined ({} bytes)",
        info["version"], info["size"]
    );
    Ok(())
}

/// `farad define-handler-plugin KIND FILE`: uploads a Wasm component as handler kind `KIND`.
pub fn define_handler_plugin(c: &Client, kind: &str, file: &Path) -> Result<()> {
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let info = c.post(&format!("/handler-plugins/{kind}"), &wasm)?;
    println!(
        "handler plugin {kind} defined ({} bytes; property {:?}, config section [{}])",
        info["size"],
        text(&info["property"]),
        text(&info["config-section"])
    );
    Ok(())
}

/// `farad service-tests NAME|PATTERN...`: runs the matching services' tests, as Kapacitor's
/// CLI: each result printed, failures too (the exit code is for errors reaching the server).
pub fn service_tests(c: &Client, patterns: &[String]) -> Result<()> {
    if patterns.is_empty() {
        bail!("must provide at least one service name or pattern.");
    }
    let all = c.get("/service-tests")?;
    let names: Vec<&str> = all["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    let mut rows = Vec::new();
    for p in patterns {
        for n in names.iter().filter(|n| glob(p, n)) {
            let r = c.post(&format!("/service-tests/{n}"), b"{}")?;
            rows.push(vec![
                n.to_string(),
                text(&r["success"]),
                text(&r["message"]),
            ]);
        }
    }
    print_columns(
        &[Col::Fixed(20), Col::Fixed(10), Col::Last],
        &["Service", "Success", "Message"],
        &rows,
    );
    Ok(())
}

/// `farad silence ...`: creates a silence; prints its id and end.
pub fn silence(c: &Client, body: &Value) -> Result<()> {
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let s = c.post("/alerts/silences", body.to_string().as_bytes())?;
    println!("silence {} until {}", text(&s["id"]), text(&s["expires"]));
    Ok(())
}

/// `farad list udfs [pattern...]`.
pub fn list(c: &Client, kind: &str, patterns: &[String]) -> Result<()> {
    match kind {
        "udfs" => {
            let all = c.get("/udfs")?;
            let rows: Vec<Vec<String>> = all["udfs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|u| matches_any(u["name"].as_str().unwrap_or(""), patterns))
                .map(|u| {
                    let s = |k: &str| match &u[k] {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    };
                    let options: Vec<&str> = u["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o["name"].as_str())
                        .collect();
                    vec![
                        s("name"),
                        s("version"),
                        s("wants"),
                        s("provides"),
                        s("size"),
                        options.join(","),
                        s("modified"),
                    ]
                })
                .collect();
            print_table(
                &[
                    "Name", "Version", "Wants", "Provides", "Size", "Options", "Modified",
                ],
                &rows,
            );
            Ok(())
        }
        "service-tests" => {
            let all = c.get("/service-tests")?;
            let rows: Vec<Vec<String>> = all["services"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| matches_any(s["name"].as_str().unwrap_or(""), patterns))
                .map(|s| vec![text(&s["name"])])
                .collect();
            print_table(&["Service Name"], &rows);
            Ok(())
        }
        "handler-plugins" => {
            let all = c.get("/handler-plugins")?;
            let rows: Vec<Vec<String>> = all["plugins"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| matches_any(p["kind"].as_str().unwrap_or(""), patterns))
                .map(|p| {
                    vec![
                        text(&p["kind"]),
                        text(&p["property"]),
                        text(&p["config-section"]),
                        if p["builtin"] == Value::Bool(true) {
                            "built in"
                        } else {
                            "uploaded"
                        }
                        .to_owned(),
                    ]
                })
                .collect();
            print_table(&["Kind", "Property", "Config", "Source"], &rows);
            Ok(())
        }
        "topics" => {
            let all = c.get("/alerts/topics")?;
            let rows: Vec<Vec<String>> = all["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| matches_any(t["id"].as_str().unwrap_or(""), patterns))
                .map(|t| vec![text(&t["id"]), text(&t["level"]), text(&t["collected"])])
                .collect();
            print_columns(
                &[Col::Grow(2), Col::Grow(8), Col::Right(10)],
                &["ID", "Level", "Collected"],
                &rows,
            );
            Ok(())
        }
        "silences" => {
            let all = c.get("/alerts/silences")?;
            let rows: Vec<Vec<String>> = all["silences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| matches_any(s["id"].as_str().unwrap_or(""), patterns))
                .map(|s| {
                    let tags: Vec<String> = s["tags"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}={}", text(v)))
                        .collect();
                    vec![
                        text(&s["id"]),
                        text(&s["topic"]),
                        text(&s["event"]),
                        tags.join(","),
                        text(&s["expires"]),
                        text(&s["comment"]),
                    ]
                })
                .collect();
            print_table(
                &["ID", "Topic", "Event", "Tags", "Expires", "Comment"],
                &rows,
            );
            Ok(())
        }
        "topic-handlers" => {
            // As Kapacitor: the first pattern picks topics (all without one), the rest
            // handlers.
            let (topics, handlers) = match patterns.split_first() {
                Some((t, h)) => (t.as_str(), h),
                None => ("", &[][..]),
            };
            let all = c.get("/alerts/topics")?;
            let mut rows: Vec<Vec<String>> = Vec::new();
            for topic in all["topics"].as_array().into_iter().flatten() {
                let id = topic["id"].as_str().unwrap_or("");
                if !topics.is_empty() && !glob(topics, id) {
                    continue;
                }
                let listed = c.get(&format!("/alerts/topics/{id}/handlers"))?;
                rows.extend(
                    listed["handlers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|h| matches_any(h["id"].as_str().unwrap_or(""), handlers))
                        .map(|h| vec![id.to_owned(), text(&h["id"]), text(&h["kind"])]),
                );
            }
            print_columns(
                &[Col::Grow(10), Col::Grow(10), Col::Grow(10)],
                &["Topic", "ID", "Kind"],
                &rows,
            );
            Ok(())
        }
        "tasks" => {
            let all = c.list_all("/tasks", "tasks")?;
            let rows: Vec<Vec<String>> = super::tasks::task_rows(&all)
                .into_iter()
                .filter(|r| matches_any(&r[0], patterns))
                .collect();
            print_columns(
                &[
                    Col::Grow(2),
                    Col::Fixed(10),
                    Col::Fixed(10),
                    Col::Fixed(10),
                    Col::Last,
                ],
                &[
                    "ID",
                    "Type",
                    "Status",
                    "Executing",
                    "Databases and Retention Policies",
                ],
                &rows,
            );
            Ok(())
        }
        "templates" => {
            let all = c.list_all("/templates?fields=type&fields=vars", "templates")?;
            let rows: Vec<Vec<String>> = super::tasks::template_rows(&all)
                .into_iter()
                .filter(|r| matches_any(&r[0], patterns))
                .collect();
            print_columns(
                &[Col::Grow(2), Col::Fixed(10), Col::Fixed(40)],
                &["ID", "Type", "Vars"],
                &rows,
            );
            Ok(())
        }
        "recordings" => {
            let all = c.list_all("/recordings", "recordings")?;
            let rows: Vec<Vec<String>> = super::replay::recording_rows(&all)
                .into_iter()
                .filter(|r| matches_any(&r[0], patterns))
                .collect();
            print_columns(
                &[
                    Col::Grow(2),
                    Col::Fixed(8),
                    Col::Fixed(10),
                    Col::Fixed(10),
                    Col::Fixed(23),
                ],
                &["ID", "Type", "Status", "Size", "Date"],
                &rows,
            );
            Ok(())
        }
        "replays" => {
            let all = c.list_all("/replays", "replays")?;
            let rows: Vec<Vec<String>> = super::replay::replay_rows(&all)
                .into_iter()
                .filter(|r| matches_any(&r[0], patterns))
                .collect();
            print_columns(
                &[
                    Col::Grow(2),
                    Col::Grow(4),
                    Col::Grow(9),
                    Col::Fixed(9),
                    Col::Fixed(8),
                    Col::Fixed(23),
                ],
                &["ID", "Task", "Recording", "Status", "Clock", "Date"],
                &rows,
            );
            Ok(())
        }
        other => {
            bail!(
                "cannot list {other:?} yet: this version lists tasks, templates, udfs, handler-plugins, service-tests, topics, topic-handlers, recordings and replays"
            )
        }
    }
}

/// `farad delete udfs NAME...`.
pub fn delete(c: &Client, kind: &str, ids: &[String]) -> Result<()> {
    match kind {
        "handler-plugins" => {
            for id in ids {
                c.delete(&format!("/handler-plugins/{id}"))?;
            }
            Ok(())
        }
        "udfs" => {
            for id in ids {
                c.delete(&format!("/udfs/{id}"))?;
            }
            Ok(())
        }
        "topics" => {
            for id in c.matching("/alerts/topics", "topics", ids)? {
                c.delete(&format!("/alerts/topics/{id}"))?;
            }
            Ok(())
        }
        "topic-handlers" => {
            let Some((topic, handlers)) = ids.split_first() else {
                bail!("delete topic-handlers needs a TOPIC and handler ids");
            };
            let listed = format!("/alerts/topics/{topic}/handlers");
            for id in c.matching(&listed, "handlers", handlers)? {
                c.delete(&format!("/alerts/topics/{topic}/handlers/{id}"))?;
            }
            Ok(())
        }
        "silences" => {
            for id in ids {
                c.delete(&format!("/alerts/silences/{id}"))?;
            }
            Ok(())
        }
        "recordings" | "replays" | "tasks" | "templates" => {
            let listed = match kind {
                "tasks" => "/tasks?fields=id".to_owned(),
                _ => format!("/{kind}"),
            };
            for id in c.matching(&listed, kind, ids)? {
                c.delete(&format!("/{kind}/{id}"))?;
            }
            Ok(())
        }
        other => bail!(
            "cannot delete {other:?} yet: this version deletes tasks, templates, udfs, handler-plugins, topics, topic-handlers, recordings and replays"
        ),
    }
}

/// Kapacitor's CLI patterns: Go's `path.Match` (`*`, `?`, `[...]`).
fn matches_any(name: &str, patterns: &[String]) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob(p, name))
}

/// A column of Kapacitor's fixed-format tables (Go's `%-Nv`, `%Nv`).
pub enum Col {
    /// As wide as its longest cell (at least the given width), and one space.
    Grow(usize),
    /// Padded to the width, never cut.
    Fixed(usize),
    /// Right-aligned in the width.
    Right(usize),
    /// As it is, ending the line.
    Last,
}

/// Rows printed as Kapacitor's CLI prints that table, trailing spaces and all.
pub fn print_columns(cols: &[Col], header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Col::Grow(min) => {
                // Go's `len`: bytes.
                let longest = rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, String::len))
                    .max()
                    .unwrap_or(0);
                longest.max(*min) + 1
            }
            Col::Fixed(w) | Col::Right(w) => *w,
            Col::Last => 0,
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for ((c, w), cell) in cols.iter().zip(&widths).zip(cells) {
            match c {
                Col::Right(_) => out.push_str(&format!("{cell:>w$}")),
                _ => out.push_str(&format!("{cell:<w$}")),
            }
        }
        println!("{out}");
    };
    line(header);
    for r in rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// Left-aligned columns separated by two spaces, for Farad's own tables.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// A JSON value as a table cell: strings without quotes.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// `farad define-topic-handler FILE` (the spec names its topic and id) or
/// `farad define-topic-handler TOPIC ID FILE`: creates the handler, or replaces it.
pub fn define_topic_handler(c: &Client, args: &[String]) -> Result<()> {
    let (file, topic, id) = match args {
        [file] => (file, None, None),
        [topic, id, file] => (file, Some(topic), Some(id)),
        _ => bail!("usage: define-topic-handler FILE, or TOPIC HANDLER_ID FILE"),
    };
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let mut spec: Value = if file.ends_with(".json") {
        serde_json::from_str(&text).with_context(|| format!("{file}: invalid JSON"))?
    } else {
        // YAML is a superset of JSON: everything else is read as YAML.
        serde_norway::from_str(&text).with_context(|| format!("{file}: invalid YAML"))?
    };
    let Some(obj) = spec.as_object_mut() else {
        bail!("{file}: a handler spec is a map (topic, id, kind, options, match)");
    };
    if let Some(t) = topic {
        obj.insert("topic".into(), Value::String(t.clone()));
    }
    if let Some(i) = id {
        obj.insert("id".into(), Value::String(i.clone()));
    }
    let topic = text_of(obj, "topic").with_context(|| format!("{file}: no topic"))?;
    let id = text_of(obj, "id").with_context(|| format!("{file}: no id"))?;
    let body = serde_json::to_vec(&spec)?;
    let path = format!("/alerts/topics/{topic}/handlers");
    if c.get(&format!("{path}/{id}")).is_ok() {
        c.put(&format!("{path}/{id}"), &body)?;
    } else {
        c.post(&path, &body)?;
    }
    Ok(())
}

fn text_of(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `farad show-topic TOPIC`: the topic's level, its handlers and its events.
pub fn show_topic(c: &Client, topic: &str) -> Result<()> {
    let t = c.get(&format!("/alerts/topics/{topic}"))?;
    let handlers = c.get(&format!("/alerts/topics/{topic}/handlers"))?;
    let events = c.get(&format!("/alerts/topics/{topic}/events"))?;
    let ids: Vec<String> = handlers["handlers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| text(&h["id"]))
        .collect();
    println!("ID: {}", text(&t["id"]));
    println!("Level: {}", text(&t["level"]));
    println!("Collected: {}", text(&t["collected"]));
    println!("Handlers: [{}]", ids.join(", "));
    println!("Events:");
    // As Kapacitor's CLI: by time, in its columns, dates in Go's RFC 822 layout.
    let mut events: Vec<&Value> = events["events"].as_array().into_iter().flatten().collect();
    events.sort_by_key(|e| {
        farad_runtime::time::parse_rfc3339(e["state"]["time"].as_str().unwrap_or(""))
    });
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let s = &e["state"];
            vec![
                text(&e["id"]),
                text(&s["level"]),
                text(&s["message"]),
                super::tasks::rfc822(&text(&s["time"])),
            ]
        })
        .collect();
    print_columns(
        &[Col::Grow(5), Col::Fixed(9), Col::Grow(7), Col::Fixed(23)],
        &["Event", "Level", "Message", "Date"],
        &rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_the_url_become_basic_auth() {
        let (url, auth) = super::split_userinfo("http://bob:p%40ss@localhost:9092/x");
        assert_eq!(url, "http://localhost:9092/x");
        assert_eq!(auth.as_deref(), Some("Basic Ym9iOnBAc3M="));
        assert_eq!(
            super::split_userinfo("http://localhost:9092"),
            ("http://localhost:9092".into(), None)
        );
    }

    use super::glob;

    #[test]
    fn patterns() {
        assert!(glob("cpu*", "cpu_alert"));
        assert!(glob("*alert", "cpu_alert"));
        assert!(glob("*", ""));
        assert!(!glob("cpu", "cpu2"));
        assert!(glob("a*b*c", "aXXbYc"));
    }
}
