//! `farad replay` and `farad record stream` (Kapacitor's flags and output), and
//! `farad import-recording`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::client::Client;

/// What `farad replay` was asked for.
pub struct ReplayArgs {
    pub recording: String,
    pub task: String,
    pub replay_id: Option<String>,
    pub rec_time: bool,
    pub real_clock: bool,
    pub no_wait: bool,
}

/// Starts a replay and, unless `no_wait`, waits for it and prints its id. A failed replay is
/// an error (exit code 3).
pub fn replay(c: &Client, a: &ReplayArgs) -> Result<()> {
    let mut body = json!({
        "task": a.task,
        "recording": a.recording,
        "recording-time": a.rec_time,
        "clock": if a.real_clock { "real" } else { "fast" },
    });
    if let Some(id) = &a.replay_id {
        body["id"] = json!(id);
    }
    let r = c.post("/replays", body.to_string().as_bytes())?;
    wait_until_ended(c, r, a.no_wait, &REPLAY)
}

/// What `farad replay-live batch|query` was asked for.
pub struct ReplayLiveArgs {
    pub task: String,
    pub range: BatchRange,
    pub query: Option<String>,
    pub cluster: Option<String>,
    pub replay_id: Option<String>,
    pub rec_time: bool,
    pub real_clock: bool,
    pub no_wait: bool,
}

/// `farad replay-live batch -task T (-past D | -start T [-stop T])` and `farad replay-live
/// query -task T -query Q`: a replay straight from InfluxDB (its id printed as `replay`'s).
pub fn replay_live(c: &Client, kind: &str, a: &ReplayLiveArgs) -> Result<()> {
    let mut body = json!({
        "task": a.task,
        "recording-time": a.rec_time,
        "clock": if a.real_clock { "real" } else { "fast" },
    });
    match kind {
        "batch" => a.range.fill(&mut body)?,
        "query" => {
            let Some(q) = &a.query else {
                bail!("replay-live query needs -query");
            };
            body["query"] = json!(q);
            body["cluster"] = json!(a.cluster.clone().unwrap_or_default());
        }
        other => bail!("cannot replay-live {other:?}: batch or query"),
    }
    if let Some(id) = &a.replay_id {
        body["id"] = json!(id);
    }
    let r = c.post(&format!("/replays/{kind}"), body.to_string().as_bytes())?;
    wait_until_ended(c, r, a.no_wait, &REPLAY)
}

/// A replay or a recording, as [`wait_until_ended`] follows it.
struct Job {
    /// Where it is asked for again, `<path>/<id>`.
    path: &'static str,
    /// Its progress bar's label.
    label: &'static str,
    /// Its name in an error without a reason.
    name: &'static str,
    /// How often it is asked for.
    every: Duration,
}

const REPLAY: Job = Job {
    path: "/replays",
    label: "replay",
    name: "replay",
    every: Duration::from_millis(50),
};

const RECORDING: Job = Job {
    path: "/recordings",
    label: "record",
    name: "recording",
    every: Duration::from_millis(100),
};

/// As Kapacitor's CLI: nothing printed with `no_wait`; else the id once the replay or
/// recording `r` ended, then its error if it failed (exit code 3).
fn wait_until_ended(c: &Client, mut r: Value, no_wait: bool, job: &Job) -> Result<()> {
    if no_wait {
        return Ok(());
    }
    let id = r["id"].as_str().unwrap_or_default().to_owned();
    let progress = super::progress::Progress::fraction(job.label);
    while r["status"] == "running" {
        progress.set_fraction(r["progress"].as_f64().unwrap_or(0.0));
        std::thread::sleep(job.every);
        r = c.get(&format!("{}/{id}", job.path))?;
    }
    progress.finish();
    println!("{id}");
    if r["status"] == "failed" {
        match r["error"].as_str().unwrap_or("") {
            "" => bail!("{} failed: unknown reason", job.name),
            error => bail!("{error}"),
        }
    }
    Ok(())
}

