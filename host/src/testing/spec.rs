//! The test file: a TOML document naming a task, its input and what must come out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Shown in the report instead of the file's path.
    #[serde(default)]
    pub name: Option<String>,
    pub task: TaskSpec,
    pub input: InputSpec,
    #[serde(default)]
    pub expect: Expect,
    /// Wasm UDFs the script calls, by name: their component files.
    #[serde(default)]
    pub udfs: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// The task's id (topic names, `.TaskName`); default: the test file's name.
    #[serde(default)]
    pub id: Option<String>,
    /// A TICKscript file, relative to the test file.
    #[serde(default)]
    pub script: Option<PathBuf>,
    /// The TICKscript itself.
    #[serde(default)]
    pub tickscript: Option<String>,
    /// A template's TICKscript file; `vars` give its variables.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// Kapacitor's task vars: `{ name = { type = "float", value = 90.0 } }`.
    #[serde(default)]
    pub vars: serde_json::Map<String, Value>,
    /// `stream` or `batch`; default: the script's source node.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `"db.rp"` pairs; default: the script's `dbrp` statements, else the input's db/rp.
    #[serde(default)]
    pub dbrps: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Line protocol, written to `db`/`rp`.
    #[serde(default)]
    pub lines: Option<String>,
    /// A recording file, relative to the test file: `.srpl` (gzipped or not), `.brpl` (zip,
    /// or JSON batches of one query), or anything else as line protocol to `db`/`rp`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// JSON batches, as in a `.brpl` entry, for the first query of a batch task.
    #[serde(default)]
    pub batches: Option<String>,
    #[serde(default)]
    pub db: Option<String>,
    #[serde(default)]
    pub rp: Option<String>,
    /// Timestamp precision of `lines` and stream files (n, u, ms, s, m, h); default ns.
    #[serde(default)]
    pub precision: Option<String>,
    /// What `now()` returns in lambdas (RFC 3339); default: the data's clock, the time of
    /// the latest point delivered.
    #[serde(default)]
    pub now: Option<String>,
    /// How long the clock runs on after the last point (Go duration), ticking each second:
    /// for deadman and other timers.
    #[serde(default)]
    pub advance: Option<String>,
}

/// What must come out. A list left out is not checked; an empty list must stay empty.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub http_out: Option<Vec<HttpOutExpect>>,
    #[serde(default)]
    pub alerts: Option<Vec<AlertExpect>>,
    #[serde(default)]
    pub influxdb_out: Option<Vec<WriteExpect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOutExpect {
    pub endpoint: String,
    /// The endpoint's JSON at the end (`{"series": [...]}`): JSON text or a TOML table.
    pub result: Value,
    /// Compare series as a set, by name and tags.
    #[serde(default)]
    pub ignore_series_order: bool,
}

/// One alert event, in order. Fields left out match anything.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertExpect {
    /// The topic it went to; when no expectation names one, the events of the task's own
    /// alert nodes are checked.
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub time: Option<String>,
}

/// The points influxDBOut wrote (to a database / retention policy when named), in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteExpect {
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// Line protocol.
    pub lines: String,
    /// Precision of the timestamps in `lines`; default ns.
    #[serde(default)]
    pub precision: Option<String>,
}
