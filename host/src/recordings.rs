//! Recordings: data kept to replay into tasks, in Kapacitor's files under `[replay] dir`
//! (stream: `<id>.srpl`, gzipped; batch: `<id>.brpl`, a zip with one entry of JSON batches per
//! query node, named `0`, `1`, ...). Their metadata is in the store.
//!
//! Data comes in by import (`POST /kapacitor/v1/recordings/import`); it is checked whole before
//! anything is stored, and the file is in place (synced, renamed) before its metadata is.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use farad_runtime::lineproto::{self, PointBuilder, Precision};
use farad_runtime::model::Batch;
use farad_runtime::recording::{self, StreamPoint};
use serde::{Deserialize, Serialize};

use crate::store::{self, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingType {
    Stream,
    Batch,
}

/// A recording's metadata as Kapacitor shows it (without the `link`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: RecordingType,
    /// Bytes on disk.
    pub size: u64,
    pub date: String,
    pub error: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    pub progress: f64,
}

/// The name of a recording's file in `[replay] dir`, as Kapacitor names it.
pub fn file_name(id: &str, kind: RecordingType) -> String {
    let ext = match kind {
        RecordingType::Stream => "srpl",
        RecordingType::Batch => "brpl",
    };
    format!("{id}.{ext}")
}

/// A recording's content, ready to replay.
pub enum Data {
    Stream(Vec<StreamPoint>),
    /// Per query node, its batches.
    Batch(Vec<Vec<Batch>>),
}

/// How an import body is to be read.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub id: Option<String>,
    pub kind: Option<RecordingType>,
    /// Timestamp precision of stream data (default: nanoseconds, as Kapacitor records).
    pub precision: Precision,
    /// Set: the body is plain line protocol written to `db`/`rp`, not a `.srpl`.
    pub db: Option<String>,
    pub rp: Option<String>,
}

/// Why an import was refused.
#[derive(Debug)]
pub enum ImportError {
    /// The request: bad data, a bad id, an id in use (400 / 409 in the API).
    Invalid(String),
    Conflict(String),
    Internal(anyhow::Error),
}

pub struct Recordings {
    dir: PathBuf,
    store: Arc<Store>,
}

