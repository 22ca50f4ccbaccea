//! `farad test`: a task run in-process on given input with a deterministic clock, its
//! output (httpOut results, alert events, influxDBOut points) checked against a test file's
//! expectations. No server, no InfluxDB: the clock is the data's own time.
//!
//! A stream task gets the input's points in order, in writes of one db/rp (and, when a node
//! keeps timers, of one timestamp); a batch task gets each query's batches in the order of
//! their times. Timers (stats, deadman, flush intervals) fire at each second of the data's
//! clock, through gaps in the data too. The end of input is a replay's: nodes that
//! hold data back (join, union) let go of it.

mod capture;
mod check;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use farad_runtime::exec::{Task, TaskEnv};
use farad_runtime::lineproto::Precision;
use farad_runtime::model::Point;
use farad_runtime::pipeline::{self, BuildOptions, TaskType};
use farad_runtime::recording::StreamPoint;

use crate::recordings::{Data, ImportError, ImportOptions, RecordingType};
use capture::Capture;
use spec::TestFile;

/// Runs every test file in `paths` (directories: their `*.test.toml` files, recursively) and
/// prints a line per file and a report per failure; returns the exit code.
pub fn run(paths: &[PathBuf]) -> i32 {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files);
    }
    if files.is_empty() {
        eprintln!("no test files (*.test.toml) found");
        return 1;
    }
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let shown = file.display().to_string();
        match run_file(file) {
            Ok((name, failures)) if failures.is_empty() => {
                passed += 1;
                println!("ok   {}", name.unwrap_or(shown));
            }
            Ok((name, failures)) => {
                failed += 1;
                println!("FAIL {}", name.unwrap_or(shown));
                for f in failures {
                    for line in f.lines() {
                        println!("  {line}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {shown}");
                for line in e.lines() {
                    println!("  {line}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    i32::from(failed > 0)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if !path.is_dir() {
        out.push(path.to_owned());
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, out);
        } else if e.to_string_lossy().ends_with(".test.toml") {
            out.push(e);
        }
    }
}

/// One test file: its name and what failed (nothing: it passed). An error is a test that
/// could not run (a bad file, script or input).
pub fn run_file(path: &Path) -> Result<(Option<String>, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let test: TestFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let id = test.task.id.clone().unwrap_or_else(|| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        name.trim_end_matches(".test.toml")
            .trim_end_matches(".toml")
            .to_owned()
    });
    let outcome = run_test(&test, &id, dir)?;
    let mut failures = Vec::new();
    for exp in test.expect.http_out.iter().flatten() {
        failures.extend(check::http_out(
            exp,
            outcome.http_out(&exp.endpoint).as_ref(),
        ));
    }
    if let Some(exp) = &test.expect.alerts {
        failures.extend(check::alerts(exp, &outcome.io.events.lock()));
    }
    for exp in test.expect.influxdb_out.iter().flatten() {
        failures.extend(check::writes(exp, &outcome.io.writes.lock()));
    }
    Ok((test.name.clone(), failures))
}

/// What a run left: the task's httpOut results and what it sent out.
struct Outcome {
    http_out: Vec<(String, serde_json::Value)>,
    io: Arc<Capture>,
}

impl Outcome {
    fn http_out(&self, endpoint: &str) -> Option<serde_json::Value> {
        self.http_out
            .iter()
            .find(|(e, _)| e == endpoint)
            .map(|(_, v)| v.clone())
    }
}

fn run_test(test: &TestFile, id: &str, dir: &Path) -> Result<Outcome, String> {
    let read = |p: &Path| {
        let path = dir.join(p);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let (script, script_name) = match (
        &test.task.script,
        &test.task.tickscript,
        &test.task.template,
    ) {
        (Some(p), None, None) | (None, None, Some(p)) => (
            String::from_utf8(read(p)?).map_err(|e| format!("{}: {e}", p.display()))?,
            p.display().to_string(),
        ),
        (None, Some(s), None) => (s.clone(), "tickscript".to_owned()),
        _ => return Err("[task] needs one of script, tickscript or template".into()),
    };
    let udfs = load_udfs(test, dir)?;
    let task_type = match test.task.kind.as_deref() {
        None => None,
        Some("stream") => Some(TaskType::Stream),
        Some("batch") => Some(TaskType::Batch),
        Some(other) => {
            return Err(format!(
                "[task] type must be stream or batch, not {other:?}"
            ));
        }
    };
    let opts = BuildOptions {
        task_type,
        vars: pipeline::vars::from_json(&test.task.vars)?,
        allow_unset_vars: false,
        udfs: udfs.as_ref().map(|u| u.signatures()),
    };
    let plan = pipeline::compile(&script, &opts).map_err(|d| d.render(&script, &script_name))?;
    let data = input(test, dir, &plan)?;
    let mut dbrps: Vec<(String, String)> = test
        .task
        .dbrps
        .iter()
        .map(|d| {
            d.split_once('.')
                .map(|(db, rp)| (db.to_owned(), rp.to_owned()))
                .ok_or_else(|| format!("[task] dbrps: {d:?} is not \"db.rp\""))
        })
        .collect::<Result<_, _>>()?;
    if dbrps.is_empty() {
        dbrps = plan.dbrps.clone();
    }
    if dbrps.is_empty()
        && let Data::Stream(points) = &data
    {
        for p in points {
            if !dbrps.iter().any(|(db, rp)| *db == p.db && *rp == p.rp) {
                dbrps.push((p.db.clone(), p.rp.clone()));
            }
        }
    }
    let io = Arc::new(Capture::default());
    let env = TaskEnv {
        io: io.clone(),
        dbrps: dbrps.clone(),
        task_id: id.to_owned(),
        udfs,
        publish_all_alerts: true,
        ..TaskEnv::default()
    };
    let mut task = Task::with_env(&plan, &env).map_err(|e| e.to_string())?;
    let advance = match &test.input.advance {
        None => 0,
        Some(d) => farad_runtime::duration::parse_go_duration(d)
            .map_err(|e| format!("[input] advance {d:?}: {e}"))?,
    };
    let now = match &test.input.now {
        None => None,
        Some(t) => Some(
            farad_runtime::time::parse_rfc3339(t)
                .ok_or_else(|| format!("[input] now {t:?} is not an RFC 3339 time"))?,
        ),
    };
    let mut clock = Clock {
        task: &mut task,
        now,
        advance,
        ticked: None,
    };
    match data {
        Data::Stream(points) => run_stream(&mut clock, &io, &dbrps, points),
        Data::Batch(queries) => run_batches(&mut clock, queries)?,
    }
    task.finish();
    let http_out = plan
        .nodes
        .iter()
        .filter(|n| n.kind == pipeline::schema::NodeKind::HttpOut)
        .filter_map(|n| match n.args.first() {
            Some(pipeline::Value::Str(e)) => Some(e.clone()),
            _ => None,
        })
        .filter_map(|e| {
            let doc = task.http_out(&e)?.lock().to_json();
            Some((e, doc))
        })
        .collect();
    // Dropping the task hands influxDBOut's buffered points over.
    drop(task);
    Ok(Outcome { http_out, io })
}

/// The points per write when no timer needs finer steps.
const CHUNK: usize = 4096;
const SECOND: i64 = 1_000_000_000;

/// The data's clock, driving a task: lambdas' `now()` (unless pinned) and timers follow the
/// latest time delivered.
struct Clock<'t> {
    task: &'t mut Task,
    /// `now()` pinned by the test.
    now: Option<i64>,
    /// How long the clock runs on after the input.
    advance: i64,
    /// The last time the timers were fired at.
    ticked: Option<i64>,
}

impl Clock<'_> {
    /// Sets the time before a delivery at `t`.
    fn at(&mut self, t: i64) {
        self.task.set_now(self.now.unwrap_or(t));
    }

    /// Fires the timers due at `t`.
    fn tick(&mut self, t: i64) {
        if self.task.has_timers() {
            self.task.tick(t);
            self.ticked = Some(t);
        }
    }

    /// Lets the clock run up to (not including) `t` a second a tick, as a wall clock would
    /// through a gap in the data: timers (deadman, stats) fire in it.
    fn until(&mut self, t: i64) {
        if !self.task.has_timers() {
            return;
        }
        let Some(mut at) = self.ticked else {
            return;
        };
        // A gap longer than a day is crossed in one step.
        if t - at > 86_400 * SECOND {
            at = t - 86_400 * SECOND;
        }
        while at + SECOND < t {
            at += SECOND;
            self.task.tick(at);
        }
        self.ticked = Some(at);
    }

    /// The clock runs on after the input, a second a tick.
    fn run_on(&mut self, from: i64) {
        if !self.task.has_timers() {
            return;
        }
        let mut t = from;
        while t < from.saturating_add(self.advance) {
            t = (t + SECOND).min(from + self.advance);
            self.task.tick(t);
        }
    }
}

