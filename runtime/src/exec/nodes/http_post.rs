//! `httpPost(url)` / `httpPost().endpoint(name)`: sends each point or batch out as
//! Kapacitor's JSON row (`{"series":[{name, tags, columns, values}]}`) and passes it on.
//!
//! The request goes to the host's [`Io`] queue, so the pipeline never waits on a receiver;
//! except with `.codeField()`, whose field is the response's status code: then the node
//! waits for the answer, as Kapacitor always does.

use std::sync::Arc;

use gotmpl::Value as T;

use super::NodeExec;
use super::http_out::series_json;
use crate::exec::{HttpRequest, Io, Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Name, Value};
use crate::pipeline::{PlanNode, Value as PV};
use crate::template::Shared;

pub struct HttpPost {
    io: Arc<dyn Io>,
    url: Url,
    headers: Vec<(String, String)>,
    basic_auth: Option<(String, String)>,
    row_template: Option<Shared>,
    code_field: Option<Name>,
    capture_response: bool,
    timeout: i64,
}

enum Url {
    Plain(String),
    Template(Shared),
}

impl HttpPost {
    pub fn new(node: &PlanNode, io: Arc<dyn Io>) -> Result<HttpPost, String> {
        let urls: Vec<&str> = node
            .args
            .iter()
            .filter_map(|a| match a {
                PV::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let endpoints: Vec<&str> = node
            .properties
            .iter()
            .filter(|p| p.name == "endpoint")
            .filter_map(|p| match p.args.first() {
                Some(PV::Str(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if urls.len() + endpoints.len() != 1 {
            return Err("httpPost needs exactly one URL or one .endpoint()".into());
        }
        let endpoint = match (urls.first(), endpoints.first()) {
            (Some(u), _) => crate::exec::PostEndpoint::new(u.to_string())?,
            (None, Some(name)) => io
                .endpoint(name)
                .ok_or_else(|| format!("endpoint '{name}' does not exist"))?,
            (None, None) => unreachable!("counted above"),
        };
        let url = match endpoint.url_template() {
            Some(t) => Url::Template(t.clone()),
            None => Url::Plain(endpoint.url),
        };
        let mut headers = endpoint.headers;
        for p in node.properties.iter().filter(|p| p.name == "header") {
            if let [PV::Str(k), PV::Str(v)] = p.args.as_slice() {
                headers.retain(|(hk, _)| !hk.eq_ignore_ascii_case(k));
                headers.push((k.clone(), v.clone()));
            }
        }
        Ok(HttpPost {
            io,
            url,
            headers,
            basic_auth: endpoint.basic_auth,
            row_template: endpoint.row_template,
            code_field: super::prop_str(node, "codeField")
                .filter(|s| !s.is_empty())
                .map(|s| Name::new(&s)),
            capture_response: node.property("captureResponse").is_some(),
            timeout: super::prop_dur(node, "timeout", 0),
        })
    }

    /// Posts one row; the status code when the node waits for it.
    fn post(
        &self,
        name: Name,
        tags: &[(Name, Box<str>)],
        points: &[BatchPoint],
    ) -> Result<u16, String> {
        let row = series_json(name, tags, points);
        let needs_map = self.row_template.is_some() || matches!(self.url, Url::Template(_));
        let mapped = needs_map.then(|| mapped_row(&row));
        let url = match &self.url {
            Url::Plain(u) => u.clone(),
            Url::Template(t) => t
                .execute(mapped.as_ref().expect("made above"))
                .map_err(|e| format!("failed to execute url template: {e}"))?,
        };
        let mut headers = self.headers.clone();
        let body = match &self.row_template {
            Some(t) => t
                .execute(mapped.as_ref().expect("made above"))
                .map_err(|e| format!("failed to execute template: {e}"))?
                .into_bytes(),
            None => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.insert(0, ("Content-Type".into(), "application/json".into()));
                }
                let mut body = serde_json::to_vec(&serde_json::json!({ "series": [row] }))
                    .map_err(|e| format!("failed to marshal row data json: {e}"))?;
                body.push(b'\n');
                body
            }
        };
        let req = HttpRequest {
            url,
            headers,
            basic_auth: self.basic_auth.clone(),
            body,
            timeout_ns: self.timeout,
            capture_response: self.capture_response,
            skip_ssl_verification: false,
        };
        Ok(match self.code_field {
            Some(_) => self.io.post_and_wait(req),
            None => {
                self.io.post(req);
                0
            }
        })
    }
}

/// The row as Kapacitor's templates see it: `.Name`, `.Tags`, `.Values` (one map per row).
fn mapped_row(row: &serde_json::Value) -> T {
    fn conv(v: &serde_json::Value) -> T {
        match v {
            serde_json::Value::Null => T::Nil,
            serde_json::Value::Bool(b) => T::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(T::Int)
                .unwrap_or_else(|| T::Float(n.as_f64().unwrap_or(f64::NAN))),
            serde_json::Value::String(s) => T::from(s.as_str()),
            serde_json::Value::Array(a) => T::from(a.iter().map(conv).collect::<Vec<_>>()),
            serde_json::Value::Object(o) => T::from(
                o.iter()
                    .map(|(k, v)| (k.clone(), conv(v)))
                    .collect::<std::collections::BTreeMap<String, T>>(),
            ),
        }
    }
    let columns: Vec<&str> = row["columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    let values: Vec<T> = row["values"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let cells = r.as_array().map(Vec::as_slice).unwrap_or_default();
                    T::from(
                        columns
                            .iter()
                            .zip(cells)
                            .map(|(c, v)| (c.to_string(), conv(v)))
                            .collect::<std::collections::BTreeMap<String, T>>(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut m = std::collections::BTreeMap::new();
    m.insert("Name".to_string(), conv(&row["name"]));
    m.insert(
        "Tags".to_string(),
        row.get("tags").map_or_else(
            || T::from(std::collections::BTreeMap::<String, T>::new()),
            conv,
        ),
    );
    m.insert("Values".to_string(), T::from(values));
    T::from(m)
}

impl NodeExec for HttpPost {
    fn point(&mut self, mut p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        let bp = BatchPoint {
            time: p.point.time,
            series: p.point.series.clone(),
            fields: p.point.fields.clone(),
        };
        let code = self.post(
            p.point.name(),
            &p.point.series.tags,
            std::slice::from_ref(&bp),
        );
        if let Some(field) = self.code_field {
            p.point
                .set_field(field, Value::Int(*code.as_ref().unwrap_or(&0) as i64));
        }
        out.push(Msg::Point(p));
        code.map(|_| ())
    }

    fn batch(&mut self, mut b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let code = self.post(b.name, &b.tags, &b.points);
        if let Some(field) = self.code_field {
            let c = Value::Int(*code.as_ref().unwrap_or(&0) as i64);
            for p in &mut b.points {
                match p.fields.iter_mut().find(|(k, _)| *k == field) {
                    Some(f) => f.1 = c.clone(),
                    None => p.fields.push((field, c.clone())),
                }
            }
        }
        out.push(Msg::Batch(b));
        code.map(|_| ())
    }
}
