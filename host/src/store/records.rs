//! Record types kept in the store.

use serde::{Deserialize, Serialize};

/// A database and retention policy pair, as in Kapacitor's task JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DbRp {
    pub db: String,
    pub rp: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    Stream,
    Batch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Enabled,
    Disabled,
}

/// A task as stored: its definition and lifecycle times (RFC 3339).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TaskRecord {
    pub id: String,
    #[serde(default)]
    pub template_id: String,
    #[serde(rename = "type")]
    pub kind: TaskType,
    pub dbrps: Vec<DbRp>,
    pub script: String,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub status: TaskStatus,
    pub created: String,
    pub modified: String,
    #[serde(default)]
    pub last_enabled: String,
}

/// A stored Wasm UDF module (its bytes live in `<data_dir>/udfs/<name>/`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UdfRecord {
    pub name: String,
    /// Starts at 1; each upload under the name adds one.
    pub version: u64,
    /// Size of the component, bytes.
    pub size: u64,
    /// A hash of the component's bytes (hex), to tell uploads apart.
    pub digest: String,
    pub created: String,
    pub modified: String,
    /// What the module declares: edges and options.
    pub signature: serde_json::Value,
}
