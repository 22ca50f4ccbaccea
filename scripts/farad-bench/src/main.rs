//! `farad-bench`: writes the standard benchmark load (`../shared/bench/README.md`) to any
//! Kapacitor-compatible server and reports points/s accepted and, for a task, processed.
//!
//! Points: measurement `cpu`, tag `host=h0..h{series-1}`, float fields `value` (and `value1`...
//! with `--fields`) uniform in [0, 100) from a seeded PRNG, nanosecond timestamps. Data time
//! advances one second per tick and every series gets one point per tick, in host order.
//! Connections take consecutive requests from one shared sequence, so together they write the
//! sequence in (nearly) time order.

mod latency;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Clone)]
#[command(about = "Line-protocol load generator for Kapacitor-compatible servers")]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:9092")]
    url: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Points per request.
    #[arg(long, default_value_t = 5_000)]
    points_per_request: u64,
    /// Number of series (hosts).
    #[arg(long, default_value_t = 1_000)]
    series: u64,
    /// Float fields per point.
    #[arg(long, default_value_t = 1)]
    fields: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 25.0)]
    duration: f64,
    /// Database and retention policy written to.
    #[arg(long, default_value = "bench")]
    db: String,
    #[arg(long, default_value = "autogen")]
    rp: String,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First timestamp, in nanoseconds since the epoch.
    #[arg(long, default_value_t = 1_700_000_000_000_000_000)]
    start_ns: u64,
    /// A task to report processed points for (its node statistics).
    #[arg(long)]
    task: Option<String>,
    /// A TICKscript file: define `--task` from it (stream, enabled, on db/rp) before the load
    /// and delete it afterwards.
    #[arg(long)]
    tick: Option<std::path::PathBuf>,
    /// Node whose `collected` counts processed points (default: the first `from` node).
    #[arg(long)]
    node: Option<String>,
    /// Server process id, to report its CPU and peak RSS (Linux).
    #[arg(long)]
    pid: Option<u32>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Points per second the load is held to (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// W5: send this many single-point writes that raise an alert at a `post` handler here,
    /// during the load, and report their latency percentiles.
    #[arg(long, default_value_t = 0)]
    probes: usize,
    /// The database probes write to (default: `--db`, so that their writes meet the load's
    /// tasks on the way).
    #[arg(long)]
    probe_db: Option<String>,
    /// Milliseconds between probes.
    #[arg(long, default_value_t = 5)]
    probe_every_ms: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.points_per_request == 0 || args.series == 0 || args.connections == 0 {
        bail!("--points-per-request, --series and --connections must be positive");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    if let (Some(task), Some(tick)) = (&args.task, &args.tick) {
        define_task(&agent, &args, task, tick)?;
    }
    let probe = if args.probes > 0 {
        let task = format!("{}probe", args.task.as_deref().unwrap_or("bench"));
        Some(latency::Probe::start(
            &agent,
            &args.url,
            args.probe_db.as_deref().unwrap_or(&args.db),
            &args.rp,
            &task,
            args.probes,
        )?)
    } else {
        None
    };
    let cpu_before = args.pid.map(proc_cpu_ticks);
    let (result, latencies) = std::thread::scope(|s| {
        let probing = probe.as_ref().map(|p| {
            s.spawn(|| {
                // Probes start once the load is under way.
                std::thread::sleep(Duration::from_millis(500));
                p.run(Duration::from_millis(args.probe_every_ms))
            })
        });
        let result = run_load(&args);
        let latencies = probing.map(|h| h.join().expect("probe thread"));
        (result, latencies)
    });
    let latencies = latencies.transpose()?;
    let cpu_after = args.pid.map(proc_cpu_ticks);
    let processed = match &args.task {
        Some(task) => Some(wait_processed(&agent, &args, task, result.accepted)?),
        None => None,
    };
    let mut report = json!({
        "connections": args.connections,
        "points_per_request": args.points_per_request,
        "series": args.series,
        "seconds": result.elapsed.as_secs_f64(),
        "points_sent": result.sent,
        "points_accepted": result.accepted,
        "requests_failed": result.failed_requests,
        "accepted_per_s": result.accepted as f64 / result.elapsed.as_secs_f64(),
    });
    if let Some((read, arrived, missing)) = &latencies {
        report["probes"] = json!(read.0.len());
        report["probes_missing"] = json!(missing);
        for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)] {
            report[format!("latency_{name}_us")] = json!(read.percentile(p));
            if !arrived.0.is_empty() {
                report[format!("latency_arrival_{name}_us")] = json!(arrived.percentile(p));
            }
        }
    }
    if let Some((count, secs)) = processed {
        report["points_processed"] = json!(count);
        report["processed_per_s"] = json!(count as f64 / secs);
    }
    if let (Some(pid), Some(Ok(b)), Some(Ok(a))) = (args.pid, cpu_before, cpu_after) {
        let hz = 100.0; // USER_HZ on Linux
        report["server_cpu_percent"] =
            json!(100.0 * (a - b) as f64 / hz / result.elapsed.as_secs_f64());
        if let Ok(kib) = proc_status_kib(pid, "VmHWM:") {
            report["server_peak_rss_mb"] = json!(kib as f64 / 1024.0);
        }
    }
    if let (Some(task), Some(_)) = (&args.task, &args.tick) {
        agent
            .delete(format!("{}/kapacitor/v1/tasks/{task}", args.url))
            .call()
            .ok();
    }
    if args.json {
        println!("{report}");
    } else {
        for (k, v) in report.as_object().expect("object") {
            println!("{k:>22}: {v}");
        }
    }
    if result.failed_requests > 0 {
        bail!(
            "{} requests failed; first error: {}",
            result.failed_requests,
            result.first_error
        );
    }
    Ok(())
}