fn run_stream(
    clock: &mut Clock,
    io: &Capture,
    dbrps: &[(String, String)],
    mut points: Vec<StreamPoint>,
) {
    points.retain(|p| dbrps.iter().any(|(db, rp)| *db == p.db && *rp == p.rp));
    let timers = clock.task.has_timers();
    let mut latest = i64::MIN;
    let mut i = 0;
    while i < points.len() {
        let (db, rp, time) = (
            points[i].db.clone(),
            points[i].rp.clone(),
            points[i].point.time,
        );
        let mut end = i + 1;
        while end < points.len()
            && end - i < CHUNK
            && points[end].db == db
            && points[end].rp == rp
            && (!timers || points[end].point.time == time)
        {
            end += 1;
        }
        let chunk: Vec<Point> = points[i..end].iter().map(|p| p.point.clone()).collect();
        let t = latest.max(chunk.iter().map(|p| p.time).max().unwrap_or(time));
        // Timers fire once all the points of a time are in.
        if latest != i64::MIN && t > latest {
            clock.tick(latest);
        }
        latest = t;
        clock.until(latest);
        clock.at(latest);
        clock.task.push_owned(&db, &rp, chunk);
        loop_back(clock, io, dbrps, latest);
        i = end;
    }
    if latest != i64::MIN {
        clock.tick(latest);
        clock.run_on(latest);
    }
}

