//! Task and template commands, with Kapacitor's flags and output: `define`, `define-template`,
//! `enable`, `disable`, `reload`, `show`, `show-template`, and the rows of `list tasks` and
//! `list templates`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::client::Client;

/// What `farad define` was asked for.
#[derive(Default)]
pub struct DefineArgs {
    pub id: String,
    pub kind: Option<String>,
    pub tick: Option<PathBuf>,
    /// `db.rp`, as often as given.
    pub dbrps: Vec<String>,
    pub template: Option<String>,
    /// A JSON or YAML file of the task's vars.
    pub vars: Option<PathBuf>,
    /// A JSON or YAML task definition (`template-id`, `vars`, `dbrps`).
    pub file: Option<PathBuf>,
    pub no_reload: bool,
}

/// Reads a JSON or YAML file.
fn read_doc(path: &PathBuf) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_str(&text) {
        Ok(v) => Ok(v),
        Err(_) => serde_norway::from_str(&text)
            .with_context(|| format!("{}: neither JSON nor YAML", path.display())),
    }
}

fn dbrps(list: &[String]) -> Result<Value> {
    let mut out = Vec::new();
    for d in list {
        let (db, rp) = dbrp(d).with_context(|| format!("invalid dbrp {d:?}"))?;
        out.push(json!({"db": db, "rp": rp}));
    }
    Ok(Value::Array(out))
}

/// `db.rp` as Kapacitor's `-dbrp` reads it: either name may be double-quoted (`"my.db"."rp"`,
/// `\"` inside quotes).
fn dbrp(text: &str) -> Result<(String, String)> {
    fn quoted(text: &str) -> (String, &str) {
        let mut name = String::new();
        let mut chars = text[1..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                    chars.next();
                    name.push('"');
                }
                '"' => return (name, &text[i + 2..]),
                c => name.push(c),
            }
        }
        (name, "")
    }
    if text.is_empty() {
        bail!("dbrp cannot be empty");
    }
    let (db, rest) = if text.starts_with('"') {
        quoted(text)
    } else {
        match text.split_once('.') {
            Some((db, _)) => (db.to_owned(), &text[db.len()..]),
            None => bail!(
                "does not contain a '.', it must be in the form \"dbname\".\"rpname\" where the quotes are optional."
            ),
        }
    };
    let Some(rp) = rest.strip_prefix('.') else {
        bail!("dbrp must specify retention policy, do you have a missing or extra '.'?");
    };
    let rp = if rp.starts_with('"') {
        match quoted(rp) {
            (rp, "") => rp,
            (_, rest) => bail!("unexpected {rest:?} after the retention policy"),
        }
    } else {
        rp.to_owned()
    };
    if rp.is_empty() {
        bail!("dbrp must specify retention policy");
    }
    Ok((db, rp))
}

/// `farad define ID`: creates the task, or changes it (and reloads it when enabled, unless
/// `-no-reload`), as Kapacitor's CLI does: GET first, then POST or PATCH.
pub fn define(c: &Client, a: &DefineArgs) -> Result<()> {
    let mut body = json!({ "id": a.id });
    if let Some(f) = &a.file {
        if !matches!(
            f.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            bail!("bad file extension. Must be YAML or JSON");
        }
        let doc = read_doc(f)?;
        if let Some(id) = doc.get("id").and_then(Value::as_str)
            && !id.is_empty()
            && id != a.id
        {
            bail!(
                "Task id given on command line does not match id in {}",
                f.display()
            );
        }
        for key in ["template-id", "vars", "dbrps", "type"] {
            if let Some(v) = doc.get(key) {
                body[key] = v.clone();
            }
        }
    }
    if let Some(t) = &a.tick {
        body["script"] =
            json!(std::fs::read_to_string(t).with_context(|| format!("reading {}", t.display()))?);
    }
    if let Some(k) = &a.kind {
        body["type"] = json!(k);
    }
    if !a.dbrps.is_empty() {
        body["dbrps"] = dbrps(&a.dbrps)?;
    }
    if let Some(t) = &a.template {
        body["template-id"] = json!(t);
    }
    if let Some(v) = &a.vars {
        let doc = read_doc(v)?;
        // A task vars file (`template-id`, `dbrps`, `vars`) gives its vars, as Kapacitor
        // falls back to reading one.
        // (A var named `vars` is itself a var: it has a `type`.)
        let task_vars = doc["vars"].is_object()
            && doc["vars"].get("type").is_none()
            && doc.as_object().is_some_and(|o| {
                o.keys()
                    .all(|k| matches!(k.as_str(), "id" | "template-id" | "dbrps" | "vars"))
            });
        body["vars"] = if task_vars { doc["vars"].clone() } else { doc };
    }
    let existing = c.get(&format!("/tasks/{}", a.id)).ok();
    match existing {
        None => {
            if body.get("script").is_none() && body.get("template-id").is_none() {
                bail!("must provide a TICKscript (-tick) or a template (-template)");
            }
            c.post("/tasks", body.to_string().as_bytes())?;
        }
        Some(task) => {
            c.patch(&format!("/tasks/{}", a.id), body.to_string().as_bytes())?;
            if task["status"] == "enabled" && !a.no_reload {
                reload(c, std::slice::from_ref(&a.id))?;
            }
        }
    }
    Ok(())
}