struct LoadResult {
    sent: u64,
    accepted: u64,
    failed_requests: u64,
    first_error: String,
    elapsed: Duration,
}

fn run_load(args: &Args) -> LoadResult {
    let next_request = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(String::new()));
    let start = Instant::now();
    let handles: Vec<_> = (0..args.connections)
        .map(|_| {
            let (args, next, stop) = (args.clone(), next_request.clone(), stop.clone());
            let (accepted, sent, failed, first_error) = (
                accepted.clone(),
                sent.clone(),
                failed.clone(),
                first_error.clone(),
            );
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(120)))
                    .build()
                    .into();
                let url = format!(
                    "{}/write?db={}&rp={}&precision=ns",
                    args.url, args.db, args.rp
                );
                let mut body = String::with_capacity(args.points_per_request as usize * 48);
                while !stop.load(Relaxed) {
                    let k = next.fetch_add(1, Relaxed);
                    if args.rate > 0 {
                        // Request k is due when the rate allows its first point.
                        let due = start
                            + Duration::from_secs_f64(
                                (k * args.points_per_request) as f64 / args.rate as f64,
                            );
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        if stop.load(Relaxed) {
                            break;
                        }
                    }
                    make_body(&args, k, &mut body);
                    sent.fetch_add(args.points_per_request, Relaxed);
                    match agent.post(&url).send(body.as_bytes()) {
                        Ok(r) if r.status().as_u16() == 204 => {
                            accepted.fetch_add(args.points_per_request, Relaxed);
                        }
                        Ok(mut r) => {
                            failed.fetch_add(1, Relaxed);
                            let text = r.body_mut().read_to_string().unwrap_or_default();
                            let mut e = first_error.lock().expect("lock");
                            if e.is_empty() {
                                *e = format!("HTTP {}: {text}", r.status());
                            }
                        }
                        Err(err) => {
                            failed.fetch_add(1, Relaxed);
                            let mut e = first_error.lock().expect("lock");
                            if e.is_empty() {
                                *e = err.to_string();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(args.duration));
    stop.store(true, Relaxed);
    for h in handles {
        h.join().ok();
    }
    let elapsed = start.elapsed();
    let first_error = first_error.lock().expect("lock").clone();
    LoadResult {
        sent: sent.load(Relaxed),
        accepted: accepted.load(Relaxed),
        failed_requests: failed.load(Relaxed),
        first_error,
        elapsed,
    }
}

/// SplitMix64: a tiny, well-distributed seeded generator.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Request `k` of the sequence: points `k*n .. (k+1)*n`, point `i` being series `i % series` at
/// tick `i / series`. Values depend only on the seed and `i`, so runs are reproducible.
fn make_body(args: &Args, k: u64, out: &mut String) {
    // itoa and ryu: the generator shares the server's two cores, so it must cost little.
    let (mut int, mut float) = (itoa::Buffer::new(), ryu::Buffer::new());
    out.clear();
    let n = args.points_per_request;
    for i in k * n..(k + 1) * n {
        let host = i % args.series;
        let tick = i / args.series;
        let ts = args.start_ns + tick * 1_000_000_000;
        out.push_str("cpu,host=h");
        out.push_str(int.format(host));
        out.push(' ');
        for f in 0..args.fields {
            let r = splitmix(args.seed ^ splitmix(i.wrapping_mul(31).wrapping_add(f as u64)));
            let v = (r >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
            if f == 0 {
                out.push_str("value=");
            } else {
                out.push_str(",value");
                out.push_str(int.format(f));
                out.push('=');
            }
            out.push_str(float.format_finite(v));
        }
        out.push(' ');
        out.push_str(int.format(ts));
        out.push('\n');
    }
}

fn define_task(agent: &ureq::Agent, args: &Args, task: &str, tick: &std::path::Path) -> Result<()> {
    let script =
        std::fs::read_to_string(tick).with_context(|| format!("reading {}", tick.display()))?;
    let url = format!("{}/kapacitor/v1/tasks", args.url);
    agent.delete(format!("{url}/{task}")).call().ok();
    let body = json!({
        "id": task, "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": args.db, "rp": args.rp}],
    });
    let mut r = agent.post(&url).send(body.to_string().as_bytes())?;
    if r.status().as_u16() != 200 {
        bail!(
            "defining task {task}: HTTP {}: {}",
            r.status(),
            r.body_mut().read_to_string().unwrap_or_default()
        );
    }
    Ok(())
}

/// Polls the task's node statistics until its input node has seen every accepted point (or stops
/// moving); returns the count and the seconds from load start it took.
fn wait_processed(
    agent: &ureq::Agent,
    args: &Args,
    task: &str,
    accepted: u64,
) -> Result<(u64, f64)> {
    let started = Instant::now();
    let url = format!("{}/kapacitor/v1/tasks/{task}", args.url);
    let mut last = (u64::MAX, Instant::now());
    loop {
        let mut r = agent.get(&url).call()?;
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string()?)?;
        let nodes = &v["stats"]["node-stats"];
        let node = args.node.clone().or_else(|| {
            nodes
                .as_object()?
                .keys()
                .find(|k| k.starts_with("from"))
                .cloned()
        });
        let Some(node) = node else {
            bail!("task {task} reports no node statistics")
        };
        let collected = nodes[&node]["collected"].as_u64().unwrap_or(0);
        if collected >= accepted {
            return Ok((collected, args.duration + started.elapsed().as_secs_f64()));
        }
        if collected != last.0 {
            last = (collected, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            return Ok((
                collected,
                args.duration + started.elapsed().as_secs_f64() - 5.0,
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn proc_cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?)
}

fn proc_status_kib(pid: u32, key: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .context("no such key")?;
    Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_the_standard_sequence() {
        let args = Args::parse_from(["farad-bench", "--points-per-request", "5", "--series", "3"]);
        let mut a = String::new();
        make_body(&args, 0, &mut a);
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("cpu,host=h0 value="));
        assert!(
            lines[3].starts_with("cpu,host=h0 value="),
            "series wrap within a tick"
        );
        assert!(
            lines[3].ends_with(" 1700000001000000000"),
            "next tick one second later"
        );
        let mut b = String::new();
        make_body(&args, 0, &mut b);
        assert_eq!(a, b, "reproducible");
        for l in &lines {
            let v: f64 = l
                .split("value=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!((0.0..100.0).contains(&v));
        }
    }
}
