//! `GET /metrics`: the server's statistics in Prometheus' text format, beside Kapacitor's
//! `debug/vars`: every numeric value of that document (ingress per db/rp/measurement, HTTP,
//! UDP, InfluxDB clusters, memory) as `farad_<stat>_<value>` with the stat's tags as labels,
//! and every task node's counters (collected, emitted, errors, execution time, alert and UDF
//! counters) as `farad_node_<counter>{task, node}`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use serde_json::Value;
use warp::Filter;
use warp::reply::Reply;

use super::with_state;
use crate::server::State;

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .then(|state: Arc<State>| async move {
            let text = tokio::task::spawn_blocking(move || render(&state))
                .await
                .unwrap_or_default();
            warp::reply::with_header(text, "Content-Type", "text/plain; version=0.0.4")
                .into_response()
        })
}

/// Samples by metric name: (labels, value).
type Families = BTreeMap<String, Vec<(Vec<(String, String)>, f64)>>;

fn render(state: &State) -> String {
    let mut families = Families::new();
    let vars = super::debug::vars(state);
    for stat in vars["kapacitor"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, s)| s)
    {
        let name = stat["name"].as_str().unwrap_or("");
        let labels = labels(&stat["tags"]);
        for (key, v) in stat["values"].as_object().into_iter().flatten() {
            if let Some(x) = number(v) {
                families
                    .entry(metric_name(&format!("farad_{name}_{key}")))
                    .or_default()
                    .push((labels.clone(), x));
            }
        }
    }
    for (key, v) in vars["memstats"].as_object().into_iter().flatten() {
        if let Some(x) = number(v) {
            families
                .entry(metric_name(&format!("farad_memory_{key}")))
                .or_default()
                .push((Vec::new(), x));
        }
    }
    for (task, stats) in state.tasks.all_stats() {
        for (node, counters) in stats["node-stats"].as_object().into_iter().flatten() {
            for (key, v) in counters.as_object().into_iter().flatten() {
                if let Some(x) = number(v) {
                    families
                        .entry(metric_name(&format!("farad_node_{key}")))
                        .or_default()
                        .push((
                            vec![("task".into(), task.clone()), ("node".into(), node.clone())],
                            x,
                        ));
                }
            }
        }
    }
    let mut out = String::new();
    for (name, samples) in families {
        let _ = writeln!(out, "# TYPE {name} untyped");
        for (labels, value) in samples {
            out.push_str(&name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}=\"{}\"", metric_name(k), escape(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
    out
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn labels(tags: &Value) -> Vec<(String, String)> {
    tags.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}

/// Prometheus' names: letters, digits and `_` (not first a digit).
fn metric_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_labels_are_made_safe() {
        assert_eq!(super::metric_name("farad_udp:x-y"), "farad_udp_x_y");
        assert_eq!(super::metric_name("9lives"), "_9lives");
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