impl Recordings {
    pub fn open(dir: &Path, store: Arc<Store>) -> Result<Recordings> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // A recording that was running when the server stopped never finished.
        for (id, mut r) in store.list(&store::RECORDINGS)? {
            if r.status == "running" {
                r.status = "failed".into();
                r.error = "the server stopped during the recording".into();
                store.put(&store::RECORDINGS, &id, &r)?;
            }
        }
        Ok(Recordings {
            dir: dir.to_owned(),
            store,
        })
    }

    fn path(&self, id: &str, kind: RecordingType) -> PathBuf {
        self.dir.join(file_name(id, kind))
    }

    /// Checks `body` and stores it as a new recording.
    pub fn import(
        &self,
        body: &[u8],
        opts: &ImportOptions,
    ) -> Result<RecordingRecord, ImportError> {
        let id = self.new_id(opts.id.clone())?;
        let zipped = body.starts_with(b"PK\x03\x04");
        let kind = opts.kind.unwrap_or(if zipped {
            RecordingType::Batch
        } else {
            RecordingType::Stream
        });
        let file = match kind {
            RecordingType::Stream => {
                let text = gunzip_if(body)?;
                let points = stream_points(&text, opts)?;
                if points.is_empty() {
                    return Err(ImportError::Invalid("the recording holds no points".into()));
                }
                let mut srpl = String::with_capacity(text.len() + points.len() * 16);
                for p in &points {
                    recording::write_stream_point(&mut srpl, &p.db, &p.rp, &p.point);
                }
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(srpl.as_bytes())
                    .and_then(|_| gz.finish())
                    .map_err(|e| ImportError::Internal(e.into()))?
            }
            RecordingType::Batch => {
                let queries = if zipped {
                    unzip(body).map_err(ImportError::Invalid)?
                } else {
                    vec![gunzip_if(body)?]
                };
                for (i, q) in queries.iter().enumerate() {
                    recording::parse_batches(q)
                        .map_err(|e| ImportError::Invalid(format!("query {i}: {e}")))?;
                }
                zip_queries(&queries).map_err(ImportError::Internal)?
            }
        };
        let path = self.path(&id, kind);
        write_synced(&path, &file).map_err(ImportError::Internal)?;
        let rec = RecordingRecord {
            id: id.clone(),
            kind,
            size: file.len() as u64,
            date: farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns()),
            error: String::new(),
            status: "finished".into(),
            progress: 1.0,
        };
        self.store
            .put(&store::RECORDINGS, &id, &rec)
            .map_err(ImportError::Internal)?;
        Ok(rec)
    }

    /// Starts recording the points written to `dbrps` until `stop` (wall-clock ns): the
    /// recording is `running` until then, then stored as a `.srpl` like an import.
    pub fn record_stream(
        self: &Arc<Self>,
        id: Option<String>,
        dbrps: &[crate::store::DbRp],
        stop: i64,
        router: &crate::ingest::Router,
    ) -> Result<RecordingRecord, ImportError> {
        let rec = self.begin(id, RecordingType::Stream)?;
        let id = rec.id.clone();
        let text = Arc::new(parking_lot::Mutex::new(String::new()));
        let subscriptions: Vec<crate::ingest::Subscription> = dbrps
            .iter()
            .map(|d| {
                let sink = Arc::new(RecordSink {
                    db: d.db.clone(),
                    rp: d.rp.clone(),
                    text: text.clone(),
                });
                router.subscribe(&d.db, &d.rp, sink)
            })
            .collect();
        let me = self.clone();
        let started = rec.clone();
        std::thread::Builder::new()
            .name(format!("record-{id}"))
            .spawn(move || {
                let begin = crate::server::now_ns();
                loop {
                    let now = crate::server::now_ns();
                    if now >= stop {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_nanos(
                        (stop - now).min(100_000_000) as u64,
                    ));
                    if let Ok(Some(mut r)) = me.get(&started.id) {
                        r.progress = (now - begin) as f64 / (stop - begin).max(1) as f64;
                        let _ = me.store.put(&store::RECORDINGS, &r.id, &r);
                    } else {
                        return; // deleted while recording
                    }
                }
                drop(subscriptions);
                let text = std::mem::take(&mut *text.lock());
                let saved = me
                    .save_stream(&started.id, text.as_bytes())
                    .map_err(|e| format!("{e:#}"));
                me.finish(started, saved);
            })
            .map_err(|e| ImportError::Internal(e.into()))?;
        Ok(rec)
    }

    /// Starts recording a batch task's queries over `[start, stop]`: every run their
    /// schedules would have made, one zip entry of batches per query.
    pub fn record_batch(
        self: &Arc<Self>,
        id: Option<String>,
        queries: Vec<farad_runtime::query::BatchQuery>,
        start: i64,
        stop: i64,
        io: Arc<dyn farad_runtime::exec::Io>,
    ) -> Result<RecordingRecord, ImportError> {
        self.record(id, RecordingType::Batch, move || {
            let now = crate::server::now_ns();
            query_runs(&queries, start, stop, now, io.as_ref()).map(Data::Batch)
        })
    }

    /// Starts recording what an ad-hoc InfluxQL query returns, as a stream (points in time
    /// order, to the query's db/rp) or as the batches of one query.
    pub fn record_query(
        self: &Arc<Self>,
        id: Option<String>,
        kind: RecordingType,
        query: String,
        cluster: String,
        io: Arc<dyn farad_runtime::exec::Io>,
    ) -> Result<RecordingRecord, ImportError> {
        if query.trim().is_empty() {
            return Err(ImportError::Invalid("must provide query".into()));
        }
        self.record(id, kind, move || {
            query_data(kind, &query, &cluster, io.as_ref())
        })
    }

    /// A recording made by `fetch` on a thread of its own: `running` until it returns, then
    /// stored or failed.
    fn record(
        self: &Arc<Self>,
        id: Option<String>,
        kind: RecordingType,
        fetch: impl FnOnce() -> Result<Data, String> + Send + 'static,
    ) -> Result<RecordingRecord, ImportError> {
        let rec = self.begin(id, kind)?;
        let me = self.clone();
        let started = rec.clone();
        std::thread::Builder::new()
            .name(format!("record-{}", rec.id))
            .spawn(move || {
                let saved = fetch()
                    .and_then(|data| me.save(&started.id, &data).map_err(|e| format!("{e:#}")));
                me.finish(started, saved);
            })
            .map_err(|e| ImportError::Internal(e.into()))?;
        Ok(rec)
    }

    /// Writes a recording's file (gzip .srpl or zip .brpl); returns its size.
    fn save(&self, id: &str, data: &Data) -> Result<u64> {
        match data {
            Data::Stream(points) => {
                let mut text = String::new();
                for p in points {
                    recording::write_stream_point(&mut text, &p.db, &p.rp, &p.point);
                }
                self.save_stream(id, text.as_bytes())
            }
            Data::Batch(queries) => {
                let entries: Vec<Vec<u8>> = queries
                    .iter()
                    .map(|batches| {
                        let mut text = String::new();
                        for b in batches {
                            text.push_str(&recording::batch_to_json(b).to_string());
                            text.push('\n');
                        }
                        text.into_bytes()
                    })
                    .collect();
                let file = zip_queries(&entries)?;
                write_synced(&self.path(id, RecordingType::Batch), &file)?;
                Ok(file.len() as u64)
            }
        }
    }

    /// A new recording's record, stored as `running`.
    fn begin(
        &self,
        id: Option<String>,
        kind: RecordingType,
    ) -> Result<RecordingRecord, ImportError> {
        let rec = RecordingRecord {
            id: self.new_id(id)?,
            kind,
            size: 0,
            date: farad_runtime::time::format_rfc3339_nanos(crate::server::now_ns()),
            error: String::new(),
            status: "running".into(),
            progress: 0.0,
        };
        self.store
            .put(&store::RECORDINGS, &rec.id, &rec)
            .map_err(ImportError::Internal)?;
        Ok(rec)
    }

    /// Stores a recording's outcome: finished with its file's size, or failed with why.
    fn finish(&self, mut rec: RecordingRecord, outcome: Result<u64, String>) {
        match outcome {
            Ok(size) => {
                rec.size = size;
                rec.status = "finished".into();
                rec.progress = 1.0;
            }
            Err(e) => {
                rec.status = "failed".into();
                rec.error = e;
            }
        }
        if let Err(e) = self.store.put(&store::RECORDINGS, &rec.id, &rec) {
            tracing::error!(
                recording = rec.id,
                error = format!("{e:#}"),
                "saving recording"
            );
        }
    }

    fn save_stream(&self, id: &str, srpl: &[u8]) -> Result<u64> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(srpl)?;
        let file = gz.finish()?;
        write_synced(&self.path(id, RecordingType::Stream), &file)?;
        Ok(file.len() as u64)
    }

    /// A new recording's id: the one asked for (checked and free), else a fresh one.
    fn new_id(&self, id: Option<String>) -> Result<String, ImportError> {
        let id =
            crate::http::tasks::given_or_new_id(id, "recording").map_err(ImportError::Invalid)?;
        if self.get(&id).map_err(ImportError::Internal)?.is_some() {
            return Err(ImportError::Conflict(format!(
                "a recording with id {id:?} already exists"
            )));
        }
        Ok(id)
    }

    pub fn list(&self) -> Result<Vec<RecordingRecord>> {
        Ok(self
            .store
            .list(&store::RECORDINGS)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    pub fn get(&self, id: &str) -> Result<Option<RecordingRecord>> {
        self.store.get(&store::RECORDINGS, id)
    }

    /// Deletes the recording's metadata, then its file; false when there was none.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let Some(rec) = self.get(id)? else {
            return Ok(false);
        };
        self.store.delete(&store::RECORDINGS, id)?;
        match std::fs::remove_file(self.path(id, rec.kind)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(recording = id, error = %e, "recording file not removed")
            }
            _ => {}
        }
        Ok(true)
    }

    /// The recording's file as stored (gzip or zip), to export.
    pub fn file(&self, rec: &RecordingRecord) -> Result<Vec<u8>> {
        let path = self.path(&rec.id, rec.kind);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// The recording's content.
    pub fn load(&self, rec: &RecordingRecord) -> Result<Data> {
        let file = self.file(rec)?;
        match rec.kind {
            RecordingType::Stream => {
                let mut text = Vec::new();
                flate2::read::MultiGzDecoder::new(&file[..])
                    .read_to_end(&mut text)
                    .context("recording file is not gzip")?;
                let points = recording::parse_stream(&text, Precision::Nanoseconds)?;
                Ok(Data::Stream(points))
            }
            RecordingType::Batch => {
                let queries = unzip(&file).map_err(anyhow::Error::msg)?;
                let batches = queries
                    .iter()
                    .map(|q| recording::parse_batches(q))
                    .collect::<Result<_, _>>()?;
                Ok(Data::Batch(batches))
            }
        }
    }
}