/// `farad define-template ID -tick FILE [-type T]`: creates or changes a template.
pub fn define_template(
    c: &Client,
    id: &str,
    tick: Option<&PathBuf>,
    kind: Option<&str>,
) -> Result<()> {
    let mut body = json!({ "id": id });
    if let Some(t) = tick {
        body["script"] =
            json!(std::fs::read_to_string(t).with_context(|| format!("reading {}", t.display()))?);
    }
    if let Some(k) = kind {
        body["type"] = json!(k);
    }
    if c.get(&format!("/templates/{id}")).is_ok() {
        c.patch(&format!("/templates/{id}"), body.to_string().as_bytes())?;
    } else {
        if tick.is_none() {
            bail!("must provide a TICKscript (-tick)");
        }
        c.post("/templates", body.to_string().as_bytes())?;
    }
    Ok(())
}

/// The tasks matching `patterns` set to `status`.
fn set_status(c: &Client, patterns: &[String], status: &str) -> Result<()> {
    for id in c.matching("/tasks?fields=id", "tasks", patterns)? {
        let body = json!({ "status": status });
        c.patch(&format!("/tasks/{id}"), body.to_string().as_bytes())?;
    }
    Ok(())
}

pub fn enable(c: &Client, ids: &[String]) -> Result<()> {
    set_status(c, ids, "enabled")
}

pub fn disable(c: &Client, ids: &[String]) -> Result<()> {
    set_status(c, ids, "disabled")
}

/// `farad reload ID...`: disables and enables again.
pub fn reload(c: &Client, ids: &[String]) -> Result<()> {
    disable(c, ids)?;
    enable(c, ids)
}

fn dbrp_list(t: &Value) -> String {
    let items: Vec<String> = t["dbrps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "\"{}\".\"{}\"",
                d["db"].as_str().unwrap_or(""),
                d["rp"].as_str().unwrap_or("")
            )
        })
        .collect();
    // Go's `%s` of Kapacitor's DBRP list.
    format!("[{}]", items.join(" "))
}

/// A time of the API (RFC 3339) as Kapacitor's CLI prints it: Go's RFC 822 layout, UTC.
pub fn rfc822(text: &str) -> String {
    if text.starts_with("0001-01-01T00:00:00") {
        return "01 Jan 01 00:00 UTC".into();
    }
    match farad_runtime::time::parse_rfc3339(text) {
        Some(ns) => farad_runtime::time::layout::format(ns, "02 Jan 06 15:04 MST"),
        None => text.to_owned(),
    }
}

/// A var's value as Kapacitor's CLI prints it (Go's `%v`; lists as `[a, b]`).
fn var_value(v: &Value) -> String {
    match (&v["value"], v["type"].as_str()) {
        (Value::Null, _) => "<required>".into(),
        (Value::String(s), _) => s.clone(),
        (Value::Number(n), Some("duration")) => {
            farad_runtime::duration::format_go_duration(n.as_i64().unwrap_or(0))
        }
        (Value::Number(n), _) if n.is_f64() => {
            let mut out = String::new();
            farad_runtime::template::write_float(&mut out, n.as_f64().unwrap_or(0.0));
            out
        }
        (Value::Array(items), _) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| match i["type"].as_str() {
                    Some("star") => "*".to_owned(),
                    _ => i["value"].as_str().unwrap_or("").to_owned(),
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        (other, _) => other.to_string(),
    }
}

/// Vars sorted by name: name, type, value (and description with `described`).
fn var_rows(vars: &Value, described: bool) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = vars
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, v)| {
            let mut row = vec![
                name.clone(),
                v["type"].as_str().unwrap_or("").to_owned(),
                var_value(v),
            ];
            if described {
                row.push(v["description"].as_str().unwrap_or("").to_owned());
            }
            row
        })
        .collect();
    rows.sort();
    rows
}