/// Points a task wrote to its own input (`kapacitorLoopback`) come back in, as a host's
/// ingest would deliver them.
fn loop_back(clock: &mut Clock, io: &Capture, dbrps: &[(String, String)], now: i64) {
    for _ in 0..16 {
        let pending = std::mem::take(&mut *io.loopback.lock());
        if pending.is_empty() {
            return;
        }
        for (db, rp, points) in pending {
            if dbrps.iter().any(|(d, r)| *d == db && *r == rp) {
                clock.at(now);
                clock.task.push_owned(&db, &rp, points);
            }
        }
    }
}

fn run_batches(
    clock: &mut Clock,
    mut queries: Vec<Vec<farad_runtime::model::Batch>>,
) -> Result<(), String> {
    if queries.len() != clock.task.query_count() {
        return Err(format!(
            "the input has batches for {} queries, the task has {}",
            queries.len(),
            clock.task.query_count()
        ));
    }
    // Batch times as a replay settles them (empty batches, recorded tmax); delivered in the
    // order of their times, each query's own order kept.
    let mut order: Vec<(i64, usize, usize)> = Vec::new();
    for (q, batches) in queries.iter_mut().enumerate() {
        let at = farad_runtime::recording::rebase_batches(batches, 0, true);
        order.extend(at.into_iter().enumerate().map(|(i, t)| (t, q, i)));
    }
    order.sort();
    let mut taken: Vec<std::vec::IntoIter<_>> =
        queries.into_iter().map(|b| b.into_iter()).collect();
    let mut latest = i64::MIN;
    for (_, q, _) in order {
        let Some(batch) = taken[q].next() else {
            continue;
        };
        let t = latest.max(batch.tmax);
        if latest != i64::MIN && t > latest {
            clock.tick(latest);
        }
        latest = t;
        clock.until(latest);
        clock.at(latest);
        clock.task.push_batches(q, [batch])?;
    }
    if latest != i64::MIN {
        clock.tick(latest);
        clock.run_on(latest);
    }
    Ok(())
}