/// What a batch task's queries return over `[start, stop]`: every run their schedules would
/// have made by `now`, per query (`record batch`, `replay-live batch`).
pub fn query_runs(
    queries: &[farad_runtime::query::BatchQuery],
    start: i64,
    stop: i64,
    now: i64,
    io: &dyn farad_runtime::exec::Io,
) -> Result<Vec<Vec<Batch>>, String> {
    let mut all = Vec::with_capacity(queries.len());
    for q in queries {
        let mut batches = Vec::new();
        for (from, to) in q.ranges(start, stop, now) {
            batches.extend(crate::schedule::run_query(io, q, &q.render(from, to), to)?);
        }
        all.push(batches);
    }
    Ok(all)
}

/// What an ad-hoc query returns (`record query`, `replay-live query`): as a stream, its
/// points merged in time order and written to the query's own db/rp (which it must name);
/// as a batch recording, its series' batches for one query node.
pub fn query_data(
    kind: RecordingType,
    query: &str,
    cluster: &str,
    io: &dyn farad_runtime::exec::Io,
) -> Result<Data, String> {
    let (db, rp) = farad_runtime::query::source_dbrp(query)?;
    let json = io
        .query_influxdb(cluster, query)
        .map_err(|e| format!("InfluxDB query failed: {e}"))?;
    let mut per_result = Vec::new();
    for result in json["results"].as_array().into_iter().flatten() {
        per_result.push(farad_runtime::query::result_to_batches(result, false)?);
    }
    match kind {
        RecordingType::Batch => Ok(Data::Batch(vec![per_result.concat()])),
        RecordingType::Stream => {
            let mut points = Vec::new();
            for batches in per_result {
                let start = points.len();
                for b in batches {
                    points.extend(b.points.into_iter().map(|p| StreamPoint {
                        db: db.clone(),
                        rp: rp.clone(),
                        point: farad_runtime::model::Point {
                            time: p.time,
                            series: p.series,
                            fields: p.fields,
                        },
                    }));
                }
                // Stable: points of one time keep their series' order, as Kapacitor merges.
                points[start..].sort_by_key(|p| p.point.time);
            }
            Ok(Data::Stream(points))
        }
    }
}