/// `farad record stream -task T -duration D`: records the task's db/rps for `duration`,
/// waits for it (unless `no_wait`) and prints the recording's id.
pub fn record_stream(
    c: &Client,
    task: &str,
    duration: &str,
    id: Option<&str>,
    no_wait: bool,
) -> Result<()> {
    let d = farad_runtime::duration::parse_influxql_duration(duration)
        .map_err(|e| anyhow::anyhow!("invalid -duration {duration:?}: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as i64;
    let mut body = json!({
        "task": task,
        "stop": farad_runtime::time::format_rfc3339_nanos(now + d),
    });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    let r = c.post("/recordings/stream", body.to_string().as_bytes())?;
    wait_until_ended(c, r, no_wait, &RECORDING)
}

/// The time range of `farad record batch`: `-past D`, or `-start T [-stop T]`.
pub struct BatchRange {
    pub past: Option<String>,
    pub start: Option<String>,
    pub stop: Option<String>,
}

/// `farad record batch -task T (-past D | -start T [-stop T])`.
pub fn record_batch(
    c: &Client,
    task: &str,
    range: &BatchRange,
    id: Option<&str>,
    no_wait: bool,
) -> Result<()> {
    let mut body = json!({"task": task});
    range.fill(&mut body)?;
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    let r = c.post("/recordings/batch", body.to_string().as_bytes())?;
    wait_until_ended(c, r, no_wait, &RECORDING)
}

impl BatchRange {
    /// Sets `start` (and `stop`) of a request body.
    fn fill(&self, body: &mut Value) -> Result<()> {
        match (&self.past, &self.start) {
            // As Kapacitor: `-past` before `-stop`, or before now.
            (Some(past), None) => {
                let d = farad_runtime::duration::parse_influxql_duration(past)
                    .map_err(|e| anyhow::anyhow!("invalid -past {past:?}: {e}"))?;
                let stop = match &self.stop {
                    Some(stop) => farad_runtime::time::parse_rfc3339(stop)
                        .ok_or_else(|| anyhow::anyhow!("invalid -stop {stop:?}"))?,
                    None => std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_nanos() as i64,
                };
                body["start"] = json!(farad_runtime::time::format_rfc3339_nanos(stop - d));
            }
            (None, Some(start)) => body["start"] = json!(start),
            _ => bail!("needs either -past or -start"),
        }
        if let Some(stop) = &self.stop {
            body["stop"] = json!(stop);
        }
        Ok(())
    }
}

/// `farad record query -query Q -type stream|batch [-cluster C]`.
pub fn record_query(
    c: &Client,
    query: &str,
    kind: &str,
    cluster: Option<&str>,
    id: Option<&str>,
    no_wait: bool,
) -> Result<()> {
    if !matches!(kind, "stream" | "batch") {
        bail!("record query needs -type stream or -type batch, not {kind:?}");
    }
    let mut body = json!({"query": query, "type": kind, "cluster": cluster.unwrap_or_default()});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    let r = c.post("/recordings/query", body.to_string().as_bytes())?;
    wait_until_ended(c, r, no_wait, &RECORDING)
}

/// What `farad import-recording` was asked for.
pub struct ImportArgs {
    pub id: Option<String>,
    pub kind: Option<String>,
    pub precision: Option<String>,
    pub db: Option<String>,
    pub rp: Option<String>,
}

/// Uploads a recording's data; prints its id.
pub fn import(c: &Client, file: &Path, a: &ImportArgs) -> Result<()> {
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let params: Vec<String> = [
        ("id", &a.id),
        ("type", &a.kind),
        ("precision", &a.precision),
        ("db", &a.db),
        ("rp", &a.rp),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .map(|v| format!("{k}={}", crate::influxdb::encode(v)))
    })
    .collect();
    let r = c.post(&format!("/recordings/import?{}", params.join("&")), &data)?;
    println!("{}", r["id"].as_str().unwrap_or_default());
    Ok(())
}

/// Rows of `farad list recordings`: Kapacitor's columns.
pub fn recording_rows(all: &Value) -> Vec<Vec<String>> {
    all["recordings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                text(&r["id"]),
                text(&r["type"]),
                text(&r["status"]),
                human_bytes(r["size"].as_u64().unwrap_or(0)),
                super::tasks::rfc822(&text(&r["date"])),
            ]
        })
        .collect()
}

/// Rows of `farad list replays`: Kapacitor's columns.
pub fn replay_rows(all: &Value) -> Vec<Vec<String>> {
    all["replays"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                text(&r["id"]),
                text(&r["task"]),
                text(&r["recording"]),
                text(&r["status"]),
                text(&r["clock"]),
                super::tasks::rfc822(&text(&r["date"])),
            ]
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// Sizes as Kapacitor's CLI prints them (go-humanize: 1000-based, one decimal).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if n < 10 {
        return format!("{n} B");
    }
    let e = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let e = e.min(UNITS.len() - 1);
    let v = (n as f64 / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[e])
    } else {
        format!("{v:.0} {}", UNITS[e])
    }
}

#[cfg(test)]
mod tests {

    /// As Kapacitor: `-past` in InfluxQL's units, counted back from `-stop` when given.
    #[test]
    fn past_counts_back_from_stop() {
        let range = |past: &str, stop: Option<&str>| {
            let mut body = serde_json::json!({});
            super::BatchRange {
                past: Some(past.into()),
                start: None,
                stop: stop.map(Into::into),
            }
            .fill(&mut body)
            .map(|()| body)
        };
        let body = range("1d", Some("2026-01-02T00:00:00Z")).unwrap();
        assert_eq!(body["start"], "2026-01-01T00:00:00Z");
        assert_eq!(body["stop"], "2026-01-02T00:00:00Z");
        assert!(range("1w", None).is_ok());
        assert!(range("1.5h", None).is_err());
        assert!(range("1h", Some("yesterday")).is_err());
    }
    #[test]
    fn sizes_read_as_kapacitor_prints_them() {
        assert_eq!(super::human_bytes(5), "5 B");
        assert_eq!(super::human_bytes(1234), "1.2 kB");
        assert_eq!(super::human_bytes(56_000_000), "56 MB");
    }
}