/// `farad show [-replay ID] ID`: the task's fields, script, vars and DOT with node
/// statistics, as Kapacitor's CLI prints them.
pub fn show(c: &Client, id: &str, replay: Option<&str>) -> Result<()> {
    if replay.is_some() {
        bail!("show -replay: showing a task as a replay runs it is not supported yet");
    }
    let t = c.get(&format!("/tasks/{id}"))?;
    let s = |k: &str| match &t[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    println!("ID: {}", s("id"));
    println!("Error: {}", s("error"));
    println!("Template: {}", s("template-id"));
    println!("Type: {}", s("type"));
    println!("Status: {}", s("status"));
    println!("Executing: {}", s("executing"));
    println!("Created: {}", rfc822(&s("created")));
    println!("Modified: {}", rfc822(&s("modified")));
    println!("LastEnabled: {}", rfc822(&s("last-enabled")));
    println!("Databases Retention Policies: {}", dbrp_list(&t));
    println!("TICKscript:\n{}", s("script"));
    let vars = var_rows(&t["vars"], false);
    if !vars.is_empty() {
        use super::client::Col;
        println!("Vars:");
        super::client::print_columns(
            &[Col::Fixed(30), Col::Fixed(10), Col::Fixed(40)],
            &["Name", "Type", "Value"],
            &vars,
        );
    }
    println!("DOT:\n{}", s("dot"));
    Ok(())
}

/// `farad show-template ID`: the template's type, declared vars, script and DOT.
pub fn show_template(c: &Client, id: &str) -> Result<()> {
    use super::client::Col;
    let t = c.get(&format!("/templates/{id}"))?;
    let s = |k: &str| t[k].as_str().unwrap_or("").to_owned();
    println!("ID: {}", s("id"));
    println!("Error: {}", s("error"));
    println!("Type: {}", s("type"));
    println!("Created: {}", rfc822(&s("created")));
    println!("Modified: {}", rfc822(&s("modified")));
    println!("TICKscript:\n{}", s("script"));
    println!("Vars:");
    super::client::print_columns(
        &[
            Col::Fixed(30),
            Col::Fixed(10),
            Col::Fixed(40),
            Col::Fixed(40),
        ],
        &["Name", "Type", "Default Value", "Description"],
        &var_rows(&t["vars"], true),
    );
    println!("DOT:\n{}", s("dot"));
    Ok(())
}

/// Rows of `farad list tasks`: Kapacitor's columns.
pub fn task_rows(all: &Value) -> Vec<Vec<String>> {
    all["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            vec![
                t["id"].as_str().unwrap_or("").to_owned(),
                t["type"].as_str().unwrap_or("").to_owned(),
                t["status"].as_str().unwrap_or("").to_owned(),
                t["executing"].to_string(),
                dbrp_list(t),
            ]
        })
        .collect()
}

/// Rows of `farad list templates`: id, type, the names of its vars.
pub fn template_rows(all: &Value) -> Vec<Vec<String>> {
    all["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let vars: Vec<&str> = t["vars"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect();
            // (JSON objects are sorted: the names are too, as Kapacitor sorts them.)
            vec![
                t["id"].as_str().unwrap_or("").to_owned(),
                t["type"].as_str().unwrap_or("").to_owned(),
                vars.join(","),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dbrps_read_as_kapacitor_reads_them() {
        let ok = |t: &str| super::dbrp(t).unwrap();
        assert_eq!(ok("db.rp"), ("db".into(), "rp".into()));
        assert_eq!(ok("db.rp.x"), ("db".into(), "rp.x".into()));
        assert_eq!(ok("\"my.db\".\"rp\""), ("my.db".into(), "rp".into()));
        assert_eq!(ok("\"a\\\"b\".rp"), ("a\"b".into(), "rp".into()));
        assert_eq!(ok("\"my\\db\".rp"), ("my\\db".into(), "rp".into()));
        for bad in ["", "db", "\"db\"rp", "db.", "db.\"rp\"junk"] {
            assert!(super::dbrp(bad).is_err(), "{bad}");
        }
    }
}