/// A recording file's content, read as an import reads it (gzip and zip recognised), without
/// storing it (`farad test`).
pub fn decode(body: &[u8], opts: &ImportOptions) -> Result<Data, ImportError> {
    let zipped = body.starts_with(b"PK\x03\x04");
    let kind = opts.kind.unwrap_or(if zipped {
        RecordingType::Batch
    } else {
        RecordingType::Stream
    });
    match kind {
        RecordingType::Stream => Ok(Data::Stream(stream_points(&gunzip_if(body)?, opts)?)),
        RecordingType::Batch => {
            let queries = if zipped {
                unzip(body).map_err(ImportError::Invalid)?
            } else {
                vec![gunzip_if(body)?]
            };
            let batches = queries
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    recording::parse_batches(q)
                        .map_err(|e| ImportError::Invalid(format!("query {i}: {e}")))
                })
                .collect::<Result<_, _>>()?;
            Ok(Data::Batch(batches))
        }
    }
}

/// Appends the points of the recorded db/rp to the recording's text, as they are written.
struct RecordSink {
    db: String,
    rp: String,
    text: Arc<parking_lot::Mutex<String>>,
}

impl crate::ingest::PointSink for RecordSink {
    fn deliver(&self, points: Vec<farad_runtime::model::Point>) {
        let mut text = self.text.lock();
        for p in &points {
            recording::write_stream_point(&mut text, &self.db, &self.rp, p);
        }
    }
}

