//! Wasm UDF modules: uploaded over HTTP or named in `[udf.functions]`, compiled once, kept
//! under `<data_dir>/udfs/<name>/` with their metadata in the store, and installed in the
//! runtime's registry where running tasks pick up new versions.
//!
//! Files: `<version>.wasm` (the component as uploaded) and `<version>-<engine key>.cwasm`
//! (native code for this engine; rebuilt from the `.wasm` when the engine changes). Both are
//! written to a temporary name, synced and renamed before the record is stored: after a
//! crash, a record always names files that are whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use farad_runtime::wasm::{UdfEngine, UdfError, UdfLimits, UdfModule, UdfRegistry};
use sha2::{Digest, Sha256};

use crate::config::UdfSection;
use crate::store::{Store, UDFS, UdfRecord};

/// Largest component accepted.
pub const MAX_MODULE_BYTES: usize = 64 << 20;

/// Why an upload was refused.
#[derive(Debug)]
pub enum UploadError {
    /// The caller's fault: a bad name or module (HTTP 400).
    Invalid(String),
    Internal(anyhow::Error),
}

/// The UDF modules of this server.
pub struct Udfs {
    registry: Arc<UdfRegistry>,
    dir: PathBuf,
    /// Names defined by config: not stored, not deletable over the API.
    from_config: Vec<String>,
    /// Uploads are serialized so that versions are assigned in order.
    upload_lock: parking_lot::Mutex<()>,
}

impl Udfs {
    /// Starts the engine and loads every stored and configured module. A module that fails
    /// to load is logged and skipped: it must not keep the server from starting.
    pub fn open(data_dir: &Path, config: &UdfSection, store: &Store) -> Result<Udfs> {
        let limits = UdfLimits {
            memory_bytes: (config.memory_limit_mb as usize) << 20,
            call_timeout: Duration::from_nanos(config.call_timeout.0.max(0) as u64),
            max_instances: config.max_instances,
        };
        let engine = UdfEngine::new(limits).map_err(anyhow::Error::msg)?;
        let udfs = Udfs {
            registry: Arc::new(UdfRegistry::new(engine)),
            dir: data_dir.join("udfs"),
            from_config: config.functions.keys().cloned().collect(),
            upload_lock: parking_lot::Mutex::new(()),
        };
        for (name, rec) in store.list(&UDFS)? {
            if let Err(e) = udfs.load_stored(&rec) {
                tracing::error!(udf = name, error = format!("{e:#}"), "UDF not loaded");
            }
        }
        for (name, f) in &config.functions {
            let loaded = std::fs::read(&f.wasm)
                .with_context(|| format!("reading {}", f.wasm.display()))
                .and_then(|wasm| {
                    udfs.compile(name, &wasm)
                        .map_err(|e| anyhow::anyhow!("{e}"))
                });
            match loaded {
                Ok(module) => {
                    tracing::info!(udf = name, path = %f.wasm.display(), "UDF loaded from config");
                    udfs.registry.install(module, 1);
                }
                Err(e) => tracing::error!(udf = name, error = format!("{e:#}"), "UDF not loaded"),
            }
        }
        Ok(udfs)
    }

    pub fn registry(&self) -> &Arc<UdfRegistry> {
        &self.registry
    }

    /// What each module declares, for checking scripts.
    pub fn signatures(
        &self,
    ) -> std::collections::BTreeMap<String, farad_runtime::pipeline::UdfSignature> {
        self.registry.signatures()
    }

    fn module_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn artifact_path(&self, name: &str, version: u64) -> PathBuf {
        let key = self.registry.engine().artifact_key();
        self.module_dir(name)
            .join(format!("{version}-{key:016x}.cwasm"))
    }

    fn wasm_path(&self, name: &str, version: u64) -> PathBuf {
        self.module_dir(name).join(format!("{version}.wasm"))
    }

    fn compile(&self, name: &str, wasm: &[u8]) -> Result<UdfModule, UdfError> {
        let engine = self.registry.engine();
        let artifact = engine.precompile(wasm)?;
        engine.load(name, &artifact)
    }

    fn load_stored(&self, rec: &UdfRecord) -> Result<()> {
        let engine = self.registry.engine();
        let artifact_path = self.artifact_path(&rec.name, rec.version);
        let artifact = match std::fs::read(&artifact_path) {
            Ok(a) => a,
            Err(_) => {
                // Compiled by another engine build (or never): compile the component again.
                let wasm_path = self.wasm_path(&rec.name, rec.version);
                let wasm = std::fs::read(&wasm_path)
                    .with_context(|| format!("reading {}", wasm_path.display()))?;
                let a = engine
                    .precompile(&wasm)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                write_atomic(&artifact_path, &a)?;
                a
            }
        };
        let module = engine
            .load(&rec.name, &artifact)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(udf = rec.name, version = rec.version, "UDF loaded");
        self.registry.install(module, rec.version);
        Ok(())
    }