fn load_udfs(
    test: &TestFile,
    dir: &Path,
) -> Result<Option<Arc<farad_runtime::wasm::UdfRegistry>>, String> {
    use farad_runtime::wasm::{UdfEngine, UdfLimits, UdfRegistry};
    if test.udfs.is_empty() {
        return Ok(None);
    }
    let engine = UdfEngine::new(UdfLimits::default())?;
    let registry = UdfRegistry::new(engine);
    for (name, file) in &test.udfs {
        let path = dir.join(file);
        let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let module = registry
            .engine()
            .precompile(&wasm)
            .and_then(|a| registry.engine().load(name, &a))
            .map_err(|e| format!("udf {name} ({}): {e}", path.display()))?;
        registry.install(module, 1);
    }
    Ok(Some(Arc::new(registry)))
}

/// The test's input data.
fn input(test: &TestFile, dir: &Path, plan: &pipeline::Plan) -> Result<Data, String> {
    let inp = &test.input;
    let precision = match inp.precision.as_deref() {
        None => Precision::Nanoseconds,
        Some(p) => Precision::parse(p).ok_or_else(|| format!("[input] precision {p:?}"))?,
    };
    let (db, rp) = match (&inp.db, &inp.rp) {
        (Some(db), rp) => (db.clone(), rp.clone().unwrap_or_else(|| "autogen".into())),
        (None, _) => match test.task.dbrps.first().and_then(|d| d.split_once('.')) {
            Some((db, rp)) => (db.to_owned(), rp.to_owned()),
            None => plan
                .dbrps
                .first()
                .cloned()
                .unwrap_or_else(|| ("telegraf".into(), "autogen".into())),
        },
    };
    let lines = |kind| ImportOptions {
        id: None,
        kind: Some(kind),
        precision,
        db: Some(db.clone()),
        rp: Some(rp.clone()),
    };
    let decode = |body: &[u8], opts: &ImportOptions, what: &str| {
        crate::recordings::decode(body, opts).map_err(|e| match e {
            ImportError::Invalid(m) | ImportError::Conflict(m) => format!("{what}: {m}"),
            ImportError::Internal(e) => format!("{what}: {e:#}"),
        })
    };
    match (&inp.lines, &inp.file, &inp.batches) {
        (Some(text), None, None) => decode(
            text.as_bytes(),
            &lines(RecordingType::Stream),
            "[input] lines",
        ),
        (None, None, Some(text)) => decode(
            text.as_bytes(),
            &ImportOptions {
                kind: Some(RecordingType::Batch),
                ..ImportOptions::default()
            },
            "[input] batches",
        ),
        (None, Some(file), None) => {
            let body = std::fs::read(dir.join(file))
                .map_err(|e| format!("{}: {e}", dir.join(file).display()))?;
            let name = file.to_string_lossy();
            let opts = if name.ends_with(".srpl") || name.ends_with(".srpl.gz") {
                ImportOptions {
                    kind: Some(RecordingType::Stream),
                    precision,
                    ..ImportOptions::default()
                }
            } else if name.ends_with(".brpl") || name.ends_with(".zip") {
                ImportOptions {
                    kind: Some(RecordingType::Batch),
                    ..ImportOptions::default()
                }
            } else {
                lines(RecordingType::Stream)
            };
            decode(&body, &opts, &name)
        }
        _ => Err("[input] needs one of lines, file or batches".into()),
    }
}
