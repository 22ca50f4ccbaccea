//! InfluxDB 1.x clusters (`[[influxdb]]`): where `influxDBOut` nodes write.
//!
//! Each cluster has one writer thread. Tasks hand it writes through a bounded channel; it keeps
//! them in order in its own queue and sends each with `POST /write`. While the cluster is away
//! (no answer, or a 5xx) it retries the oldest write with a growing pause, still taking new
//! writes; past `buffer` points it drops the oldest writes and counts them. A write InfluxDB
//! refuses (4xx: no such database, a field type conflict) is dropped at once and counted as an
//! error, as retrying cannot help.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use base64::Engine;
use farad_runtime::exec::InfluxWrite;
use farad_runtime::lineproto::{Precision, write_point};

use crate::config::InfluxDb;

/// Writes waiting between the tasks and a cluster's writer thread.
const CHANNEL: usize = 1024;
const MAX_PAUSE: Duration = Duration::from_secs(5);

enum Job {
    Write(InfluxWrite),
    /// An InfluxQL statement to run before the writes queued after it (`CREATE DATABASE`).
    Query(String),
}

/// A cluster's counters, for `debug/vars`.
#[derive(Default)]
pub struct ClusterStats {
    pub points_written: AtomicU64,
    pub write_errors: AtomicU64,
    pub points_dropped: AtomicU64,
    pub points_buffered: AtomicU64,
}

struct Cluster {
    jobs: SyncSender<Job>,
    stats: Arc<ClusterStats>,
    conn: Conn,
}

/// How to reach a cluster: its URLs (the first that answers), credentials, HTTP client.
#[derive(Clone)]
struct Conn {
    urls: Vec<String>,
    auth: Option<String>,
    agent: ureq::Agent,
}

impl Conn {
    fn new(c: &InfluxDb) -> Result<Conn, String> {
        let timeout = match c.timeout.to_std() {
            d if d.is_zero() => Duration::from_secs(30),
            d => d,
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("farad/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls(c)?)
            .build()
            .into();
        let auth = (!c.username.is_empty()).then(|| {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password));
            format!("Basic {token}")
        });
        Ok(Conn {
            urls: c
                .urls
                .iter()
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
            auth,
            agent,
        })
    }

    fn post(&self, url: &str, body: &[u8]) -> Result<(u16, String), String> {
        let mut req = self.agent.post(url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut r = req.send(body).map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string().unwrap_or_default()))
    }

    /// A query, tried on each URL in turn until one answers. Asked for in chunks, read as a
    /// stream (no size limit, no whole body in memory twice) and put back together into one
    /// answer: `{"results": [{"statement_id", "series": [...]}]}`.
    fn query(&self, q: &str) -> Result<serde_json::Value, String> {
        let mut last = String::new();
        for base in &self.urls {
            let url = format!(
                "{base}/query?epoch=ns&chunked=true&chunk_size={QUERY_CHUNK}&q={}",
                encode(q)
            );
            let mut req = self.agent.post(&url);
            if let Some(a) = &self.auth {
                req = req.header("Authorization", a);
            }
            let mut r = match req.send(&[][..]) {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = r.status().as_u16();
            let reader = r.body_mut().as_reader();
            let mut merged = Chunks::default();
            for chunk in
                serde_json::Deserializer::from_reader(reader).into_iter::<serde_json::Value>()
            {
                let chunk =
                    chunk.map_err(|e| format!("InfluxDB answered {status} with no JSON ({e})"))?;
                if let Some(e) = chunk.get("error").and_then(|e| e.as_str()) {
                    return Err(e.to_owned());
                }
                merged.add(chunk);
            }
            return Ok(merged.into_json());
        }
        Err(last)
    }
}

/// Rows per chunk of a query's answer.
const QUERY_CHUNK: usize = 10_000;

/// A chunked answer put back together: per statement, its series, a series split over chunks
/// (`partial`) joined again.
#[derive(Default)]
struct Chunks {
    results: Vec<serde_json::Value>,
}

