//! Backups: everything a Farad keeps, as of one moment, in one zip archive; and putting an
//! archive back into a data dir.
//!
//! Kapacitor's backup is its BoltDB file alone. Farad keeps more beside its store (recording
//! files, UDF components, uploaded handler plugins), so the archive holds them too:
//!
//! ```text
//! backup.json                    what made it: Farad's version, schema, time, counts
//! farad.redb                     a copy of the store taken inside one read transaction
//! replay/<id>.srpl|brpl          each recording the copy lists
//! udfs/<name>/<version>.wasm     each UDF version the copy lists
//! handler-plugins/<kind>.wasm    uploaded handler plugins
//! ```
//!
//! Compiled artifacts and the plugin cache are left out: they are rebuilt from the components.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::Config;
use crate::recordings::RecordingRecord;
use crate::store::{self, Store, UdfRecord};

const STORE_ENTRY: &str = "farad.redb";
const MANIFEST: &str = "backup.json";

/// Where a Farad's kept things live, from its config.
struct Layout {
    store: PathBuf,
    replay: PathBuf,
    udfs: PathBuf,
    plugins: PathBuf,
}

impl Layout {
    fn of(config: &Config) -> Layout {
        Layout {
            store: config.store_path(),
            replay: config.replay_dir(),
            udfs: config.data_dir.join("udfs"),
            plugins: config.data_dir.join("handler-plugins"),
        }
    }
}

/// Archives the store and the files its records name, as of one moment.
pub fn create(store: &Store, config: &Config) -> Result<Vec<u8>> {
    let layout = Layout::of(config);
    let tmp = config
        .data_dir
        .join(format!(".backup-{}.redb", crate::server::new_id()));
    let picked = store.snapshot(&tmp, |snap| {
        Ok((
            snap.list(&store::RECORDINGS)?,
            snap.list(&store::UDFS)?,
            snap.list(&store::TASKS)?.len(),
        ))
    });
    let copy = picked.and_then(|p| Ok((p, std::fs::read(&tmp)?)));
    let _ = std::fs::remove_file(&tmp);
    let ((recordings, udfs, tasks), copy) = copy.context("copying the store")?;

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let manifest = serde_json::json!({
        "farad": crate::VERSION,
        "schema": store::SCHEMA_VERSION,
        "created": farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns()),
        "tasks": tasks,
        "recordings": recordings.len(),
        "udfs": udfs.len(),
    });
    zip.start_file(MANIFEST, opts)?;
    zip.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    zip.start_file(STORE_ENTRY, opts)?;
    zip.write_all(&copy)?;
    for (_, rec) in &recordings {
        add_recording(&mut zip, opts, &layout, rec)?;
    }
    for (_, rec) in &udfs {
        add_udf(&mut zip, opts, &layout, rec)?;
    }
    if let Ok(entries) = std::fs::read_dir(&layout.plugins) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wasm") {
                zip.start_file(format!("handler-plugins/{name}"), opts)?;
                zip.write_all(&std::fs::read(e.path())?)?;
            }
        }
    }
    Ok(zip.finish()?.into_inner())
}

type Zip = zip::ZipWriter<Cursor<Vec<u8>>>;

fn add_recording(
    zip: &mut Zip,
    opts: zip::write::SimpleFileOptions,
    layout: &Layout,
    rec: &RecordingRecord,
) -> Result<()> {
    let name = crate::recordings::file_name(&rec.id, rec.kind);
    match std::fs::read(layout.replay.join(&name)) {
        Ok(bytes) => {
            zip.start_file(format!("replay/{name}"), opts)?;
            zip.write_all(&bytes)?;
        }
        // A recording still running or failed has no file yet; its record says so.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && rec.status != "finished" => {}
        Err(e) => return Err(e).with_context(|| format!("reading recording {}", rec.id)),
    }
    Ok(())
}

fn add_udf(
    zip: &mut Zip,
    opts: zip::write::SimpleFileOptions,
    layout: &Layout,
    rec: &UdfRecord,
) -> Result<()> {
    let rel = format!("{}/{}.wasm", rec.name, rec.version);
    let bytes = std::fs::read(layout.udfs.join(&rel))
        .with_context(|| format!("reading UDF {} version {}", rec.name, rec.version))?;
    zip.start_file(format!("udfs/{rel}"), opts)?;
    zip.write_all(&bytes)?;
    Ok(())
}

/// What a restore put back.
#[derive(Debug)]
pub struct Restored {
    pub manifest: serde_json::Value,
    pub files: usize,
}