/// The largest recording an import or a load unpacks, bytes.
const MAX_UNPACKED: u64 = 1 << 30;

fn gunzip_if(body: &[u8]) -> Result<Vec<u8>, ImportError> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_UNPACKED + 1)
        .read_to_end(&mut out)
        .map_err(|e| ImportError::Invalid(format!("corrupt gzip body: {e}")))?;
    if out.len() as u64 > MAX_UNPACKED {
        return Err(ImportError::Invalid(format!(
            "the recording unpacks to more than {MAX_UNPACKED} bytes"
        )));
    }
    Ok(out)
}

fn stream_points(text: &[u8], opts: &ImportOptions) -> Result<Vec<StreamPoint>, ImportError> {
    let Some(db) = &opts.db else {
        return recording::parse_stream(text, opts.precision)
            .map_err(|e| ImportError::Invalid(format!("invalid stream recording: {e}")));
    };
    let rp = opts.rp.clone().unwrap_or_else(|| "autogen".into());
    let mut builder = PointBuilder::default();
    let mut points = Vec::new();
    let outcome = lineproto::parse(text, opts.precision, crate::server::now_ns(), |l| {
        points.push(StreamPoint {
            db: db.clone(),
            rp: rp.clone(),
            point: builder.build(l),
        })
    });
    match outcome.message() {
        Some(msg) => Err(ImportError::Invalid(msg)),
        None => Ok(points),
    }
}

/// The entries of a batch recording, in query order (entries named `0`, `1`, ...).
fn unzip(file: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(file))
        .map_err(|e| format!("invalid zip archive: {e}"))?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("invalid zip archive: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| format!("invalid zip archive: {e}"))?
            .into_owned();
        let Ok(index) = name.parse::<usize>() else {
            return Err(format!(
                "zip entry {name:?} is not a query number (0, 1, ...)"
            ));
        };
        let mut data = Vec::new();
        (&mut entry)
            .take(MAX_UNPACKED + 1)
            .read_to_end(&mut data)
            .map_err(|e| format!("zip entry {index}: {e}"))?;
        if data.len() as u64 > MAX_UNPACKED {
            return Err(format!(
                "zip entry {index} is larger than {MAX_UNPACKED} bytes"
            ));
        }
        entries.push((index, data));
    }
    entries.sort_by_key(|e| e.0);
    if entries.iter().enumerate().any(|(i, e)| e.0 != i) {
        return Err("zip entries must be the queries 0, 1, ... without gaps".into());
    }
    if entries.is_empty() {
        return Err("the archive holds no query".into());
    }
    Ok(entries.into_iter().map(|e| e.1).collect())
}