impl Chunks {
    fn add(&mut self, chunk: serde_json::Value) {
        let serde_json::Value::Object(mut chunk) = chunk else {
            return;
        };
        let Some(serde_json::Value::Array(results)) = chunk.remove("results") else {
            return;
        };
        for mut r in results {
            let id = r["statement_id"].as_i64().unwrap_or(0);
            let same = self
                .results
                .last_mut()
                .filter(|l| l["statement_id"].as_i64().unwrap_or(0) == id);
            let Some(merged) = same else {
                if let Some(o) = r.as_object_mut() {
                    o.remove("partial");
                }
                self.results.push(r);
                continue;
            };
            if let Some(e) = r.get("error") {
                merged["error"] = e.clone();
            }
            let series = match r.get_mut("series") {
                Some(serde_json::Value::Array(s)) => std::mem::take(s),
                _ => Vec::new(),
            };
            if !merged["series"].is_array() {
                merged["series"] = serde_json::Value::Array(Vec::new());
            }
            let list = merged["series"].as_array_mut().expect("set above");
            for mut s in series {
                let continues = list.last().is_some_and(|l| {
                    l["partial"] == true && l["name"] == s["name"] && l["tags"] == s["tags"]
                });
                if continues {
                    let last = list.last_mut().expect("checked");
                    let more = match s.get_mut("values") {
                        Some(serde_json::Value::Array(v)) => std::mem::take(v),
                        _ => Vec::new(),
                    };
                    if let Some(values) = last["values"].as_array_mut() {
                        values.extend(more);
                    }
                    match s.get("partial") {
                        Some(p) => last["partial"] = p.clone(),
                        None => {
                            if let Some(o) = last.as_object_mut() {
                                o.remove("partial");
                            }
                        }
                    }
                } else {
                    list.push(s);
                }
            }
        }
    }

    fn into_json(self) -> serde_json::Value {
        let mut results = self.results;
        for r in &mut results {
            for s in r["series"].as_array_mut().into_iter().flatten() {
                if let Some(o) = s.as_object_mut() {
                    o.remove("partial");
                }
            }
        }
        serde_json::json!({ "results": results })
    }
}

/// A cluster's TLS settings (see [`crate::tls`]).
fn tls(c: &InfluxDb) -> Result<ureq::tls::TlsConfig, String> {
    crate::tls::ClientTls {
        ca: c.ssl_ca.clone(),
        cert: c.ssl_cert.clone(),
        key: c.ssl_key.clone(),
        insecure_skip_verify: c.insecure_skip_verify,
    }
    .config()
}

/// The configured clusters; replaced whole when the config API changes `[[influxdb]]` (the
/// writers of the old ones finish what they hold, then stop).
pub struct InfluxDbs {
    current: crate::swap::Swap<Clusters>,
}

impl InfluxDbs {
    pub fn start(configs: &[InfluxDb]) -> Result<InfluxDbs, String> {
        Ok(InfluxDbs {
            current: crate::swap::Swap::new(Clusters::start(configs)?),
        })
    }

    pub fn reconfigure(&self, configs: &[InfluxDb]) -> Result<(), String> {
        self.current.set(Clusters::start(configs)?);
        Ok(())
    }

    pub fn check(&self, name: &str) -> Result<(), String> {
        self.current.get().check(name)
    }

    /// Queues a write; blocks while the cluster's channel is full (backpressure).
    pub fn write(&self, w: InfluxWrite) {
        self.current.get().write(w)
    }

    /// Runs a query now (a batch task's), waiting for the answer.
    pub fn query(&self, cluster: &str, q: &str) -> Result<serde_json::Value, String> {
        self.current.get().query(cluster, q)
    }

    pub fn create_database(&self, cluster: &str, db: &str, rp: &str) {
        self.current.get().create_database(cluster, db, rp)
    }

    /// Per cluster, its counters.
    pub fn stats(&self) -> Vec<(String, Arc<ClusterStats>)> {
        self.current.get().stats()
    }
}

#[derive(Default)]
struct Clusters {
    clusters: HashMap<String, Cluster>,
    default: Option<String>,
}

impl Clusters {
    /// Starts a writer per enabled cluster.
    fn start(configs: &[InfluxDb]) -> Result<Clusters, String> {
        let mut out = Clusters::default();
        for c in configs.iter().filter(|c| c.enabled) {
            if c.urls.is_empty() {
                return Err(format!(
                    "[[influxdb]] {:?}: must specify at least one URL",
                    c.name
                ));
            }
            if out.clusters.contains_key(&c.name) {
                return Err(format!("[[influxdb]] {:?}: duplicate name", c.name));
            }
            let (tx, rx) = sync_channel(CHANNEL);
            let stats = Arc::new(ClusterStats::default());
            let conn = Conn::new(c).map_err(|e| format!("[[influxdb]] {:?}: {e}", c.name))?;
            let writer = Writer {
                conn: conn.clone(),
                current: 0,
                buffer: c.buffer.max(1),
                stats: stats.clone(),
            };
            std::thread::Builder::new()
                .name(format!("farad-influxdb-{}", c.name))
                .spawn(move || writer.run(rx))
                .map_err(|e| format!("starting the InfluxDB writer: {e}"))?;
            if c.default || out.default.is_none() {
                out.default = Some(c.name.clone());
            }
            out.clusters.insert(
                c.name.clone(),
                Cluster {
                    jobs: tx,
                    stats,
                    conn,
                },
            );
        }
        Ok(out)
    }