    /// Checks, compiles, stores and installs a new version of `name`; running tasks switch
    /// to it at their next call.
    pub fn upload(&self, store: &Store, name: &str, wasm: &[u8]) -> Result<UdfRecord, UploadError> {
        check_name(name).map_err(UploadError::Invalid)?;
        if self.from_config.iter().any(|n| n == name) {
            return Err(UploadError::Invalid(format!(
                "UDF {name:?} is defined in the config file ([udf.functions.{name}]); change it there"
            )));
        }
        if wasm.is_empty() {
            return Err(UploadError::Invalid(
                "the request body must be the UDF's Wasm component; it is empty".into(),
            ));
        }
        if wasm.len() > MAX_MODULE_BYTES {
            return Err(UploadError::Invalid(format!(
                "the component is {} bytes; the limit is {MAX_MODULE_BYTES}",
                wasm.len()
            )));
        }
        let engine = self.registry.engine();
        let artifact = engine
            .precompile(wasm)
            .map_err(|e| UploadError::Invalid(e.to_string()))?;
        let module = engine
            .load(name, &artifact)
            .map_err(|e| UploadError::Invalid(e.to_string()))?;
        let _guard = self.upload_lock.lock();
        let previous = store.get(&UDFS, name).map_err(UploadError::Internal)?;
        let version = previous.as_ref().map_or(1, |p| p.version + 1);
        let now = farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns());
        let rec = UdfRecord {
            name: name.to_owned(),
            version,
            size: wasm.len() as u64,
            digest: hex(&Sha256::digest(wasm)),
            created: previous
                .as_ref()
                .map_or_else(|| now.clone(), |p| p.created.clone()),
            modified: now,
            signature: serde_json::to_value(&module.signature).unwrap_or_default(),
        };
        let write = || -> Result<()> {
            write_atomic(&self.wasm_path(name, version), wasm)?;
            write_atomic(&self.artifact_path(name, version), &artifact)?;
            store.put(&UDFS, name, &rec)
        };
        write().map_err(UploadError::Internal)?;
        self.registry.install(module, version);
        if let Some(p) = previous {
            self.remove_files(name, Some(p.version));
        }
        tracing::info!(udf = name, version, size = wasm.len(), "UDF installed");
        Ok(rec)
    }

    /// Removes a stored module: new tasks cannot use it, running ones keep their copy.
    pub fn delete(&self, store: &Store, name: &str) -> Result<bool, UploadError> {
        if self.from_config.iter().any(|n| n == name) {
            return Err(UploadError::Invalid(format!(
                "UDF {name:?} is defined in the config file; remove it there"
            )));
        }
        let existed = store.delete(&UDFS, name).map_err(UploadError::Internal)?;
        if existed {
            self.registry.remove(name);
            self.remove_files(name, None);
        }
        Ok(existed)
    }

    /// Deletes the files of one version, or the module's whole directory.
    fn remove_files(&self, name: &str, version: Option<u64>) {
        let dir = self.module_dir(name);
        let result = match version {
            None => std::fs::remove_dir_all(&dir),
            Some(v) => std::fs::read_dir(&dir).and_then(|entries| {
                let prefix = (format!("{v}.wasm"), format!("{v}-"));
                for e in entries.flatten() {
                    let f = e.file_name().to_string_lossy().into_owned();
                    if f == prefix.0 || f.starts_with(&prefix.1) {
                        std::fs::remove_file(e.path())?;
                    }
                }
                Ok(())
            }),
        };
        if let Err(e) = result {
            tracing::warn!(udf = name, error = %e, "removing old UDF files");
        }
    }

    /// Stored and configured modules, by name.
    pub fn list(&self, store: &Store) -> Result<Vec<UdfRecord>> {
        let mut out: Vec<UdfRecord> = store.list(&UDFS)?.into_iter().map(|(_, r)| r).collect();
        for name in &self.from_config {
            if let Some(slot) = self.registry.get(name) {
                let (version, module) = slot.current();
                out.push(UdfRecord {
                    name: name.clone(),
                    version,
                    size: 0,
                    digest: String::new(),
                    created: String::new(),
                    modified: String::new(),
                    signature: serde_json::to_value(&module.signature).unwrap_or_default(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// A UDF's name is how TICKscript calls it: `@name()`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid UDF name {name:?}: use letters, digits and _, starting with a letter, as TICKscript calls it (@name())"
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Writes `bytes` to `path` so that the file is either absent or whole, even after a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = path.parent().context("file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all())?;
    Ok(())
}
