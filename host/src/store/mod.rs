//! The embedded store: the only code that touches redb.
//!
//! One redb file holds a table per kind of record, keyed by id, with values as JSON so that a
//! record can grow fields without a migration. Every write commits with immediate durability
//! before it returns: what an API call acknowledged survives `kill -9`.

mod records;
mod topics;

use std::path::Path;

use anyhow::{Context, Result, bail};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
};
use serde::{Serialize, de::DeserializeOwned};

pub use records::{DbRp, TaskRecord, TaskStatus, TaskType, UdfRecord};
pub use topics::{StoredEvent, StoredTopic, TOPIC_EVENTS, TopicChanges};

/// The layout version this build writes. Bumped when a record changes incompatibly.
pub const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// A table of JSON records of type `T`.
pub struct Collection<T> {
    def: TableDefinition<'static, &'static str, &'static [u8]>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> Collection<T> {
    const fn new(name: &'static str) -> Collection<T> {
        Collection {
            def: TableDefinition::new(name),
            _t: std::marker::PhantomData,
        }
    }
}

/// Tasks, by id.
pub const TASKS: Collection<TaskRecord> = Collection::new("tasks");
/// Task templates, by id.
pub const TEMPLATES: Collection<crate::http::templates::TemplateRecord> =
    Collection::new("templates");
/// Alert topics (`{"collected": n}`), by topic id; their events are in `topic_events`.
pub const TOPICS: Collection<serde_json::Value> = Collection::new("topics");
/// Topic handler specs, by `topic/handler-id`.
pub const HANDLERS: Collection<serde_json::Value> = Collection::new("handlers");
/// Recording metadata, by recording id (the data lives in `[replay] dir`).
pub const RECORDINGS: Collection<crate::recordings::RecordingRecord> =
    Collection::new("recordings");
/// Replays and their outcome, by replay id.
pub const REPLAYS: Collection<crate::replays::ReplayRecord> = Collection::new("replays");
/// UDF modules: metadata by name.
pub const UDFS: Collection<UdfRecord> = Collection::new("udfs");
/// What running tasks' nodes keep beyond their data (UDF snapshots), by task id:
/// `{"<node>": "<base64>"}`.
pub const TASK_STATE: Collection<std::collections::BTreeMap<String, String>> =
    Collection::new("task_state");

/// Silences, by id.
pub const SILENCES: Collection<crate::silences::Silence> = Collection::new("silences");

/// What the `[load]` directory made, by `tasks/<id>`, `templates/<id>`,
/// `handlers/<topic>/<id>`: removed when its file is gone.
pub const LOADED: Collection<serde_json::Value> = Collection::new("loaded");

/// Config overrides made over the API, by `section/element`.
pub const CONFIG_OVERRIDES: Collection<crate::overrides::Override> =
    Collection::new("config_overrides");

/// API users, by name.
pub const USERS: Collection<crate::auth::UserRecord> = Collection::new("users");

const ALL_TABLES: [TableDefinition<'static, &'static str, &'static [u8]>; 13] = [
    CONFIG_OVERRIDES.def,
    USERS.def,
    TASKS.def,
    SILENCES.def,
    TOPIC_EVENTS.def,
    TEMPLATES.def,
    TOPICS.def,
    HANDLERS.def,
    RECORDINGS.def,
    REPLAYS.def,
    UDFS.def,
    TASK_STATE.def,
    LOADED.def,
];