    fn cluster(&self, name: &str) -> Result<&Cluster, String> {
        if self.clusters.is_empty() {
            return Err("no InfluxDB cluster configured cannot use the InfluxDBOutNode".into());
        }
        let name = if name.is_empty() {
            self.default.as_deref().unwrap_or_default()
        } else {
            name
        };
        self.clusters
            .get(name)
            .ok_or_else(|| format!("unknown InfluxDB cluster {name:?}"))
    }

    fn check(&self, name: &str) -> Result<(), String> {
        self.cluster(name).map(|_| ())
    }

    /// Queues a write; blocks while the cluster's channel is full (backpressure).
    fn write(&self, w: InfluxWrite) {
        match self.cluster(&w.cluster) {
            Ok(c) => {
                if c.jobs.send(Job::Write(w)).is_err() {
                    tracing::error!("the InfluxDB writer is gone; points dropped");
                }
            }
            Err(e) => tracing::error!(error = e, "points dropped"),
        }
    }

    /// Runs a query now (a batch task's), waiting for the answer.
    fn query(&self, cluster: &str, q: &str) -> Result<serde_json::Value, String> {
        self.cluster(cluster)?.conn.query(q)
    }

    fn create_database(&self, cluster: &str, db: &str, rp: &str) {
        let mut q = format!("CREATE DATABASE {}", quote_ident(db));
        if !rp.is_empty() {
            q.push_str(&format!(" WITH NAME {}", quote_ident(rp)));
        }
        if let Ok(c) = self.cluster(cluster) {
            let _ = c.jobs.send(Job::Query(q));
        }
    }