fn zip_queries(queries: &[Vec<u8>]) -> Result<Vec<u8>> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (i, q) in queries.iter().enumerate() {
        w.start_file(i.to_string(), opts)?;
        w.write_all(q)?;
    }
    Ok(w.finish()?.into_inner())
}

/// Writes `path` whole or not at all: a temp file, synced, renamed over.
fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recordings() -> (Recordings, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let store = Arc::new(Store::open(&dir.0.join("farad.redb")).unwrap());
        (Recordings::open(&dir.0.join("replay"), store).unwrap(), dir)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!("farad-rec-{}", crate::server::new_id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn stream_recordings_round_trip() {
        let (r, _d) = recordings();
        let opts = ImportOptions {
            id: Some("s1".into()),
            precision: Precision::Seconds,
            ..Default::default()
        };
        let rec = r
            .import(
                b"db\nrp\ncpu,host=a value=1 1\ndb\nrp\ncpu value=2 2\n",
                &opts,
            )
            .unwrap();
        assert_eq!(rec.kind, RecordingType::Stream);
        let Data::Stream(points) = r.load(&rec).unwrap() else {
            panic!("not a stream")
        };
        assert_eq!(points.len(), 2);
        assert_eq!(points[1].point.time, 2_000_000_000);
        assert!(matches!(
            r.import(b"db\nrp\nm v=1 1\n", &opts),
            Err(ImportError::Conflict(_))
        ));
        assert!(r.delete("s1").unwrap());
        assert!(r.get("s1").unwrap().is_none());
    }

    #[test]
    fn line_protocol_and_batches_import() {
        let (r, _d) = recordings();
        let lp = ImportOptions {
            db: Some("telegraf".into()),
            ..Default::default()
        };
        let rec = r.import(b"cpu v=1 10\ncpu v=2 20\n", &lp).unwrap();
        let Data::Stream(points) = r.load(&rec).unwrap() else {
            panic!()
        };
        assert_eq!(
            (points[0].db.as_str(), points[0].rp.as_str()),
            ("telegraf", "autogen")
        );

        let q0 = br#"{"name":"a","points":[{"fields":{"v":1},"time":"2015-10-18T00:00:00Z"}]}"#;
        let q1 = br#"{"name":"b","points":[{"fields":{"v":2},"time":"2015-10-18T00:00:00Z"}]}"#;
        let zipped = zip_queries(&[q0.to_vec(), q1.to_vec()]).unwrap();
        let rec = r.import(&zipped, &ImportOptions::default()).unwrap();
        assert_eq!(rec.kind, RecordingType::Batch);
        let Data::Batch(queries) = r.load(&rec).unwrap() else {
            panic!()
        };
        assert_eq!(queries.len(), 2);
        assert_eq!(queries[1][0].name.as_str(), "b");
    }

    #[test]
    fn bad_data_is_refused_with_where() {
        let (r, _d) = recordings();
        let Err(ImportError::Invalid(msg)) =
            r.import(b"db\nrp\nm v=1 1\ndb\nrp\nm v=", &ImportOptions::default())
        else {
            panic!()
        };
        assert!(msg.contains("line 6"), "{msg}");
        let batch = ImportOptions {
            kind: Some(RecordingType::Batch),
            ..Default::default()
        };
        let Err(ImportError::Invalid(msg)) = r.import(b"{\"name\": 1}", &batch) else {
            panic!()
        };
        assert!(msg.contains("batch 1"), "{msg}");
        let Err(ImportError::Invalid(msg)) = r.import(b"PK\x03\x04garbage", &batch) else {
            panic!()
        };
        assert!(msg.contains("zip"), "{msg}");
        assert!(r.list().unwrap().is_empty());
    }
}