/// Puts an archive from [`create`] into the places `config` names. Refuses to replace an
/// existing store unless `force`. Nothing is written until the whole archive has been read
/// and checked.
pub fn restore(archive: &[u8], config: &Config, force: bool) -> Result<Restored> {
    let layout = Layout::of(config);
    let mut zip = zip::ZipArchive::new(Cursor::new(archive)).context("not a Farad backup")?;
    let mut entries: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut store_bytes = None;
    let mut manifest = serde_json::Value::Null;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let name = f.name()?.into_owned();
        let mut bytes = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut bytes)
            .with_context(|| format!("reading {name} from the backup"))?;
        if name == MANIFEST {
            manifest = serde_json::from_slice(&bytes).context("reading backup.json")?;
            continue;
        }
        if name == STORE_ENTRY {
            store_bytes = Some(bytes);
            continue;
        }
        let dest = destination(&layout, &name)?;
        entries.push((dest, bytes));
    }
    let Some(store_bytes) = store_bytes else {
        bail!("not a Farad backup: it has no {STORE_ENTRY}");
    };
    if layout.store.exists() && !force {
        bail!(
            "{} exists: restore into an empty data dir, or pass -force to replace it",
            layout.store.display()
        );
    }
    // The store goes in last, checked, so that a store never names files not yet in place.
    for (dest, bytes) in &entries {
        crate::udfs::write_atomic(dest, bytes)?;
    }
    let tmp = layout.store.with_extension("restoring");
    crate::udfs::write_atomic(&tmp, &store_bytes)?;
    Store::open(&tmp)
        .map(drop)
        .context("the backup's store is unreadable")?;
    std::fs::rename(&tmp, &layout.store)
        .with_context(|| format!("moving the store to {}", layout.store.display()))?;
    Ok(Restored {
        manifest,
        files: entries.len() + 1,
    })
}

/// Where an archive entry goes; entries outside the known directories, or climbing out of
/// them, are refused.
fn destination(layout: &Layout, name: &str) -> Result<PathBuf> {
    let (dir, rest) = name
        .split_once('/')
        .with_context(|| format!("unexpected entry {name:?} in the backup"))?;
    let base = match dir {
        "replay" => &layout.replay,
        "udfs" => &layout.udfs,
        "handler-plugins" => &layout.plugins,
        _ => bail!("unexpected entry {name:?} in the backup"),
    };
    let rel = Path::new(rest);
    let plain = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain || rest.is_empty() {
        bail!("unsafe entry {name:?} in the backup");
    }
    Ok(base.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_owned(),
            ..Default::default()
        }
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("farad-backup-{tag}-{}", crate::server::new_id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_archive_restores_into_an_empty_data_dir_only() {
        let (a, b) = (tempdir("a"), tempdir("b"));
        let (ca, cb) = (config(&a), config(&b));
        let store = Store::open(&ca.store_path()).unwrap();
        store
            .put(&store::TOPICS, "cpu", &serde_json::json!({"x": 1}))
            .unwrap();
        std::fs::create_dir_all(a.join("handler-plugins")).unwrap();
        std::fs::write(a.join("handler-plugins/mine.wasm"), b"\0asm").unwrap();
        let archive = create(&store, &ca).unwrap();

        let r = restore(&archive, &cb, false).unwrap();
        assert_eq!(r.files, 2);
        assert_eq!(r.manifest["farad"], crate::VERSION);
        assert_eq!(
            std::fs::read(b.join("handler-plugins/mine.wasm")).unwrap(),
            b"\0asm"
        );
        let copy = Store::open(&cb.store_path()).unwrap();
        assert_eq!(copy.list(&store::TOPICS).unwrap().len(), 1);
        drop(copy);

        let again = restore(&archive, &cb, false).unwrap_err();
        assert!(format!("{again:#}").contains("-force"), "{again:#}");
        restore(&archive, &cb, true).unwrap();
        std::fs::remove_dir_all(a).ok();
        std::fs::remove_dir_all(b).ok();
    }

    #[test]
    fn refuses_what_is_not_a_backup_and_entries_that_climb_out() {
        let b = tempdir("c");
        let c = config(&b);
        let err = restore(b"not a zip", &c, false).unwrap_err();
        assert!(format!("{err:#}").contains("not a Farad backup"));

        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("udfs/../../evil", opts).unwrap();
        zip.write_all(b"x").unwrap();
        zip.start_file(STORE_ENTRY, opts).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let err = restore(&bytes, &c, false).unwrap_err();
        assert!(format!("{err:#}").contains("unsafe entry"), "{err:#}");
        assert!(!c.store_path().exists());
        std::fs::remove_dir_all(b).ok();
    }
}