    /// Per cluster, its counters.
    fn stats(&self) -> Vec<(String, Arc<ClusterStats>)> {
        let mut v: Vec<_> = self
            .clusters
            .iter()
            .map(|(n, c)| (n.clone(), c.stats.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// InfluxQL's identifier quoting.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

struct Writer {
    conn: Conn,
    /// Which URL answered last.
    current: usize,
    buffer: usize,
    stats: Arc<ClusterStats>,
}

enum Outcome {
    Done,
    Refused(String),
    Unreachable(String),
}

impl Writer {
    fn run(mut self, rx: Receiver<Job>) {
        let mut queue: VecDeque<Job> = VecDeque::new();
        let mut buffered = 0usize;
        let mut pause = Duration::ZERO;
        // While the cluster is away: when to try again.
        let mut retry_at: Option<Instant> = None;
        loop {
            // Take what has arrived; wait only when there is nothing to send yet.
            let next = match (queue.is_empty(), retry_at) {
                (true, _) => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                (false, Some(at)) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                (false, None) => rx.try_recv().map_err(|e| match e {
                    TryRecvError::Empty => RecvTimeoutError::Timeout,
                    TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                }),
            };
            match next {
                Ok(job) => {
                    buffered += points_of(&job);
                    queue.push_back(job);
                    while let Ok(job) = rx.try_recv() {
                        buffered += points_of(&job);
                        queue.push_back(job);
                    }
                    // Over the bound: the oldest writes go.
                    while buffered > self.buffer && queue.len() > 1 {
                        let gone = queue.pop_front().map_or(0, |j| points_of(&j));
                        buffered -= gone;
                        self.stats.points_dropped.fetch_add(gone as u64, Relaxed);
                        tracing::warn!(
                            points = gone,
                            "InfluxDB buffer full: oldest points dropped"
                        );
                    }
                    self.stats.points_buffered.store(buffered as u64, Relaxed);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) if queue.is_empty() => return,
                Err(RecvTimeoutError::Disconnected) => {}
            }
            if retry_at.is_some_and(|at| Instant::now() < at) {
                continue;
            }
            retry_at = None;
            while let Some(job) = queue.front() {
                match self.send(job) {
                    Outcome::Done => {
                        let job = queue.pop_front().expect("front exists");
                        buffered -= points_of(&job);
                        if let Job::Write(w) = job {
                            let n = w.points.len() as u64;
                            w.counters.written.fetch_add(n as i64, Relaxed);
                            self.stats.points_written.fetch_add(n, Relaxed);
                        }
                        pause = Duration::ZERO;
                    }
                    Outcome::Refused(why) => {
                        let job = queue.pop_front().expect("front exists");
                        buffered -= points_of(&job);
                        self.stats.write_errors.fetch_add(1, Relaxed);
                        if let Job::Write(w) = job {
                            w.counters.errors.fetch_add(1, Relaxed);
                            tracing::error!(
                                database = w.database,
                                points = w.points.len(),
                                error = why,
                                "InfluxDB refused the write; dropped"
                            );
                        } else {
                            tracing::warn!(error = why, "InfluxDB query failed");
                        }
                    }
                    Outcome::Unreachable(why) => {
                        self.stats.write_errors.fetch_add(1, Relaxed);
                        if let Job::Write(w) = job {
                            w.counters.errors.fetch_add(1, Relaxed);
                        }
                        pause = (pause * 2).clamp(Duration::from_millis(100), MAX_PAUSE);
                        retry_at = Some(Instant::now() + pause);
                        tracing::warn!(error = why, retry_in = ?pause, "InfluxDB unreachable; will retry");
                        // Try the next URL on the next attempt.
                        self.current = (self.current + 1) % self.conn.urls.len();
                        break;
                    }
                }
            }
            self.stats.points_buffered.store(buffered as u64, Relaxed);
        }
    }

    fn send(&self, job: &Job) -> Outcome {
        let base = &self.conn.urls[self.current];
        let result = match job {
            Job::Write(w) => {
                let mut body = String::with_capacity(w.points.len() * 64);
                for p in &w.points {
                    write_point(&mut body, p, w.precision);
                    body.push('\n');
                }
                let mut url = format!("{base}/write?db={}", encode(&w.database));
                if !w.retention_policy.is_empty() {
                    url.push_str(&format!("&rp={}", encode(&w.retention_policy)));
                }
                url.push_str(&format!("&precision={}", precision_name(w.precision)));
                if !w.consistency.is_empty() {
                    url.push_str(&format!("&consistency={}", encode(&w.consistency)));
                }
                self.conn.post(&url, body.as_bytes())
            }
            Job::Query(q) => self
                .conn
                .post(&format!("{base}/query?q={}", encode(q)), &[]),
        };
        match result {
            Ok((status, body)) => match status {
                200..=299 => Outcome::Done,
                400..=499 => Outcome::Refused(format!("{status}: {}", body.trim())),
                _ => Outcome::Unreachable(format!("{status}: {}", body.trim())),
            },
            Err(e) => Outcome::Unreachable(e),
        }
    }
}

fn points_of(job: &Job) -> usize {
    match job {
        Job::Write(w) => w.points.len(),
        Job::Query(_) => 0,
    }
}

fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::Nanoseconds => "ns",
        Precision::Microseconds => "u",
        Precision::Milliseconds => "ms",
        Precision::Seconds => "s",
        Precision::Minutes => "m",
        Precision::Hours => "h",
    }
}

/// Percent-encodes a query-string value.
pub(crate) fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_encoded() {
        assert_eq!(super::encode("a b&c"), "a%20b%26c");
        assert_eq!(super::quote_ident("my \"db\""), "\"my \\\"db\\\"\"");
    }

    #[test]
    fn chunked_answers_are_put_back_together() {
        use serde_json::json;
        let mut c = super::Chunks::default();
        for chunk in [
            json!({"results": [{"statement_id": 0, "series": [
                {"name": "cpu", "tags": {"h": "a"}, "columns": ["time", "v"], "values": [[1, 1]]},
                {"name": "cpu", "tags": {"h": "b"}, "columns": ["time", "v"], "values": [[1, 2], [2, 3]], "partial": true}
            ], "partial": true}]}),
            json!({"results": [{"statement_id": 0, "series": [
                {"name": "cpu", "tags": {"h": "b"}, "columns": ["time", "v"], "values": [[3, 4]], "partial": true}
            ], "partial": true}]}),
            json!({"results": [{"statement_id": 0, "series": [
                {"name": "cpu", "tags": {"h": "b"}, "columns": ["time", "v"], "values": [[4, 5]]},
                {"name": "mem", "columns": ["time", "v"], "values": [[1, 6]]}
            ]}]}),
            json!({"results": [{"statement_id": 1, "series": [
                {"name": "disk", "columns": ["time", "v"], "values": [[1, 7]]}
            ]}]}),
        ] {
            c.add(chunk);
        }
        assert_eq!(
            c.into_json(),
            json!({"results": [
                {"statement_id": 0, "series": [
                    {"name": "cpu", "tags": {"h": "a"}, "columns": ["time", "v"], "values": [[1, 1]]},
                    {"name": "cpu", "tags": {"h": "b"}, "columns": ["time", "v"], "values": [[1, 2], [2, 3], [3, 4], [4, 5]]},
                    {"name": "mem", "columns": ["time", "v"], "values": [[1, 6]]}
                ]},
                {"statement_id": 1, "series": [
                    {"name": "disk", "columns": ["time", "v"], "values": [[1, 7]]}
                ]}
            ]})
        );
    }
}