/// The opened store.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating when missing) the store at `path`, checking its schema version.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db =
            Database::create(path).with_context(|| format!("opening store {}", path.display()))?;
        let store = Store { db };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| decode_u64(v.value()));
            match found {
                None => {
                    meta.insert("schema_version", &SCHEMA_VERSION.to_le_bytes()[..])?;
                }
                Some(Some(v)) if v <= SCHEMA_VERSION => {}
                Some(v) => bail!(
                    "the store was written by a newer Farad (schema {v:?}, this build reads up to {SCHEMA_VERSION})"
                ),
            }
            for def in ALL_TABLES {
                tx.open_table(def)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version recorded in the store.
    pub fn schema_version(&self) -> Result<u64> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let v = meta
            .get("schema_version")?
            .and_then(|v| decode_u64(v.value()));
        v.context("store has no schema version")
    }

    /// A metadata string (e.g. the cluster id), created with `make` the first time it is asked for.
    pub fn meta_or_insert(&self, key: &str, make: impl FnOnce() -> String) -> Result<String> {
        {
            let tx = self.db.begin_read()?;
            let meta = tx.open_table(META)?;
            if let Some(v) = meta.get(key)? {
                return Ok(String::from_utf8_lossy(v.value()).into_owned());
            }
        }
        let value = make();
        let tx = self.db.begin_write()?;
        tx.open_table(META)?.insert(key, value.as_bytes())?;
        tx.commit()?;
        Ok(value)
    }

    /// Stores `record` under `id`, replacing any previous one. Durable on return.
    pub fn put<T: Serialize>(&self, c: &Collection<T>, id: &str, record: &T) -> Result<()> {
        let bytes = serde_json::to_vec(record)?;
        let tx = self.db.begin_write()?;
        tx.open_table(c.def)?.insert(id, bytes.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Stores `record` under `id` only if no record has that id; false if one had.
    pub fn insert_new<T: Serialize>(
        &self,
        c: &Collection<T>,
        id: &str,
        record: &T,
    ) -> Result<bool> {
        let bytes = serde_json::to_vec(record)?;
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(c.def)?;
            if table.get(id)?.is_some() {
                return Ok(false);
            }
            table.insert(id, bytes.as_slice())?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// The record under `id`.
    pub fn get<T: DeserializeOwned>(&self, c: &Collection<T>, id: &str) -> Result<Option<T>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(c.def)?;
        match table.get(id)? {
            Some(v) => Ok(Some(decode(c, id, v.value())?)),
            None => Ok(None),
        }
    }

    /// Removes the record under `id`; false if there was none. Durable on return.
    pub fn delete<T>(&self, c: &Collection<T>, id: &str) -> Result<bool> {
        let tx = self.db.begin_write()?;
        let existed = tx.open_table(c.def)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    /// Every record, in id order.
    pub fn list<T: DeserializeOwned>(&self, c: &Collection<T>) -> Result<Vec<(String, T)>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(c.def)?;
        let mut out = Vec::with_capacity(table.len()? as usize);
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push((k.value().to_owned(), decode(c, k.value(), v.value())?));
        }
        Ok(out)
    }

    /// Writes a copy of the whole store, as of one moment, to a new store file at `path`,
    /// and returns what `pick` read inside that same moment (so files named by records match
    /// the copy).
    pub fn snapshot<R>(&self, path: &Path, pick: impl FnOnce(&Snapshot) -> Result<R>) -> Result<R> {
        let tx = self.db.begin_read()?;
        let copy = Database::create(path)
            .with_context(|| format!("creating snapshot {}", path.display()))?;
        let wtx = copy.begin_write()?;
        for def in std::iter::once(META).chain(ALL_TABLES) {
            let from = tx.open_table(def)?;
            let mut to = wtx.open_table(def)?;
            for entry in from.iter()? {
                let (k, v) = entry?;
                to.insert(k.value(), v.value())?;
            }
        }
        wtx.commit()?;
        drop(copy);
        pick(&Snapshot { tx })
    }

    /// The names of the tables (Kapacitor's "stores"), in a stable order.
    pub fn table_names() -> Vec<String> {
        let mut names: Vec<String> = ALL_TABLES.iter().map(|d| d.name().to_owned()).collect();
        names.sort();
        names
    }

    /// Reads every record of the table `name`, rewriting none: the names of records that do
    /// not decode as JSON. `None` when there is no such table.
    pub fn check_table(&self, name: &str) -> Result<Option<Vec<String>>> {
        let Some(def) = ALL_TABLES.iter().find(|d| d.name() == name) else {
            return Ok(None);
        };
        let tx = self.db.begin_read()?;
        let table = tx.open_table(*def)?;
        let mut bad = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            if serde_json::from_slice::<serde::de::IgnoredAny>(v.value()).is_err() {
                bad.push(k.value().to_owned());
            }
        }
        Ok(Some(bad))
    }

    /// Number of records.
    pub fn count<T>(&self, c: &Collection<T>) -> Result<u64> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(c.def)?.len()?)
    }
}

/// The store as of one moment, while a snapshot is taken.
pub struct Snapshot {
    tx: redb::ReadTransaction,
}

impl Snapshot {
    /// Every record of `c`, as of the snapshot.
    pub fn list<T: DeserializeOwned>(&self, c: &Collection<T>) -> Result<Vec<(String, T)>> {
        let table = self.tx.open_table(c.def)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push((k.value().to_owned(), decode(c, k.value(), v.value())?));
        }
        Ok(out)
    }
}

fn decode<T: DeserializeOwned>(c: &Collection<T>, id: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).with_context(|| {
        format!(
            "record {id:?} in table {:?} is unreadable",
            c.def.to_string()
        )
    })
}

fn decode_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_persist_across_reopen() {
        let dir = tempdir();
        let path = dir.join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
            s.put(&TOPICS, "cpu", &serde_json::json!({"level": "OK"}))
                .unwrap();
            assert!(s.insert_new(&TOPICS, "mem", &serde_json::json!(1)).unwrap());
            assert!(!s.insert_new(&TOPICS, "mem", &serde_json::json!(2)).unwrap());
            assert!(s.delete(&TOPICS, "mem").unwrap());
            assert!(!s.delete(&TOPICS, "mem").unwrap());
        }
        let s = Store::open(&path).unwrap();
        let all = s.list(&TOPICS).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "cpu");
        assert_eq!(
            s.get(&TOPICS, "cpu").unwrap(),
            Some(serde_json::json!({"level": "OK"}))
        );
        let id = s.meta_or_insert("cluster_id", || "abc".into()).unwrap();
        assert_eq!(
            s.meta_or_insert("cluster_id", || "other".into()).unwrap(),
            id
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempdir();
        let path = dir.join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            let tx = s.db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", &99u64.to_le_bytes()[..])
                .unwrap();
            tx.commit().unwrap();
        }
        let err = Store::open(&path).err().expect("newer schema refused");
        assert!(format!("{err:#}").contains("newer Farad"), "{err:#}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_snapshot_is_the_store_at_one_moment() {
        let dir = tempdir().join("snap");
        std::fs::create_dir_all(&dir).unwrap();
        let s = Store::open(&dir.join("s.redb")).unwrap();
        s.put(&TOPICS, "cpu", &serde_json::json!(1)).unwrap();
        let copy = dir.join("copy.redb");
        let seen = s
            .snapshot(&copy, |snap| {
                // A write after the snapshot began is not in it.
                s.put(&TOPICS, "mem", &serde_json::json!(2)).unwrap();
                snap.list(&TOPICS)
            })
            .unwrap();
        assert_eq!(seen.len(), 1);
        let c = Store::open(&copy).unwrap();
        let ids: Vec<String> = c.list(&TOPICS).unwrap().into_iter().map(|r| r.0).collect();
        assert_eq!(ids, ["cpu"]);
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.check_table("topics").unwrap(), Some(vec![]));
        assert_eq!(s.check_table("nope").unwrap(), None);
        std::fs::remove_dir_all(dir).ok();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "farad-store-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
