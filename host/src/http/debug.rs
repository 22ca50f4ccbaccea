//! `GET /kapacitor/v1/debug/vars`: Kapacitor's expvar document, which `kapacitor stats` and
//! `kapacitor vars` read.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::{Map, Value, json};
use warp::Filter;
use warp::reply::Reply;

use super::with_state;
use crate::server::State;

pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("kapacitor" / "v1" / "debug" / "vars")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: Arc<State>| warp::reply::json(&vars(&state)).into_response())
}

fn stat(name: &str, tags: Value, values: Value) -> Value {
    json!({"name": name, "tags": tags, "values": values})
}

/// The whole document.
pub fn vars(state: &State) -> Value {
    let id = &state.ids;
    let ident = |mut tags: Map<String, Value>| {
        tags.insert("cluster_id".into(), json!(id.cluster_id));
        tags.insert("server_id".into(), json!(id.server_id));
        tags.insert("host".into(), json!(state.config.hostname));
        Value::Object(tags)
    };
    let mut stats = Map::new();
    for e in state.ingest.ingress.snapshot() {
        let key = format!(
            "ingress:{}:{}:{}",
            e.database, e.retention_policy, e.measurement
        );
        let mut tags = Map::new();
        tags.insert("task_master".into(), json!("main"));
        tags.insert("database".into(), json!(e.database));
        tags.insert("retention_policy".into(), json!(e.retention_policy));
        tags.insert("measurement".into(), json!(e.measurement));
        stats.insert(
            key,
            stat("ingress", ident(tags), json!({"points_received": e.points})),
        );
    }
    let c = &state.ingest.counters;
    stats.insert(
        "httpd".into(),
        stat(
            "httpd",
            ident(
                json!({"bind": state.bound_http.to_string()})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            json!({
                "write_req": c.write_req.load(Relaxed),
                "write_req_bytes": c.write_req_bytes.load(Relaxed),
                "points_written_ok": c.points_written_ok.load(Relaxed),
                "points_written_fail": c.points_written_fail.load(Relaxed),
            }),
        ),
    );
    for u in state.udp.iter() {
        let tags = json!({"bind": u.bind})
            .as_object()
            .cloned()
            .unwrap_or_default();
        stats.insert(
            format!("udp:{}", u.bind),
            stat(
                "udp",
                ident(tags),
                json!({
                    "points_rx": u.points_rx.load(Relaxed),
                    "bytes_rx": u.bytes_rx.load(Relaxed),
                    "points_parse_fail": u.points_parse_fail.load(Relaxed),
                }),
            ),
        );
    }
    let uptime = state.started.elapsed().as_secs_f64();
    let (num_tasks, num_enabled) = state.task_counts();
    let mem = memory();
    json!({
        "cluster_id": id.cluster_id,
        "server_id": id.server_id,
        "host": state.config.hostname,
        "product": "kapacitor",
        "version": crate::VERSION,
        "platform": "OSS",
        "num_tasks": num_tasks,
        "num_enabled_tasks": num_enabled,
        "num_subscriptions": 0,
        "uptime": uptime,
        "cmdline": std::env::args().collect::<Vec<_>>(),
        "memstats": mem,
        "kapacitor": stats,
    })
}

/// Process memory from `/proc` (Go's memstats names where they have a meaning here).
fn memory() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |n| n * 1024)
    };
    let rss = kib("VmRSS:");
    json!({
        "Alloc": rss,
        "Sys": kib("VmSize:"),
        "HeapAlloc": rss,
        "RSS": rss,
        "PeakRSS": kib("VmHWM:"),
    })
}
